"""One corpus shard file: its per-sample fields, its header, and reading one row of it.

Every way a shard can be damaged (truncated, bits flipped, datasets deleted or replaced, attributes
missing, metadata that is not JSON, NaN/inf stored in a number) becomes one
:class:`~thuman_io.errors.InputError` / :class:`~thuman_io.errors.SchemaError` line naming the file
and the field, never a raw h5py/numpy/json exception. ``thuman_io.corpus`` reads shards through
this module and ``thuman_io.corpus_validate`` checks them; the layout is docs/format-corpus.md.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from thuman_io.errors import InputError, SchemaError, ThumanError
from thuman_io.grid import VolumeGrid
from thuman_io.sample import CorpusSample
from thuman_io.version import CORPUS_SCHEMA, CORPUS_SCHEMA_VERSION

#: What h5py, numpy and json raise on damaged files (a damaged object header is a KeyError, a
#: bad chunk an OSError, a damaged string a UnicodeDecodeError, JSON errors are ValueErrors).
READ_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError,
               UnicodeDecodeError, OverflowError)
#: Stored per-sample fields that hold floating-point numbers (NaN/inf is an error in each).
FLOAT_FIELDS = ("normal_map", "item_to_view", "smpl_full_pose", "smpl_betas", "smpl_transl")
#: The stored names a decoded :class:`CorpusSample` needs (``semantic_volume`` expanded).
SAMPLE_NAMES = ("rgb", "semantic_map", "normal_map", "mask", "occupancy", "item_to_view", "smpl_full_pose",
                "smpl_betas", "smpl_transl", "semantic_volume")
_FIX = "delete the shard and synthesize its item again"


def sample_fields(grid: VolumeGrid, num_betas: int) -> dict[str, tuple[tuple, np.dtype]]:
    """Per-sample datasets of a shard: name -> (shape of one sample, stored dtype)."""
    h2, w2 = grid.normal_map_shape
    d, h, w = grid.shape
    return {
        "rgb": ((h2, w2, 3), np.uint8),
        "semantic_map": ((h2, w2, 3), np.uint8),
        "normal_map": ((h2, w2, 3), np.float16),
        "mask": ((h2, w2), np.uint8),
        "occupancy": (((d * h * w + 7) // 8,), np.uint8),
        "body_occupancy": (((d * h * w + 7) // 8,), np.uint8),
        "item_to_view": ((4, 4), np.float64),
        "smpl_full_pose": ((72,), np.float32),
        "smpl_betas": ((num_betas,), np.float32),
        "smpl_transl": ((3,), np.float32),
    }


def unpack_occupancy(packed: np.ndarray, grid: VolumeGrid) -> np.ndarray:
    """Bit-packed occupancy (as stored) -> (D, H, W) bool."""
    n = int(np.prod(grid.shape))
    return np.unpackbits(packed, count=n).astype(bool).reshape(grid.shape)


@dataclass
class ShardHeader:
    """What a shard holds, read and checked without reading the per-sample arrays.

    grid: the volume grid of its samples; num_samples: rows; num_betas: shape coefficients per
    sample; meta: one dict per sample (decoded ``meta_json``); offsets: (num_samples + 1,) int64
    rows of ``semantic_codes`` where each sample's body voxels start.
    """

    path: Path
    grid: VolumeGrid
    num_samples: int
    num_betas: int
    meta: list
    offsets: np.ndarray


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:160] if text else type(e).__name__


def open_shard_file(path: str | os.PathLike) -> h5py.File:
    """Open a shard read-only; InputError naming it when it is missing or not readable HDF5."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such corpus shard")
    try:
        return h5py.File(path, "r")
    except READ_ERRORS as e:
        raise InputError(path, f"not a readable HDF5 file ({_short(e)})", _FIX) from None


def read_shard_header(path: str | os.PathLike) -> ShardHeader:
    """Open ``path`` and check its schema, attributes and the presence, dtype and shape of every
    dataset. Raises InputError/SchemaError (one line: file, field, fix)."""
    path = Path(path)
    with open_shard_file(path) as f:
        try:
            return _header(f, path)
        except ThumanError:
            raise
        except READ_ERRORS as e:
            raise InputError(path, f"file structure unreadable (corrupt file: {_short(e)})", _FIX) from None


def _attr(f: h5py.File, path: Path, name: str):
    if name not in f.attrs:
        raise SchemaError(path, f"attribute '{name}'", f"missing; {_FIX}")
    return f.attrs[name]


def _header(f: h5py.File, path: Path) -> ShardHeader:
    schema = _attr(f, path, "schema")
    schema = schema.decode("utf-8") if isinstance(schema, bytes) else str(schema)
    if schema != CORPUS_SCHEMA:
        raise SchemaError(path, "attribute 'schema'", f"is {schema!r}, expected {CORPUS_SCHEMA!r}: not a corpus shard")
    version = np.asarray(_attr(f, path, "schema_version"))
    if version.shape != () or version.dtype.kind not in "iu" or int(version) != CORPUS_SCHEMA_VERSION:
        raise SchemaError(path, "attribute 'schema_version'", f"corpus schema version {version.tolist()!r}, this "
                          f"toolkit reads {CORPUS_SCHEMA_VERSION}; synthesize the corpus again")
    shape = np.asarray(_attr(f, path, "grid_shape"))
    if shape.shape != (3,) or shape.dtype.kind not in "iu" or (shape < 1).any() or (shape > 4096).any():
        raise SchemaError(path, "attribute 'grid_shape'", f"is {shape.tolist()!r}, expected 3 positive integers")
    grid = VolumeGrid.from_shape(shape)
    n = np.asarray(_attr(f, path, "num_samples"))
    if n.shape != () or n.dtype.kind not in "iu" or int(n) < 0:
        raise SchemaError(path, "attribute 'num_samples'", f"is {n.tolist()!r}, expected an integer >= 0")
    n = int(n)
    betas = _dataset(f, path, "smpl_betas")
    num_betas = betas.shape[1] if len(betas.shape) == 2 else -1
    if not 1 <= num_betas <= 300:
        raise SchemaError(path, "dataset 'smpl_betas'", f"shape {betas.shape}, expected ({n}, B) with 1 <= B <= 300")
    for name, (one, dtype) in sample_fields(grid, num_betas).items():
        _check(path, _dataset(f, path, name), name, (n,) + one, dtype)
    codes = _dataset(f, path, "semantic_codes")
    if len(codes.shape) != 2 or codes.shape[1] != 3 or codes.dtype != np.uint8:
        raise SchemaError(path, "dataset 'semantic_codes'", f"shape {codes.shape} {codes.dtype}, expected (M, 3) uint8")
    offsets = _dataset(f, path, "semantic_offsets")
    _check(path, offsets, "semantic_offsets", (n + 1,), np.int64)
    offsets = offsets[()]
    if offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != codes.shape[0]:
        raise SchemaError(path, "dataset 'semantic_offsets'",
                          f"not a non-decreasing list from 0 to {codes.shape[0]} (the code table's rows); {_FIX}")
    meta_ds = _dataset(f, path, "meta_json")
    if meta_ds.shape != (n,) or meta_ds.dtype.kind not in "SO":
        raise SchemaError(path, "dataset 'meta_json'", f"shape {meta_ds.shape} {meta_ds.dtype}, expected ({n},) strings")
    meta = []
    for r, raw in enumerate(meta_ds[()] if n else []):
        try:
            m = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise SchemaError(path, f"dataset 'meta_json' sample {r}", f"not JSON ({_short(e)}); {_FIX}") from None
        if not isinstance(m, dict):
            raise SchemaError(path, f"dataset 'meta_json' sample {r}", f"is {type(m).__name__}, expected a JSON object")
        meta.append(m)
    return ShardHeader(path, grid, n, num_betas, meta, offsets)


def _dataset(f: h5py.File, path: Path, name: str) -> h5py.Dataset:
    obj = f.get(name)
    if obj is None:
        raise SchemaError(path, f"dataset '{name}'", f"missing; {_FIX}")
    if not isinstance(obj, h5py.Dataset):
        raise SchemaError(path, f"dataset '{name}'", "is a group, expected a dataset")
    return obj


def _check(path: Path, ds: h5py.Dataset, name: str, shape: tuple, dtype) -> None:
    if ds.shape != tuple(shape) or ds.dtype != np.dtype(dtype):
        raise SchemaError(path, f"dataset '{name}'", f"shape {ds.shape} {ds.dtype}, expected "
                          f"{tuple(shape)} {np.dtype(dtype).name}; {_FIX}")


def read_row(f: h5py.File, header: ShardHeader, r: int, names, check_finite: bool = True) -> dict:
    """The stored arrays ``names`` of row ``r`` (quantised, bit-packed as on disk), except
    'semantic_volume', which is expanded to its dense (D, H, W, 3) uint8 form.

    Raises InputError naming the shard, the dataset and the row when a chunk is unreadable
    (checksum mismatch, truncation), and with ``check_finite`` SchemaError when a float field
    holds NaN or inf.
    """
    path, grid = header.path, header.grid
    out = {}
    for name in names:
        try:
            if name == "semantic_volume":      # dense uint8 (D, H, W, 3) from the sparse table
                body = unpack_occupancy(f["body_occupancy"][r], grid)
                lo, hi = header.offsets[r:r + 2]
                codes = f["semantic_codes"][lo:hi]
                if int(body.sum()) != len(codes):
                    raise SchemaError(path, f"dataset 'semantic_codes' sample {r}",
                                      f"{len(codes)} codes for {int(body.sum())} body voxels; {_FIX}")
                volume = np.zeros(grid.shape + (3,), np.uint8)
                volume[body] = codes
                out[name] = volume
            else:
                out[name] = f[name][r]
        except ThumanError:
            raise
        except READ_ERRORS as e:
            raise InputError(path, f"dataset '{name}' sample {r}",
                             f"unreadable (checksum mismatch or corrupt file: {_short(e)}); {_FIX}") from None
        if check_finite and name in FLOAT_FIELDS and not np.isfinite(out[name]).all():
            raise SchemaError(path, f"dataset '{name}' sample {r}", f"contains NaN or inf; {_FIX}")
    return out


def decode_sample(raw: dict, grid: VolumeGrid, meta: dict) -> CorpusSample:
    """The :data:`SAMPLE_NAMES` arrays of one row (as :func:`read_row` returns them) decoded into
    a :class:`CorpusSample` (float32 maps and volumes in [0, 1], bool mask and occupancy)."""
    return CorpusSample(
        rgb=raw["rgb"],
        semantic_map=raw["semantic_map"].astype(np.float32) / 255.0,
        normal_map=raw["normal_map"].astype(np.float32),
        mask=raw["mask"].astype(bool),
        occupancy=unpack_occupancy(raw["occupancy"], grid),
        semantic_volume=raw["semantic_volume"].astype(np.float32) / 255.0,
        item_to_view=raw["item_to_view"], smpl_full_pose=raw["smpl_full_pose"],
        smpl_betas=raw["smpl_betas"], smpl_transl=raw["smpl_transl"], meta=dict(meta))
