"""A THuman dataset directory: ``DATASET/<subject>/<pose:04d>.h5``.

The directory is scanned on every call, so a reader sees items another process adds while it
runs; dot-files (the hidden temporaries of atomic writes, ``.tmp-*``) are never listed, so a
half-written item is never visible. The train/val/test split is by subject and deterministic.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from thuman_io.errors import InputError
from thuman_io.item import Item
from thuman_io.storage import (ITEM_NAME_PATTERN, SUBJECT_PATTERN, corrupt_file_error, open_item_file,
                               read_item)

SPLITS = ("train", "val", "test")
#: Fractions of subjects in (val, test); the rest is train.
DEFAULT_HOLDOUT = (0.1, 0.1)


@dataclass(frozen=True)
class ItemRef:
    """A pointer to one item file; nothing is read until :meth:`load`."""

    path: Path
    subject: str
    pose_index: int

    def load(self, frame: bool = False) -> Item:
        """Read the item (without its RGB-D frame unless ``frame``)."""
        return read_item(self.path, frame=frame)

    @property
    def item_id(self) -> str:
        """'<subject>/<pose:04d>': stable id used to seed per-item randomness."""
        return f"{self.subject}/{self.pose_index:04d}"


@dataclass
class ItemHeader:
    """What ``info`` shows of one item, read without loading the arrays (bbox excepted).

    bbox_m: (2, 3) float64 min/max corner of the vertices in metres, or None if not requested.
    """

    path: Path
    subject: str
    pose_index: int
    n_vertices: int
    n_faces: int
    has_texture: bool
    has_vertex_colors: bool
    frame_shape: Optional[tuple]
    body_model: str
    gender: str
    device: str
    capture_time: str
    schema_version: int
    bbox_m: Optional[np.ndarray] = None


@dataclass
class DatasetSummary:
    """Counts and ranges over a set of items (``thuman info``)."""

    root: Path
    n_items: int
    items_per_subject: dict = field(default_factory=dict)
    n_frames: int = 0
    n_textured: int = 0
    vertices_range: tuple = (0, 0)
    faces_range: tuple = (0, 0)
    body_models: dict = field(default_factory=dict)
    bbox_m: Optional[np.ndarray] = None


class Dataset:
    """Items under one dataset directory. Use :func:`open_dataset`."""

    def __init__(self, root: Path):
        self.root = root

    def subjects(self) -> list[str]:
        """Subject ids (sorted) that have a folder."""
        return sorted(p.name for p in _listdir(self.root) if p.is_dir() and SUBJECT_PATTERN.match(p.name))

    def items(self, subject: str | None = None, pose: int | None = None) -> Iterator[ItemRef]:
        """Refs to the items, sorted by (subject, pose), optionally of one subject and/or pose index."""
        subjects = self.subjects() if subject is None else [str(subject)]
        for s in subjects:
            folder = self.root / s
            refs = []
            for p in _listdir(folder):
                m = ITEM_NAME_PATTERN.match(p.name)
                if m and p.is_file():
                    refs.append(ItemRef(p, s, int(m.group(1))))
            for ref in sorted(refs, key=lambda r: r.pose_index):
                if pose is None or ref.pose_index == int(pose):
                    yield ref

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __iter__(self) -> Iterator[ItemRef]:
        return self.items()

    def stray_files(self) -> list[Path]:
        """Visible files that do not fit the layout (dot-files and non-.h5 files are ignored)."""
        out = []
        for p in _listdir(self.root):
            if p.is_file() and p.suffix == ".h5":
                out.append(p)
            elif p.is_dir() and SUBJECT_PATTERN.match(p.name):
                out += [q for q in _listdir(p) if q.suffix == ".h5" and not ITEM_NAME_PATTERN.match(q.name)]
        return sorted(out)

    def split_subjects(self, seed: int = 0, holdout: tuple = DEFAULT_HOLDOUT) -> dict[str, list[str]]:
        """Deterministic subject split {'train': [...], 'val': [...], 'test': [...]}.

        Subjects are ranked by a hash of (seed, subject id), so the rank of a subject does not
        depend on which others exist; the first ``round(n * holdout[1])`` go to test, the next
        ``round(n * holdout[0])`` to val (each at least 1 when there are 3 or more subjects).
        """
        subjects = self.subjects()
        n = len(subjects)
        ranked = sorted(subjects, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
        n_val, n_test = (int(round(n * f)) for f in holdout)
        if n >= 3:
            n_val, n_test = max(1, n_val), max(1, n_test)
        test = sorted(ranked[:n_test])
        val = sorted(ranked[n_test:n_test + n_val])
        train = sorted(ranked[n_test + n_val:])
        return {"train": train, "val": val, "test": test}

    def split(self, split: str, seed: int = 0, holdout: tuple = DEFAULT_HOLDOUT) -> list[ItemRef]:
        """The item refs of ``split`` ('train' | 'val' | 'test'); see :meth:`split_subjects`."""
        if split not in SPLITS:
            raise InputError(self.root, f"split {split!r}", f"use one of {', '.join(SPLITS)}")
        refs = []
        for s in self.split_subjects(seed, holdout)[split]:
            refs += list(self.items(subject=s))
        return refs

    def summary(self, subject: str | None = None, bbox: bool = True) -> DatasetSummary:
        """Counts, mesh size ranges, body models and (``bbox``) the union bounding box."""
        out = DatasetSummary(root=self.root, n_items=0)
        nv, nf, lo, hi = [], [], [], []
        for ref in self.items(subject=subject):
            h = read_header(ref.path, bbox=bbox)
            out.n_items += 1
            out.items_per_subject[ref.subject] = out.items_per_subject.get(ref.subject, 0) + 1
            out.n_frames += h.frame_shape is not None
            out.n_textured += h.has_texture
            key = f"{h.body_model}/{h.gender}"
            out.body_models[key] = out.body_models.get(key, 0) + 1
            nv.append(h.n_vertices)
            nf.append(h.n_faces)
            if h.bbox_m is not None:
                lo.append(h.bbox_m[0])
                hi.append(h.bbox_m[1])
        if nv:
            out.vertices_range, out.faces_range = (min(nv), max(nv)), (min(nf), max(nf))
        if lo:
            out.bbox_m = np.stack([np.min(lo, axis=0), np.max(hi, axis=0)])
        return out


def open_dataset(root: str | os.PathLike) -> Dataset:
    """Open a dataset directory (it may be empty; it must exist)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset directory not found", "create it or pass another --dataset")
    return Dataset(root)


def is_subject_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a subject folder (holds <pose:04d>.h5 files itself)."""
    return Path(path).is_dir() and any(ITEM_NAME_PATTERN.match(p.name) for p in _listdir(Path(path)))


def read_header(path: str | os.PathLike, bbox: bool = True) -> ItemHeader:
    """Shapes and attributes of an item without loading its arrays (``bbox`` reads the vertices)."""
    path = Path(path)
    with open_item_file(path) as f:
        try:
            v = f["mesh/vertices"]
            meta, smpl = f["meta"].attrs, f["smpl"].attrs
            box = None
            if bbox and v.shape[0]:
                data = v[()].astype(np.float64)
                box = np.stack([data.min(axis=0), data.max(axis=0)])
            frame_shape = tuple(f["frame/color"].shape) if "frame/color" in f else None
            return ItemHeader(path=path, subject=_s(meta["subject"]), pose_index=int(meta["pose_index"]),
                              n_vertices=int(v.shape[0]), n_faces=int(f["mesh/faces"].shape[0]),
                              has_texture="mesh/texture" in f, has_vertex_colors="mesh/vertex_colors" in f,
                              frame_shape=frame_shape, body_model=_s(smpl["model"]), gender=_s(smpl["gender"]),
                              device=_s(meta["device"]), capture_time=_s(meta["capture_time"]),
                              schema_version=int(f.attrs["schema_version"]), bbox_m=box)
        except KeyError as e:
            if "Unable to" in str(e):
                raise corrupt_file_error(path, e) from None
            raise InputError(path, f"missing field ({e})", "run 'thuman validate' on it") from None
        except (OSError, RuntimeError, ValueError, TypeError) as e:
            raise corrupt_file_error(path, e) from None


def _s(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _listdir(folder: Path) -> list[Path]:
    """Visible entries of ``folder`` (dot-files skipped); empty if it vanished meanwhile."""
    try:
        return [folder / n for n in os.listdir(folder) if not n.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []
