"""The network's body inputs from body-model parameters: semantic map and semantic volume.

``thuman reconstruct IMAGE --smpl PARAMS`` has an image and a body fit (the paper uses HMR's) but
no corpus sample, so the inputs are made here with the synthesizer's own functions (posing,
semantic volume, orthographic renderer), exactly as the corpus made them.

PARAMS is a ``.json`` or ``.npz`` with ``betas`` (<= 10), either ``pose`` (72 axis-angle values)
or ``global_orient`` (3) + ``body_pose`` (69), ``transl`` (3, metres), and optionally ``model``
('open' by default), ``gender`` and ``item_to_view`` (4 x 4, body frame in metres -> view frame).
Without ``item_to_view`` the body is centred in the box and scaled to 1 / 1.1 of it, facing the
camera: frame the image the same way (as the corpus does, paper sec. 5).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thuman_io.errors import InputError
from thuman_io.grid import VolumeGrid

DEFAULT_MARGIN = 1.1


@dataclass
class BodyInputs:
    """semantic_map (2H, 2W, 3) float32; semantic_volume (D, H, W, 3) float32; item_to_view (4, 4);
    body_vertices_view (V, 3) and body_faces (F, 3) of the posed body in the view frame."""

    semantic_map: np.ndarray
    semantic_volume: np.ndarray
    item_to_view: np.ndarray
    body_vertices_view: np.ndarray
    body_faces: np.ndarray


def read_body_params(path: str | os.PathLike) -> dict:
    """Read a PARAMS file (see module doc) into arrays; InputError naming the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "SMPL parameter file not found")
    try:
        if path.suffix == ".json":
            raw = json.loads(path.read_text())
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                raw = {k: z[k] for k in z.files}
        else:
            raise InputError(path, "use a .json or .npz SMPL parameter file")
    except (ValueError, OSError) as e:
        raise InputError(path, f"cannot read SMPL parameters ({e})") from e

    def arr(name, size=None):
        if name not in raw:
            return None
        a = np.asarray(raw[name], dtype=np.float64)
        if size is not None and a.size != size:
            raise InputError(path, f"field {name!r} has {a.size} values, expected {size}")
        if not np.isfinite(a).all():
            raise InputError(path, f"field {name!r} is not finite")
        return a

    pose = arr("pose", 72)
    if pose is None:
        go, bp = arr("global_orient", 3), arr("body_pose", 69)
        if go is None or bp is None:
            raise InputError(path, "give 'pose' (72 values) or 'global_orient' (3) and 'body_pose' (69)")
        pose = np.concatenate([go.reshape(3), bp.reshape(69)])
    betas = arr("betas")
    if betas is None:
        betas = np.zeros(10)
    transl = arr("transl", 3)
    m = arr("item_to_view", 16)
    model = raw.get("model", "open")
    return {"pose": pose.reshape(72), "betas": betas.reshape(-1), "transl": np.zeros(3) if transl is None else transl.reshape(3),
            "item_to_view": None if m is None else m.reshape(4, 4), "model": str(np.asarray(model)),
            "gender": str(np.asarray(raw.get("gender", "neutral")))}


def body_inputs(params: dict, grid: VolumeGrid, renderer=None) -> BodyInputs:
    """Pose the body, place it in the view frame, and make the semantic map and volume."""
    from thuman.synth.normalize import fit_views
    from thuman.synth.render.renderer import OrthoRenderer
    from thuman.synth.semantic_volume import semantic_volume
    from thuman_io.body import cached_body_model

    bm = cached_body_model(params["model"], gender=params["gender"])
    out = bm.pose_one(params["betas"], params["pose"], params["transl"])
    vertices = np.asarray(out.vertices[0], np.float64)
    m = params["item_to_view"]
    if m is None:
        (m,), _ = fit_views(vertices, [np.eye(3)], grid, DEFAULT_MARGIN)
    bv = vertices @ m[:3, :3].T + m[:3, 3]
    codes = np.asarray(bm.semantic_code, np.float32)
    volume, _ = semantic_volume(bv, np.asarray(bm.faces), codes, grid)
    own = renderer is None
    renderer = renderer or OrthoRenderer(grid)
    try:
        col, alpha = renderer.flat_pass(bv, np.asarray(bm.faces), colors=codes, scale=2)
    finally:
        if own:
            renderer.close()
    semantic_map = np.where((alpha > 0.5)[..., None], col, 0).astype(np.float32)
    return BodyInputs(semantic_map, volume, m, bv, np.asarray(bm.faces))
