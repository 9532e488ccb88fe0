"""Build THuman items from a mesh file plus an SMPL parameter file (``thuman import MESH``).

The item's mesh is the file's mesh as it is (metres, Y up expected); its SMPL parameters are the
file's, or, without a parameter file, a body fitted to the mesh (``thuman_io.exchange.body_fit``). Every problem is reported against the *source* file that holds it (the mesh for mesh
fields, the parameter file for SMPL fields) and nothing is written unless the whole item is valid.
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path

from thuman_io.errors import SchemaError
from thuman_io.exchange.mesh_files import load_mesh
from thuman_io.exchange.smpl_params import load_smpl_params
from thuman_io.item import Item, ItemMeta, RGBDFrame, SMPLParams, TexturedMesh
from thuman_io.storage import item_path, write_item
from thuman_io.validate import item_problems


def build_item(mesh: TexturedMesh, smpl: SMPLParams, subject: str, pose_index: int, device: str,
               frame: RGBDFrame | None = None, extra: dict | None = None,
               sources: dict | None = None) -> Item:
    """Assemble an item and check it; ``sources`` maps 'mesh'/'smpl'/'frame' to the file each came
    from, so that a SchemaError names the file that holds the bad field."""
    meta = ItemMeta(subject=str(subject), pose_index=int(pose_index),
                    capture_time=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    device=device, postprocessing=[], extra=dict(extra or {}))
    item = Item(mesh=mesh, smpl=smpl, meta=meta, frame=frame)
    problems = item_problems(item)
    if problems:
        field, message = problems[0]
        group = field.split("/")[0].split(".")[0]
        source = (sources or {}).get(group)
        raise SchemaError(source, f"field '{field}'", message)
    return item


def import_mesh_item(mesh_path: str | os.PathLike, params_path: str | os.PathLike | None,
                     dataset_dir: str | os.PathLike, subject: str, pose_index: int,
                     overwrite: bool = False, model: str | None = None,
                     gender: str | None = None, body_model: str = "open") -> Path:
    """Read ``mesh_path`` (OBJ/PLY/GLB) and ``params_path`` (JSON/NPZ/PKL) and write the item
    ``dataset_dir/<subject>/<pose:04d>.h5``. Returns its path. Without ``params_path`` a body of
    ``body_model`` ('open' or an SMPL file) is fitted to the mesh (clothed or not)."""
    mesh_path = Path(mesh_path)
    item_path(dataset_dir, subject, pose_index)  # checks the ids before any reading
    mesh = load_mesh(mesh_path)
    extra = {"source_mesh": str(mesh_path)}
    if params_path is None:
        from thuman_io.exchange.body_fit import fit_item_body

        smpl, extra["body_fit"] = fit_item_body(body_model, gender or "neutral", mesh.vertices, mesh.faces)
        extra["body_fit"]["target"] = mesh_path.name
        params_path = mesh_path
    else:
        params_path = Path(params_path)
        smpl = load_smpl_params(params_path, model=model, gender=gender)
        extra["source_params"] = str(params_path)
    item = build_item(mesh, smpl, subject, pose_index, device=f"import:{mesh_path.name}",
                      extra=extra,
                      sources={"mesh": mesh_path, "smpl": params_path, "meta": mesh_path})
    return write_item(dataset_dir, item, overwrite=overwrite)
