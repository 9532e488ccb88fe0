"""Coverage of the subject's surface during the turning stage (paper sec. 5, stage 1).

A canonical body vertex counts as *seen* once, in some frame, it faced the camera (within 60
degrees of head-on by default) and the depth
image confirmed it (the measured depth at its projection within ``tolerance_m`` of it, which
allows for clothing). Coverage is the area-weighted fraction of the body surface seen; soles,
armpits and the crotch are rarely seen by one camera, so a full turn of the simulated subject reaches about 0.9.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thuman.capture.camera import project


@dataclass
class Coverage:
    """seen: (V,) bool per canonical body vertex. area: (V,) float vertex areas, m^2."""

    seen: np.ndarray
    area: np.ndarray

    @classmethod
    def for_body(cls, vertices: np.ndarray, faces: np.ndarray) -> "Coverage":
        """Start with nothing seen. vertices (V, 3) metres, faces (F, 3)."""
        v = np.asarray(vertices, dtype=np.float64)
        f = np.asarray(faces, dtype=np.int64)
        fa = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
        area = np.zeros(len(v))
        for k in range(3):
            np.add.at(area, f[:, k], fa / 3)
        return cls(seen=np.zeros(len(v), dtype=bool), area=area)

    @property
    def fraction(self) -> float:
        """Seen fraction of the body surface, area-weighted, in [0, 1]."""
        return float(self.area[self.seen].sum() / max(self.area.sum(), 1e-12))

    def update(self, live_vertices: np.ndarray, live_normals: np.ndarray, depth_m: np.ndarray,
               K: np.ndarray, tolerance_m: float = 0.06, min_cos: float = 0.5) -> float:
        """Mark the vertices this frame saw and return the new fraction.

        live_vertices/live_normals: (V, 3) the body in the live frame (capture frame, metres).
        depth_m: (H, W) metres, 0 = invalid. K: the camera (CameraModel, or (3, 3) pinhole). min_cos: a vertex counts only
        when seen within acos(min_cos) of head-on (grazing views give poor depth).
        """
        v = np.asarray(live_vertices, dtype=np.float64)
        view = -v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        facing = np.einsum("ij,ij->i", live_normals, view) > min_cos
        z = -v[:, 2]
        ok = facing & (z > 1e-6)
        zs = np.where(ok, z, 1.0)
        uv, in_lens = project(np.stack([v[:, 0], -v[:, 1], zs], axis=-1), K, with_valid=True)
        ok &= in_lens
        u, r = np.round(np.nan_to_num(uv[:, 0], nan=-1)).astype(np.int64), np.round(np.nan_to_num(uv[:, 1], nan=-1)).astype(np.int64)
        h, w = depth_m.shape
        ok &= (u >= 0) & (u < w) & (r >= 0) & (r < h)
        d = np.where(ok, depth_m[np.clip(r, 0, h - 1), np.clip(u, 0, w - 1)], 0.0)
        ok &= (d > 0) & (np.abs(d - z) < tolerance_m)
        self.seen |= ok
        return self.fraction
