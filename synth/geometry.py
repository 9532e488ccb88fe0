"""Small pure mesh helpers shared by the synthesizer stages."""
from __future__ import annotations

import numpy as np


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals.

    vertices: (V, 3) float, any unit. faces: (F, 3) int, counter-clockwise outside.
    Returns (V, 3) float32; a vertex used by no (non-degenerate) face gets (0, 0, 0).
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])   # length = 2 * area
    n = np.zeros_like(v)
    for j in range(3):
        np.add.at(n, f[:, j], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.where(length > 0, length, 1.0)).astype(np.float32)


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(4, 4) similarity/affine transform applied to (N, 3) points -> (N, 3) float64."""
    p = np.asarray(points, dtype=np.float64)
    return p @ matrix[:3, :3].T + matrix[:3, 3]


def rotate_normals(matrix: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Normals under a similarity transform (rotation part only, renormalised): (N, 3) float32."""
    r = matrix[:3, :3]
    n = np.asarray(normals, dtype=np.float64) @ r.T
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.where(length > 0, length, 1.0)).astype(np.float32)
