"""The method's surface (model/surface.py): the loss's even odds outside the input body, a lower
threshold inside it, used by eval, reconstruct and training's validation alike."""
import numpy as np
import pytest
import torch

from thuman.model import metrics, surface
from thuman.model.config import RunConfig
from thuman.model.evaluate import score_sample
from thuman.model.losses import weighted_bce_logits
from thuman.model.testing_data import analytic_sample
from thuman_io.grid import VolumeGrid

TINY = VolumeGrid(16, 24, 16)
S = surface.SurfaceLevels


def test_plain_levels_leave_the_probability_as_it_is():
    p = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32)
    body = p > 0.3
    assert np.array_equal(surface.surface_field(p, body, surface.PLAIN), p)
    assert np.array_equal(surface.surface_field(p, None, S(0.5, 0.1)), p)


def test_the_field_crosses_its_level_exactly_at_each_threshold():
    p = np.linspace(0, 1, 101, dtype=np.float32).reshape(1, 1, -1)
    for levels in (S(0.7, 0.1), S(0.6, 0.0), S(0.8, 0.8)):
        out = surface.surface_field(p, None, levels)
        assert np.all(np.diff(out.ravel()) > 0) and out.min() >= 0 and out.max() <= 1
        assert np.array_equal(out >= surface.FIELD_LEVEL, p >= np.float32(levels.level))
        inside = surface.surface_field(p, np.ones(p.shape, bool), levels)
        assert np.array_equal(inside >= surface.FIELD_LEVEL, p >= np.float32(levels.body_level))


def test_even_odds_of_the_weighted_loss_is_gamma():
    """Eq. 7's minimiser for a voxel occupied half the time sits at s = gamma (numerically)."""
    for gamma in (0.5, 0.7, 0.9):
        logits = torch.linspace(-6, 6, 24001)
        loss = 0.5 * weighted_bce_logits(logits, torch.ones_like(logits), gamma) \
            + 0.5 * weighted_bce_logits(logits, torch.zeros_like(logits), gamma)
        s_star = torch.sigmoid(logits[loss.argmin()]).item()
        assert s_star == pytest.approx(surface.even_odds_level(gamma), abs=1e-3)


def test_network_levels_follow_the_run():
    cfg = RunConfig()
    assert surface.network_levels(cfg) == S(cfg.loss.gamma, surface.BODY_LEVEL)
    cfg.loss.gamma = 0.6
    cfg.net.representation = "joints"       # no body volume: one level
    assert surface.network_levels(cfg) == S(0.6, 0.6)
    with pytest.raises(ValueError):
        S(0.5, 0.7)


def test_weak_evidence_counts_inside_the_body_only():
    p = np.full((1, 1, 4), 0.2, np.float32)             # a thin limb the network is unsure of
    p[0, 0, 3] = 0.65
    body = np.array([[[True, True, False, False]]])
    occ = surface.surface_occupancy(p, body, S(0.7, 0.1))
    assert occ.tolist() == [[[True, True, False, False]]]
    assert not surface.surface_occupancy(p, body, S(0.7, 0.7)).any()
    assert surface.surface_occupancy(p, body, S(0.6, 0.1))[0, 0, 3]
    # body_level 0: the union of the prediction with the body
    assert surface.surface_occupancy(np.zeros_like(p), body, S(0.7, 0.0)).tolist() == body.tolist()


def test_a_binary_body_maps_to_itself():
    body = analytic_sample(TINY, 0).semantic_volume.max(-1) > 0
    occ = body.astype(np.float32)
    for levels in (S(0.7, surface.BODY_LEVEL), surface.PLAIN, S(0.7, 0.0)):
        assert np.array_equal(surface.surface_field(occ, body, levels), occ)
    assert np.array_equal(surface.body_occupancy(analytic_sample(TINY, 0).semantic_volume), body)


def _batch(sample):
    def t(a):
        return torch.from_numpy(np.moveaxis(np.asarray(a, np.float32), -1, 0))[None]
    return {"occupancy": torch.from_numpy(sample.occupancy.astype(np.float32))[None, None],
            "semantic_volume": t(sample.semantic_volume), "mask": torch.from_numpy(sample.mask.astype(np.float32))[None, None],
            "normal_map": t(sample.normal_map)}


def test_eval_scores_the_method_surface():
    """A prediction that is unsure (p = 0.3) inside the body: eval counts the body at the run's
    levels and nothing at the plain 0.5."""
    s = analytic_sample(TINY, 1)
    body = s.semantic_volume.max(-1) > 0
    pred = {"occupancy": np.where(body, 0.3, 0.0).astype(np.float32), "normal_projected": None, "normal_refined": None}
    m = np.diag([1 / 1.8] * 3 + [1])
    guided = score_sample(pred, _batch(s), 0, TINY, m, 2, surface.network_levels(RunConfig()))
    plain = score_sample(pred, _batch(s), 0, TINY, m, 2, surface.PLAIN)
    body_iou = metrics.iou_z_search(body, s.occupancy, 2)[0]
    assert guided["iou"] == pytest.approx(body_iou) and np.isfinite(guided["chamfer_cm"])
    assert plain["iou"] == 0.0 and np.isnan(plain["chamfer_cm"])
