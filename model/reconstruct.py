"""Inference: image + body inputs -> occupancy -> mesh, visible surface refined with normals.

As in paper sec. 3: marching cubes on the predicted occupancy, then the visible (camera-facing)
part of the mesh is refined with the predicted (refined) normal map "using the method of [45]"
(Nehab et al. 2005, Efficiently combining positions and normals). Nehab's linear least squares,
on the orthographic depth map of the front surface at the normal map's 2x resolution:

    minimise  lam * sum_p (z_p - z0_p)^2  +  sum_p (n_p . T_x(p))^2 + (n_p . T_y(p))^2

with T_x = (dx, 0, z_right - z_p), T_y = (0, dy, z_up - z_p) the surface tangents (dx = dy = one
pixel, view units). The first term keeps the positions, the second makes the tangents
perpendicular to the measured normals. The mesh is subdivided once (its vertices then sample the
2x map), and every visible vertex moves along z to the refined depth at its pixel.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thuman.model import metrics, surface
from thuman_io.atomic import atomic_path
from thuman_io.grid import VolumeGrid


@dataclass
class Reconstruction:
    """vertices (V, 3) float64 view frame (normalised units), faces (F, 3) int64; occupancy
    (D, H, W) float32, the surface field (``surface.surface_field``, crossing 0.5 at the method's
    surface); normal_projected / normal_refined (2H, 2W, 3) or None;
    depth_front / depth_refined (2H, 2W) view-frame z of the front surface (NaN off the body)."""

    vertices: np.ndarray
    faces: np.ndarray
    occupancy: np.ndarray
    normal_projected: np.ndarray
    normal_refined: np.ndarray | None
    depth_front: np.ndarray
    depth_refined: np.ndarray | None


def front_depth(occupancy: np.ndarray, grid: VolumeGrid, level: float = surface.FIELD_LEVEL) -> np.ndarray:
    """(H, W) view-frame z of the first crossing of ``level`` along each column (sub-voxel, by
    linear interpolation between voxel centres, as marching cubes places it); NaN if none."""
    above = occupancy >= level
    hit = above.any(axis=0)
    k = np.where(hit, above.argmax(axis=0), 0)
    r, c = np.indices(k.shape)
    p1 = occupancy[k, r, c]
    p0 = np.where(k > 0, occupancy[np.maximum(k - 1, 0), r, c], 0.0)
    t = np.where(k > 0, (level - p0) / np.maximum(p1 - p0, 1e-6), 0.5)
    index = np.where(k > 0, k - 1 + 0.5 + np.clip(t, 0, 1), 0.0)   # depth index of the crossing
    z = grid.half_extent[2] - index * grid.voxel_size
    return np.where(hit, z, np.nan)


def refine_depth(depth: np.ndarray, normals: np.ndarray, pixel: float, position_weight: float = 0.1) -> np.ndarray:
    """Nehab et al. 2005 on an orthographic depth map.

    depth: (h, w) view-frame z (NaN off the surface); normals (h, w, 3) unit, view frame;
    pixel: pixel size in view units. Returns (h, w) refined z (NaN where depth is NaN).
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    valid = np.isfinite(depth) & (normals[..., 2] > 0.05)
    h, w = depth.shape
    ids = -np.ones((h, w), np.int64)
    ids[valid] = np.arange(valid.sum())
    n = int(valid.sum())
    if n == 0:
        return depth.copy()
    rows, cols, vals, rhs = [], [], [], []
    lam = np.sqrt(position_weight)
    pr, pc = np.nonzero(valid)
    # Position terms: sqrt(lam) z_p = sqrt(lam) z0_p.
    rows.append(np.arange(n))
    cols.append(ids[pr, pc])
    vals.append(np.full(n, lam))
    rhs.append(lam * depth[pr, pc])
    eq = n
    # Tangent terms n . T = 0, i.e. n_z (z_q - z_p) = -n_x dx (q the right neighbour) and
    # n_z (z_q - z_p) = -n_y dy (q the neighbour above: y points up, rows down).
    for dr, dc, comp in ((0, 1, 0), (-1, 0, 1)):
        qr, qc = pr + dr, pc + dc
        ok = (qr >= 0) & (qr < h) & (qc >= 0) & (qc < w)
        ok[ok] &= valid[qr[ok], qc[ok]]
        a, b = ids[pr[ok], pc[ok]], ids[qr[ok], qc[ok]]
        nrm = normals[pr[ok], pc[ok]]
        e = np.arange(eq, eq + len(a))
        rows += [e, e]
        cols += [b, a]
        vals += [nrm[:, 2], -nrm[:, 2]]
        rhs.append(-nrm[:, comp] * pixel)
        eq += len(a)
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(eq, n))
    z = spsolve((A.T @ A).tocsc(), A.T @ np.concatenate(rhs))
    out = depth.copy()
    out[pr, pc] = z
    return out


def _upsample_depth(depth: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour then a 2x2 box blur inside the surface (keeps NaN outside)."""
    up = np.repeat(np.repeat(depth, scale, 0), scale, 1)
    t = torch.from_numpy(np.nan_to_num(up)[None, None])
    m = torch.from_numpy(np.isfinite(up).astype(np.float64)[None, None])
    k = torch.ones(1, 1, scale, scale, dtype=t.dtype)
    pad = (0, scale - 1, 0, scale - 1)
    num = torch.nn.functional.conv2d(torch.nn.functional.pad(t * m, pad, mode="replicate"), k)
    den = torch.nn.functional.conv2d(torch.nn.functional.pad(m, pad, mode="replicate"), k)
    smooth = (num / den.clamp_min(1e-9))[0, 0].numpy()
    return np.where(np.isfinite(up), smooth, np.nan)


def refine_visible_vertices(vertices: np.ndarray, depth_front: np.ndarray, depth_refined: np.ndarray,
                            grid: VolumeGrid, scale: int = 2, tolerance_voxels: float = 1.0) -> np.ndarray:
    """Move vertices on the visible front surface (within ``tolerance_voxels`` of it) to the
    refined depth of their pixel. vertices (V, 3) view frame; maps (sH, sW)."""
    idx = grid.view_to_index(vertices)
    r = np.clip((idx[:, 1] * scale).astype(int), 0, grid.height * scale - 1)
    c = np.clip((idx[:, 2] * scale).astype(int), 0, grid.width * scale - 1)
    z0, z1 = depth_front[r, c], depth_refined[r, c]
    visible = np.isfinite(z0) & np.isfinite(z1) & (np.abs(vertices[:, 2] - z0) <= tolerance_voxels * grid.voxel_size)
    out = vertices.copy()
    out[visible, 2] += z1[visible] - z0[visible]
    return out


def reconstruct(model, rgb: np.ndarray, semantic_map: np.ndarray, semantic_volume: np.ndarray,
                grid: VolumeGrid, levels: surface.SurfaceLevels, device="cpu",
                subdivide: bool = True) -> Reconstruction:
    """rgb (2H, 2W, 3) uint8 or float [0, 1]; semantic_map (2H, 2W, 3); semantic_volume (D, H, W, 3).

    levels: the thresholds of the network's probability, ``surface.network_levels(cfg)`` of its
    run. The mesh is the ``surface.FIELD_LEVEL`` set of ``surface.surface_field`` (the
    probability at the loss's even odds, a lower threshold inside the input body); ``occupancy``
    holds that field."""
    rgb = np.asarray(rgb)
    rgb = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0), dtype=np.float32))[None].to(device)

    with torch.no_grad():
        out = model(t(rgb), t(semantic_map), t(semantic_volume))
    # the method's surface (model/surface.py), as thuman eval measures it
    occ = surface.surface_field(out.occupancy[0, 0].float().cpu().numpy(),
                                surface.body_occupancy(semantic_volume), levels)
    from thuman.model.projection import project_normals
    projected = (out.normal_projected if out.normal_projected is not None else project_normals(out.occupancy))
    projected = projected[0].permute(1, 2, 0).float().cpu().numpy()
    mesh = metrics.occupancy_mesh(occ, grid)
    if mesh is None:
        from thuman_io.errors import InputError
        raise InputError(None, "reconstruct", "the network predicted an empty volume; check that the image and "
                         "the body parameters show the same person in the same framing")
    vertices, faces = mesh
    if subdivide:
        import trimesh
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
    depth0 = _upsample_depth(front_depth(occ, grid), 2)
    refined = depth1 = None
    if out.normal_refined is not None:
        refined = out.normal_refined[0].permute(1, 2, 0).float().cpu().numpy()
        refined = refined / np.maximum(np.linalg.norm(refined, axis=-1, keepdims=True), 1e-8)
        depth1 = refine_depth(depth0, refined, grid.voxel_size / 2)
        vertices = refine_visible_vertices(vertices, depth0, depth1, grid)
    return Reconstruction(vertices, np.asarray(faces, np.int64), occ, projected, refined, depth0, depth1)


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Write OBJ/PLY/GLB/STL (by suffix) atomically."""
    import trimesh

    path = Path(path)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    data = mesh.export(file_type=path.suffix.lstrip(".").lower() or "ply")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def side_by_side(rgb: np.ndarray, recon: Reconstruction, grid: VolumeGrid, renderer=None) -> np.ndarray:
    """(2H, 4 * 2W, 3) float [0, 1]: input | projected normals | refined normals | mesh shaded by its normals."""
    import trimesh

    from thuman.synth.render.renderer import OrthoRenderer

    rgb = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb

    def show(n):
        return np.zeros_like(rgb) if n is None else np.where(np.linalg.norm(n, axis=-1, keepdims=True) > 0, (n + 1) / 2, 0)
    vn = trimesh.Trimesh(recon.vertices, recon.faces, process=False).vertex_normals
    own = renderer is None
    renderer = renderer or OrthoRenderer(grid)
    try:
        shaded, alpha = renderer.flat_pass(recon.vertices, recon.faces, colors=(vn + 1) / 2, scale=2)
    finally:
        if own:
            renderer.close()
    mask = (np.linalg.norm(recon.normal_projected, axis=-1, keepdims=True) > 0)
    refined = None if recon.normal_refined is None else recon.normal_refined * mask
    return np.concatenate([rgb, show(recon.normal_projected), show(refined), shaded * alpha[..., None]], axis=1)


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)).save(tmp, format="PNG")
    return Path(path)


def load_image(path: str | os.PathLike, grid: VolumeGrid) -> np.ndarray:
    """An image file as (2H, 2W, 3) uint8, resized to the network's input if needed."""
    from PIL import Image

    from thuman_io.errors import InputError
    try:
        img = Image.open(path).convert("RGB")
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read the image ({e})") from e
    h2, w2 = grid.normal_map_shape
    if img.size != (w2, h2):
        img = img.resize((w2, h2), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)
