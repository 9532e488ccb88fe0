"""`thuman synth` runs (thuman.synth.run, cli/synth_command.py): resume, failures, shards, determinism."""
import hashlib

import numpy as np
import pytest

from thuman.synth.fixtures import make_body_item
from thuman.synth.pipeline import SynthConfig
from thuman.synth.run import parse_shard, run_synthesis, select_items
from thuman_io import InputError
from thuman_io.corpus import open_corpus, shard_paths
from thuman_io.corpus_validate import validate_corpus
from thuman_io.grid import PAPER_GRID, SMALL_GRID
from thuman_io.storage import write_item


@pytest.fixture(scope="module")
def body_model():
    from thuman_io.body import load_body_model

    return load_body_model("open")


def make_dataset(root, body_model, n_subjects=2, poses=2, bad=True, subdivisions=0):
    rng = np.random.default_rng(11)
    for s in range(n_subjects):
        for p in range(poses):
            write_item(root, make_body_item(rng, f"s{s:03d}", p, body_model, subdivisions=subdivisions))
    if bad:   # a mesh in millimetres: must fail with its id and leave nothing behind
        item = make_body_item(rng, "s999", 0, body_model, subdivisions=0)
        item.mesh.vertices = item.mesh.vertices * 1000
        write_item(root, item)
    return root


def digests(corpus):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in shard_paths(corpus)}


def cli(argv):
    from thuman.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(argv)
        raise SystemExit(0)
    return e.value.code


def test_cli_run_lists_failures_and_resumes(tmp_path, body_model, capsys):
    data = make_dataset(tmp_path / "data", body_model)
    out = tmp_path / "corpus"
    code = cli(["synth", "--input", str(data), "--output", str(out), "--grid", "small", "--preview"])
    err = capsys.readouterr().err
    assert code == 1
    assert "s999/0000" in err and "m across" in err
    names = sorted(p.name for p in shard_paths(out))
    assert names == ["s000_0000.h5", "s000_0001.h5", "s001_0000.h5", "s001_0001.h5"]
    assert sorted(p.name for p in (out / "preview").iterdir()) == [n.replace(".h5", ".png") for n in names]
    assert validate_corpus(out) == []
    corpus = open_corpus(out)
    assert len(corpus) == 16 and corpus.grid == SMALL_GRID
    before = digests(out)
    code = cli(["synth", "--input", str(data), "--output", str(out), "--grid", "small"])
    captured = capsys.readouterr()
    assert code == 1 and "4 skipped" in captured.out
    assert digests(out) == before


def test_same_seed_identical_shards_with_any_jobs_and_shard_slices(tmp_path, body_model):
    data = make_dataset(tmp_path / "data", body_model, n_subjects=3, poses=1, bad=False)
    config = SynthConfig(grid=SMALL_GRID, seed=9)
    one = run_synthesis(data, tmp_path / "a", config, jobs=1)
    assert len(one.done) == 3 and not one.failed
    two = run_synthesis(data, tmp_path / "b", config, jobs=2)
    assert len(two.done) == 3
    for k in range(2):   # the same corpus from two machines' slices
        run_synthesis(data, tmp_path / "c", config, shard=(k, 2))
    assert digests(tmp_path / "a") == digests(tmp_path / "b") == digests(tmp_path / "c")
    run_synthesis(data, tmp_path / "d", SynthConfig(grid=SMALL_GRID, seed=10))
    assert digests(tmp_path / "d") != digests(tmp_path / "a")


def test_shard_slices_partition_the_items(tmp_path, body_model):
    data = make_dataset(tmp_path / "data", body_model, n_subjects=3, poses=2, bad=False)
    every = select_items(data)
    parts = [select_items(data, (k, 4)) for k in range(4)]
    assert sorted(sum(parts, [])) == sorted(every) and sum(len(p) for p in parts) == len(every)
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "a/b", "1"):
        with pytest.raises(InputError, match="--shard"):
            parse_shard(bad)


@pytest.mark.slow
def test_twenty_items_give_eighty_valid_samples_at_full_resolution(tmp_path, body_model):
    data = make_dataset(tmp_path / "data", body_model, n_subjects=5, poses=4, bad=False, subdivisions=1)
    report = run_synthesis(data, tmp_path / "corpus", SynthConfig(grid=PAPER_GRID), jobs=2)
    assert len(report.done) == 20 and not report.failed
    corpus = open_corpus(tmp_path / "corpus")
    assert len(corpus) == 80
    assert validate_corpus(tmp_path / "corpus") == []
