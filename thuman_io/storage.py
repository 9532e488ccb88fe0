"""Write and read THuman items: one HDF5 file per item at ``DATASET/<subject>/<pose:04d>.h5``.

Writing goes through :func:`thuman_io.atomic.atomic_path` (hidden temporary file, fsync, rename),
so a crash, even SIGKILL, never leaves a half-written item where readers look, and a dataset can
be read while another process adds items. The item is checked *before* anything touches the disk:
bad input raises :class:`SchemaError` and leaves every existing file as it was.

Every dataset is one chunk with the Fletcher-32 checksum filter (bit flips are detected on read);
integer arrays are compressed with shuffle + gzip. Only filters built into every HDF5 library are
used and the file format is bounded by ``thuman_io.version.HDF5_LIBVER``, so HDF5 1.10 tools
(h5dump, HDFView, MATLAB) and h5py >= 3.0 read items (schema v2). Schema v1 files (lzf, newest
file format) still read here; :func:`migrate_item` rewrites them.
Layout and units: ``thuman_io.item_schema`` and docs/format.md.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import h5py
import numpy as np

from thuman_io.atomic import atomic_path, remove_stale_temporaries
from thuman_io.errors import InputError, SchemaError
from thuman_io.item import Item, ItemMeta, RGBDFrame, SMPLParams, TexturedMesh
from thuman_io.item_schema import FIELD_BY_PATH
from thuman_io.version import (HDF5_LIBVER, ITEM_READABLE_VERSIONS, ITEM_SCHEMA, ITEM_SCHEMA_VERSION,
                               TOOLKIT_VERSION)

ITEM_SUFFIX = ".h5"
SUBJECT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ITEM_NAME_PATTERN = re.compile(r"^(\d{4,})\.h5$")
_COMPRESS_MIN_BYTES = 4096  # below this gzip saves nothing and costs a filter call per read
_MAX_CHUNK_BYTES = 256 << 20  # larger arrays get h5py's automatic chunks
_GZIP_LEVEL = 1  # fastest deflate: items are read whole and often; level 1 is close to lzf in speed


def item_path(dataset_dir: str | os.PathLike, subject: str, pose_index: int) -> Path:
    """Where the item (subject, pose_index) lives: ``dataset_dir/<subject>/<pose:04d>.h5``."""
    if not SUBJECT_PATTERN.match(str(subject)):
        raise InputError(dataset_dir, f"subject id {subject!r}",
                         "use 1-64 letters, digits, '-' or '_', starting with a letter or digit")
    if int(pose_index) < 0:
        raise InputError(dataset_dir, f"pose index {pose_index}", "must be >= 0")
    return Path(dataset_dir) / str(subject) / f"{int(pose_index):04d}{ITEM_SUFFIX}"


def write_item(dataset_dir: str | os.PathLike, item: Item, overwrite: bool = False) -> Path:
    """Write ``item`` atomically into ``dataset_dir``; return its path.

    Raises SchemaError (naming the field) if the item does not follow the schema, and InputError
    if the item exists and ``overwrite`` is False. Nothing is written in either case.
    """
    from thuman_io.validate import item_problems

    from thuman_io.corpus import is_corpus_dir

    path = item_path(dataset_dir, item.meta.subject, item.meta.pose_index)
    if is_corpus_dir(dataset_dir):
        raise InputError(dataset_dir, "is a synthesized corpus, not a THuman dataset",
                         "write items to a dataset folder (DATASET/<subject>/<pose>.h5)")
    problems = item_problems(item)
    if problems:
        field, message = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise SchemaError(path, f"field '{field}'", message + more)
    if path.exists() and not overwrite:
        raise InputError(path, "item exists", "pass overwrite=True (CLI: --overwrite) to replace it")
    _write_file(path, item)
    # Temporaries of writers that were killed are hidden but take space: the next writer in the
    # folder removes them (those of live processes are kept).
    remove_stale_temporaries(path.parent)
    return path


def rewrite_item(path: str | os.PathLike, item: Item) -> Path:
    """Write ``item`` over the existing item file ``path`` atomically (``thuman migrate``).

    The item is checked first (SchemaError naming the field, nothing written), and its subject
    and pose must be the ones its path names.
    """
    from thuman_io.validate import item_problems

    path = Path(path)
    problems = item_problems(item)
    if problems:
        field, message = problems[0]
        raise SchemaError(path, f"field '{field}'", message)
    expected = item_path(path.parent.parent, item.meta.subject, item.meta.pose_index)
    if expected.name != path.name or path.parent.name != item.meta.subject:
        raise SchemaError(path, "field 'meta.subject/meta.pose_index'",
                          f"the item is {item.meta.subject}/{item.meta.pose_index:04d}, its path says otherwise")
    _write_file(path, item)
    return path


def _write_file(path: Path, item: Item) -> None:
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", libver=HDF5_LIBVER) as f:
            _write_groups(f, item)


def _write_groups(f: h5py.File, item: Item) -> None:
    _set_str(f, "schema", ITEM_SCHEMA)
    f.attrs["schema_version"] = ITEM_SCHEMA_VERSION
    _set_str(f, "toolkit_version", TOOLKIT_VERSION)
    m = item.mesh
    _put(f, "mesh/vertices", m.vertices)
    _put(f, "mesh/faces", m.faces)
    for name in ("vertex_colors", "uv", "texture"):
        value = getattr(m, name)
        if value is not None:
            _put(f, f"mesh/{name}", value)
    s = item.smpl
    for name in ("betas", "global_orient", "body_pose", "transl"):
        _put(f, f"smpl/{name}", getattr(s, name))
    if s.fit_residual is not None:
        _put(f, "smpl/fit_residual", s.fit_residual)
    _set_str(f["smpl"], "model", s.model)
    _set_str(f["smpl"], "gender", s.gender)
    meta = f.require_group("meta")
    _set_str(meta, "subject", str(item.meta.subject))
    meta.attrs["pose_index"] = int(item.meta.pose_index)
    _set_str(meta, "capture_time", item.meta.capture_time or "")
    _set_str(meta, "device", item.meta.device or "")
    _set_str(meta, "postprocessing", json.dumps(list(item.meta.postprocessing)))
    _set_str(meta, "extra", json.dumps(item.meta.extra, sort_keys=True))
    if item.meta.reference_pose is not None:
        _put(f, "meta/reference_pose", item.meta.reference_pose)
    if item.frame is not None:
        fr = item.frame
        for name in ("color", "depth_mm", "color_intrinsics", "depth_intrinsics", "depth_to_color",
                     "camera_to_item"):
            _put(f, f"frame/{name}", getattr(fr, name))
        f["frame"].attrs["depth_registered_to_color"] = bool(fr.depth_registered_to_color)
        f["frame"].attrs["timestamp_us"] = int(fr.timestamp_us)
        for name in ("camera", "color_camera"):  # optional lens models (JSON); absent in older files
            if getattr(fr, name, None):
                _set_str(f["frame"], name, json.dumps(getattr(fr, name)))


def _attr_json(obj, name: str):
    """An optional JSON attribute, or None where it is absent or empty."""
    if name not in obj.attrs:
        return None
    text = _attr_str(obj.attrs[name])
    return json.loads(text) if text else None


def _set_str(obj, name: str, text: str) -> None:
    """A string attribute as fixed-length UTF-8 bytes. Fixed-length attributes live in the object
    header, which carries a checksum (object header version 2, libver 'v110'); variable-length strings live in HDF5's
    global heap, which has none, so a flipped bit in them would go unnoticed."""
    data = str(text).encode("utf-8")
    obj.attrs[name] = np.bytes_(data) if data else np.array(b"", dtype="S1")


def _put(f: h5py.File, path: str, value) -> None:
    spec = FIELD_BY_PATH[path]
    data = np.ascontiguousarray(np.asarray(value).astype(spec.dtype, copy=False))
    # Integer arrays (faces, images, depth) compress well with shuffle + gzip; float vertices and
    # uv barely do, so they stay raw (deflate on them costs more read time than it saves bytes).
    compress = data.dtype.kind in "ui" and data.nbytes >= _COMPRESS_MIN_BYTES
    # One chunk per dataset (items are always read whole): per-chunk filter overhead dominated
    # reads with h5py's automatic small chunks. Fletcher-32 needs chunked storage.
    chunks = data.shape if data.size and data.nbytes <= _MAX_CHUNK_BYTES else (True if data.size else None)
    ds = f.create_dataset(path, data=data, chunks=chunks, fletcher32=bool(data.size),
                          compression="gzip" if compress else None,
                          compression_opts=_GZIP_LEVEL if compress else None,
                          shuffle=bool(compress and data.dtype.itemsize > 1))
    _set_str(ds, "units", spec.units)


# ----------------------------------------------------------------------------------------------
# Reading


def open_item_file(path: str | os.PathLike) -> h5py.File:
    """Open an item file read-only and check its schema attributes.

    Raises InputError when the file is missing or not readable HDF5 (truncated, corrupt) and
    SchemaError when it is another schema or an unknown/newer schema version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such item file")
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise InputError(path, "not a readable HDF5 file (truncated or corrupt?)",
                         f"{_short(e)}; re-create or re-import the item") from None
    try:
        check_schema_attrs(f, path)
    except BaseException:
        f.close()
        raise
    return f


def check_schema_attrs(f: h5py.File, path) -> None:
    """Raise SchemaError unless ``f`` is a THuman item of a schema version this toolkit reads."""
    try:
        schema = _attr_str(f.attrs.get("schema"))
        version = f.attrs.get("schema_version")
    except (OSError, KeyError, TypeError, RuntimeError, ValueError) as e:
        raise InputError(path, "root attributes unreadable (corrupt file?)", _short(e)) from None
    if schema != ITEM_SCHEMA:
        raise SchemaError(path, "attribute 'schema'",
                          f"is {schema!r}, expected {ITEM_SCHEMA!r}: not a THuman item file")
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise SchemaError(path, "attribute 'schema_version'", f"missing or not an integer ({version!r})") from None
    if version not in ITEM_READABLE_VERSIONS:
        newer = "a newer toolkit wrote it; upgrade thuman" if version > ITEM_SCHEMA_VERSION else \
            "no reader for this old version"
        raise SchemaError(path, "attribute 'schema_version'",
                          f"unknown item schema version {version} (this toolkit reads versions "
                          f"{', '.join(map(str, ITEM_READABLE_VERSIONS))}); {newer}")


def read_item(path: str | os.PathLike, frame: bool = True, mesh: bool = True) -> Item:
    """Read an item. ``frame=False`` skips the RGB-D frame (the large part) without loading it;
    ``mesh=False`` leaves the mesh arrays empty (metadata and SMPL parameters only).

    Raises InputError/SchemaError naming the file and field on unreadable or non-schema input.
    """
    path = Path(path)
    with open_item_file(path) as f:
        try:
            return _read(f, path, frame, mesh)
        except KeyError as e:
            if "Unable to" not in str(e):  # h5py's KeyError for a damaged object header
                raise SchemaError(path, f"missing field ({_short(e)})", "run 'thuman validate' on it") from None
            raise corrupt_file_error(path, e) from None
        except (OSError, RuntimeError, ValueError, TypeError) as e:
            raise corrupt_file_error(path, e) from None


def corrupt_file_error(path, e: BaseException) -> InputError:
    """The error for a file whose data or structure h5py cannot read (checksum, truncation)."""
    return InputError(path, "data unreadable (checksum mismatch or truncated file)",
                      f"{_short(e)}; re-create or re-import the item")


def _read(f: h5py.File, path: Path, frame: bool, mesh: bool) -> Item:
    g = f["mesh"]
    if mesh:
        tm = TexturedMesh(vertices=g["vertices"][()], faces=g["faces"][()],
                          vertex_colors=_opt(g, "vertex_colors"), uv=_opt(g, "uv"),
                          texture=_opt(g, "texture"))
    else:
        tm = TexturedMesh(vertices=np.zeros((0, 3), np.float32), faces=np.zeros((0, 3), np.int32))
    s = f["smpl"]
    smpl = SMPLParams(betas=s["betas"][()], global_orient=s["global_orient"][()],
                      body_pose=s["body_pose"][()], transl=s["transl"][()],
                      model=_attr_str(s.attrs["model"]), gender=_attr_str(s.attrs["gender"]),
                      fit_residual=_opt(s, "fit_residual"))
    m = f["meta"]
    try:
        postprocessing = json.loads(_attr_str(m.attrs["postprocessing"]))
        extra = json.loads(_attr_str(m.attrs["extra"]))
    except json.JSONDecodeError as e:
        raise SchemaError(path, "attribute 'meta/postprocessing' or 'meta/extra'", f"not JSON ({e})") from None
    meta = ItemMeta(subject=_attr_str(m.attrs["subject"]), pose_index=int(m.attrs["pose_index"]),
                    capture_time=_attr_str(m.attrs["capture_time"]), device=_attr_str(m.attrs["device"]),
                    reference_pose=_opt(m, "reference_pose"), postprocessing=postprocessing,
                    schema_version=int(f.attrs["schema_version"]),
                    toolkit_version=_attr_str(f.attrs["toolkit_version"]), extra=extra)
    rgbd = None
    if frame and "frame" in f:
        fr = f["frame"]
        rgbd = RGBDFrame(color=fr["color"][()], depth_mm=fr["depth_mm"][()],
                         color_intrinsics=fr["color_intrinsics"][()],
                         depth_intrinsics=fr["depth_intrinsics"][()],
                         depth_to_color=fr["depth_to_color"][()], camera_to_item=fr["camera_to_item"][()],
                         depth_registered_to_color=bool(fr.attrs["depth_registered_to_color"]),
                         timestamp_us=int(fr.attrs["timestamp_us"]),
                         camera=_attr_json(fr, "camera"), color_camera=_attr_json(fr, "color_camera"))
    return Item(mesh=tm, smpl=smpl, meta=meta, frame=rgbd)


def has_frame(path: str | os.PathLike) -> bool:
    """Whether the item file holds an RGB-D frame (reads no arrays)."""
    with open_item_file(path) as f:
        return "frame" in f


def _opt(group: h5py.Group, name: str):
    return group[name][()] if name in group else None


def _attr_str(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return "" if value is None else str(value)


def _short(e: BaseException) -> str:
    """One line from an h5py/OS error (they can span lines)."""
    text = " ".join(str(e).split())
    return text[:200] if text else type(e).__name__
