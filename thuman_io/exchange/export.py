"""Export an item's mesh, and on request its posed body model, as OBJ/PLY/GLB files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thuman_io.exchange.mesh_files import export_mesh
from thuman_io.item import SMPLParams, TexturedMesh
from thuman_io.storage import read_item


def body_output_path(out: str | os.PathLike) -> Path:
    """Where the body goes when the mesh goes to ``out``: ``<stem>_smpl<suffix>`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}_smpl{out.suffix}")


def export_item(item_file: str | os.PathLike, out: str | os.PathLike, fmt: str | None = None,
                smpl: bool = False, body_model: str | None = None) -> list[Path]:
    """Write the item's textured mesh to ``out``; with ``smpl`` also the posed body model to
    :func:`body_output_path` (``body_model`` overrides the model the item names: 'open' or a
    path to an SMPL file). Returns every file written."""
    item = read_item(item_file, frame=False)
    body = posed_body(item.smpl, body_model) if smpl else None  # fail before writing anything
    written = export_mesh(item.mesh, out, fmt)
    if body is not None:
        written += export_mesh(body, body_output_path(out), fmt)
    return written


def posed_body(params: SMPLParams, body_model: str | None = None) -> TexturedMesh:
    """The body model posed by ``params``: vertices (V, 3) float32 metres, item frame."""
    # 'smpl' resolves through $THUMAN_SMPL_DIR; load_body_model's BodyModelError says where SMPL
    # files come from when it is not set.
    name = body_model or params.model
    from thuman_io.body import load_body_model

    bm = load_body_model(name, gender=params.gender)
    out = bm.pose_one(params.betas, params.full_pose, params.transl)
    return TexturedMesh(vertices=np.asarray(out.vertices[0], np.float32),
                        faces=np.asarray(bm.faces, np.int32))


def export_body(params: SMPLParams, out: str | os.PathLike, fmt: str | None = None,
                body_model: str | None = None) -> list[Path]:
    """Write the posed body model as a mesh file. Returns the files written."""
    return export_mesh(posed_body(params, body_model), out, fmt)
