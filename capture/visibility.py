"""Which model points the camera can see: a coarse z-buffer of the points themselves.

A point facing the camera can still be hidden: an arm behind the trunk while the subject turns
sideways. If such points take part in the data term, the depth of the trunk pulls the arm into it
and the arm is lost for the rest of the session. The model's own points, splatted into cells of
about ``cell_m`` at the subject's distance, give the nearest depth per cell; a point more than
``tolerance_m`` behind it is occluded. Cells are a few centimetres wide so that a surface sampled
every 1-2 cm leaves no holes, and the tolerance covers the depth range of a slanted surface in one
cell. Pure torch (CPU or CUDA); capture frame (x right, y up, z toward the camera, which is at the
origin looking down -z).
"""
from __future__ import annotations

import torch

from thuman.capture.camera import CameraModel, project_torch


def unoccluded(points: torch.Tensor, K, cell_m: float = 0.03, tolerance_m: float = 0.05) -> torch.Tensor:
    """(M,) bool: the points (M, 3) (capture frame, metres) not hidden behind other points.

    K: the camera, a CameraModel or a (3, 3) pinhole K. Points behind the camera are never visible.
    """
    z = -points[:, 2]
    front = z > 1e-6
    if not bool(front.any()):
        return front
    zs = torch.where(front, z, torch.ones_like(z))
    fx = float(K.fx) if isinstance(K, CameraModel) else float(K[0][0])
    uv, _ = project_torch(torch.stack([points[:, 0], -points[:, 1], zs], dim=-1), K)
    u, v = uv[:, 0], uv[:, 1]
    # Cell size in pixels: cell_m at the points' median distance.
    cell_px = max(cell_m * fx / float(zs[front].median()), 1.0)
    cu = torch.floor(u / cell_px).long()
    cv = torch.floor(v / cell_px).long()
    cu = cu - cu[front].min()
    cv = cv - cv[front].min()
    cols = int(cu[front].max()) + 1
    key = torch.where(front, cv * cols + cu, torch.zeros_like(cu))
    key = key.clamp_min(0)
    size = int(key.max()) + 1
    zmin = torch.full((size,), float("inf"), dtype=z.dtype, device=z.device)
    zmin = zmin.scatter_reduce(0, key[front], z[front], reduce="amin")
    return front & (z <= zmin[key] + tolerance_m)
