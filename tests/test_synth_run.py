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


# --- refusals: writers that would damage data say so in one line and write nothing ---------------

def _refused(argv, capsys, *words):
    code = cli(argv)
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and err.startswith("thuman: error: "), err
    for w in words:
        assert w in err, (w, err)
    return err


def test_output_equal_to_or_inside_the_input_is_refused(tmp_path, body_model, capsys):
    data = make_dataset(tmp_path / "data", body_model, n_subjects=1, poses=1, bad=False)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    for out in (data, data / "corpus", data / "s000" / "x"):
        _refused(["synth", "--input", str(data), "--output", str(out), "--grid", "small"], capsys,
                 "input dataset", "--output outside")
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before
    assert validate_corpus(data) != [] and not (data / "shards").exists()


def test_corpus_as_input_and_missing_input_are_refused(tmp_path, body_model, capsys):
    data = make_dataset(tmp_path / "data", body_model, n_subjects=1, poses=1, bad=False)
    corpus = tmp_path / "corpus"
    assert not run_synthesis(data, corpus, SynthConfig(grid=SMALL_GRID)).failed
    _refused(["synth", "--input", str(corpus), "--output", str(tmp_path / "c2"), "--grid", "small"], capsys,
             "is a synthesized corpus", "--input")
    err = _refused(["synth", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "c3")], capsys,
                   "input dataset folder not found", "--input")
    assert "--dataset" not in err
    assert not (tmp_path / "c2").exists() and not (tmp_path / "c3").exists()


@pytest.mark.parametrize("flag,value,key", [("--seed", "1", "seed"), ("--grid", "paper", "grid_shape"),
                                            ("--views", "2", "views"), ("--pitch-range", "0.1", "pitch_range")])
def test_resume_with_another_recipe_is_refused(tmp_path, body_model, capsys, flag, value, key):
    data = make_dataset(tmp_path / "data", body_model, n_subjects=2, poses=1, bad=False)
    out = tmp_path / "corpus"
    base = ["synth", "--input", str(data), "--output", str(out), "--grid", "small", "--shard", "0/2"]
    assert cli(base) == 0
    before = digests(out)
    argv = ["synth", "--input", str(data), "--output", str(out), "--grid", "small", "--shard", "1/2", flag, value]
    _refused(argv, capsys, f"made with {key}", flag)
    assert digests(out) == before
    assert cli(base[:-2] + ["--shard", "1/2"]) == 0      # same recipe: resumes
    assert len(digests(out)) == 2 and validate_corpus(out) == []


def test_corpus_without_manifest_is_checked_against_its_shards(tmp_path, body_model, capsys):
    data = make_dataset(tmp_path / "data", body_model, n_subjects=2, poses=1, bad=False)
    out = tmp_path / "corpus"
    run_synthesis(data, out, SynthConfig(grid=SMALL_GRID, seed=5), shard=(0, 2))
    (out / "corpus.json").unlink()                        # as corpora made before the manifest
    with pytest.raises(InputError, match="made with seed 5, this run asks 6"):
        run_synthesis(data, out, SynthConfig(grid=SMALL_GRID, seed=6), shard=(1, 2))
    run_synthesis(data, out, SynthConfig(grid=SMALL_GRID, seed=5), shard=(1, 2))
    assert (out / "corpus.json").is_file() and validate_corpus(out) == []


def test_mixed_seeds_in_one_corpus_do_not_validate(tmp_path, body_model):
    data = make_dataset(tmp_path / "data", body_model, n_subjects=2, poses=1, bad=False)
    a, b = tmp_path / "a", tmp_path / "b"
    run_synthesis(data, a, SynthConfig(grid=SMALL_GRID, seed=0), shard=(0, 2))
    run_synthesis(data, b, SynthConfig(grid=SMALL_GRID, seed=1), shard=(1, 2))
    for p in shard_paths(b):
        p.rename(a / "shards" / p.name)                   # what two unguarded runs used to leave
    problems = validate_corpus(a)
    assert any("seed" in p and "mixes runs" in p for p in problems), problems


_HOLD_LOCK = """
import sys, time
from thuman_io.lock import exclusive_lock
with exclusive_lock(sys.argv[1], sys.argv[2], "x", shared=sys.argv[3] == "1"):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(folder, name, shared=False):
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(folder), name, "1" if shared else "0"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_second_writer_on_a_corpus_is_refused_and_a_killed_one_leaves_no_lock(tmp_path, body_model, capsys):
    import signal

    data = make_dataset(tmp_path / "data", body_model, n_subjects=2, poses=1, bad=False)
    out = tmp_path / "corpus"
    holder = _holder(out, "corpus")                       # a whole-corpus run in progress
    try:
        _refused(["synth", "--input", str(data), "--output", str(out), "--grid", "small"], capsys,
                 "being written by another process", f"pid {holder.pid}")
        _refused(["synth", "--input", str(data), "--output", str(out), "--grid", "small", "--shard", "0/2"],
                 capsys, "being written by another process")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert not shard_paths(out)
    slice_run = _holder(out, "corpus", shared=True), _holder(out, "shard-0-of-2")   # slice 0/2 running
    try:
        _refused(["synth", "--input", str(data), "--output", str(out), "--grid", "small", "--shard", "0/2"],
                 capsys, "slice 0/2")
        assert cli(["synth", "--input", str(data), "--output", str(out), "--grid", "small", "--shard", "1/2"]) == 0
    finally:
        for p in slice_run:
            p.send_signal(signal.SIGKILL)
            p.wait()
    # the killed holders' lock files remain but hold nothing: the next run goes ahead
    assert (out / ".lock-corpus").exists()
    assert cli(["synth", "--input", str(data), "--output", str(out), "--grid", "small"]) == 0
    assert len(shard_paths(out)) == 2 and validate_corpus(out) == []
