"""Bodies like an estimate: perturbed body fits, at training time and in `thuman eval`."""
import json

import numpy as np
import pytest
import torch

from model_fixtures import one_torch_thread  # noqa: F401  (autouse)


@pytest.fixture(scope="module")
def body_corpus(tmp_path_factory):
    """3 subjects x 1 item x 2 views on the small grid, made by the real synthesizer."""
    from thuman.synth.fixtures import make_body_item
    from thuman.synth.pipeline import SynthConfig, synthesize_item
    from thuman.synth.render.renderer import OrthoRenderer
    from thuman_io.corpus import CorpusWriter
    from thuman_io.grid import SMALL_GRID

    folder = tmp_path_factory.mktemp("perturb") / "corpus"
    renderer = OrthoRenderer(SMALL_GRID)
    try:
        for k in range(3):
            item = make_body_item(np.random.default_rng(10 + k), subject=f"s{k:03d}", garment_m=0.03)
            result = synthesize_item(item, SynthConfig(grid=SMALL_GRID, seed=0, views=2), renderer)
            with CorpusWriter(folder, SMALL_GRID, f"s{k:03d}") as w:
                for s in result.samples:
                    w.add(s)
    finally:
        renderer.close()
    return folder


def test_default_levels_match_published_fitting_errors():
    """Over 20 bodies the default perturbation is as far from the truth as SPIN on 3DPW
    (MPJPE 96.9 mm, PA-MPJPE 59.2 mm; docs/model.md): within 20 % of each."""
    from thuman.synth.body_perturb import DEFAULT_LEVELS, draw_perturbation, joint_errors_mm, perturbed_body
    from thuman.synth.body_prior import pose_params
    from thuman.synth.fixtures import make_body_item

    rows = []
    for k in range(20):
        item = make_body_item(np.random.default_rng(k))
        p = draw_perturbation(np.random.default_rng([1, k]), DEFAULT_LEVELS, 10)
        rows.append(joint_errors_mm(pose_params(item.smpl).joints, perturbed_body(item.smpl, p).joints))
    mpjpe = np.mean([r["mpjpe_mm"] for r in rows])
    pa = np.mean([r["pa_mpjpe_mm"] for r in rows])
    assert 0.8 * 96.9 < mpjpe < 1.2 * 96.9
    assert 0.8 * 59.2 < pa < 1.2 * 59.2


def test_zero_perturbation_is_the_oracle_body_and_draws_repeat():
    from thuman.synth.body_perturb import DEFAULT_LEVELS, draw_perturbation, joint_errors_mm, perturbed_body
    from thuman.synth.body_prior import pose_params
    from thuman.synth.fixtures import make_body_item

    item = make_body_item(np.random.default_rng(0))
    zero = draw_perturbation(np.random.default_rng(5), DEFAULT_LEVELS.scaled(0.0), 10)
    np.testing.assert_allclose(perturbed_body(item.smpl, zero).vertices, pose_params(item.smpl).vertices, atol=1e-5)
    a = draw_perturbation(np.random.default_rng([3, 4]), DEFAULT_LEVELS, 10)
    b = draw_perturbation(np.random.default_rng([3, 4]), DEFAULT_LEVELS, 10)
    assert np.array_equal(a.rotations, b.rotations) and a.scale == b.scale
    assert joint_errors_mm(np.eye(3), np.eye(3))["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-9)


def test_perturbed_dataset_is_deterministic_and_differs_from_the_stored_body(body_corpus):
    from thuman.model.data import CompactCorpusDataset
    from thuman.model.perturbed_inputs import PerturbedBodyDataset
    from thuman.synth.body_perturb import DEFAULT_LEVELS

    base = CompactCorpusDataset(body_corpus, "train")
    stored = base[0]
    test_a = PerturbedBodyDataset(base, DEFAULT_LEVELS, seed=0, mode="test")[0]
    test_b = PerturbedBodyDataset(CompactCorpusDataset(body_corpus, "train"), DEFAULT_LEVELS, seed=0, mode="test")[0]
    assert torch.equal(test_a["semantic_volume"], test_b["semantic_volume"])
    assert torch.equal(test_a["semantic_map"], test_b["semantic_map"])
    assert not torch.equal(test_a["semantic_volume"], stored["semantic_volume"])
    assert torch.equal(test_a["occupancy"], stored["occupancy"])          # the target stays
    never = PerturbedBodyDataset(base, DEFAULT_LEVELS, seed=0, prob=0.0)
    assert torch.equal(never[0]["semantic_volume"], stored["semantic_volume"]) and not never[0]["perturbed"]
    always = PerturbedBodyDataset(base, DEFAULT_LEVELS, seed=0, prob=1.0)
    n = len(base)
    e0, e1 = always[0], always[n]              # the same sample in epochs 0 and 1: other draws
    assert e0["perturbed"] and not torch.equal(e0["semantic_volume"], e1["semantic_volume"])


def test_training_with_perturbed_bodies_and_the_four_eval_methods(body_corpus, tmp_path):
    from click.testing import CliRunner

    from thuman.cli.model_commands import eval_
    from thuman.model.config import small_config
    from thuman.model.train import train

    cfg = small_config(stage1_steps=2, stage2_steps=1, num_workers=0, batch_size=2, perturb_prob=0.5, val_every=0)
    result = train(cfg, body_corpus, tmp_path / "run", show_progress=False)
    assert result.step == 3 and np.isfinite(result.last_losses["loss/total"])
    r = CliRunner().invoke(eval_, [str(tmp_path / "run"), "--corpus", str(body_corpus), "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert list(summary) == ["oracle body", "perturbed body", "DeepHuman, oracle body", "DeepHuman, perturbed body"]
    assert {s["num_samples"] for s in summary.values()} == {2}
    oracle, perturbed = summary["oracle body"]["metrics"], summary["perturbed body"]["metrics"]
    assert perturbed["iou"] < oracle["iou"]        # a fitted body is worse than the truth
    assert (tmp_path / "ev" / "DeepHuman-perturbed-body" / "sheet.png").is_file()


def test_joint_heat_map_network_trains_with_maps_built_on_the_device(body_corpus, tmp_path):
    """Table 3's input: the loader hands over 24 joint indices, the heat maps and volumes are
    built from them where the network runs, and equal the per-sample functions."""
    from thuman.model.config import small_config
    from thuman.model.data import decode_batch, prior_inputs
    from thuman.model.evaluate import evaluate
    from thuman.model.joint_heatmaps import joint_heat_volume, sample_joints_view
    from thuman.model.train import make_dataset, train

    cfg = small_config(stage1_steps=1, stage2_steps=1, num_workers=0, batch_size=2, val_every=0)
    cfg.net.representation = "joints"
    ds = make_dataset(body_corpus, cfg)
    batch = decode_batch(torch.utils.data.default_collate([ds[0], ds[1]]), ds.grid, "cpu")
    heat_map, heat_volume = prior_inputs(batch, "joints")
    assert heat_map.shape == (2, 24, 96, 64) and heat_volume.shape == (2, 24) + ds.grid.shape
    want = joint_heat_volume(sample_joints_view(ds.base.corpus, int(batch["index"][1])), ds.grid,
                             cfg.net.joint_sigma_voxels)
    np.testing.assert_allclose(heat_volume[1].numpy(), want, atol=1e-6)
    train(cfg, body_corpus, tmp_path / "joints", show_progress=False)
    report = evaluate(tmp_path / "joints", body_corpus, "test")
    assert report["representation"] == "joints" and np.isfinite(report["metrics"]["iou"])
