"""Losses eqs. 7-10 against hand-computed values."""
import math

import torch

from thuman.model.config import LossConfig
from thuman.model.deephuman import DeepHumanOutput
from thuman.model.losses import deephuman_loss, normal_loss, occupancy_loss, silhouette_loss
from model_fixtures import one_torch_thread  # noqa: F401  (autouse)


def test_weighted_bce_matches_eq_7():
    p = torch.tensor([0.9, 0.2, 0.6, 0.4]).view(1, 1, 1, 2, 2)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0]).view(1, 1, 1, 2, 2)
    g = 0.7
    expect = -(g * math.log(0.9) + (1 - g) * math.log(0.8) + (1 - g) * math.log(0.4) + g * math.log(0.4)) / 4
    got = occupancy_loss(torch.logit(p), t, g)
    assert abs(float(got) - expect) < 1e-6


def test_silhouettes_project_front_along_depth_and_side_along_x():
    occ = torch.zeros(1, 1, 4, 3, 5)
    occ[0, 0, 2, 1, 3] = 1
    logits = torch.where(occ > 0, torch.tensor(20.0), torch.tensor(-20.0))
    assert float(silhouette_loss(logits, occ, "front")) < 1e-6
    assert float(silhouette_loss(logits, occ, "side")) < 1e-6
    moved = torch.roll(logits, 1, dims=4)           # same side view, different front view
    assert float(silhouette_loss(moved, occ, "front")) > 1.0
    assert float(silhouette_loss(moved, occ, "side")) < 1e-6


def test_normal_loss_is_cosine_distance_over_the_mask():
    target = torch.zeros(1, 3, 2, 2)
    target[:, 2] = 1
    pred = target.clone() * 3.0                      # length does not matter
    pred[0, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])   # 90 degrees off: distance 1
    mask = torch.ones(1, 1, 2, 2)
    assert abs(float(normal_loss(pred, target, mask)) - 0.25) < 1e-6
    mask[0, 0, 0, 0] = 0
    assert float(normal_loss(pred, target, mask)) < 1e-6


def test_combined_loss_weights_and_batch_split_equivalence():
    """Eq. 10 with the paper's weights; two half batches average to the full batch (DDP)."""
    g = torch.Generator().manual_seed(0)
    b, d, h, w = 4, 4, 6, 4
    out = DeepHumanOutput(torch.randn(b, 1, d, h, w, generator=g), None, None,
                          torch.randn(b, 3, 2 * h, 2 * w, generator=g))
    occ = (torch.rand(b, 1, d, h, w, generator=g) > 0.5).float()
    normals = torch.randn(b, 3, 2 * h, 2 * w, generator=g)
    mask = (torch.rand(b, 1, 2 * h, 2 * w, generator=g) > 0.3).float()
    cfg = LossConfig()
    assert (cfg.gamma, cfg.lambda_fs, cfg.lambda_ss, cfg.lambda_n) == (0.7, 0.1, 0.1, 0.01)
    full = deephuman_loss(out, occ, normals, mask, cfg)
    expect = full.occupancy + 0.1 * full.front_silhouette + 0.1 * full.side_silhouette + 0.01 * full.normal
    assert torch.allclose(full.total, expect)
    halves = []
    for sl in (slice(0, 2), slice(2, 4)):
        part = DeepHumanOutput(out.occupancy_logits[sl], None, None, out.normal_refined[sl])
        halves.append(deephuman_loss(part, occ[sl], normals[sl], mask[sl], cfg).total)
    assert torch.allclose((halves[0] + halves[1]) / 2, full.total, atol=1e-6)
