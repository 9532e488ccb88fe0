"""Import THuman2.0 / THuman2.1 (Yu et al., Function4D, CVPR 2021) and generic folders of textured
scans with SMPL or SMPL-X parameters.

THuman2.x as released (one textured scan per folder; the SMPL-X fits in a sibling folder)::

    ROOT/THuman2.0_Release/<id>/<id>.obj      scan, metres, Y up; mtllib material0.mtl
                                <id>/material0.mtl, material0.jpeg   texture atlas
    ROOT/THuman2.0_smplx/<id>/smplx_param.pkl SMPL-X fit: betas (1, 10), global_orient (1, 3),
        body_pose (1, 63), transl (1, 3), left/right_hand_pose (1, 12 PCA), jaw_pose, leye_pose,
        reye_pose (1, 3), expression (1, 10), scale (1,), translation (1, 3)

THuman2.1 keeps the per-scan layout (``<id>/<id>.obj`` + texture, ``<id>/smplx_param.pkl``)
under other top folders, so scans are found as ``<id>/<id>.obj`` anywhere under ROOT and their
fit as ``<id>/smplx_param.pkl`` (or ``<id>.pkl`` in a folder named like ``*smplx*``). The fit
poses SMPL-X and then scales and moves it onto the scan: ``scan = scale * smplx(params) +
translation`` (the ``scale``/``translation`` keys; 1 and 0 when absent). A THuman item has no
scale, so its mesh is the scan brought into the fit's frame, ``(scan - translation) / scale``
(metres of the body model; scale is close to 1), and both numbers are kept in
``meta.extra['scan_to_body']`` to undo it. SMPL-X's 21 body joints are SMPL's first 21 (SMPL's two
hand joints get 0); hand, jaw, eye and expression parameters are kept in
``meta.extra['smplx']``. THuman2.x names no subjects: each scan is its own subject, pose 0.

A generic folder holds ``ROOT/<subject>/<pose>.<obj|ply|glb>`` with its parameter file beside it
(``<pose>.json|npz|pkl``, or ``<pose>_smpl.*`` / ``<pose>_smplx.*``), or ``ROOT/<subject>/<pose>/``
folders with one mesh and one parameter file; the pose index is the name's number (its rank
among the subject's poses otherwise). Parameters: ``thuman_io.exchange.smpl_params`` (SMPL or
SMPL-X), with the same optional ``scale``/``translation``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from thuman_io.errors import InputError, SchemaError
from thuman_io.exchange.importer import build_item
from thuman_io.exchange.mesh_files import load_mesh
from thuman_io.exchange.smpl_params import SMPLX_KEYS, params_from_mapping, read_param_mapping
from thuman_io.storage import SUBJECT_PATTERN, item_path, write_item

MESH_SUFFIXES = (".obj", ".ply", ".glb")
PARAM_SUFFIXES = (".json", ".npz", ".pkl")
_NUMBER = re.compile(r"(\d+)$")


def find_thuman2_scans(root: str | os.PathLike) -> list[tuple[str, Path, Path]]:
    """(scan id, mesh file, SMPL-X parameter file) of every THuman2.x scan under ``root``, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "THuman2 folder not found")
    meshes = sorted(p for p in root.rglob("*.obj") if p.stem == p.parent.name and not _hidden(p, root))
    if not meshes:
        raise InputError(root, "no <id>/<id>.obj scans found", "point --thuman2 at the folder that holds "
                         "THuman2.0_Release (or THuman2.1's model folder) and the SMPL-X fits")
    fits: dict[str, Path] = {}
    for p in sorted(root.rglob("*.pkl")):
        if _hidden(p, root):
            continue
        if p.name == "smplx_param.pkl":
            fits.setdefault(p.parent.name, p)
        elif "smplx" in p.parent.name.lower():
            fits.setdefault(p.stem, p)
    out = []
    for mesh in meshes:
        fit = mesh.parent / "smplx_param.pkl"
        fit = fit if fit.is_file() else fits.get(mesh.stem)
        if fit is None:
            raise InputError(mesh, "no SMPL-X fit found", f"expected {mesh.stem}/smplx_param.pkl under {root}")
        out.append((mesh.stem, mesh, fit))
    return out


def import_thuman2(root: str | os.PathLike, dataset_dir: str | os.PathLike, body_model: str = "smplx",
                   overwrite: bool = False, progress: Callable[[Iterable], Iterable] | None = None) -> list[Path]:
    """Import every THuman2.x scan under ``root`` as item ``<id>/0000``; returns the paths written.

    ``body_model``: what the items' parameters refer to: 'smplx' (as released; synthesis then needs
    the SMPL-X model files) or 'open' (the fit's body pose applied to the toolkit's open model,
    which shares SMPL's first 22 joints: an approximation that needs no licensed files).
    """
    if body_model not in ("smplx", "open"):
        raise InputError(None, f"--body-model {body_model!r}", "THuman2 fits are SMPL-X: use 'smplx' or 'open'")
    scans = find_thuman2_scans(root)
    written = []
    for ident, mesh, fit in (scans if progress is None else progress(scans)):
        written.append(import_scan(mesh, fit, dataset_dir, ident, 0, model=body_model, overwrite=overwrite,
                                   device=f"import:thuman2:{ident}"))
    return written


def import_scan(mesh_path: str | os.PathLike, params_path: str | os.PathLike, dataset_dir: str | os.PathLike,
                subject: str, pose_index: int, model: str | None = None, gender: str | None = None,
                overwrite: bool = False, device: str | None = None) -> Path:
    """One textured scan + its SMPL/SMPL-X parameters (with optional ``scale``/``translation``:
    ``scan = scale * body + translation``) -> item (subject, pose_index). Returns its path."""
    mesh_path, params_path = Path(mesh_path), Path(params_path)
    item_path(dataset_dir, subject, pose_index)   # checks the ids before reading anything
    data = read_param_mapping(params_path)
    smpl = params_from_mapping(data, params_path, model=model, gender=gender)
    scale = _number(data, "scale", params_path, default=1.0)
    offset = _vector(data, "translation", params_path) if "transl" in data else np.zeros(3)
    if not scale > 0:
        raise SchemaError(params_path, "field 'scale'", f"is {scale}, expected a positive number")
    mesh = load_mesh(mesh_path)
    mesh.vertices = ((mesh.vertices.astype(np.float64) - offset) / scale).astype(np.float32)
    extra = {"source_mesh": str(mesh_path), "source_params": str(params_path),
             "scan_to_body": {"scale": scale, "translation": offset.tolist(),
                              "note": "source scan = scale * item mesh + translation"}}
    kept = {k: np.asarray(data[k], np.float64).reshape(-1).tolist() for k in SMPLX_KEYS if k in data}
    if kept:
        extra["smplx"] = kept
    item = build_item(mesh, smpl, subject, pose_index, device=device or f"import:{mesh_path.name}", extra=extra,
                      sources={"mesh": mesh_path, "smpl": params_path, "meta": mesh_path})
    return write_item(dataset_dir, item, overwrite=overwrite)


def find_scan_folder(root: str | os.PathLike) -> list[tuple[str, int, Path, Path]]:
    """(subject, pose_index, mesh, parameters) of every scan in a generic folder, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "scan folder not found")
    out = []
    for subject_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not SUBJECT_PATTERN.match(subject_dir.name):
            raise InputError(subject_dir, "not a subject id", "use 1-64 letters, digits, '-' or '_'")
        entries = []
        for entry in sorted(subject_dir.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                meshes = [p for p in sorted(entry.iterdir()) if p.suffix.lower() in MESH_SUFFIXES]
                params = [p for p in sorted(entry.iterdir()) if p.suffix.lower() in PARAM_SUFFIXES]
                if len(meshes) != 1 or len(params) != 1:
                    raise InputError(entry, f"{len(meshes)} mesh and {len(params)} parameter files",
                                     "a pose folder holds one mesh and one parameter file")
                entries.append((entry.name, meshes[0], params[0]))
            elif entry.suffix.lower() in MESH_SUFFIXES and not entry.stem.endswith(("_smpl", "_smplx")):
                entries.append((entry.stem, entry, _params_beside(entry)))
        numbered = all(_NUMBER.search(name) for name, _, _ in entries)
        for rank, (name, mesh, params) in enumerate(entries):
            index = int(_NUMBER.search(name).group(1)) if numbered else rank
            out.append((subject_dir.name, index, mesh, params))
    if not out:
        raise InputError(root, "no <subject>/<pose>.<obj|ply|glb> scans found")
    return out


def import_scan_folder(root: str | os.PathLike, dataset_dir: str | os.PathLike, model: str | None = None,
                       gender: str | None = None, overwrite: bool = False,
                       progress: Callable[[Iterable], Iterable] | None = None) -> list[Path]:
    """Import every scan of a generic folder (module doc); returns the item paths written."""
    scans = find_scan_folder(root)
    return [import_scan(mesh, params, dataset_dir, subject, index, model=model, gender=gender,
                        overwrite=overwrite)
            for subject, index, mesh, params in (scans if progress is None else progress(scans))]


def _params_beside(mesh: Path) -> Path:
    for stem in (mesh.stem, f"{mesh.stem}_smplx", f"{mesh.stem}_smpl"):
        for suffix in PARAM_SUFFIXES:
            p = mesh.with_name(stem + suffix)
            if p.is_file():
                return p
    raise InputError(mesh, "no parameter file beside the scan",
                     f"expected {mesh.stem}.json|npz|pkl (or {mesh.stem}_smplx.*) next to it")


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)


def _number(data: dict, key: str, path: Path, default: float) -> float:
    if key not in data:
        return default
    a = np.asarray(data[key], np.float64).reshape(-1)
    if a.size != 1 or not np.isfinite(a).all():
        raise SchemaError(path, f"field '{key}'", f"expected one finite number, got shape {a.shape}")
    return float(a[0])


def _vector(data: dict, key: str, path: Path) -> np.ndarray:
    if key not in data:
        return np.zeros(3)
    a = np.asarray(data[key], np.float64).reshape(-1)
    if a.size != 3 or not np.isfinite(a).all():
        raise SchemaError(path, f"field '{key}'", f"expected 3 finite numbers, got {a.size}")
    return a
