"""Distances to a triangle mesh: exact closest points (Open3D's BVH) and area-weighted samples.

Pure array functions (numpy in, numpy out). Open3D is imported when a query is built, so
``import thuman_io`` stays numpy + h5py only. The sign of a distance comes from the normal of the
closest triangle: positive outside (on the side the counter-clockwise normal points to).
"""
from __future__ import annotations

import numpy as np


class SurfaceQuery:
    """Closest-point queries against one triangle mesh.

    vertices (V, 3) float, metres; faces (F, 3) int, counter-clockwise seen from outside.
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        import open3d as o3d

        self.vertices = np.ascontiguousarray(vertices, np.float32)
        self.faces = np.ascontiguousarray(faces, np.uint32)
        self.face_normals = face_normals(self.vertices, self.faces)
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(self.vertices), o3d.core.Tensor(self.faces))
        self._o3d = o3d

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """points (N, 3) -> (closest surface points (N, 3) float32, their triangle's unit normals (N, 3))."""
        q = self._o3d.core.Tensor(np.ascontiguousarray(points, np.float32))
        ans = self._scene.compute_closest_points(q)
        tri = ans["primitive_ids"].numpy().astype(np.int64)
        return ans["points"].numpy(), self.face_normals[tri]

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """(N,) float32 metres: distance to the surface, positive outside, negative inside."""
        c, n = self.closest(points)
        d = np.linalg.norm(points - c, axis=1)
        side = np.einsum("ij,ij->i", points - c, n)
        return np.where(side >= 0, d, -d).astype(np.float32)


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) float32 unit normals of counter-clockwise triangles (zero for degenerate ones)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.where(length > 0, length, 1.0)).astype(np.float32)


def sample_surface(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0):
    """``n`` points spread over the surface by area (same seed, same points).

    Returns (points (n, 3) float32 metres, unit normals (n, 3) float32 of their triangles).
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    area = np.linalg.norm(cross, axis=1)
    if not np.isfinite(area).all() or area.sum() <= 0:
        raise ValueError("the mesh has no surface area")
    rng = np.random.default_rng([int(seed), 0x5A4F])
    tri = rng.choice(len(f), size=int(n), p=area / area.sum())
    r1, r2 = rng.random(int(n)), rng.random(int(n))
    s = np.sqrt(r1)
    a, b, c = 1.0 - s, s * (1.0 - r2), s * r2
    p = a[:, None] * v[f[tri, 0]] + b[:, None] * v[f[tri, 1]] + c[:, None] * v[f[tri, 2]]
    normals = cross[tri] / np.where(area[tri] > 0, area[tri], 1.0)[:, None]
    return p.astype(np.float32), normals.astype(np.float32)
