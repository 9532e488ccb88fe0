"""Preview PNGs: one grid per item, a row per view, to look at what the synthesizer made.

Columns: RGB, semantic map, normal map, silhouette, occupancy front depth, semantic volume's
front-most voxels (both volume projections at the grid's H x W, shown 2x). Written atomically.
"""
from __future__ import annotations

import os

import numpy as np

from thuman_io.atomic import atomic_path

COLUMNS = ("rgb", "semantic map", "normal map", "mask", "occupancy depth", "semantic volume front")


def front_projection(volume: np.ndarray, occupied: np.ndarray) -> np.ndarray:
    """Values of the front-most occupied voxel of each column.

    volume: (D, H, W, C); occupied: (D, H, W) bool. Returns (H, W, C), 0 where the column is empty.
    """
    first = np.argmax(occupied, axis=0)
    any_ = occupied.any(axis=0)
    rows, cols = np.indices(first.shape)
    return np.where(any_[..., None], volume[first, rows, cols], 0)


def depth_projection(occupied: np.ndarray) -> np.ndarray:
    """(H, W) float in [0, 1]: 1 - (first occupied depth index) / D, 0 for empty columns."""
    d = occupied.shape[0]
    first = np.argmax(occupied, axis=0)
    return np.where(occupied.any(axis=0), 1.0 - first / d, 0.0)


def preview_rows(samples) -> np.ndarray:
    """(views * 2H, 6 * 2W, 3) uint8 grid."""
    rows = []
    for s in samples:
        up = lambda a: np.repeat(np.repeat(a, 2, axis=0), 2, axis=1)  # noqa: E731
        depth = depth_projection(s.occupancy)
        cells = [s.rgb.astype(np.float32) / 255.0, s.semantic_map,
                 np.where(s.mask[..., None], (s.normal_map + 1) / 2, 0),
                 np.repeat(s.mask[..., None].astype(np.float32), 3, axis=2),
                 up(np.repeat(depth[..., None], 3, axis=2)),
                 up(front_projection(s.semantic_volume, s.semantic_volume.any(axis=-1)))]
        rows.append(np.concatenate([np.clip(c, 0, 1) for c in cells], axis=1))
    return (np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)


def write_preview(path: str | os.PathLike, samples) -> None:
    """Write the preview grid of an item's samples as a PNG (atomically)."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(preview_rows(samples)).save(tmp, format="PNG")
