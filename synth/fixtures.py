"""Generated "clothed body" items for synthesizer tests, the benchmark and demos (nothing downloaded).

:func:`make_body_item` poses the open body model, pushes its surface out along the normals by a
few centimetres (a loose garment, thicker on the torso), subdivides it to a scan-like triangle
count, colours it and returns a valid :class:`~thuman_io.item.Item` whose SMPL parameters fit it.
Arms pressed against the torso make the shells interpenetrate, as real posed bodies do.
"""
from __future__ import annotations

import numpy as np

from thuman.synth.geometry import vertex_normals
from thuman_io.item import Item, ItemMeta, SMPLParams, TexturedMesh


def subdivide(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One 1-to-4 midpoint subdivision: (V', 3) float64, (4F, 3) int64 (shared edge midpoints)."""
    f = np.asarray(faces, np.int64)
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    uniq, inverse = np.unique(edges, axis=0, return_inverse=True)
    mid = np.asarray(vertices, np.float64)[uniq].mean(axis=1)
    m = len(vertices) + inverse.reshape(3, -1).T          # (F, 3): midpoints of edges 01, 12, 20
    a, b, c = f.T
    ab, bc, ca = m.T
    new_faces = np.concatenate([np.stack([a, ab, ca], 1), np.stack([ab, b, bc], 1),
                                np.stack([ca, bc, c], 1), np.stack([ab, bc, ca], 1)])
    return np.concatenate([vertices, mid]), new_faces


def random_body_pose(rng: np.random.Generator, arms_down: bool = True) -> np.ndarray:
    """(69,) float32 body pose: small random joint rotations, arms lowered toward the torso."""
    pose = rng.normal(0.0, 0.08, 69).astype(np.float32)
    if arms_down:
        pose[45:48] += [0.0, 0.0, -rng.uniform(1.0, 1.35)]   # left shoulder (SMPL joint 16)
        pose[48:51] += [0.0, 0.0, rng.uniform(1.0, 1.35)]    # right shoulder (17)
    pose[0:3] += [rng.uniform(-0.5, 0.2), 0.0, 0.0]          # left hip (1)
    return pose


def make_body_item(rng: np.random.Generator, subject: str = "s000", pose_index: int = 0,
                   body_model=None, garment_m: float = 0.015, subdivisions: int = 1,
                   textured: bool = False) -> Item:
    """A clothed-looking item built from the open body model and its own SMPL fit.

    garment_m: outward offset of the surface (metres). subdivisions: 1-to-4 splits (0: 13.8k
    faces, 1: 55k, 2: 220k with the open model). textured: give it a UV texture (planar UVs)
    instead of vertex colours.
    """
    if body_model is None:
        from thuman_io.body import load_body_model

        body_model = load_body_model("open")
    betas = rng.normal(0.0, 0.6, (1, body_model.num_betas)).astype(np.float32)
    orient = np.array([[0.0, rng.uniform(-np.pi, np.pi), 0.0]], np.float32)
    body_pose = random_body_pose(rng)[None]
    transl = np.array([[0.0, 0.95, 0.0]], np.float32) + rng.normal(0, 0.01, (1, 3)).astype(np.float32)
    out = body_model.forward(betas=betas, global_orient=orient, body_pose=body_pose, transl=transl)
    v = np.asarray(out.vertices[0], np.float64)
    f = np.asarray(body_model.faces, np.int64)
    n = vertex_normals(v, f)
    # looser on the torso (semantic y in the middle), tight on hands and feet
    code = np.asarray(body_model.semantic_code)
    loose = np.exp(-((code[:, 1] - 0.55) / 0.25) ** 2)
    v = v + n * (garment_m * (0.3 + loose))[:, None]
    for _ in range(subdivisions):
        v, f = subdivide(v, f)
    shirt = rng.integers(40, 230, 3)
    trousers = rng.integers(20, 200, 3)
    height = (v[:, 1] - v[:, 1].min()) / np.ptp(v[:, 1])
    colors = np.where((height > 0.48)[:, None], shirt, trousers)
    colors = np.clip(colors + rng.normal(0, 12, (len(v), 3)), 0, 255).astype(np.uint8)
    uv = texture = None
    if textured:
        uv = np.stack([(v[:, 0] - v[:, 0].min()) / np.ptp(v[:, 0]), height], 1).astype(np.float32)
        texture = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        colors = None
    mesh = TexturedMesh(vertices=v.astype(np.float32), faces=f.astype(np.int32), vertex_colors=colors,
                        uv=uv, texture=texture)
    smpl = SMPLParams(betas=betas[0], global_orient=orient[0], body_pose=body_pose[0], transl=transl[0],
                      model="open", gender="neutral")
    meta = ItemMeta(subject=subject, pose_index=int(pose_index), capture_time="2026-01-01T00:00:00Z",
                    device="sim:synth-fixture", extra={"generator": "thuman.synth.fixtures"})
    return Item(mesh=mesh, smpl=smpl, meta=meta)
