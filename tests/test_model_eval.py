"""`thuman eval` and `thuman train` through the CLI on a generated corpus with a held-out split."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from thuman.cli.model_commands import eval_, train
from thuman.model import metrics
from thuman.model.testing_data import analytic_sample, write_analytic_corpus
from thuman_io.grid import SMALL_GRID, VolumeGrid
from model_fixtures import one_torch_thread, torch_threads  # noqa: F401  (autouse)

TINY = VolumeGrid(16, 24, 16)
EVERY_METRIC = ["iou", "iou_no_shift", "normal_without_refinement/cosine_distance",
                "normal_without_refinement/l2", "normal_with_refinement/cosine_distance",
                "normal_with_refinement/l2", "p2s_cm", "chamfer_cm"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """12 samples of 3 subjects: the split gives train, val and test one subject each."""
    root = tmp_path_factory.mktemp("eval")
    corpus = write_analytic_corpus(root / "corpus", TINY, 12)
    with torch_threads(1):
        result = CliRunner().invoke(train, [str(corpus), str(root / "run"), "--no-progress", "train.stage1_steps=20",
                                            "train.stage2_steps=10", "train.num_workers=0", "train.lr=1e-3"])
    assert result.exit_code == 0, result.output
    return corpus, root / "run"


def test_eval_reports_every_metric_on_the_held_out_split(trained, tmp_path):
    corpus, run = trained
    result = CliRunner().invoke(eval_, [str(run), "--corpus", str(corpus), "--split", "test", "--body", "oracle",
                                        "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["split"] == "test" and report["num_samples"] == 4
    train_items = {r["item_id"].split("/")[0] for r in report["per_sample"]}
    from thuman_io.corpus import open_corpus
    assert train_items.isdisjoint(open_corpus(corpus).split_subjects(0)["train"])
    for key in EVERY_METRIC:
        assert np.isfinite(report["metrics"][key]), key
    assert 0 <= report["metrics"]["iou"] <= 1 and report["metrics"]["iou"] >= report["metrics"]["iou_no_shift"]
    from PIL import Image
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size == (6 * 2 * TINY.width, 4 * 2 * TINY.height)


def test_oracle_body_baseline_needs_no_checkpoint(trained, tmp_path):
    corpus, _ = trained
    result = CliRunner().invoke(eval_, ["--baseline", "oracle-body", "--corpus", str(corpus), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    m = json.loads((tmp_path / "report.json").read_text())["metrics"]
    assert 0 < m["iou"] < 1 and "normal_with_refinement/l2" not in m


def test_iou_z_search_recovers_a_depth_shift():
    s = analytic_sample(SMALL_GRID, 3)
    moved = metrics.shift_depth(s.occupancy, -3)
    best, shift = metrics.iou_z_search(moved, s.occupancy, 4)
    assert shift == 3 and best == pytest.approx(1.0)
    assert metrics.iou(moved, s.occupancy) < 0.9
    assert metrics.iou_z_search(moved, s.occupancy, 2)[0] < 1.0


def test_mesh_distances_in_centimetres():
    s = analytic_sample(SMALL_GRID, 1)
    mesh = metrics.occupancy_mesh(s.occupancy, SMALL_GRID)
    assert metrics.mesh_distances_cm(mesh, mesh, 1.8)["chamfer_cm"] < 1e-4
    offset = (mesh[0] + [0.01, 0, 0], mesh[1])            # 0.01 units at 1.8 m/unit = 1.8 cm
    d = metrics.mesh_distances_cm(offset, mesh, 1.8)
    assert 0.3 < d["p2s_cm"] <= 1.8 + 1e-6
    assert metrics.metres_per_unit(np.diag([1 / 1.8] * 3 + [1])) == pytest.approx(1.8)
    import trimesh
    assert trimesh.Trimesh(*mesh, process=False).volume > 0       # outward winding


def test_normal_errors_of_table_4():
    n = np.zeros((2, 2, 3))
    n[..., 2] = 1
    mask = np.ones((2, 2), bool)
    assert metrics.normal_errors(n, n, mask) == {"cosine_distance": 0.0, "l2": 0.0}
    flipped = n.copy()
    flipped[0, 0] = [1, 0, 0]
    e = metrics.normal_errors(flipped, n, mask)
    assert e["cosine_distance"] == pytest.approx(0.25) and e["l2"] == pytest.approx(np.sqrt(2) / 4)


def test_training_validation_and_eval_share_the_surface(trained):
    """One surface for the network (model/surface.py): training's validation IoU and eval's
    no-shift IoU of the same checkpoint on the same split agree; with another threshold they
    would not (the tiny network's probabilities spread over (0, 1))."""
    import torch
    from thuman.model import surface
    from thuman.model.checkpoint import load_model
    from thuman.model.evaluate import evaluate
    from thuman.model.train import make_dataset, validation_scores
    corpus, run = trained
    cfg, model, _ = load_model(run)
    ds = make_dataset(corpus, cfg, "val")
    scores = validation_scores(model, ds, cfg, torch.device("cpu"), max_samples=len(ds))
    report = evaluate(run, corpus, split="val", max_shift=0)
    assert scores["val/iou"] == pytest.approx(report["metrics"]["iou_no_shift"], abs=1e-6)
    assert report["surface"] == {"level": cfg.loss.gamma, "body_level": surface.BODY_LEVEL}
    plain = evaluate(run, corpus, split="val", max_shift=0, levels=surface.PLAIN)
    assert plain["metrics"]["iou_no_shift"] != pytest.approx(scores["val/iou"], abs=1e-6)
