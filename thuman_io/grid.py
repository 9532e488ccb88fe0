"""The geometry conventions of the corpus: volume grid, orthographic camera, axis orders.

This module owns them; synthesis, the model, evaluation and inference import it. Nothing else
defines where a voxel is.

The *view frame* is the frame of one synthesized view, in normalised units (not metres):
x to the right of the image, y up, z toward the camera (OpenGL's camera convention). The body
(clothed mesh and SMPL together) is scaled into the box

    x in [-W/2, W/2] * voxel,  y in [-H/2, H/2] * voxel,  z in [-D/2, D/2] * voxel

with ``voxel = 1 / H``. At the paper's resolution (D, H, W) = (128, 192, 128) this is DeepHuman's
box x, z in [-1/3, 1/3], y in [-1/2, 1/2], voxel 1/192 (paper sec. 3).

Array axis orders (numpy, on disk and in dataclasses; channel-last):

    image         (H, W, C)     row 0 is the top of the image (largest y)
    volume        (D, H, W)     [depth index, row, column]; depth index 0 is nearest the camera
    volume + C    (D, H, W, C)

Torch tensors are channel-first: images ``(B, C, H, W)``, volumes ``(B, C, D, H, W)``, so that a
volume's z-slice ``v[:, :, k]`` is an image aligned pixel for pixel with the input image (eq. 2).

The camera is orthographic along -z (weak perspective, paper sec. 4.2): image pixel (row, col) at
H x W is voxel column (row, col); normal maps at 2H x 2W are the same view at twice the
resolution. Depth index k of a voxel column grows away from the camera, so eq. 3's
``D(p) = inf{z | V(p, z) = 1}`` is the smallest occupied k.

Normal maps hold unit normals in the view frame (x right, y up, z toward the camera), so a
surface facing the camera has n = (0, 0, 1); background pixels are 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VolumeGrid:
    """A voxel grid of shape (D, H, W) = (depth, height, width) in the view frame.

    ``VolumeGrid()`` is the paper's 128 x 192 x 128 grid; ``VolumeGrid.small()`` is the
    32 x 48 x 32 CPU preset with the same box.
    """

    depth: int = 128
    height: int = 192
    width: int = 128

    @classmethod
    def small(cls) -> "VolumeGrid":
        """The CPU preset: 32 x 48 x 32 voxels over the same box (voxel 1/48)."""
        return cls(32, 48, 32)

    @classmethod
    def from_shape(cls, shape_dhw) -> "VolumeGrid":
        d, h, w = (int(s) for s in shape_dhw)
        return cls(d, h, w)

    # --- sizes -----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """(D, H, W)."""
        return (self.depth, self.height, self.width)

    @property
    def voxel_size(self) -> float:
        """Edge of one voxel in normalised view-frame units (1 / H)."""
        return 1.0 / self.height

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of the image, semantic map and silhouettes that match the grid (192 x 128)."""
        return (self.height, self.width)

    @property
    def normal_map_shape(self) -> tuple[int, int]:
        """(2H, 2W) of the normal maps and the refiner's inputs (384 x 256)."""
        return (2 * self.height, 2 * self.width)

    @property
    def half_extent(self) -> np.ndarray:
        """(3,) half sizes of the box along view-frame x, y, z, normalised units."""
        v = self.voxel_size
        return np.array([self.width * v / 2, self.height * v / 2, self.depth * v / 2])

    # --- coordinates -----------------------------------------------------------------------
    def view_to_index(self, points: np.ndarray) -> np.ndarray:
        """Continuous voxel indices of view-frame points.

        points: (..., 3) float, view frame (x right, y up, z toward camera), normalised units.
        Returns (..., 3) float64 as (depth index k, row, col); voxel (k, r, c) covers
        [k, k+1) x [r, r+1) x [c, c+1), its centre is at (k, r, c) + 0.5.
        """
        p = np.asarray(points, dtype=np.float64)
        hx, hy, hz = self.half_extent
        v = self.voxel_size
        col = (p[..., 0] + hx) / v
        row = (hy - p[..., 1]) / v
        k = (hz - p[..., 2]) / v
        return np.stack([k, row, col], axis=-1)

    def index_to_view(self, index: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`view_to_index`: (..., 3) (k, row, col) -> (..., 3) view-frame xyz."""
        i = np.asarray(index, dtype=np.float64)
        hx, hy, hz = self.half_extent
        v = self.voxel_size
        x = i[..., 2] * v - hx
        y = hy - i[..., 1] * v
        z = hz - i[..., 0] * v
        return np.stack([x, y, z], axis=-1)

    def voxel_centres(self) -> np.ndarray:
        """(D, H, W, 3) float64 view-frame xyz of every voxel centre."""
        k, r, c = np.meshgrid(np.arange(self.depth), np.arange(self.height), np.arange(self.width),
                              indexing="ij")
        return self.index_to_view(np.stack([k, r, c], axis=-1) + 0.5)

    def pixel_centres(self, scale: int = 1) -> np.ndarray:
        """(scale*H, scale*W, 2) float64 view-frame (x, y) of pixel centres at ``scale`` x the grid."""
        h, w = self.height * scale, self.width * scale
        r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        hx, hy, _ = self.half_extent
        v = self.voxel_size / scale
        return np.stack([(c + 0.5) * v - hx, hy - (r + 0.5) * v], axis=-1)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(...,) bool: whether view-frame points lie inside the box."""
        return np.all(np.abs(np.asarray(points)) <= self.half_extent, axis=-1)


#: The paper's grid (sec. 3): 128 x 192 x 128, image 192 x 128, normal maps 384 x 256.
PAPER_GRID = VolumeGrid()
#: The CPU preset used by tests, the demo and small training runs.
SMALL_GRID = VolumeGrid.small()
