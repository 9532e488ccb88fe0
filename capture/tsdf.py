"""The canonical TSDF volume of capture: fusion of depth (and colour) through a per-voxel warp.

DynamicFusion (Newcombe et al. 2015, sec. 3.3) and DoubleFusion (Yu et al. 2018, sec. 6) keep the
surface in a *canonical* truncated signed distance volume. Each frame, every voxel centre is warped
into the live frame, projected into the depth image, and its projective signed distance
``d(u) - z`` is averaged in with a running weight. A rigid camera or a still subject is the special
case where the warp is one rigid transform (the test compares that case with Open3D).

Conventions: the volume and the warped centres live in the *capture frame*
(``thuman.capture.camera``: metres, x right, y up, z toward the camera, camera at the origin).
The volume is a box of ``dims = (nx, ny, nz)`` voxels of ``voxel_size_m``; voxel ``(i, j, k)`` has
its centre at ``origin + (i, j, k) * voxel + voxel / 2`` and flat index ``(i * ny + j) * nz + k``.
Values are positive in front of the surface (outside), negative behind it, in units of the
truncation distance, clamped to [-1, 1]. Everything is torch, vectorised, on the volume's device.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from thuman.capture.camera import project_torch


@dataclass
class TSDFVolume:
    """A dense TSDF with colour.

    origin:       (3,) float64, metres, capture frame: the box's minimum corner.
    voxel_size_m: edge of one voxel, metres.
    dims:         (nx, ny, nz) voxel counts.
    trunc_m:      truncation distance, metres (a few voxels).
    tsdf:         (N,) float32 in [-1, 1], N = nx*ny*nz, 1 where never observed.
    weight:       (N,) float32 accumulated weight, 0 = never observed.
    color:        (N, 3) float32 RGB in [0, 255], weighted mean of the observations.
    max_weight:   cap of the running weight, so that old observations fade (DynamicFusion's
                  w_max; it lets the surface follow small changes).
    """

    origin: np.ndarray
    voxel_size_m: float
    dims: tuple
    trunc_m: float
    tsdf: torch.Tensor
    weight: torch.Tensor
    color: torch.Tensor
    max_weight: float = 64.0

    @classmethod
    def create(cls, origin, size_m, voxel_size_m: float, trunc_voxels: float = 3.0,
               max_weight: float = 64.0, device="cpu") -> "TSDFVolume":
        """An empty volume over the box ``[origin, origin + size_m]`` (metres, capture frame)."""
        origin = np.asarray(origin, dtype=np.float64).reshape(3)
        size = np.broadcast_to(np.asarray(size_m, dtype=np.float64), (3,))
        if voxel_size_m <= 0 or np.any(size <= 0):
            raise ValueError(f"voxel_size_m and size_m must be positive, got {voxel_size_m}, {size}")
        dims = tuple(int(d) for d in np.maximum(np.round(size / voxel_size_m), 2))
        n = dims[0] * dims[1] * dims[2]
        return cls(origin=origin, voxel_size_m=float(voxel_size_m), dims=dims,
                   trunc_m=float(trunc_voxels * voxel_size_m),
                   tsdf=torch.ones(n, dtype=torch.float32, device=device),
                   weight=torch.zeros(n, dtype=torch.float32, device=device),
                   color=torch.zeros(n, 3, dtype=torch.float32, device=device),
                   max_weight=float(max_weight))

    @property
    def device(self) -> torch.device:
        return self.tsdf.device

    @property
    def num_voxels(self) -> int:
        return self.dims[0] * self.dims[1] * self.dims[2]

    # -- indexing: the one place that maps voxels to positions and flat ids -----------------
    def flat_ids(self, ijk: torch.Tensor) -> torch.Tensor:
        """(..., 3) int64 voxel indices (i, j, k) -> (...,) flat ids ``(i * ny + j) * nz + k``."""
        _, ny, nz = self.dims
        return (ijk[..., 0] * ny + ijk[..., 1]) * nz + ijk[..., 2]

    def ijk(self, ids: torch.Tensor) -> torch.Tensor:
        """(M,) flat ids -> (M, 3) int64 voxel indices (inverse of :meth:`flat_ids`)."""
        _, ny, nz = self.dims
        return torch.stack([torch.div(ids, ny * nz, rounding_mode="floor"),
                            torch.div(ids, nz, rounding_mode="floor") % ny, ids % nz], dim=-1)

    def index_to_position(self, ijk):
        """(..., 3) voxel indices, integer or fractional (numpy or torch) -> positions, metres, capture
        frame: voxel (i, j, k)'s centre is ``origin + ((i, j, k) + 0.5) * voxel_size_m``."""
        if isinstance(ijk, torch.Tensor):
            origin = torch.as_tensor(self.origin, dtype=torch.float32, device=ijk.device)
            return origin + (ijk.to(torch.float32) + 0.5) * self.voxel_size_m
        return self.origin + (np.asarray(ijk, dtype=np.float64) + 0.5) * self.voxel_size_m

    def position_to_index(self, points: torch.Tensor) -> torch.Tensor:
        """(P, 3) metres -> (P, 3) fractional voxel indices (the inverse of :meth:`index_to_position`)."""
        origin = torch.as_tensor(self.origin, dtype=points.dtype, device=points.device)
        return (points - origin) / self.voxel_size_m - 0.5

    def nearest_ids(self, points: torch.Tensor):
        """The voxel nearest each point (P, 3) metres: (ids (P,) int64, inside (P,) bool); ids of
        points outside the box are clamped to its border."""
        dims = torch.tensor(self.dims, device=points.device)
        ijk = torch.round(self.position_to_index(points)).long()
        inside = ((ijk >= 0) & (ijk < dims)).all(-1)
        return self.flat_ids(torch.minimum(ijk.clamp_min(0), dims - 1)), inside

    def voxel_centres(self, ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(N, 3) or (len(ids), 3) float32 voxel centres, metres, capture frame."""
        if ids is None:
            ids = torch.arange(self.num_voxels, device=self.device)
        return self.index_to_position(self.ijk(ids))

    def ids_near(self, points: np.ndarray, radius_m: float) -> torch.Tensor:
        """(M,) int64 ids of the voxels within ``radius_m`` of any of ``points`` (P, 3) metres.

        Used to restrict integration to a band around the body: far voxels can never hold the
        subject's surface, and skipping them is most of fusion's speed on CPU.
        """
        from scipy.spatial import cKDTree

        centres = self.voxel_centres().cpu().numpy()
        pts = np.asarray(points, dtype=np.float64)
        lo, hi = pts.min(0) - radius_m, pts.max(0) + radius_m
        inside = np.all((centres >= lo) & (centres <= hi), axis=1)
        cand = np.nonzero(inside)[0]
        d, _ = cKDTree(pts).query(centres[cand], k=1, distance_upper_bound=radius_m)
        return torch.as_tensor(cand[np.isfinite(d)], dtype=torch.int64, device=self.device)


def integrate(volume: TSDFVolume, depth_m: torch.Tensor, K: np.ndarray,
              color: Optional[torch.Tensor] = None, live_centres: Optional[torch.Tensor] = None,
              ids: Optional[torch.Tensor] = None, update_color: bool = True) -> int:
    """Fuse one depth frame into the volume, in place (DynamicFusion eq. 7-8).

    depth_m:      (H, W) float32 metres along the optical axis, 0 = invalid, on the volume's device.
    K:            the depth image's camera: a CameraModel (lens included) or a (3, 3) pinhole K.
    color:        (H, W, 3) uint8 or float RGB registered to depth, or None.
    live_centres: (M, 3) float32 metres, capture frame: where the voxels ``ids`` are in the live
                  frame (the warp applied to their canonical centres). None = no motion.
    ids:          (M,) int64 voxel ids to update; None = every voxel (then M = N).
    update_color: False freezes the colour (stage 2 of the session: geometry and texture stop).
    Returns the number of voxels updated.

    The signed distance is projective (depth at the pixel minus the voxel's z), like Open3D's
    integration, truncated at ``trunc_m``; voxels further than ``trunc_m`` behind the surface are
    left untouched so that the far side of the body is not carved.
    """
    dev = volume.device
    if ids is None:
        ids = torch.arange(volume.num_voxels, device=dev)
    if live_centres is None:
        live_centres = volume.voxel_centres(ids)
    h, w = depth_m.shape
    # Capture frame -> OpenCV camera frame: y and z flip (thuman.capture.camera).
    cv = live_centres * torch.tensor([1.0, -1.0, -1.0], dtype=live_centres.dtype, device=dev)
    z = cv[:, 2].clone()
    front = z > 1e-6
    cv[:, 2] = torch.where(front, z, torch.ones_like(z))
    uv, in_lens = project_torch(cv, K)  # through the lens (capture/camera.py)
    u, v = torch.round(uv[:, 0]).long(), torch.round(uv[:, 1]).long()
    valid = front & in_lens & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    # Flat pixel ids and index_select, not 2-D / boolean-mask indexing: several times faster on
    # CPU over the ~0.5 M band voxels of a frame.
    pix = torch.where(valid, v * w + u, torch.zeros_like(u))
    d = depth_m.reshape(-1).index_select(0, pix)
    sdf = d - z
    valid &= (d > 0) & (sdf >= -volume.trunc_m)
    keep = torch.nonzero(valid).squeeze(1)
    if keep.numel() == 0:
        return 0
    sel = ids.index_select(0, keep)
    tsdf_new = torch.clamp(sdf.index_select(0, keep) / volume.trunc_m, max=1.0)
    w_old = volume.weight.index_select(0, sel)
    w_sum = w_old + 1.0
    volume.tsdf.index_copy_(0, sel, (volume.tsdf.index_select(0, sel) * w_old + tsdf_new) / w_sum)
    if color is not None and update_color:
        c = color.reshape(h * w, -1).index_select(0, pix.index_select(0, keep)).to(torch.float32)
        volume.color.index_copy_(0, sel, (volume.color.index_select(0, sel) * w_old[:, None] + c) / w_sum[:, None])
    volume.weight.index_copy_(0, sel, torch.clamp(w_sum, max=volume.max_weight))
    return int(sel.numel())


@dataclass
class FusedMesh:
    """A mesh extracted from a TSDF. vertices (V, 3) float32 metres, capture frame; faces (F, 3)
    int32 counter-clockwise seen from outside; colors (V, 3) uint8 RGB."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray


def extract_mesh(volume: TSDFVolume, min_weight: float = 0.5) -> FusedMesh:
    """Marching cubes on the zero level set of the observed voxels (skimage).

    Cubes that touch a voxel with weight below ``min_weight`` are skipped, so unobserved space
    makes no surface. Vertex colours are the volume's colour, trilinearly interpolated.
    Returns an empty mesh when the volume holds no surface.
    """
    from skimage.measure import marching_cubes

    nx, ny, nz = volume.dims
    tsdf = volume.tsdf.reshape(nx, ny, nz).cpu().numpy()
    seen = (volume.weight.reshape(nx, ny, nz) >= min_weight).cpu().numpy()
    empty = FusedMesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32), np.zeros((0, 3), np.uint8))
    if not seen.any() or tsdf[seen].min() >= 0 or tsdf[seen].max() <= 0:
        return empty
    # Only the box around the observed voxels can hold a kept triangle (below): march over that
    # crop (with one voxel of margin), not the whole volume, which is mostly never seen.
    lo = np.array([np.flatnonzero(seen.any(axis=tuple(a for a in range(3) if a != ax)))[0] for ax in range(3)])
    hi = np.array([np.flatnonzero(seen.any(axis=tuple(a for a in range(3) if a != ax)))[-1] for ax in range(3)])
    lo, hi = np.maximum(lo - 1, 0), np.minimum(hi + 2, [nx, ny, nz])
    crop = tuple(slice(a, b) for a, b in zip(lo, hi))
    try:
        verts, faces, _, _ = marching_cubes(tsdf[crop], level=0.0)
    except (ValueError, RuntimeError):
        return empty
    verts = verts + lo.astype(verts.dtype)
    # Keep a triangle only when all 8 corners of its cube were observed (Open3D's rule): the
    # untouched (+1) voxels behind the truncation band would otherwise make a second, false
    # surface there (skimage's own mask does not prevent it).
    cube = np.floor(verts[faces].mean(axis=1)).astype(np.int64)
    cube = np.clip(cube, 0, np.array([nx, ny, nz]) - 2)
    ok = np.ones(len(faces), dtype=bool)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                ok &= seen[cube[:, 0] + dx, cube[:, 1] + dy, cube[:, 2] + dz]
    faces = faces[ok]
    used = np.unique(faces)
    remap = np.full(len(verts), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    verts, faces = verts[used], remap[faces]
    if len(faces) == 0:
        return empty
    # skimage's default (gradient descent toward the object) already gives faces
    # counter-clockwise from outside for a TSDF that decreases inward (tested).
    colors = _trilinear(volume.color.reshape(nx, ny, nz, 3).cpu().numpy(), verts)
    vertices = volume.index_to_position(verts)
    return FusedMesh(vertices.astype(np.float32), np.ascontiguousarray(faces, dtype=np.int32),
                     np.clip(np.round(colors), 0, 255).astype(np.uint8))


def _trilinear(grid: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    """Sample grid (nx, ny, nz, C) at fractional voxel indices ijk (P, 3). Returns (P, C)."""
    dims = np.array(grid.shape[:3])
    lo = np.clip(np.floor(ijk).astype(np.int64), 0, dims - 2)
    f = np.clip(ijk - lo, 0.0, 1.0)
    out = np.zeros((len(ijk), grid.shape[3]), dtype=np.float64)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                wgt = ((f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1])
                       * (f[:, 2] if dz else 1 - f[:, 2]))
                out += wgt[:, None] * grid[lo[:, 0] + dx, lo[:, 1] + dy, lo[:, 2] + dz]
    return out


def sample_tsdf(volume: TSDFVolume, points: torch.Tensor) -> torch.Tensor:
    """Trilinear TSDF values at points (P, 3) metres, capture frame -> (P,) float32.

    Points outside the box read 1 (empty). Used to refine body shape from the fused surface.
    """
    nx, ny, nz = volume.dims
    grid = volume.tsdf.reshape(1, 1, nx, ny, nz)
    ijk = volume.position_to_index(points)
    size = torch.tensor([nx, ny, nz], dtype=torch.float32, device=points.device)
    norm = 2.0 * ijk / (size - 1) - 1.0
    # grid_sample's last coordinate indexes the last spatial dim first: (k, j, i) order.
    g = norm[:, [2, 1, 0]].reshape(1, -1, 1, 1, 3)
    out = torch.nn.functional.grid_sample(grid, g, mode="bilinear", padding_mode="border",
                                          align_corners=True)
    return out.reshape(-1)


def sample_weight(volume: TSDFVolume, points: torch.Tensor) -> torch.Tensor:
    """Fusion weight of the voxel nearest each point (P, 3) -> (P,), 0 outside the box."""
    ids, inside = volume.nearest_ids(points)
    return torch.where(inside, volume.weight[ids], torch.zeros_like(ids, dtype=torch.float32))
