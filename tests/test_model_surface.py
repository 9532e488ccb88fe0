"""The method's surface (model/surface.py): a lower threshold inside the input body, used by eval
and reconstruct alike."""
import numpy as np
import pytest
import torch

from thuman.model import metrics, surface
from thuman.model.evaluate import score_sample
from thuman.model.testing_data import analytic_sample
from thuman_io.grid import VolumeGrid

TINY = VolumeGrid(16, 24, 16)


def test_plain_threshold_when_body_level_is_the_level_or_no_body():
    p = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32)
    body = p > 0.3
    assert np.array_equal(surface.surface_field(p, body, surface.LEVEL), p)
    assert np.array_equal(surface.surface_field(p, None, 0.1), p)


def test_weak_evidence_counts_inside_the_body_only():
    p = np.full((1, 1, 4), 0.2, np.float32)             # a thin limb the network is unsure of
    p[0, 0, 3] = 0.45
    body = np.array([[[True, True, False, False]]])
    occ = surface.surface_occupancy(p, body, body_level=0.1)
    assert occ.tolist() == [[[True, True, False, False]]]
    assert not surface.surface_occupancy(p, body, body_level=0.5).any()
    field = surface.surface_field(p, body, body_level=0.1)
    assert field[0, 0, 0] == pytest.approx(1.0) and field[0, 0, 3] == pytest.approx(0.45)
    # body_level 0: the union of the prediction with the body
    assert surface.surface_occupancy(np.zeros_like(p), body, 0.0).tolist() == body.tolist()
    with pytest.raises(ValueError):
        surface.surface_field(p, body, 0.7)


def test_a_binary_body_maps_to_itself():
    body = analytic_sample(TINY, 0).semantic_volume.max(-1) > 0
    occ = body.astype(np.float32)
    assert np.array_equal(surface.surface_field(occ, body, surface.BODY_LEVEL), occ)
    assert np.array_equal(surface.body_occupancy(analytic_sample(TINY, 0).semantic_volume), body)


def _batch(sample):
    def t(a):
        return torch.from_numpy(np.moveaxis(np.asarray(a, np.float32), -1, 0))[None]
    return {"occupancy": torch.from_numpy(sample.occupancy.astype(np.float32))[None, None],
            "semantic_volume": t(sample.semantic_volume), "mask": torch.from_numpy(sample.mask.astype(np.float32))[None, None],
            "normal_map": t(sample.normal_map)}


def test_eval_scores_the_method_surface():
    """A prediction that is unsure (p = 0.3) inside the body: eval counts the body at the default
    body_level and nothing at the plain 0.5."""
    s = analytic_sample(TINY, 1)
    body = s.semantic_volume.max(-1) > 0
    pred = {"occupancy": np.where(body, 0.3, 0.0).astype(np.float32), "normal_projected": None, "normal_refined": None}
    m = np.diag([1 / 1.8] * 3 + [1])
    guided = score_sample(pred, _batch(s), 0, TINY, m, 2)
    plain = score_sample(pred, _batch(s), 0, TINY, m, 2, body_level=surface.LEVEL)
    body_iou = metrics.iou_z_search(body, s.occupancy, 2)[0]
    assert guided["iou"] == pytest.approx(body_iou) and np.isfinite(guided["chamfer_cm"])
    assert plain["iou"] == 0.0 and np.isnan(plain["chamfer_cm"])
