"""One item -> its views as :class:`~thuman_io.sample.CorpusSample` (paper sec. 5).

Per item: pose the body model with the item's SMPL fit, check the inputs, draw one random
orientation and margin, fit the views into the grid's box. Per view: draw a light and a
background, then compute

* ``occupancy``: the clothed mesh, winding-number voxelization (:mod:`thuman.synth.occupancy`);
* ``semantic_volume``: the posed body voxelized, codes from its 4 nearest vertices;
* ``rgb``: the textured mesh lit by baked SH + point lights, rendered at 4H x 4W, box-filtered
  to 2H x 2W (DeepHuman rendered at 2x and downsampled) and composited over the background;
* ``normal_map``, ``mask``: the clothed mesh's smooth normals in the view frame at 2H x 2W;
* ``semantic_map``: the posed body with its semantic code, unlit, at 2H x 2W.

Every random draw comes from a Generator seeded by (run seed, item id), so any item can be
regenerated alone and match.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thuman.synth.geometry import apply_transform, rotate_normals, vertex_normals
from thuman.synth.normalize import DEFAULT_MARGIN, fit_views
from thuman.synth.occupancy import occupancy
from thuman.synth.render.background import image_background, procedural_background
from thuman.synth.render.lighting import sample_light, shade
from thuman.synth.render.renderer import OrthoRenderer
from thuman.synth.body_prior import BodyState, body_prior, pose_params
from thuman.synth.semantic_volume import NEIGHBOURS, SIGMA
from thuman.synth.views import sample_views
from thuman_io.errors import InputError
from thuman_io.grid import PAPER_GRID, VolumeGrid
from thuman_io.item import Item
from thuman_io.sample import CorpusSample

#: Grey albedo for items without colour (sRGB 0.7).
GREY = 0.7


@dataclass
class SynthConfig:
    """Settings of a synthesis run (defaults: DeepHuman's data preparation)."""

    grid: VolumeGrid = PAPER_GRID
    views: int = 4
    seed: int = 0
    pitch_range: float = 0.3          # rad
    roll_range: float = 0.3           # rad
    margin: tuple = DEFAULT_MARGIN    # body spans 1/margin of the box, margin ~ U[lo, hi]
    sigma: float = SIGMA              # semantic volume Gaussian, view-frame units
    neighbours: int = NEIGHBOURS
    backgrounds: list = field(default_factory=list)   # image files; empty = procedural
    leak_warn_fraction: float = 0.0   # warn when more than this fraction of columns leak
    mismatch_warn_m: float = 0.05     # warn when the body lies further than this from the mesh
    far_error_m: float = 0.5          # error when the mesh's centre is this far from the body's
    size_range_m: tuple = (0.3, 3.0)  # error when the mesh's largest extent is outside this


@dataclass
class ItemResult:
    """Samples of one item, warnings about its inputs, and seconds spent per stage."""

    item_id: str
    samples: list
    warnings: list
    timings: dict


def item_id(item: Item) -> str:
    """'<subject>/<pose:04d>': the id that seeds an item's random draws."""
    return f"{item.meta.subject}/{int(item.meta.pose_index):04d}"


def item_rng(seed: int, ident: str) -> np.random.Generator:
    """The item's Generator: seeded by the run seed and a stable hash of the item id."""
    h = int.from_bytes(hashlib.sha256(ident.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([int(seed), h])


def pose_body(item: Item) -> BodyState:
    """Pose the item's body model with its SMPL parameters (``body_prior.pose_params``)."""
    return pose_params(item.smpl)


def check_item(ident: str, mesh_vertices: np.ndarray, body: BodyState, config: SynthConfig) -> list[str]:
    """Bad-input checks. Raises InputError for an unusable item; returns warnings for the rest."""
    warnings = []
    v = np.asarray(mesh_vertices, np.float64)
    if len(v) == 0 or not np.isfinite(v).all():
        raise InputError(ident, "mesh/vertices are empty or not finite")
    lo, hi = v.min(axis=0), v.max(axis=0)
    size = float(np.max(hi - lo))
    if not config.size_range_m[0] <= size <= config.size_range_m[1]:
        raise InputError(ident, f"the mesh is {size:.3g} m across; a person is 0.3-3 m "
                         "(item meshes are in metres: convert the units and import it again)")
    blo, bhi = body.vertices.min(axis=0), body.vertices.max(axis=0)
    gap = float(np.linalg.norm((lo + hi) / 2 - (blo + bhi) / 2))
    if gap > config.far_error_m:
        raise InputError(ident, f"the mesh lies {gap:.2f} m from its SMPL body (more than "
                         f"{config.far_error_m} m): the volume cannot hold both; fix smpl/transl "
                         "or the mesh placement")
    from scipy.spatial import cKDTree

    d, _ = cKDTree(v).query(body.vertices, k=1)
    median = float(np.median(d))
    if median > config.mismatch_warn_m:
        warnings.append(f"{ident}: SMPL body does not match its mesh: median distance "
                        f"{median * 100:.1f} cm from body vertices to the mesh")
    return warnings


def synthesize_item(item: Item, config: SynthConfig, renderer: OrthoRenderer,
                    body: BodyState | None = None) -> ItemResult:
    """All views of one item. ``body`` defaults to :func:`pose_body` (the item's SMPL fit)."""
    timings = {"render": 0.0, "occupancy": 0.0, "semantic_volume": 0.0, "prepare": 0.0}
    t0 = time.perf_counter()
    ident = item_id(item)
    grid = config.grid
    rng = item_rng(config.seed, ident)
    mesh = item.mesh
    body = body if body is not None else pose_body(item)
    warnings = check_item(ident, mesh.vertices, body, config)

    textured = mesh.texture is not None and mesh.uv is not None
    if textured:
        albedo = np.ones((len(mesh.vertices), 3), np.float32)
    elif mesh.vertex_colors is not None:
        albedo = np.asarray(mesh.vertex_colors, np.float32) / 255.0
    else:
        albedo = np.full((len(mesh.vertices), 3), GREY, np.float32)
        warnings.append(f"{ident}: mesh has no texture and no vertex colours; rendered grey")

    views = sample_views(rng, config.views, config.pitch_range, config.roll_range)
    margin = float(rng.uniform(*config.margin))
    points = np.concatenate([np.asarray(mesh.vertices, np.float64), body.vertices])
    transforms, scale = fit_views(points, [v.rotation() for v in views], grid, margin)
    normals_item = vertex_normals(mesh.vertices, mesh.faces)
    faces = np.asarray(mesh.faces, np.int64)
    timings["prepare"] += time.perf_counter() - t0

    samples, leak_reported = [], False
    for view, m in zip(views, transforms):
        light = sample_light(rng)
        bg_h, bg_w = grid.normal_map_shape
        background = (image_background(rng, config.backgrounds, bg_h, bg_w) if config.backgrounds
                      else procedural_background(rng, bg_h, bg_w))
        mv = apply_transform(m, mesh.vertices)
        bv = apply_transform(m, body.vertices)
        nv = rotate_normals(m, normals_item)

        t = time.perf_counter()
        occ = occupancy(mv, faces, grid)
        timings["occupancy"] += time.perf_counter() - t
        if occ.leak_columns and occ.leak_fraction > config.leak_warn_fraction and not leak_reported:
            warnings.append(f"{ident}: mesh is not watertight: {occ.leak_columns} of "
                            f"{occ.crossed_columns} voxel columns ({occ.leak_fraction:.2%}) cross it "
                            "an odd number of times; those columns are filled between their first "
                            "and last crossing")
            leak_reported = True

        t = time.perf_counter()
        prior = body_prior(bv, body.faces, body.codes, grid, renderer, config.neighbours, config.sigma)
        timings["semantic_volume"] += time.perf_counter() - t

        t = time.perf_counter()
        colors = albedo * shade(mv, nv, light)
        # one draw gives the RGB (attachment 0) and the normal colours (n + 1) / 2 (attachment 1)
        rgb, alpha, ncol = renderer.flat_pass_with_normals(
            mv, faces, nv, colors=colors, uv=mesh.uv if textured else None,
            texture=mesh.texture if textured else None, scale=2)
        # flat_pass rendered 4H x 4W and box-filtered it (DeepHuman rendered at 2x and
        # downsampled); compositing after the filter is the same as compositing at 4H x 4W over a
        # background constant on 2x2 blocks (the filter is linear)
        cover = alpha[..., None]
        composite = rgb * cover + background * (1 - cover)
        rgb_out = np.clip(np.rint(composite * 255), 0, 255).astype(np.uint8)
        mask = alpha >= 0.5   # 2 of 4 samples or more (what the old 4x MSAA resolve gave: 128/255)
        normal_map = normal_map_from_colour(ncol, mask)
        timings["render"] += time.perf_counter() - t

        samples.append(CorpusSample(
            rgb=rgb_out, semantic_map=prior.semantic_map, normal_map=normal_map, mask=mask,
            occupancy=occ.volume, semantic_volume=prior.semantic_volume, item_to_view=m,
            smpl_full_pose=item.smpl.full_pose, smpl_betas=np.asarray(item.smpl.betas, np.float32),
            smpl_transl=np.asarray(item.smpl.transl, np.float32),
            meta={"item_id": ident, "subject": item.meta.subject, "pose_index": int(item.meta.pose_index),
                  "view_index": view.index, "yaw": view.yaw, "pitch": view.pitch, "roll": view.roll,
                  "scale_per_m": scale, "margin": margin, "light": light.to_meta(),
                  "background": "image" if config.backgrounds else "procedural",
                  "seed": int(config.seed), "body_model": body.model, "body_gender": item.smpl.gender,
                  "semantic_neighbours": int(config.neighbours), "semantic_sigma": float(config.sigma),
                  "leak_columns": occ.leak_columns, "textured": bool(textured)}))
    return ItemResult(ident, samples, warnings, timings)


def normal_map_from_colour(colour: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(h, w, 3) rendered (n + 1) / 2 colours and (h, w) mask -> unit normals, 0 off the mask.

    Multisampling averages the samples of a pixel; where a fold puts opposite normals in one
    pixel the average can be near 0. Such pixels take the mean direction of their valid
    neighbours (or face the camera if none are valid).
    """
    n = colour.astype(np.float32) * 2 - 1
    length = np.linalg.norm(n, axis=-1)
    n = n / np.maximum(length, 1e-6)[..., None]
    weak = mask & (length < 0.3)
    if weak.any():
        good = (mask & ~weak)[..., None] * n
        padded = np.pad(good, ((1, 1), (1, 1), (0, 0)))
        h, w = mask.shape
        total = sum(padded[1 + dr:1 + dr + h, 1 + dc:1 + dc + w] for dr in (-1, 0, 1) for dc in (-1, 0, 1))
        fix = total[weak]
        norm = np.linalg.norm(fix, axis=-1, keepdims=True)
        n[weak] = np.where(norm > 1e-6, fix / np.maximum(norm, 1e-6), np.float32([0, 0, 1]))
    return np.where(mask[..., None], n, 0).astype(np.float32)


def background_files(folder: str | Path | None) -> list:
    """The background images of ``--backgrounds DIR`` (empty list for procedural)."""
    if folder is None:
        return []
    from thuman.synth.render.background import list_backgrounds

    return list_backgrounds(folder)
