"""The depth sensor's noise model (pure functions on images).

Noise model (applied by :func:`apply_depth_noise`, a pure function), in this order:

1. Missing pixels at grazing angles: a pixel whose surface is seen at incidence angle theta
   (between the ray and the surface normal) drops out with a probability ramping linearly from 0 at
   ``grazing_start_deg`` to 1 at ``grazing_end_deg`` (ToF returns too little light there).
2. Missing pixels and flying pixels at depth edges: a pixel next to a depth discontinuity (a jump
   larger than ``edge_jump_rel`` x depth, or next to no-return) drops out with ``edge_drop_prob``;
   where both sides are surfaces, a pixel becomes a *flying pixel* with ``flying_prob``: its depth
   is a uniform mix of the two sides (a ToF pixel that integrates both).
3. Dark surfaces (RGB luminance below ``dark_luminance``, e.g. black hair) drop with ``dark_drop_prob``;
   any pixel drops with ``dropout_prob``.
4. Depth-dependent Gaussian noise along the ray: sigma(z, theta) = (sigma_base_mm + sigma_quad_mm *
   z^2) * (1 + angle_gain * (theta / (pi/2 - theta))^2), z in metres (after Nguyen et al. 2012's
   Kinect model; the defaults give 1.85 mm at 1.5 m, facing the camera).
5. Quantisation to ``quantum_mm`` (1 mm, the K4A's uint16 millimetres) and the mode's range limits
   (out-of-range pixels read 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class DepthNoise:
    """Parameters of the depth noise model (see the module docstring). ``DepthNoise.none()`` is exact."""

    sigma_base_mm: float = 0.5
    sigma_quad_mm: float = 0.6
    angle_gain: float = 0.05
    grazing_start_deg: float = 72.0
    grazing_end_deg: float = 85.0
    edge_jump_rel: float = 0.03
    edge_drop_prob: float = 0.5
    flying_prob: float = 0.3
    dark_luminance: float = 20.0
    dark_drop_prob: float = 0.5
    dropout_prob: float = 0.002
    quantum_mm: float = 1.0
    color_noise: float = 2.0

    @classmethod
    def none(cls) -> "DepthNoise":
        return cls(0.0, 0.0, 0.0, 91.0, 91.0, 1e9, 0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0)

    def sigma_mm(self, z_m: np.ndarray, theta: np.ndarray | float = 0.0) -> np.ndarray:
        """Noise standard deviation in mm at depth z_m (metres) and incidence angle theta (radians)."""
        t = np.minimum(np.asarray(theta), np.float32(math.radians(89.0)))
        return (self.sigma_base_mm + self.sigma_quad_mm * np.asarray(z_m) ** 2) * (
            1.0 + self.angle_gain * (t / (math.pi / 2 - t)) ** 2)


def incidence_angles(depth_m: np.ndarray, K) -> np.ndarray:
    """Angle between each pixel's ray and its surface normal, from the depth image.

    depth_m: (H, W) float metres, 0 = none. K: the camera (CameraModel or (3, 3) pinhole K), or
    the (H, W, 2) ray table (X/Z, Y/Z) of exactly these pixels. Returns (H, W) float radians in [0, pi/2];
    0 where the normal is undefined (no depth, or a neighbour without depth: the silhouette, which
    the edge model treats).
    """
    from thuman.capture.camera import backproject

    if isinstance(K, np.ndarray) and K.ndim == 3:  # a ray table of these pixels
        z = np.asarray(depth_m, np.float64)
        pts = np.concatenate([np.nan_to_num(K) * z[..., None], z[..., None]], -1)
    else:
        pts = backproject(depth_m, K)
    p = np.pad(pts, ((1, 1), (1, 1), (0, 0)), mode="edge")
    # Central differences; at the image border the edge padding makes them one-sided.
    dx = p[1:-1, 2:] - p[1:-1, :-2]
    dy = p[2:, 1:-1] - p[:-2, 1:-1]
    # cross(dx, dy) by components (np.cross is several times slower on images)
    n0 = dx[..., 1] * dy[..., 2] - dx[..., 2] * dy[..., 1]
    n1 = dx[..., 2] * dy[..., 0] - dx[..., 0] * dy[..., 2]
    n2 = dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]
    norm = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
    c = p[1:-1, 1:-1]
    cnorm = np.sqrt(np.sum(c * c, axis=-1))
    cos = np.abs(n0 * c[..., 0] + n1 * c[..., 1] + n2 * c[..., 2]) / np.maximum(norm * cnorm, 1e-30)
    theta = np.arccos(np.clip(cos, 0.0, 1.0))
    vp = np.pad(depth_m > 0, 1, mode="edge")
    ok = vp[1:-1, 1:-1] & vp[1:-1, 2:] & vp[1:-1, :-2] & vp[2:, 1:-1] & vp[:-2, 1:-1] & (norm > 0)
    return np.where(ok, theta, 0.0)


def apply_depth_noise(depth_m: np.ndarray, color: Optional[np.ndarray], K, noise: DepthNoise,
                      rng: np.random.Generator, min_depth_m: float = 0.0, max_depth_m: float = np.inf) -> np.ndarray:
    """The sensor's measurement of an exact depth image.

    depth_m: (H, W) float, metres along the optical axis, 0 = no surface. color: (H, W, 3) uint8 or
    None (for dark-surface dropout). K: the camera, a CameraModel or a (3, 3) pinhole K. Returns (H, W) uint16 millimetres, 0 = no measurement.
    """
    z_full = np.asarray(depth_m, dtype=np.float32)
    out = np.zeros(z_full.shape, np.uint16)
    rows, cols = np.flatnonzero(z_full.any(axis=1)), np.flatnonzero(z_full.any(axis=0))
    if len(rows) == 0:
        return out
    # Work on the bounding box of the surface (+1 pixel for the edge test): a subject covers a
    # fraction of the image, and this is where the time goes.
    r0, r1 = max(rows[0] - 1, 0), min(rows[-1] + 2, z_full.shape[0])
    c0, c1 = max(cols[0] - 1, 0), min(cols[-1] + 2, z_full.shape[1])
    from thuman.capture.camera import as_camera

    cam = as_camera(K, z_full.shape)
    if cam.is_pinhole:
        Kc = cam.K
        Kc[0, 2] -= c0
        Kc[1, 2] -= r0
    else:  # the crop of the (cached) ray table: the lens's rays of exactly these pixels
        Kc = cam.ray_table()[r0:r1, c0:c1]
    out[r0:r1, c0:c1] = _noise_crop(z_full[r0:r1, c0:c1], None if color is None else color[r0:r1, c0:c1],
                                    Kc, noise, rng, min_depth_m, max_depth_m)
    return out


def _noise_crop(z, color, K, noise, rng, min_depth_m, max_depth_m):
    h, w = z.shape
    valid = z > 0
    theta = incidence_angles(z, K)
    u = rng.random((5, h, w), dtype=np.float32)  # independent uniforms: grazing, edge, flying mix, dark, dropout

    # 2. (first, because the normal is meaningless across a jump) edges: the largest relative jump
    # to a 4-neighbour; no-return counts as a jump.
    zp = np.pad(z, 1, mode="edge")
    neigh = np.stack([zp[:-2, 1:-1], zp[2:, 1:-1], zp[1:-1, :-2], zp[1:-1, 2:]])
    diff = np.abs(np.where(neigh > 0, neigh, np.inf) - z[None])
    worst = np.argmax(diff, axis=0)
    jump = np.take_along_axis(diff, worst[None], 0)[0]
    edge = valid & (jump > noise.edge_jump_rel * np.maximum(z, 1e-6))
    other = np.take_along_axis(neigh, worst[None], 0)[0]
    both = edge & (other > 0)
    flying = both & (u[1] < noise.flying_prob)
    drop_edge = edge & ~flying & (u[1] < noise.flying_prob + noise.edge_drop_prob * (1 - noise.flying_prob))
    keep = valid & ~drop_edge
    # A flying pixel measures somewhere between its own surface and the neighbour's.
    z = np.where(flying, z + (u[2] * 0.5 + 0.25) * (other - z), z)

    # 1. grazing angles (away from edges)
    g0, g1 = math.radians(noise.grazing_start_deg), math.radians(noise.grazing_end_deg)
    if g1 > g0:
        p_graze = np.clip((theta - g0) / (g1 - g0), 0.0, 1.0)
    else:
        p_graze = (theta >= g0).astype(np.float32)
    theta = np.where(edge, 0.0, theta)
    keep &= edge | (u[0] >= p_graze)

    # 3. dark surfaces and random dropout
    if color is not None and noise.dark_drop_prob > 0:
        lum = np.asarray(color, dtype=np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        keep &= ~((lum < noise.dark_luminance) & (u[3] < noise.dark_drop_prob))
    keep &= u[4] >= noise.dropout_prob

    # 4. depth-dependent noise along the ray, 5. quantisation and range
    sigma = noise.sigma_mm(z, theta) if noise.sigma_base_mm or noise.sigma_quad_mm else 0.0
    z_mm = z * np.float32(1000.0) + (rng.standard_normal((h, w), dtype=np.float32) * sigma if np.any(sigma) else 0.0)
    q = noise.quantum_mm
    z_mm = np.round(z_mm / q) * q
    keep &= (z_mm >= min_depth_m * 1000.0) & (z_mm <= max_depth_m * 1000.0)
    return np.where(keep, np.clip(z_mm, 0, 65535), 0).astype(np.uint16)
