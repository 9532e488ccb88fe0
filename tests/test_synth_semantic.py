"""The semantic volume (thuman.synth.semantic_volume) against a brute-force reference."""
import numpy as np
import pytest

from thuman.synth.occupancy import occupancy
from thuman.synth.semantic_volume import SIGMA, nearest_vertices, semantic_volume
from thuman_io.grid import SMALL_GRID


def brute_force_nearest(points, vertices, k):
    d = np.linalg.norm(points[:, None, :] - vertices[None, :, :], axis=-1)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, axis=1), idx


def test_nearest_vertices_are_exact():
    rng = np.random.default_rng(0)
    vertices = rng.uniform(-0.3, 0.3, (2000, 3))
    points = rng.uniform(-0.35, 0.35, (3000, 3))
    d, idx = nearest_vertices(points, vertices, 4)
    d_ref, idx_ref = brute_force_nearest(points, vertices, 4)
    assert idx.dtype == np.int64 and idx.shape == (3000, 4)
    assert np.array_equal(idx, idx_ref)
    assert np.allclose(d, d_ref, atol=1e-12)


def test_nearest_vertices_same_with_scipy():
    """pykdtree (when installed) and scipy's cKDTree find the same neighbours."""
    pytest.importorskip("pykdtree")
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(1)
    vertices = rng.normal(0, 0.2, (5000, 3))
    points = rng.normal(0, 0.2, (20000, 3))
    d, idx = nearest_vertices(points, vertices, 4)
    d_ref, idx_ref = cKDTree(vertices).query(points, k=4)
    assert np.array_equal(idx, idx_ref) and np.allclose(d, d_ref, atol=1e-12)


def test_semantic_volume_matches_brute_force():
    from tests.test_synth_occupancy import uv_sphere

    g = SMALL_GRID
    v, f = uv_sphere(0.25, np.array([0.02, -0.04, 0.01]), 16, 32)
    codes = (v - v.min(0)) / np.ptp(v, axis=0)
    volume, occ = semantic_volume(v, f, codes, g)
    assert np.array_equal(occ.volume, occupancy(v, f, g).volume) and occ.volume.sum() > 500
    assert not volume[~occ.volume].any()
    centres = g.index_to_view(np.argwhere(occ.volume) + 0.5)
    d, idx = brute_force_nearest(centres, v, 4)
    w = np.exp(-(d ** 2 - d[:, :1] ** 2) / SIGMA ** 2)
    ref = (w[..., None] * codes[idx]).sum(1) / w.sum(1, keepdims=True)
    assert np.abs(volume[occ.volume] - ref).max() < 1e-6
