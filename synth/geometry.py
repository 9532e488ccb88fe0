"""Small pure mesh helpers shared by the synthesizer stages."""
from __future__ import annotations

import numpy as np

from thuman_io.geometry import vertex_normals  # noqa: F401  (the one owner; synth imports it from here)


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
