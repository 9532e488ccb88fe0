"""Rotation conversions used by the pose library (numpy only, batched over leading axes)."""
from __future__ import annotations

import numpy as np

from thuman_io.body.numpy_lbs import rodrigues as axis_angle_to_matrix

__all__ = ["axis_angle_to_matrix", "euler_xyz_to_matrix", "matrix_to_axis_angle", "matrix_to_quaternion",
           "geodesic_angle"]


def euler_xyz_to_matrix(angles_rad: np.ndarray) -> np.ndarray:
    """(..., 3) angles about the fixed x, then y, then z axes (radians) -> (..., 3, 3) = Rz Ry Rx."""
    a = np.asarray(angles_rad, dtype=np.float64)
    cx, cy, cz = np.cos(a[..., 0]), np.cos(a[..., 1]), np.cos(a[..., 2])
    sx, sy, sz = np.sin(a[..., 0]), np.sin(a[..., 1]), np.sin(a[..., 2])
    one, zero = np.ones_like(cx), np.zeros_like(cx)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(a.shape[:-1] + (3, 3))
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(a.shape[:-1] + (3, 3))
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(a.shape[:-1] + (3, 3))
    return rz @ ry @ rx


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle (radians, angle in [0, pi])."""
    m = np.asarray(m, dtype=np.float64)
    q = matrix_to_quaternion(m)
    w, xyz = q[..., 0], q[..., 1:]
    s = np.linalg.norm(xyz, axis=-1)
    angle = 2.0 * np.arctan2(s, w)
    scale = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0)
    return xyz * scale[..., None]


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    t = np.stack([1 + m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2],
                  1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                  1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
                  1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)
    # Shepperd: build the quaternion from its largest component for numerical stability.
    k = np.argmax(t, axis=-1)
    r = np.sqrt(np.maximum(np.take_along_axis(t, k[..., None], -1)[..., 0], 1e-300))
    cands = np.stack([
        np.stack([r, (m[..., 2, 1] - m[..., 1, 2]) / r, (m[..., 0, 2] - m[..., 2, 0]) / r,
                  (m[..., 1, 0] - m[..., 0, 1]) / r], -1),
        np.stack([(m[..., 2, 1] - m[..., 1, 2]) / r, r, (m[..., 0, 1] + m[..., 1, 0]) / r,
                  (m[..., 0, 2] + m[..., 2, 0]) / r], -1),
        np.stack([(m[..., 0, 2] - m[..., 2, 0]) / r, (m[..., 0, 1] + m[..., 1, 0]) / r, r,
                  (m[..., 1, 2] + m[..., 2, 1]) / r], -1),
        np.stack([(m[..., 1, 0] - m[..., 0, 1]) / r, (m[..., 0, 2] + m[..., 2, 0]) / r,
                  (m[..., 1, 2] + m[..., 2, 1]) / r, r], -1),
    ], -2)
    q = 0.5 * np.take_along_axis(cands, k[..., None, None].repeat(4, -1), -2)[..., 0, :]
    q = q * np.where(q[..., :1] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def geodesic_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) between rotations given as (..., 3, 3) matrices."""
    rel = np.swapaxes(a, -1, -2) @ b
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))
