"""Corpus storage: sharded HDF5 files of :class:`~thuman_io.sample.CorpusSample` (docs/format-corpus.md).

Pure I/O: the synthesizer (``thuman.synth``) computes samples, this module writes and reads them.
Layout::

    CORPUS/shards/<shard_name>.h5     one file per shard (the synthesizer writes one per item)

Every per-sample dataset is stacked along axis 0 and chunked one sample per chunk, so a random
access decompresses exactly one sample. Storage choices (figures in docs/format-corpus.md):

* ``occupancy`` is bit-packed (``np.packbits`` over the C-ordered (D, H, W) volume), then gzip;
* ``semantic_volume`` is quantised to uint8 (code * 255) and stored sparsely: the body's voxels
  as a bit-packed ``body_occupancy`` plus their codes in C order, appended to one
  ``semantic_codes`` (M, 3) table with per-sample ``semantic_offsets``. Stored rather than
  recomputed in the loader (which needs the body model, a voxelization and a 4-NN query per
  body voxel); sparse rather than dense because the body fills ~2 % of the box, so gzip sees
  ~40x fewer bytes (bench/synth.py has the figures);
* ``semantic_map`` uint8 the same way, ``normal_map`` float16, ``rgb`` uint8, ``mask`` uint8.

Only gzip (built into every HDF5) is used and the file format is bounded by
``thuman_io.version.HDF5_LIBVER``, so readers need numpy and h5py only and HDF5 1.10 tools read
shards. Writes are atomic
(temporary file beside the shard, renamed by :meth:`CorpusWriter.close`), and deterministic: no
timestamps, attributes written in a fixed order, so the same samples give byte-identical shards.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from thuman_io.atomic import atomic_path
from thuman_io.errors import InputError, SchemaError
from thuman_io.grid import VolumeGrid
from thuman_io.sample import CorpusSample
from thuman_io.shard import (SAMPLE_NAMES, ShardHeader, decode_sample, open_shard_file, read_row,
                             read_shard_header, sample_fields, unpack_occupancy)  # noqa: F401
from thuman_io.version import CORPUS_SCHEMA, CORPUS_SCHEMA_VERSION, HDF5_LIBVER, TOOLKIT_VERSION

SHARD_DIR = "shards"
SPLITS = ("train", "val", "test")
_GZIP = 4
_CODE_CHUNK = 16384   # rows of the semantic code table per chunk (48 kB)


_fields = sample_fields   # the writer's name for the one table in thuman_io.shard


def _quantise_unit(x: np.ndarray) -> np.ndarray:
    """[0, 1] float -> uint8 (round to nearest 1/255)."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def check_sample_shapes(sample: CorpusSample, grid: VolumeGrid) -> None:
    """Raise ValueError naming the first field whose shape does not fit ``grid``."""
    h2, w2 = grid.normal_map_shape
    want = {"rgb": (h2, w2, 3), "semantic_map": (h2, w2, 3), "normal_map": (h2, w2, 3),
            "mask": (h2, w2), "occupancy": grid.shape, "semantic_volume": grid.shape + (3,),
            "item_to_view": (4, 4), "smpl_full_pose": (72,), "smpl_transl": (3,)}
    for name, shape in want.items():
        got = np.shape(getattr(sample, name))
        if tuple(got) != tuple(shape):
            raise ValueError(f"CorpusSample.{name} has shape {got}, the grid {grid.shape} needs {shape}")


class CorpusWriter:
    """Write samples into one shard, ``corpus_dir/shards/<shard_name>.h5``, atomically.

    ``add`` appends a sample; ``close`` finishes the file and moves it into place. Leaving a
    ``with`` block by an exception (or calling :meth:`abort`) leaves nothing behind.
    """

    def __init__(self, corpus_dir: str | os.PathLike, grid: VolumeGrid, shard_name: str):
        if not shard_name or "/" in shard_name or shard_name.startswith("."):
            raise ValueError(f"bad shard name {shard_name!r}")
        self.grid = grid
        self.path = Path(corpus_dir) / SHARD_DIR / f"{shard_name}.h5"
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        # track_order=False and no timestamps: the bytes depend on the samples only.
        self._file = h5py.File(tmp, "w", libver=HDF5_LIBVER, track_order=False)
        self._count = 0
        self._num_betas: int | None = None
        self._meta: list[str] = []
        self._offsets: list[int] = [0]
        self._closed = False

    def _create(self, num_betas: int) -> None:
        f = self._file
        for name, (shape, dtype) in _fields(self.grid, num_betas).items():
            big = int(np.prod(shape)) * np.dtype(dtype).itemsize > 4096
            # Fletcher-32 on every dataset: a flipped bit in a sample is an error on read, never a
            # silently different number (gzip alone leaves uncompressed fields unprotected).
            f.create_dataset(name, shape=(0,) + shape, maxshape=(None,) + shape, dtype=dtype,
                             chunks=(1,) + shape, compression="gzip" if big else None,
                             compression_opts=_GZIP if big else None, shuffle=big and np.dtype(dtype).itemsize > 1,
                             fletcher32=True, track_times=False)
        f.create_dataset("semantic_codes", shape=(0, 3), maxshape=(None, 3), dtype=np.uint8,
                         chunks=(_CODE_CHUNK, 3), compression="gzip", compression_opts=_GZIP,
                         fletcher32=True, track_times=False)
        self._num_betas = num_betas

    def add(self, sample: CorpusSample) -> int:
        """Append one sample; returns its index in this shard."""
        if self._closed:
            raise ValueError(f"{self.path}: writer already closed")
        check_sample_shapes(sample, self.grid)
        betas = np.asarray(sample.smpl_betas, dtype=np.float32).reshape(-1)
        if self._num_betas is None:
            self._create(len(betas))
        elif len(betas) != self._num_betas:
            raise ValueError(f"smpl_betas has {len(betas)} values, this shard holds {self._num_betas}")
        values = {
            "rgb": np.asarray(sample.rgb, dtype=np.uint8),
            "semantic_map": _quantise_unit(sample.semantic_map),
            "normal_map": np.asarray(sample.normal_map, dtype=np.float16),
            "mask": np.asarray(sample.mask, dtype=bool).astype(np.uint8),
            "occupancy": np.packbits(np.asarray(sample.occupancy, dtype=bool).reshape(-1)),
            "item_to_view": np.asarray(sample.item_to_view, dtype=np.float64),
            "smpl_full_pose": np.asarray(sample.smpl_full_pose, dtype=np.float32).reshape(72),
            "smpl_betas": betas,
            "smpl_transl": np.asarray(sample.smpl_transl, dtype=np.float32).reshape(3),
        }
        sv = np.asarray(sample.semantic_volume)
        # quantise the body's voxels only (~2 % of the box); per-channel tests are much faster
        # than a reduction over the short last axis
        body = (sv[..., 0] != 0) | (sv[..., 1] != 0) | (sv[..., 2] != 0)
        codes = _quantise_unit(sv[body])
        keep = codes.any(axis=1)                  # a code that rounds to 0 reads as "outside"
        if not keep.all():
            body[body] = keep
            codes = codes[keep]
        values["body_occupancy"] = np.packbits(body.reshape(-1))
        table = self._file["semantic_codes"]
        start = table.shape[0]
        table.resize(start + len(codes), axis=0)
        table[start:] = codes
        self._offsets.append(table.shape[0])
        i = self._count
        for name, value in values.items():
            ds = self._file[name]
            ds.resize(i + 1, axis=0)
            ds[i] = value
        self._meta.append(json.dumps(_jsonable(sample.meta), sort_keys=True))
        self._count += 1
        return i

    def close(self) -> Path:
        """Write the shard attributes and metadata, and move the file into place. Returns its path."""
        if self._closed:
            return self.path
        if self._num_betas is None:
            self._create(10)
        f = self._file
        offsets = np.array(self._offsets, dtype=np.int64)
        f.create_dataset("semantic_offsets", data=offsets, chunks=offsets.shape, fletcher32=True,
                         track_times=False)
        # Fixed-length UTF-8 rows, checksummed: variable-length strings would sit in HDF5's global
        # heap, which has no checksum (readers accept both; shards before this change used them).
        meta = np.array([m.encode("utf-8") for m in self._meta] or [b""], dtype=np.bytes_)[:len(self._meta)]
        f.create_dataset("meta_json", data=meta, maxshape=(None,), chunks=(max(len(meta), 1),),
                         fletcher32=True, track_times=False)
        f.attrs["schema"] = CORPUS_SCHEMA
        f.attrs["schema_version"] = CORPUS_SCHEMA_VERSION
        f.attrs["toolkit_version"] = TOOLKIT_VERSION
        f.attrs["grid_shape"] = np.array(self.grid.shape, dtype=np.int64)
        f.attrs["num_samples"] = self._count
        f.close()
        self._closed = True
        self._stack.close()
        return self.path

    def abort(self) -> None:
        """Discard the shard: nothing is written."""
        if self._closed:
            return
        self._file.close()
        self._closed = True
        self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __len__(self) -> int:
        return self._count

    def __enter__(self) -> "CorpusWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _jsonable(value):
    """Metadata -> plain JSON types (numpy scalars and arrays become numbers and lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def is_corpus_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a synthesized corpus: it has ``corpus.json``, or ``shards/`` holds files
    named like shards (``<subject>_<pose:04d>.h5``; a dataset's subject called 'shards' holds
    ``<pose:04d>.h5`` items instead)."""
    from thuman_io.corpus_manifest import MANIFEST
    from thuman_io.storage import ITEM_NAME_PATTERN

    root = Path(path)
    return (root / MANIFEST).is_file() or any(not ITEM_NAME_PATTERN.match(p.name) for p in shard_paths(root))


def shard_paths(corpus_dir: str | os.PathLike) -> list[Path]:
    """The finished shards of a corpus, sorted by name (temporary files are skipped)."""
    folder = Path(corpus_dir) / SHARD_DIR
    return sorted(p for p in folder.glob("*.h5") if not p.name.startswith("."))


class Corpus:
    """Random access over the samples of all shards of a corpus (see :func:`open_corpus`).

    Files are opened on demand and kept open per process, so a ``Corpus`` made before a
    ``fork`` holds no HDF5 handle until the child reads.
    """

    def __init__(self, corpus_dir: str | os.PathLike):
        self.root = Path(corpus_dir)
        paths = shard_paths(self.root)
        if not paths:
            raise InputError(self.root, f"no corpus shards in {SHARD_DIR}/; run `thuman synth` first")
        self._paths: list[Path] = []
        self._headers: list[ShardHeader] = []
        self._index: list[tuple[int, int]] = []   # sample -> (shard number, row)
        self._meta: list[dict] = []
        grid = None
        for p in paths:
            header = read_shard_header(p)
            if grid is None:
                grid = header.grid
            elif header.grid != grid:
                raise SchemaError(p, "attribute 'grid_shape'", f"grid {header.grid.shape} differs from the "
                                  f"corpus grid {grid.shape}; one corpus holds one grid")
            k = len(self._paths)
            self._paths.append(p)
            self._headers.append(header)
            self._index.extend((k, r) for r in range(header.num_samples))
            self._meta.extend(header.meta)
        self.grid = grid
        self._open: dict[int, h5py.File] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self._index)

    def _file(self, k: int) -> h5py.File:
        if self._pid != os.getpid():     # forked after opening: never share HDF5 handles
            self._open, self._pid = {}, os.getpid()
        f = self._open.get(k)
        if f is None:
            f = self._open[k] = open_shard_file(self._paths[k])
        return f

    def meta(self, i: int) -> dict:
        """The metadata of sample ``i`` (source item, subject, view angles, light, seed)."""
        return dict(self._meta[i])

    def location(self, i: int) -> tuple[Path, int]:
        """(shard path, row) of sample ``i``."""
        k, r = self._index[i]
        return self._paths[k], r

    def read_raw(self, i: int, names=None, check_finite: bool = True) -> dict[str, np.ndarray]:
        """The stored arrays of sample ``i`` as they are on disk (quantised, bit-packed), except
        'semantic_volume', which is expanded to its dense (D, H, W, 3) uint8 form.

        A damaged shard raises InputError naming the shard, dataset and row; NaN/inf in a float
        field raises SchemaError (unless ``check_finite`` is False, as the validator asks)."""
        if not 0 <= i < len(self._index):
            raise IndexError(f"sample {i} out of range (corpus has {len(self._index)})")
        k, r = self._index[i]
        f = self._file(k)
        names = names or [n for n in _fields(self.grid, 10)] + ["semantic_volume"]
        return read_row(f, self._headers[k], r, names, check_finite)

    def sample(self, i: int, check_finite: bool = True) -> CorpusSample:
        """Sample ``i`` decoded into a :class:`CorpusSample` (float32 maps and volumes)."""
        raw = self.read_raw(i, SAMPLE_NAMES, check_finite)
        return decode_sample(raw, self.grid, self.meta(i))

    def subjects(self) -> list[str]:
        """Sorted distinct subjects of the corpus."""
        return sorted({str(m.get("subject", "")) for m in self._meta})

    def split_subjects(self, seed: int = 0) -> dict[str, list[str]]:
        """Subjects of each split, by the dataset's rule (``thuman_io.dataset``): subjects ranked
        by a hash of (seed, subject id), 10 % test, 10 % val (each at least one from 3 subjects
        on), the rest train. A corpus split therefore equals the split of its source dataset.
        """
        from thuman_io.dataset import Dataset

        # Dataset.split_subjects needs only .subjects(); reuse it so the rule has one owner.
        return Dataset.split_subjects(_SubjectList(self.subjects()), seed)

    def split_indices(self, split: str, seed: int = 0) -> list[int]:
        """Sample indices of ``split`` ('train' | 'val' | 'test'); subjects never straddle splits."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        chosen = set(self.split_subjects(seed)[split])
        return [i for i, m in enumerate(self._meta) if str(m.get("subject", "")) in chosen]

    def close(self) -> None:
        for f in self._open.values():
            f.close()
        self._open = {}

    def __iter__(self) -> Iterator[CorpusSample]:
        for i in range(len(self)):
            yield self.sample(i)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_open"] = {}
        return state


class _SubjectList:
    def __init__(self, subjects: list[str]):
        self._subjects = subjects

    def subjects(self) -> list[str]:
        return self._subjects


def open_corpus(corpus_dir: str | os.PathLike) -> Corpus:
    """Open a corpus folder for random access. Raises InputError/SchemaError naming the shard."""
    return Corpus(corpus_dir)


class TorchCorpusDataset:
    """A PyTorch map-style dataset over one split of a corpus; safe in DataLoader workers.

    Items are dicts of float32 channel-first tensors: 'rgb' (3, 2H, 2W) in [0, 1],
    'semantic_map' (3, 2H, 2W), 'normal_map' (3, 2H, 2W), 'mask' (1, 2H, 2W),
    'occupancy' (1, D, H, W), 'semantic_volume' (3, D, H, W), and 'index' (int, corpus index).
    HDF5 files are opened lazily in the process that reads (each worker its own).
    """

    def __init__(self, corpus_dir: str | os.PathLike, split: str = "train", seed: int = 0):
        self.corpus = open_corpus(corpus_dir)
        self.grid = self.corpus.grid
        self.split = split
        self.indices = self.corpus.split_indices(split, seed)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> dict:
        import torch

        i = self.indices[j]
        s = self.corpus.sample(i)

        def image(a):   # (H, W, C) -> (C, H, W)
            return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0), dtype=np.float32))

        return {
            "rgb": image(s.rgb.astype(np.float32) / 255.0),
            "semantic_map": image(s.semantic_map),
            "normal_map": image(s.normal_map),
            "mask": torch.from_numpy(s.mask[None].astype(np.float32)),
            "occupancy": torch.from_numpy(s.occupancy[None].astype(np.float32)),
            "semantic_volume": image(s.semantic_volume),
            "index": i,
        }

