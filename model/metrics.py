"""Evaluation metrics of the paper (sec. 6.2.2, Table 4) and mesh distances. Pure numpy.

* 3D IoU with the z-shift search of sec. 6.2.2: the prediction is shifted along the depth axis
  (zero fill) and the best IoU counts, because depth is ambiguous from one image.
* Normal errors of Table 4 over the ground-truth silhouette: cosine distance 1 - cos and the
  l2-norm |n - n^| of unit normals (a missing prediction counts as the zero vector).
* Chamfer and point-to-surface (P2S) distances in centimetres between marching-cubes meshes:
  P2S = mean distance from the predicted vertices to the ground-truth surface; Chamfer = mean of
  that and the ground-truth vertices' mean distance to the predicted surface.
"""
from __future__ import annotations

import numpy as np

from thuman_io.grid import VolumeGrid


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two bool volumes; 1.0 when both are empty."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def shift_depth(volume: np.ndarray, shift: int) -> np.ndarray:
    """(D, H, W) volume moved by ``shift`` voxels along depth (positive = away from the camera)."""
    out = np.zeros_like(volume)
    d = volume.shape[0]
    if shift >= 0:
        out[shift:] = volume[:d - shift]
    else:
        out[:d + shift] = volume[-shift:]
    return out


def iou_z_search(pred: np.ndarray, target: np.ndarray, max_shift: int) -> tuple[float, int]:
    """(best IoU, its shift in voxels) over shifts -max_shift .. max_shift of ``pred`` along depth.

    pred, target: (D, H, W) bool.
    """
    best, best_shift = -1.0, 0
    for s in range(-max_shift, max_shift + 1):
        v = iou(shift_depth(pred, s), target)
        if v > best or (v == best and abs(s) < abs(best_shift)):
            best, best_shift = v, s
    return best, best_shift


def normal_errors(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Table 4's errors. pred, target (H, W, 3) normals (pred normalised here), mask (H, W) bool.

    Returns {'cosine_distance': mean 1 - <n, n^>, 'l2': mean |n - n^|} over mask pixels.
    """
    p = pred[mask].astype(np.float64)
    t = target[mask].astype(np.float64)
    if len(t) == 0:
        return {"cosine_distance": float("nan"), "l2": float("nan")}
    pn = np.linalg.norm(p, axis=1, keepdims=True)
    p = np.where(pn > 1e-8, p / np.maximum(pn, 1e-8), 0.0)
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-8)
    return {"cosine_distance": float(np.mean(1.0 - (p * t).sum(1))),
            "l2": float(np.mean(np.linalg.norm(p - t, axis=1)))}


def occupancy_mesh(occupancy: np.ndarray, grid: VolumeGrid, level: float = 0.5):
    """Marching cubes of a (D, H, W) occupancy/probability volume -> (vertices (V, 3) float64 in
    the view frame, normalised units; faces (F, 3) int64 facing outward), or None if empty.

    The volume is padded by one empty voxel so that bodies touching the box still close.
    """
    from skimage.measure import marching_cubes

    vol = np.pad(np.asarray(occupancy, dtype=np.float32), 1)
    if vol.max() < level or vol.min() > level:
        return None
    verts, faces, _, _ = marching_cubes(vol, level)
    # marching_cubes returns (k, row, col) sample positions; voxel centres sit at index + 0.5.
    verts = grid.index_to_view(verts - 1.0 + 0.5)
    # (k, row, col) -> (x, y, z) has determinant -1, which turns skimage's inward winding
    # outward: the faces are used as they come (a test checks the signed volume).
    return verts, faces.astype(np.int64)


def metres_per_unit(item_to_view: np.ndarray) -> float:
    """The similarity's inverse scale: metres per normalised view unit."""
    scale = np.cbrt(abs(np.linalg.det(np.asarray(item_to_view, dtype=np.float64)[:3, :3])))
    return float(1.0 / scale)


def _point_to_surface(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N,) exact distances from points to a triangle mesh (Open3D's raycasting scene)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    return scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy().astype(np.float64)


def mesh_distances_cm(pred_mesh, target_mesh, metres_per_unit_: float) -> dict[str, float]:
    """{'p2s_cm', 'chamfer_cm'} between two (vertices, faces) meshes in view units."""
    if pred_mesh is None or target_mesh is None:
        return {"p2s_cm": float("nan"), "chamfer_cm": float("nan")}
    to_cm = 100.0 * metres_per_unit_
    p2s = _point_to_surface(pred_mesh[0], *target_mesh).mean() * to_cm
    s2p = _point_to_surface(target_mesh[0], *pred_mesh).mean() * to_cm
    return {"p2s_cm": float(p2s), "chamfer_cm": float((p2s + s2p) / 2.0)}
