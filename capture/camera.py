"""Camera conventions of capture. This module owns them; sources, tracking and fusion import it.

Depth images live in the depth camera's *OpenCV frame*: x right, y down, z forward, metres.
Every toolkit source registers colour to depth (like K4A's ``transformed_color``), so one
intrinsic matrix ``K`` serves both images of a :class:`~thuman.capture.frames.Frame`.

The *capture frame* (also the THuman item frame) is the same camera rotated by 180 degrees about
x: x right, y up, z toward the camera (OpenGL), metres. A subject facing the camera faces +z,
as SMPL does in its own frame, and stands at negative z.
"""
from __future__ import annotations

import numpy as np

#: (4, 4) OpenCV camera frame -> capture frame (flip y and z).
CV_TO_CAPTURE = np.diag([1.0, -1.0, -1.0, 1.0])


def backproject(depth_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels to 3D points in the OpenCV camera frame.

    depth_m: (H, W) float, metres, 0 or NaN = invalid.
    K: (3, 3) pinhole intrinsics in pixels (pixel centres at integer coordinates).
    Returns (H, W, 3) float32 points; invalid pixels give z = 0.
    """
    h, w = depth_m.shape
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    z = np.nan_to_num(np.asarray(depth_m, dtype=np.float64))
    x = (u - K[0, 2]) * z / K[0, 0]
    y = (v - K[1, 2]) * z / K[1, 1]
    return np.stack([x, y, z], axis=-1).astype(np.float32)


def project(points_cv: np.ndarray, K: np.ndarray) -> np.ndarray:
    """3D points in the OpenCV camera frame to pixel coordinates.

    points_cv: (..., 3) metres with z > 0. Returns (..., 2) float (u, v) pixels.
    """
    p = np.asarray(points_cv, dtype=np.float64)
    z = p[..., 2]
    return np.stack([K[0, 0] * p[..., 0] / z + K[0, 2], K[1, 1] * p[..., 1] / z + K[1, 2]], axis=-1)


def depth_mm_to_m(depth_mm: np.ndarray) -> np.ndarray:
    """(H, W) uint16 millimetres -> (H, W) float32 metres (0 stays 0 = invalid)."""
    return np.asarray(depth_mm, dtype=np.float32) * 1e-3


def cv_to_capture(points_cv: np.ndarray) -> np.ndarray:
    """(..., 3) OpenCV camera frame -> capture frame (y and z negated)."""
    p = np.array(points_cv, dtype=np.float32, copy=True)
    p[..., 1:] *= -1
    return p


def capture_to_cv(points: np.ndarray) -> np.ndarray:
    """(..., 3) capture frame -> OpenCV camera frame (its own inverse)."""
    return cv_to_capture(points)
