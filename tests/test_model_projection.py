"""The volume-to-normal projection layer (eqs. 3-6) on volumes with known answers."""
import numpy as np
import torch

from thuman.model.projection import occupancy_to_depth, project_normals
from thuman.model.testing_data import analytic_sample
from thuman_io.grid import SMALL_GRID
from model_fixtures import one_torch_thread  # noqa: F401  (autouse)


def test_depth_is_the_first_occupied_index_and_m_on_empty_columns():
    occ = torch.zeros(1, 1, 8, 2, 2)
    occ[0, 0, 3:, 0, 0] = 1
    occ[0, 0, 5, 1, 1] = 1
    depth = occupancy_to_depth(occ)
    assert depth[0, 0].tolist() == [[3.0, 8.0], [8.0, 5.0]]


def test_slab_facing_the_camera_has_normal_plus_z():
    occ = torch.zeros(1, 1, 16, 12, 10)
    occ[:, :, 6:] = 1
    n = project_normals(occ, upsample=1)
    assert torch.allclose(n[0, :, 2:-2, 2:-2], torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1), atol=1e-6)


def test_tilted_plane_gives_the_analytic_normal():
    # depth index k = 10 + col  <=>  z = -x + const: the normal is (1, 0, 1) / sqrt(2)
    d, h, w = 40, 8, 20
    k = torch.arange(d).view(d, 1, 1)
    col = torch.arange(w).view(1, 1, w)
    occ = (k >= 10 + col).float().expand(d, h, w)[None, None]
    n = project_normals(occ, upsample=1)[0, :, 2:-2, 2:-2]
    expect = torch.tensor([1.0, 0.0, 1.0]) / 2 ** 0.5
    assert torch.allclose(n, expect.view(3, 1, 1), atol=1e-5)


def test_ellipsoid_normals_match_the_analytic_normal_map():
    s = analytic_sample(SMALL_GRID, 0)
    occ = torch.from_numpy(s.occupancy[None, None].astype(np.float32))
    n = project_normals(occ)[0].permute(1, 2, 0).numpy()
    assert n.shape == s.normal_map.shape
    inner = s.mask & (np.linalg.norm(n, axis=-1) > 0)
    cos = (n * s.normal_map).sum(-1)[inner]
    assert np.median(cos) > 0.98 and cos.mean() > 0.95
    assert (np.linalg.norm(n, axis=-1)[~s.mask] < 1e-6).mean() > 0.97    # background stays 0


def test_projection_is_differentiable():
    occ = torch.full((1, 1, 8, 6, 6), 0.2, requires_grad=True)
    with torch.no_grad():
        occ[:, :, 4:] = 0.9
    n = project_normals(occ)
    n[:, 0].sum().backward()
    assert occ.grad is not None and torch.isfinite(occ.grad).all() and occ.grad.abs().sum() > 0
