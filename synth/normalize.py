"""Placement of an item in the grid's box: centre it, scale it with a random margin, per view.

DeepHuman centred the scan and its SMPL body together and scaled them into the box
x, z in [-1/3, 1/3], y in [-1/2, 1/2] with a margin 1.05 + U[0, 0.15] (FACTS.md). We do the same
for each view's rotation and use the smallest scale over the item's views, so all views of an
item show the body at the same size (a fair multi-view set), each view centred on its own box.
"""
from __future__ import annotations

import numpy as np

from thuman_io.grid import VolumeGrid

#: DeepHuman's margin range: scale so that the body spans 1 / margin of the box.
DEFAULT_MARGIN = (1.05, 1.20)


def fit_views(points: np.ndarray, rotations: list[np.ndarray], grid: VolumeGrid,
              margin: float) -> tuple[list[np.ndarray], float]:
    """Similarity transforms item frame -> view frame that fit ``points`` in the box.

    points:    (N, 3) float, metres, item frame (clothed mesh and body vertices together).
    rotations: per view (3, 3) rotation item -> view axes (``ViewAngles.rotation``).
    margin:    >= 1; the body's largest extent relative to the box is 1 / margin.
    Returns (list of (4, 4) float64 transforms p_view = s * (R p - c_v), scale s in view units
    per metre).
    """
    p = np.asarray(points, dtype=np.float64)
    full = 2 * grid.half_extent
    centres, scale = [], np.inf
    for r in rotations:
        q = p @ r.T
        lo, hi = q.min(axis=0), q.max(axis=0)
        centres.append((lo + hi) / 2)
        extent = np.maximum(hi - lo, 1e-9)
        scale = min(scale, float(np.min(full / (extent * margin))))
    transforms = []
    for r, c in zip(rotations, centres):
        m = np.eye(4)
        m[:3, :3] = scale * r
        m[:3, 3] = -scale * c
        transforms.append(m)
    return transforms, scale
