"""Analytic corpus samples for tests and benchmarks (no synthesizer, nothing downloaded).

Each sample is an ellipsoid "body" in the view frame of ``thuman_io.grid``: its occupancy, a
"semantic volume" (a smaller, offset ellipsoid carrying a coordinate code, standing in for the
posed body model), the semantic map (that volume's front-most code), analytic normals, the mask
and a shaded RGB image. Every random choice comes from ``np.random.default_rng([seed, index])``,
so one sample can be regenerated alone.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thuman_io.grid import VolumeGrid
from thuman_io.sample import CorpusSample

#: metres per normalised unit of the generated samples (a 1.8 m box height).
METRES_PER_UNIT = 1.8


def _ellipsoid_volume(grid: VolumeGrid, centre, radii) -> np.ndarray:
    p = grid.voxel_centres()
    return (((p - centre) / radii) ** 2).sum(-1) <= 1.0


def _front_surface(grid: VolumeGrid, centre, radii, scale: int = 2):
    """Mask (sH, sW) and unit normals (sH, sW, 3) of the ellipsoid seen from +z, and front z."""
    xy = grid.pixel_centres(scale)
    u = ((xy - centre[:2]) / radii[:2]) ** 2
    inside = u.sum(-1) < 1.0
    t = np.sqrt(np.clip(1.0 - u.sum(-1), 0.0, None))
    z = centre[2] + radii[2] * t
    pts = np.concatenate([xy, z[..., None]], axis=-1)
    n = (pts - centre) / radii ** 2
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return inside, np.where(inside[..., None], n, 0.0), z


def analytic_sample(grid: VolumeGrid, index: int, seed: int = 0, subject: str | None = None) -> CorpusSample:
    """One ellipsoid sample at ``grid``; ``subject`` defaults to ``s{index // 4:03d}`` (4 views)."""
    rng = np.random.default_rng([seed, index])
    half = grid.half_extent
    radii = np.array([rng.uniform(0.35, 0.8), rng.uniform(0.55, 0.85), rng.uniform(0.45, 0.85)]) * half
    centre = np.array([rng.uniform(-0.15, 0.15), rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1)]) * half
    occupancy = _ellipsoid_volume(grid, centre, radii)
    # The "body model": smaller and shifted, as SMPL sits inside clothing.
    inner_radii = radii * rng.uniform(0.75, 0.9, size=3)
    inner_centre = centre + rng.uniform(-0.05, 0.05, size=3) * radii
    inner = _ellipsoid_volume(grid, inner_centre, inner_radii)
    code = np.clip((grid.voxel_centres() - inner_centre) / (2 * inner_radii) + 0.5, 0.0, 1.0)
    semantic_volume = np.where(inner[..., None], code, 0.0).astype(np.float32)
    # Semantic map: the code at the inner body's front surface, rendered at 2x.
    inner_mask, _, inner_z = _front_surface(grid, inner_centre, inner_radii)
    xy2 = grid.pixel_centres(2)
    front = np.concatenate([xy2, inner_z[..., None]], axis=-1)
    semantic_map = np.where(inner_mask[..., None],
                            np.clip((front - inner_centre) / (2 * inner_radii) + 0.5, 0, 1), 0.0)
    mask, normal_map, _ = _front_surface(grid, centre, radii)
    # RGB: a base colour shaded by the normal (light from the camera) over a noisy background.
    albedo = rng.uniform(0.3, 0.9, size=3)
    shade = np.clip(normal_map[..., 2:3] * 0.8 + 0.2, 0, 1)
    stripes = 0.85 + 0.15 * np.sin(xy2[..., 1:2] * rng.uniform(20, 40))
    background = rng.uniform(0.0, 0.3, size=mask.shape + (3,))
    rgb = np.where(mask[..., None], albedo * shade * stripes, background)
    item_to_view = np.diag([1 / METRES_PER_UNIT] * 3 + [1.0])
    subject = subject if subject is not None else f"s{index // 4:03d}"
    return CorpusSample(
        rgb=np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8),
        semantic_map=semantic_map.astype(np.float32),
        normal_map=normal_map.astype(np.float32), mask=mask, occupancy=occupancy,
        semantic_volume=semantic_volume, item_to_view=item_to_view,
        smpl_full_pose=np.zeros(72, np.float32), smpl_betas=np.zeros(10, np.float32),
        smpl_transl=np.zeros(3, np.float32),
        meta={"item_id": f"{subject}/{index:04d}", "subject": subject, "pose_index": index,
              "view_index": index % 4, "seed": seed, "source": "analytic ellipsoid"})


def write_analytic_corpus(corpus_dir: str | os.PathLike, grid: VolumeGrid, num_samples: int,
                          seed: int = 0, samples_per_subject: int = 4) -> Path:
    """Write ``num_samples`` analytic samples, one shard per subject, through CorpusWriter."""
    from thuman_io.corpus import CorpusWriter

    corpus_dir = Path(corpus_dir)
    writer = None
    current = None
    for i in range(num_samples):
        subject = f"s{i // samples_per_subject:03d}"
        if subject != current:
            if writer is not None:
                writer.close()
            writer = CorpusWriter(corpus_dir, grid, subject)
            current = subject
        writer.add(analytic_sample(grid, i, seed, subject))
    if writer is not None:
        writer.close()
    return corpus_dir
