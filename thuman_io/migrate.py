"""Rewrite items of older schema versions in the current layout (``thuman migrate``).

Item schema v1 and v2 hold the same fields; v1 files were written with the newest HDF5 file format
and the h5py-only lzf filter, which HDF5 1.10 tools, MATLAB and older h5py cannot read (see
``thuman_io.version``). Migration reads the item with this toolkit and writes it again through
``thuman_io.storage`` (atomically, over the same path), recording where it came from in
``meta.extra['migrated_from']``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from thuman_io.errors import InputError
from thuman_io.version import ITEM_SCHEMA_VERSION


@dataclass
class MigrationReport:
    """Paths rewritten, paths already current, and 'path: problem' lines of items that failed."""

    migrated: list = field(default_factory=list)
    current: list = field(default_factory=list)
    failed: list = field(default_factory=list)


def item_schema_version(path: str | os.PathLike) -> int:
    """The schema version of an item file (checks it is a readable item)."""
    from thuman_io.storage import open_item_file

    with open_item_file(path) as f:
        return int(f.attrs["schema_version"])


def migrate_item(path: str | os.PathLike) -> bool:
    """Rewrite one item file in the current schema version. Returns False when it already is.

    Raises InputError/SchemaError (naming the file) when the item cannot be read or is invalid;
    the file is then left as it was.
    """
    from thuman_io.storage import rewrite_item

    path = Path(path)
    version = item_schema_version(path)
    if version == ITEM_SCHEMA_VERSION:
        return False
    from thuman_io.storage import read_item

    item = read_item(path, frame=True)
    item.meta.extra = dict(item.meta.extra)
    item.meta.extra["migrated_from"] = {"schema_version": version,
                                        "toolkit_version": item.meta.toolkit_version}
    rewrite_item(path, item)
    return True


def item_files(path: str | os.PathLike) -> list[Path]:
    """The item files of an item path, a subject folder or a dataset folder (sorted)."""
    from thuman_io.dataset import is_subject_dir, open_dataset

    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(path, "no such file or directory")
    if is_subject_dir(path):
        return [r.path for r in open_dataset(path.parent).items(subject=path.name)]
    return [r.path for r in open_dataset(path).items()]


def migrate_path(path: str | os.PathLike,
                 progress: Callable[[Iterable], Iterable] = lambda it: it) -> MigrationReport:
    """Migrate every item under ``path`` (an item, a subject folder or a dataset folder)."""
    report = MigrationReport()
    for p in progress(item_files(path)):
        try:
            (report.migrated if migrate_item(p) else report.current).append(p)
        except InputError as e:
            report.failed.append(str(e))
    return report
