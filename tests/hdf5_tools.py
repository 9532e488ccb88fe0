"""Tools nobody here made that read HDF5 files: Debian's ``h5dump`` (package hdf5-tools, 1.10) and
h5py 3.8 in the second environment ``.venv-h5py-old`` (scripts/setup.d/h5py-old.sh).

Also :func:`write_v1_item`, which writes an item the way schema v1 did (newest file format, lzf),
to test that old files still read and migrate.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from second_envs import second_env_python


def h5dump() -> str:
    """Path of h5dump, or skip (fail under CI, where scripts/setup.sh installs hdf5-tools)."""
    path = shutil.which("h5dump")
    if path:
        return path
    message = "h5dump missing: apt-get install hdf5-tools (scripts/setup.sh does)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def h5dump_problems(path: Path) -> tuple[str, list[str]]:
    """Run ``h5dump`` on every dataset of ``path``; return (its output, problem lines)."""
    out = subprocess.run([h5dump(), str(path)], capture_output=True, text=True, timeout=300)
    problems = [line for line in (out.stdout + out.stderr).splitlines() if "ERROR" in line or "error" in line]
    if out.returncode != 0:
        problems.insert(0, f"h5dump exit status {out.returncode}")
    return out.stdout, problems


_OLD_READER = r"""
import json, sys, h5py, numpy as np
out = {"h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version, "datasets": {}, "attrs": {}}
with h5py.File(sys.argv[1], "r") as f:
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            a = obj[()]
            if a.dtype.kind in "OSU":
                out["datasets"][name] = [len(a), str(a.dtype.kind)]
            else:
                out["datasets"][name] = [list(a.shape), float(np.asarray(a, np.float64).sum())]
    f.visititems(visit)
    for k, v in f.attrs.items():
        out["attrs"][k] = v.decode() if isinstance(v, bytes) else np.asarray(v).tolist()
print(json.dumps(out))
"""


def read_with_old_h5py(path: Path) -> dict:
    """Read every dataset of ``path`` with h5py 3.8: {'datasets': {name: [shape, sum]}, ...}."""
    python = second_env_python("h5py-old")
    out = subprocess.run([str(python), "-c", _OLD_READER, str(path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, f"h5py 3.8 failed on {path}: {out.stderr.strip().splitlines()[-1:]}"
    return json.loads(out.stdout)


def dataset_sums(path: Path) -> dict:
    """What :func:`read_with_old_h5py` returns for numeric datasets, read here."""
    sums = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind not in "OSU":
                a = obj[()]
                sums[name] = [list(a.shape), float(np.asarray(a, np.float64).sum())]
        f.visititems(visit)
    return sums


def write_v1_item(source: Path, target: Path) -> None:
    """Copy the item file ``source`` into ``target`` in the schema v1 layout: ``libver='latest'``
    and lzf wherever v2 compresses, schema_version 1 (what toolkit 0.1 wrote before v2)."""
    with h5py.File(source, "r") as src, h5py.File(target, "w", libver="latest") as dst:
        def copy_attrs(a, b):
            for k, v in a.attrs.items():
                b.attrs[k] = v

        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                copy_attrs(obj, dst.require_group(name))
            else:
                ds = dst.create_dataset(name, data=obj[()], chunks=obj.chunks, fletcher32=obj.fletcher32,
                                        compression="lzf" if obj.compression else None,
                                        shuffle=obj.shuffle)
                copy_attrs(obj, ds)
        src.visititems(visit)
        copy_attrs(src, dst)
        dst.attrs["schema_version"] = 1
