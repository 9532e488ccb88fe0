"""Random lighting baked into vertex colours: a spherical-harmonics ambient term plus point lights.

DeepHuman's data preparation lit each model with 9 random SH coefficients and 3 point lights above
it (FACTS.md); we do the same per vertex (Gouraud), in the view frame, and render the result
unlit. Pure numpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Light:
    """sh: (9, 3) float RGB coefficients of the real SH basis of order 2 (ambient radiance).
    point_positions: (P, 3) float, view frame, normalised units. point_colors: (P, 3) float."""

    sh: np.ndarray
    point_positions: np.ndarray
    point_colors: np.ndarray
    extra: dict = field(default_factory=dict)

    def to_meta(self) -> dict:
        return {"sh": np.round(self.sh, 6).tolist(),
                "point_positions": np.round(self.point_positions, 6).tolist(),
                "point_colors": np.round(self.point_colors, 6).tolist()}


def sample_light(rng: np.random.Generator, num_points: int = 3) -> Light:
    """A random light: a dominant constant SH band, mild directional bands, 3 lights above."""
    sh = np.zeros((9, 3))
    sh[0] = rng.uniform(0.7, 1.1) * (1 + rng.uniform(-0.08, 0.08, 3))   # ambient, slightly tinted
    sh[1:4] = rng.normal(0, 0.25, (3, 1)) * np.ones(3)                   # band 1: a soft direction
    sh[4:] = rng.normal(0, 0.08, (5, 1)) * np.ones(3)
    pos = np.stack([rng.uniform(-1.0, 1.0, num_points), rng.uniform(0.6, 1.5, num_points),
                    rng.uniform(0.2, 1.5, num_points)], axis=1)
    col = rng.uniform(0.05, 0.35, (num_points, 1)) * np.ones(3)
    return Light(sh=sh, point_positions=pos, point_colors=col)


def sh_basis(normals: np.ndarray) -> np.ndarray:
    """(N, 3) unit normals -> (N, 9) real spherical harmonics up to order 2."""
    x, y, z = normals[:, 0], normals[:, 1], normals[:, 2]
    return np.stack([np.full_like(x, 0.282095), 0.488603 * y, 0.488603 * z, 0.488603 * x,
                     1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1),
                     1.092548 * x * z, 0.546274 * (x * x - y * y)], axis=1)


def shade(points: np.ndarray, normals: np.ndarray, light: Light) -> np.ndarray:
    """Per-vertex shading factor.

    points, normals: (N, 3) view frame (normals unit). Returns (N, 3) float32 >= 0, about 1 for
    an average lit surface (the SH term is scaled so that sh[0] = 1 gives 1).
    """
    ambient = sh_basis(normals) @ light.sh / 0.282095 * 0.75
    total = np.maximum(ambient, 0.0)
    for p, c in zip(light.point_positions, light.point_colors):
        d = p[None] - points
        dist = np.linalg.norm(d, axis=1, keepdims=True)
        lam = np.maximum((normals * d).sum(axis=1, keepdims=True) / np.maximum(dist, 1e-9), 0.0)
        total += lam * c[None]
    return total.astype(np.float32)
