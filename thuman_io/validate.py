"""Check items against the schema (``thuman_io.item_schema``, docs/format.md).

Two levels:

* :func:`item_problems` checks an in-memory :class:`Item` (values: finite vertices, face indices
  in range, non-empty mesh, parameter shapes, ids). ``write_item`` and the importers call it, so a
  bad item is refused before anything is written.
* :func:`validate_item` checks a file: readable HDF5, schema attributes, every field's dtype, shape,
  ``units`` and checksum (by reading all data), then :func:`item_problems` on its content and the
  agreement of its subject/pose with its path. :func:`validate_dataset` does it for a directory.

Problems are one-line strings ``<file>: field '<path>': <problem>``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from thuman_io.errors import InputError
from thuman_io.item import Item
from thuman_io.item_schema import ATTRIBUTES, BODY_MODELS, FIELDS, GENDERS, OPTIONAL_ATTRIBUTES

# ----------------------------------------------------------------------------------------------
# In-memory items


def item_problems(item: Item) -> list[tuple[str, str]]:
    """(field, problem) pairs for everything in ``item`` that breaks the item schema; empty when valid."""
    from thuman_io.storage import SUBJECT_PATTERN

    out: list[tuple[str, str]] = []
    m = item.mesh
    v = np.asarray(m.vertices)
    n_vertices = None
    if _shape_ok(out, "mesh/vertices", v, (None, 3)):
        n_vertices = v.shape[0]
        if n_vertices == 0:
            out.append(("mesh/vertices", "empty mesh (0 vertices)"))
        elif not np.issubdtype(v.dtype, np.floating) and not np.issubdtype(v.dtype, np.integer):
            out.append(("mesh/vertices", f"dtype {v.dtype} is not numeric"))
        elif not np.isfinite(v).all():
            bad = int((~np.isfinite(v)).any(axis=1).sum())
            out.append(("mesh/vertices", f"{bad} vertices contain NaN or inf"))
    faces = np.asarray(m.faces)
    if _shape_ok(out, "mesh/faces", faces, (None, 3)):
        if faces.shape[0] == 0:
            out.append(("mesh/faces", "empty mesh (0 faces)"))
        elif not np.issubdtype(faces.dtype, np.integer):
            out.append(("mesh/faces", f"dtype {faces.dtype} is not an integer type"))
        elif n_vertices is not None:
            lo, hi = int(faces.min()), int(faces.max())
            if lo < 0 or hi >= n_vertices:
                out.append(("mesh/faces", f"indices out of range: min {lo}, max {hi}, "
                                          f"mesh has {n_vertices} vertices"))
    if m.vertex_colors is not None:
        _array_ok(out, "mesh/vertex_colors", m.vertex_colors, (n_vertices, 3), np.uint8)
    if m.uv is not None:
        uv = np.asarray(m.uv)
        if _shape_ok(out, "mesh/uv", uv, (n_vertices, 2)) and not np.isfinite(uv).all():
            out.append(("mesh/uv", "contains NaN or inf"))
    if m.texture is not None:
        _array_ok(out, "mesh/texture", m.texture, (None, None, 3), np.uint8)
        if m.uv is None:
            out.append(("mesh/texture", "a texture needs per-vertex uv (mesh/uv is missing)"))

    s = item.smpl
    betas = np.asarray(s.betas)
    if betas.ndim != 1 or not 1 <= betas.shape[0] <= 300:
        out.append(("smpl/betas", f"shape {betas.shape}, expected (B,) with 1 <= B <= 300"))
    elif not np.isfinite(betas.astype(np.float64)).all():
        out.append(("smpl/betas", "contains NaN or inf"))
    for name, size in (("global_orient", 3), ("body_pose", 69), ("transl", 3)):
        a = np.asarray(getattr(s, name))
        if _shape_ok(out, f"smpl/{name}", a, (size,)) and not np.isfinite(a.astype(np.float64)).all():
            out.append((f"smpl/{name}", "contains NaN or inf"))
    if s.fit_residual is not None:
        a = np.asarray(s.fit_residual)
        if _shape_ok(out, "smpl/fit_residual", a, (2,)) and not (np.isfinite(a) & (a >= 0)).all():
            out.append(("smpl/fit_residual", "must be two finite distances >= 0"))
    if s.model not in BODY_MODELS:
        out.append(("smpl.model", f"{s.model!r} is not one of {', '.join(BODY_MODELS)}"))
    if s.gender not in GENDERS:
        out.append(("smpl.gender", f"{s.gender!r} is not one of {', '.join(GENDERS)}"))

    meta = item.meta
    if not SUBJECT_PATTERN.match(str(meta.subject)):
        out.append(("meta.subject", f"{meta.subject!r}: use 1-64 letters, digits, '-' or '_'"))
    if not isinstance(meta.pose_index, (int, np.integer)) or meta.pose_index < 0:
        out.append(("meta.pose_index", f"{meta.pose_index!r} is not an integer >= 0"))
    if meta.reference_pose is not None:
        ref = np.asarray(meta.reference_pose)
        if _shape_ok(out, "meta/reference_pose", ref, (72,)) and not np.isfinite(ref.astype(np.float64)).all():
            out.append(("meta/reference_pose", "contains NaN or inf"))
    if not all(isinstance(p, str) for p in meta.postprocessing):
        out.append(("meta.postprocessing", "must be a list of step names (strings)"))
    try:
        json.dumps(meta.extra)
    except (TypeError, ValueError) as e:
        out.append(("meta.extra", f"not JSON-serialisable ({e})"))

    if item.frame is not None:
        fr = item.frame
        _array_ok(out, "frame/color", fr.color, (None, None, 3), np.uint8)
        _array_ok(out, "frame/depth_mm", fr.depth_mm, (None, None), np.uint16)
        for name in ("color_intrinsics", "depth_intrinsics"):
            a = np.asarray(getattr(fr, name))
            if _shape_ok(out, f"frame/{name}", a, (3, 3)) and not np.isfinite(a).all():
                out.append((f"frame/{name}", "contains NaN or inf"))
        for name in ("depth_to_color", "camera_to_item"):
            a = np.asarray(getattr(fr, name), dtype=np.float64)
            if _shape_ok(out, f"frame/{name}", a, (4, 4)):
                if not np.isfinite(a).all():
                    out.append((f"frame/{name}", "contains NaN or inf"))
                elif not np.allclose(a[3], [0, 0, 0, 1]):
                    out.append((f"frame/{name}", "last row must be (0, 0, 0, 1)"))
        c, d = np.asarray(fr.color), np.asarray(fr.depth_mm)
        if fr.depth_registered_to_color and c.ndim >= 2 and d.ndim == 2 and c.shape[:2] != d.shape:
            out.append(("frame/depth_mm", f"registered to colour but shape {d.shape} != colour "
                                          f"{c.shape[:2]}"))
    return out


def _shape_ok(out, field, a: np.ndarray, expected: tuple) -> bool:
    if a.ndim != len(expected) or any(e is not None and s != e for s, e in zip(a.shape, expected)):
        want = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
        out.append((field, f"shape {tuple(a.shape)}, expected {want}"))
        return False
    return True


def _array_ok(out, field, value, expected: tuple, dtype) -> bool:
    a = np.asarray(value)
    if not _shape_ok(out, field, a, expected):
        return False
    if a.dtype != dtype:
        out.append((field, f"dtype {a.dtype}, expected {np.dtype(dtype).name}"))
        return False
    return True


# ----------------------------------------------------------------------------------------------
# Files


def validate_item(path: str | os.PathLike, body: bool = False) -> list[str]:
    """One-line problems of the item file at ``path`` (empty list: valid). Never raises for bad
    content; every problem names the file and the field. ``body``: also check that the body lies
    inside the mesh (``thuman_io.body.alignment``; poses the body, so it needs torch)."""
    from thuman_io.storage import ITEM_NAME_PATTERN, open_item_file, read_item

    path = Path(path)
    try:
        f = open_item_file(path)
    except InputError as e:
        return [str(e)]
    with f:
        try:
            problems = _check_layout(f, path)
        except (KeyError, OSError, RuntimeError, ValueError, TypeError) as e:
            # h5py reports damaged object headers and heaps as KeyError/OSError on access.
            text = " ".join(str(e).split())[:160]
            return [f"{path}: file structure unreadable (corrupt file: {text}); re-create or re-import the item"]
    if problems:
        return problems
    try:
        item = read_item(path, frame=True)
    except InputError as e:
        return [str(e)]
    problems += [f"{path}: field '{field}': {msg}" for field, msg in item_problems(item)]
    match = ITEM_NAME_PATTERN.match(path.name)
    if match and not problems:
        if int(match.group(1)) != item.meta.pose_index or path.parent.name != item.meta.subject:
            problems.append(f"{path}: field 'meta.subject/meta.pose_index': item says subject "
                            f"{item.meta.subject!r} pose {item.meta.pose_index}, its path says "
                            f"{path.parent.name!r} pose {int(match.group(1))}; move or re-import it")
    if body and not problems:
        from thuman_io.body.alignment import item_alignment_problems

        problems += item_alignment_problems(path, item)
    return problems


def _check_layout(f: h5py.File, path: Path) -> list[str]:
    """Problems of presence, dtype, shape, units and checksums of every field and attribute."""
    problems: list[str] = []
    sizes: dict[str, int] = {}
    for spec in FIELDS:
        group = spec.path.split("/")[0]
        if spec.path not in f:
            if spec.required or (group == "frame" and group in f):
                problems.append(f"{path}: field '{spec.path}': missing")
            continue
        problems += _check_dataset(path, f[spec.path], spec, sizes)
    for group, name, kind, required, _ in ATTRIBUTES:
        if group != "/" and group not in f:
            continue
        attrs = f[group].attrs
        if name not in attrs:
            if (required or group in f) and (group, name) not in OPTIONAL_ATTRIBUTES:
                problems.append(f"{path}: attribute '{group}/{name}': missing")
            continue
        value = attrs[name]
        if kind == "int" and not np.issubdtype(np.asarray(value).dtype, np.integer):
            problems.append(f"{path}: attribute '{group}/{name}': {value!r} is not an integer")
    return problems


def _check_dataset(path: Path, ds, spec, sizes: dict) -> list[str]:
    where = f"{path}: field '{spec.path}'"
    if not isinstance(ds, h5py.Dataset):
        return [f"{where}: is a group, expected a dataset"]
    out = []
    if ds.dtype != np.dtype(spec.dtype):
        out.append(f"{where}: dtype {ds.dtype}, expected {spec.dtype}")
    if len(ds.shape) != len(spec.shape):
        out.append(f"{where}: shape {ds.shape}, expected {spec.shape}")
    else:
        for got, want in zip(ds.shape, spec.shape):
            if isinstance(want, int) and got != want:
                out.append(f"{where}: shape {ds.shape}, expected {spec.shape}")
                break
            if isinstance(want, str) and want in ("V", "F"):
                if sizes.setdefault(want, got) != got:
                    out.append(f"{where}: {want} = {got} disagrees with mesh/vertices ({sizes[want]})")
    units = ds.attrs.get("units")
    units = units.decode() if isinstance(units, bytes) else units
    if units != spec.units:
        out.append(f"{where}: units attribute {units!r}, expected {spec.units!r}")
    try:
        ds[()]  # reads every chunk: the Fletcher-32 checksums catch flipped bits
    except OSError as e:
        text = " ".join(str(e).split())[:160]
        out.append(f"{where}: data unreadable (checksum mismatch or truncated file: {text})")
    return out


def validate_dataset(dataset_dir: str | os.PathLike, body: bool = False) -> list[str]:
    """Problems of every item in a dataset directory, plus files that break the layout."""
    from thuman_io.dataset import open_dataset

    ds = open_dataset(dataset_dir)
    problems = [f"{p}: not an item name (expected <subject>/<pose:04d>.h5); rename or remove it"
                for p in ds.stray_files()]
    for ref in ds.items():
        problems += validate_item(ref.path, body=body)
    return problems


def validate_path(path: str | os.PathLike, body: bool = False) -> list[str]:
    """Validate an item file, a subject folder or a dataset folder (``body``: see validate_item)."""
    path = Path(path)
    if path.is_file():
        return validate_item(path, body=body)
    if not path.is_dir():
        return [f"{path}: no such file or directory"]
    from thuman_io.dataset import open_dataset, is_subject_dir

    if is_subject_dir(path):
        ds = open_dataset(path.parent)
        problems = []
        for ref in ds.items(subject=path.name):
            problems += validate_item(ref.path, body=body)
        return problems
    return validate_dataset(path, body=body)
