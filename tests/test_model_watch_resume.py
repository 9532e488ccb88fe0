"""Training you can watch and resume; the authors' code as switches."""
import json

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from thuman.model.checkpoint import read_checkpoint
from thuman.model.config import RunConfig, authors_config, small_config
from thuman.model.testing_data import write_analytic_corpus
from thuman.model.train import phase_at, read_validation, train
from thuman_io.grid import VolumeGrid
from model_fixtures import one_torch_thread  # noqa: F401  (autouse)

TINY = VolumeGrid(16, 24, 16)


@pytest.fixture(scope="module")
def three_subjects(tmp_path_factory):
    """12 analytic samples, 4 per subject: train, val and test get one subject each."""
    return write_analytic_corpus(tmp_path_factory.mktemp("corpus") / "c", TINY, 12)


def test_resume_keeps_the_saved_train_section(three_subjects, tmp_path):
    """A run started with non-default keys, interrupted, then resumed with one key on the
    command line: config.yaml keeps every saved key and changes that one only."""
    from thuman.cli.model_commands import train as train_cmd

    run = str(tmp_path / "run")
    first = ["train.stage1_steps=3", "train.stage2_steps=3", "train.num_workers=0", "train.lr=1e-3",
             "train.checkpoint_every=2", "train.val_every=2", "train.log_every=1", "loss.gamma=0.6"]
    r = CliRunner().invoke(train_cmd, [str(three_subjects), run, "--max-steps", "4", *first])
    assert r.exit_code == 0, r.output
    assert read_checkpoint(run)["step"] == 4
    r = CliRunner().invoke(train_cmd, [str(three_subjects), run, "--resume", "train.stage2_steps=5"])
    assert r.exit_code == 0, r.output
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["train"]["stage1_steps"] == 3 and saved["train"]["stage2_steps"] == 5
    assert saved["train"]["lr"] == 1e-3 and saved["train"]["checkpoint_every"] == 2
    assert saved["loss"]["gamma"] == 0.6
    assert read_checkpoint(run)["step"] == 8
    # The validation log continued across the resume: every 2 steps and the last one.
    rows = read_validation(run)
    assert [row["step"] for row in rows] == [2, 4, 6, 8]
    assert all(0.0 <= row["val/iou"] <= 1.0 and np.isfinite(row["val/loss"]) for row in rows)
    # stderr is no terminal here: the run printed status lines, with the validation figures
    assert "train: step 8/8" in r.output and "validation loss" in r.output


def test_validation_goes_to_tensorboard(three_subjects, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = small_config(stage1_steps=2, stage2_steps=2, num_workers=0, val_every=2, log_every=1)
    lines = []
    train(cfg, three_subjects, tmp_path / "run", status=lines.append)
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("val/iou")] == [2, 4]
    assert [e.step for e in acc.Scalars("val/loss")] == [2, 4]
    assert lines[0].startswith("train: ") and "validation 4 samples every 2 steps" in lines[0]
    assert any("validation loss" in line for line in lines)


def test_authors_schedule_trains_the_parts_of_each_phase(three_subjects, tmp_path):
    """Phase 1 leaves R as it was, phase 2 leaves G and H, phase 3 runs at the dropped lr."""
    cfg = authors_config(small_config(stage1_steps=2, stage2_steps=2, num_workers=0, val_every=0))
    assert (cfg.train.stage1_steps, cfg.train.stage2_steps, cfg.train.stage3_steps) == (1, 1, 2)
    assert [phase_at(s, cfg).number for s in range(4)] == [1, 2, 3, 3]
    assert phase_at(3, cfg).lr == pytest.approx(1e-5) and phase_at(0, cfg).lr == pytest.approx(1e-4)
    cfg.train.checkpoint_every = 1
    states = []
    for k in (1, 2):
        train(cfg, three_subjects, tmp_path / "run", resume=k > 1, max_steps=k, show_progress=False)
        states.append(read_checkpoint(tmp_path / "run")["model"])
    from thuman.model.deephuman import DeepHuman
    cfg.net.grid = TINY.shape
    torch.manual_seed(cfg.train.seed)       # as train() seeds the initial weights
    model = DeepHuman(cfg.net)
    init = model.state_dict()
    weights = {name for name, _ in model.named_parameters()}     # not BatchNorm's running means

    def changed(a, b, prefix):
        return any(not torch.equal(a[k], b[k]) for k in weights if k.startswith(prefix))
    assert changed(init, states[0], "H.") and changed(init, states[0], "G.")
    assert not changed(init, states[0], "R.")
    assert changed(states[0], states[1], "R.")
    assert not changed(states[0], states[1], "H.") and not changed(states[0], states[1], "G.")


def test_authors_switches_keep_table_1_shapes():
    """BatchNorm, 7-wide kernels and R's residual change the layers, not their output shapes."""
    from thuman.model.deephuman import DeepHuman
    from thuman_io.grid import SMALL_GRID

    paper = small_config()
    authors = authors_config(small_config())
    assert (authors.net.norm, authors.net.kernel, authors.net.refiner_residual) == ("batch", 7, True)
    assert (authors.loss.lambda_fs, authors.loss.lambda_ss, authors.loss.lambda_n) == (0.02, 0.02, 0.1)
    a, b = DeepHuman(paper.net), DeepHuman(authors.net)
    assert a.layer_shapes() == b.layer_shapes()
    assert any(isinstance(m, torch.nn.BatchNorm3d) for m in b.H.modules())
    assert b.H.encoder[0][0].kernel_size == (7, 7, 7) and b.G.layers[0][0].kernel_size == (7, 7)
    assert b.R.encoder[0][0].kernel_size == (4, 4)
    # R's residual: with R's weights zeroed the refined normals are the projected ones
    b.eval()
    for p in b.R.head.parameters():
        torch.nn.init.zeros_(p)
    d, h, w = SMALL_GRID.shape
    out = b(torch.rand(1, 3, 2 * h, 2 * w), torch.rand(1, 3, 2 * h, 2 * w), torch.rand(1, 3, d, h, w))
    assert torch.allclose(out.normal_refined, out.normal_projected)


def test_default_thread_count_is_the_measured_one():
    assert RunConfig().train.threads == 1


def test_bad_schedule_is_a_clear_error():
    from thuman.model.config import load_config
    from thuman_io.errors import InputError
    with pytest.raises(InputError, match="train.stage3_steps"):
        load_config(None, ["train.stage3_steps=5"])
    with pytest.raises(InputError, match="net.kernel"):
        load_config(None, ["net.kernel=5"])
