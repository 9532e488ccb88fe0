"""The pose prompt of stage 2: the reference pose rendered beside the live reconstruction.

Pure arrays until :func:`write_prompt_image`: shaded depth renders by ray casting
(``thuman.capture.raycast``). Where the prompt goes (a window, PNG images, nowhere) is
``thuman.capture.prompt_display``'s job.
"""
from __future__ import annotations

import os

import numpy as np

from thuman.capture.raycast import intrinsics, render_depth


def shaded_view(vertices: np.ndarray, faces: np.ndarray, size=(256, 192)) -> np.ndarray:
    """(H, W, 3) uint8 grey-shaded front view of a mesh (capture frame, metres), framed to fit."""
    h, w = size
    v = np.asarray(vertices, dtype=np.float64)
    if len(v) == 0 or len(faces) == 0:
        return np.full((h, w, 3), 40, np.uint8)
    centre = 0.5 * (v.min(0) + v.max(0))
    K = intrinsics(w, h, 40.0)
    extent = max(v[:, 1].max() - v[:, 1].min(), (v[:, 0].max() - v[:, 0].min()) * h / w)
    dist = 1.15 * extent / (2 * np.tan(np.radians(20.0))) + (v[:, 2].max() - centre[2])
    T = np.eye(4)
    T[:3, 3] = -centre + np.array([0, 0, -dist])
    depth = render_depth(v, faces, K, h, w, T)
    img = np.full((h, w), 40.0)
    hit = depth > 0
    if hit.any():
        gy, gx = np.gradient(np.where(hit, depth, depth[hit].max()))
        n = np.stack([-gx * K[0, 0] / np.maximum(depth, 1e-6), -gy * K[1, 1] / np.maximum(depth, 1e-6),
                      np.ones_like(depth)], -1)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        light = np.array([0.3, -0.4, 0.86])
        img[hit] = 60 + 180 * np.clip(n[hit] @ light, 0, 1)
    return np.repeat(img[..., None], 3, axis=-1).astype(np.uint8)


def prompt_image(reference: tuple, live: tuple | None) -> np.ndarray:
    """(H, 2W, 3) uint8: the reference pose (left) beside the live reconstruction (right).
    reference / live: (vertices, faces) in metres."""
    left = shaded_view(*reference)
    right = shaded_view(*live) if live is not None else np.full_like(left, 40)
    return np.concatenate([left, right], axis=1)


def write_prompt_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write the prompt as PNG, atomically."""
    from PIL import Image

    from thuman_io.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
