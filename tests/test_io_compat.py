"""Items and corpus shards read by HDF5 tools nobody here made: Debian's h5dump 1.10 and h5py 3.8
(HDF5 1.12) in a second environment. Schema v1 items (newest file format, lzf) still read here and
``thuman migrate`` rewrites them into v2."""
import h5py
import numpy as np
import pytest

from cli_runner import run_cli
from hdf5_tools import dataset_sums, h5dump_problems, read_with_old_h5py, write_v1_item
from thuman_io import SMALL_GRID, read_item, write_item
from thuman_io.corpus import CorpusWriter, open_corpus
from thuman_io.item_schema import FIELDS
from thuman_io.migrate import item_schema_version, migrate_item
from thuman_io.testing import make_synthetic_item
from thuman_io.validate import validate_item
from thuman_io.version import HDF5_LIBVER, ITEM_SCHEMA_VERSION
from test_corpus_storage import make_sample


@pytest.fixture
def item_file(tmp_path, rng):
    return write_item(tmp_path / "ds", make_synthetic_item(rng, "s01", 3))


@pytest.fixture
def shard_file(tmp_path, rng):
    with CorpusWriter(tmp_path / "corpus", SMALL_GRID, "s01_0003") as w:
        for v in range(2):
            w.add(make_sample(rng, view=v))
    return w.path


def _datasets(path):
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def test_item_uses_standard_filters_and_bounded_format(item_file):
    assert ITEM_SCHEMA_VERSION == 2 and HDF5_LIBVER == ("v110", "v110")
    with h5py.File(item_file, "r") as f:
        for spec in FIELDS:
            if spec.path in f:
                assert f[spec.path].compression in (None, "gzip"), spec.path


@pytest.mark.parametrize("kind", ["item", "shard"])
def test_h5dump_prints_every_dataset(kind, item_file, shard_file):
    path = item_file if kind == "item" else shard_file
    text, problems = h5dump_problems(path)
    assert problems == []
    for name in _datasets(path):
        assert f'DATASET "{name.split("/")[-1]}"' in text, name
    assert "DATA {" in text


@pytest.mark.parametrize("kind", ["item", "shard"])
def test_h5py_3_8_reads_every_dataset(kind, item_file, shard_file):
    path = item_file if kind == "item" else shard_file
    old = read_with_old_h5py(path)
    assert old["h5py"] == "3.8.0"
    here = dataset_sums(path)
    assert set(old["datasets"]) == set(_datasets(path))
    for name, (shape, total) in here.items():
        assert old["datasets"][name][0] == shape and old["datasets"][name][1] == pytest.approx(total), name


def test_v1_item_reads_validates_and_migrates(tmp_path, rng, capsys):
    item = make_synthetic_item(rng, "s02", 0)
    v2 = write_item(tmp_path / "new", item)
    old = tmp_path / "ds" / "s02" / "0000.h5"
    old.parent.mkdir(parents=True)
    write_v1_item(v2, old)
    assert item_schema_version(old) == 1
    with h5py.File(old, "r") as f:
        assert f["mesh/faces"].compression == "lzf"     # what older tools cannot decode
    assert validate_item(old) == []
    before = read_item(old)
    assert before.meta.schema_version == 1

    code, out, err = run_cli(["migrate", str(tmp_path / "ds")], capsys)
    assert code == 0 and "1 items rewritten" in out, (out, err)
    assert item_schema_version(old) == 2 and validate_item(old) == []
    after = read_item(old)
    assert after.meta.extra["migrated_from"]["schema_version"] == 1
    for name in ("vertices", "faces", "vertex_colors", "uv", "texture"):
        assert np.array_equal(getattr(after.mesh, name), getattr(before.mesh, name)), name
    assert np.array_equal(after.frame.depth_mm, before.frame.depth_mm)
    assert h5dump_problems(old)[1] == []
    assert migrate_item(old) is False                   # already current: untouched
    code, out, _ = run_cli(["migrate", str(old)], capsys)
    assert code == 0 and "0 items rewritten, 1 already current" in out


def test_migrate_refuses_a_damaged_item_and_leaves_it(tmp_path, capsys):
    bad = tmp_path / "ds" / "s03" / "0000.h5"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not hdf5 at all")
    code, out, err = run_cli(["migrate", str(tmp_path / "ds")], capsys)
    assert code == 1 and str(bad) in err and "1 failed" in out
    assert bad.read_bytes() == b"not hdf5 at all"


def test_shard_reads_back_after_libver_change(shard_file):
    c = open_corpus(shard_file.parent.parent)
    assert len(c) == 2 and c.sample(1).meta["view_index"] == 1
