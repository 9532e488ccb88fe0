"""Depth of a triangle mesh seen by a camera (pinhole or a distorted lens), by ray casting (Open3D's RaycastingScene).

Used to make exact, noise-free test and benchmark frames and to render the live reconstruction
for the pose prompt. Pure: arrays in, arrays out.
"""
from __future__ import annotations

import numpy as np

from thuman.capture.camera import as_camera


def render_depth(vertices: np.ndarray, faces: np.ndarray, K, height: int, width: int,
                 capture_to_camera: np.ndarray | None = None) -> np.ndarray:
    """Depth image of a mesh.

    vertices: (V, 3) metres, capture frame (y up, z toward the camera). faces: (F, 3) int.
    K: the camera, a CameraModel (each pixel casts its ray through the lens) or a (3, 3) OpenCV
    pinhole K, pixels. capture_to_camera: (4, 4) rigid transform taking capture
    frame points to the camera's capture-style frame (identity = the capture camera itself).
    Returns (H, W) float32 metres along the optical axis, 0 where no surface is hit.
    """
    import open3d as o3d

    v = np.asarray(vertices, dtype=np.float64)
    if capture_to_camera is not None:
        v = v @ capture_to_camera[:3, :3].T + capture_to_camera[:3, 3]
    v_cv = v * np.array([1.0, -1.0, -1.0])  # capture-style -> OpenCV camera frame
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(v_cv.astype(np.float32)),
                        o3d.core.Tensor(np.asarray(faces, dtype=np.uint32)))
    cam = as_camera(K, (height, width))
    if (cam.height, cam.width) != (height, width):
        cam = cam.with_size(width, height)
    xy = cam.ray_table()
    # Directions with unit z: the hit distance t is then the depth along the optical axis.
    d = np.concatenate([np.nan_to_num(xy), np.ones(xy.shape[:2] + (1,))], -1)
    rays = np.concatenate([np.zeros_like(d), d], -1).astype(np.float32)
    t = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    return np.where(np.isfinite(t) & np.isfinite(xy[..., 0]), t, 0.0).astype(np.float32)


def intrinsics(width: int, height: int, fov_y_deg: float = 65.0) -> np.ndarray:
    """(3, 3) pinhole matrix with square pixels, principal point at the image centre."""
    f = 0.5 * height / np.tan(np.radians(fov_y_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
