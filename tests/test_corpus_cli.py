"""`thuman validate PATH` and `thuman info PATH` recognise an item, a dataset, a shard, a corpus and
a recording, and check each (NaN included)."""
import h5py
import numpy as np
import pytest

from cli_runner import run_cli
from test_corpus_damage import write_shard
from thuman_io import write_item
from thuman_io.kinds import path_kind
from thuman_io.recording import RecordedFrame, RecordingHeader, RecordingWriter
from thuman_io.testing import make_synthetic_item


def _recording(path, rng, frames=3):
    k = np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]])
    with RecordingWriter(path, RecordingHeader(width=64, height=48, fps=30, K=k, source="sim")) as w:
        for i in range(frames):
            w.add(RecordedFrame(index=i, timestamp_us=33333 * i,
                                color=rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
                                depth_mm=rng.integers(500, 3000, (48, 64), dtype=np.uint16)))
    return path


def test_kinds_are_recognised(tmp_path, rng):
    item = write_item(tmp_path / "ds", make_synthetic_item(rng, "s01", 0))
    shard = write_shard(tmp_path / "corpus", rng)
    rec = _recording(tmp_path / "a.threc", rng)
    assert [path_kind(p) for p in (item, item.parent, tmp_path / "ds", shard, tmp_path / "corpus", rec)] == \
        ["item", "subject", "dataset", "shard", "corpus", "recording"]
    shard_copy = tmp_path / "c2" / "shards" / "x.h5"
    shard_copy.parent.mkdir(parents=True)
    shard_copy.write_bytes(b"garbage")                     # too damaged to read: known by its place
    assert path_kind(shard_copy) == "shard"


def test_validate_and_info_on_a_corpus(tmp_path, rng, capsys):
    corpus = tmp_path / "corpus"
    shard = write_shard(corpus, rng, views=3)
    write_shard(corpus, rng, name="s02_0000", subject="s02")
    code, out, err = run_cli(["validate", str(corpus)], capsys)
    assert code == 0 and out.strip() == f"{corpus}: corpus of 2 shards valid", out + err
    code, out, _ = run_cli(["validate", str(shard)], capsys)
    assert code == 0 and out.strip() == f"{shard}: valid shard"
    code, out, _ = run_cli(["info", str(corpus)], capsys)
    assert code == 0 and "shards    2" in out and "samples   5" in out and "grid      32x48x32" in out
    assert "subjects  2" in out and "seed      0" in out
    code, out, _ = run_cli(["info", str(shard)], capsys)
    assert code == 0 and "samples   3" in out and "subjects  s01" in out

    with h5py.File(shard, "r+") as f:
        a = f["item_to_view"][2]
        a[0, 3] = np.nan
        f["item_to_view"][2] = a
    code, out, _ = run_cli(["validate", str(corpus)], capsys)
    lines = out.strip().splitlines()
    assert code == 1 and lines == [f"{shard}: sample 2: field 'item_to_view': 1 values are NaN or inf"]
    del_ok = h5py.File(shard, "r+")
    del del_ok["rgb"]
    del_ok.close()
    code, out, _ = run_cli(["validate", str(corpus)], capsys)
    assert code == 1 and out.strip() == f"{shard}: dataset 'rgb': missing; delete the shard and synthesize its item again"
    code, out, err = run_cli(["info", str(corpus)], capsys)
    assert code == 1 and err.strip().startswith(f"thuman: error: {shard}: dataset 'rgb': missing")


def test_validate_and_info_on_a_recording(tmp_path, rng, capsys):
    rec = _recording(tmp_path / "a.threc", rng)
    code, out, _ = run_cli(["validate", str(rec)], capsys)
    assert code == 0 and out.strip() == f"{rec}: valid recording"
    code, out, _ = run_cli(["info", str(rec)], capsys)
    assert code == 0 and "frames    3 (64x48 at 30 fps)" in out and "closed" in out
    data = rec.read_bytes()
    rec.write_bytes(data[:-40])
    code, out, _ = run_cli(["validate", str(rec)], capsys)
    assert code == 1 and "truncated" in out and "last good frame" in out and len(out.strip().splitlines()) == 1


def test_item_validator_reports_nan_in_reference_pose(tmp_path, rng, capsys):
    item = write_item(tmp_path / "ds", make_synthetic_item(rng, "s01", 0))
    with h5py.File(item, "r+") as f:
        a = f["meta/reference_pose"][()]
        a[5] = np.inf
        f["meta/reference_pose"][...] = a
    code, out, _ = run_cli(["validate", str(tmp_path / "ds")], capsys)
    assert code == 1 and out.strip() == f"{item}: field 'meta/reference_pose': contains NaN or inf"


def test_items_are_not_written_into_a_corpus(tmp_path, rng, capsys):
    from thuman_io.errors import InputError

    corpus = tmp_path / "corpus"
    write_shard(corpus, rng)
    before = sorted(p.name for p in corpus.rglob("*"))
    with pytest.raises(InputError, match="is a synthesized corpus, not a THuman dataset"):
        write_item(corpus, make_synthetic_item(rng, "s01", 0))
    mesh = tmp_path / "m.obj"
    mesh.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    params = tmp_path / "p.json"
    params.write_text('{"betas": [0,0,0,0,0,0,0,0,0,0], "pose": %s}' % ([0] * 72))
    code, _, err = run_cli(["import", str(mesh), "--smpl", str(params), "--dataset", str(corpus),
                            "--subject", "s01", "--pose", "0"], capsys)
    assert code == 1 and "is a synthesized corpus" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in corpus.rglob("*")) == before
    # a dataset whose subject is called 'shards' is still a dataset
    ds = tmp_path / "ds"
    write_item(ds, make_synthetic_item(rng, "shards", 0))
    assert path_kind(ds) == "dataset"
