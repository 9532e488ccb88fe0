"""Every tracking energy term's Jacobian against central finite differences of its residuals.

Body terms (``thuman.capture.tracking_energy``): depth data point-to-plane and point-to-point, over
the body alone with shape unknown and over body plus fused-surface targets with shape fixed, the
pose and shape priors and the temporal term. Node-graph terms (``thuman.capture.node_graph``):
as-rigid-as-possible regularisation and the binding of the nodes to the body, whose exact
(autograd) Jacobians the outer layer's solver uses.
"""
import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def bm():
    from thuman_io.body import load_body_model

    return load_body_model("open")


def _params(seed: int, fit_shape: bool):
    from thuman.capture.body_params import BodyParams

    rng = np.random.default_rng(seed)
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    return BodyParams(global_orient=t(rng.normal(size=3) * 1.2), body_pose=t(rng.normal(size=69) * 0.4),
                      transl=t([0.05, -0.1, -2.2]), betas=t(rng.normal(size=10) * 0.7), fit_shape=fit_shape)


def _fd_check(term, params, eps=1e-6, tol=1e-6):
    """Central differences of term(params).values in every column against term(params).jacobian."""
    res = term(params)
    x = params.vector()
    fd = torch.zeros_like(res.jacobian)
    for c in range(len(x)):
        dx = torch.zeros_like(x)
        dx[c] = eps
        fd[:, c] = (term(params.with_vector(x + dx)).values - term(params.with_vector(x - dx)).values) / (2 * eps)
    scale = float(res.jacobian.abs().max())
    assert scale > 0
    err = float((fd - res.jacobian).abs().max())
    assert err < tol * max(scale, 1.0), (err, scale)
    return res


def _model_and_data(bm, params, with_surface: bool, seed=1):
    from thuman.capture.body_tracking import BodyTracker, SurfaceTargets
    from thuman.capture.tracking_energy import Correspondences

    tr = BodyTracker(bm)
    nv = len(bm.rest_vertices)
    if with_surface:
        rng = np.random.default_rng(seed)
        pick = rng.choice(nv, 200, replace=False)
        rest_v, _ = tr.rest(params.betas.float().numpy())
        n = torch.as_tensor(rng.normal(size=(200, 3)))
        tr._surface = SurfaceTargets(rest_points=rest_v[pick] + 0.02, rest_normals=n / n.norm(dim=1, keepdim=True),
                                     weights=tr.weights[pick], body_mask=torch.ones(nv, dtype=torch.bool))
    model = tr.model_points(params)
    rng = np.random.default_rng(seed + 1)
    ids = torch.as_tensor(rng.choice(len(model.rest_points), 300, replace=False))
    if with_surface:
        ids[:50] = torch.arange(nv, nv + 50)  # surely some surface targets
    nrm = torch.as_tensor(rng.normal(size=(300, 3)))
    corr = Correspondences(model_ids=ids, targets=torch.as_tensor(rng.normal(size=(300, 3)) * 0.3) + params.transl,
                           normals=nrm / nrm.norm(dim=1, keepdim=True))
    return model, corr


@pytest.mark.parametrize("fit_shape,with_surface", [(True, False), (False, True)])
@pytest.mark.parametrize("name", ["point_to_plane", "point_to_point"])
def test_depth_data_terms_jacobian(bm, name, fit_shape, with_surface):
    from thuman.capture import tracking_energy

    params = _params(0, fit_shape)
    model, corr = _model_and_data(bm, params, with_surface)
    fn = getattr(tracking_energy, name)
    res = _fd_check(lambda p: fn(p, model, corr, weight=1.0, sigma_m=0.01, count=300), params)
    if fit_shape:  # the shape columns are not empty
        assert float(res.jacobian[:, params.layout.betas].abs().max()) > 1e-3


def test_prior_and_temporal_terms_jacobian():
    from thuman.capture.tracking_energy import pose_prior, shape_prior, temporal

    params, predicted = _params(2, True), _params(3, True)
    _fd_check(lambda p: pose_prior(p, 0.001), params)
    res = _fd_check(lambda p: shape_prior(p, 0.01), params)
    assert res.values.shape == (10,)
    res = _fd_check(lambda p: temporal(p, predicted, 0.5, 0.05), params)
    # the root's orientation is weighted apart from the body pose, translation in units of 10 cm
    lay = params.layout
    d = params.vector() - predicted.vector()
    assert torch.allclose(res.values[lay.orient], 0.05 ** 0.5 * d[lay.orient])
    assert torch.allclose(res.values[lay.transl], 0.5 ** 0.5 / 0.1 * d[lay.transl])


def test_layout_names_the_columns():
    from thuman.capture.body_params import ParamLayout

    lay = ParamLayout(10)
    assert lay.size == 85 and lay.columns("orient", "transl") == [0, 1, 2, 72, 73, 74]
    assert list(range(85))[lay.betas] == list(range(75, 85)) and ParamLayout().size == 75
    p = _params(4, False)
    assert p.with_vector(p.vector()).vector().equal(p.vector())


def test_solver_reaches_the_minimum_of_a_pure_data_energy(bm):
    """Gauss-Newton with the exact Jacobian on noiseless point-to-point data recovers the pose."""
    from thuman.capture.body_tracking import BodyTracker, solve_step
    from thuman.capture.tracking_energy import Correspondences, point_to_point

    tr = BodyTracker(bm)
    truth = _params(5, False)
    truth.betas = torch.zeros(10, dtype=torch.float64)
    truth.body_pose = truth.body_pose * 0.5
    model = tr.model_points(truth)
    ids = torch.arange(0, len(model.rest_points), 5)
    target, _ = model.posed(truth, ids)
    start = truth.with_vector(truth.vector() + 0.05 * torch.as_tensor(np.random.default_rng(6).normal(size=75)))
    p = start
    for _ in range(8):
        term = point_to_point(p, model, Correspondences(ids, target), 1.0, 0.01, len(ids))
        p = p.with_vector(p.vector() + solve_step([term], damping=1e-6))
    v, _ = model.posed(p, ids)
    assert float((v - target).norm(dim=1).max()) < 1e-6


def _graph():
    from thuman.capture.node_graph import build_graph, sample_nodes

    rng = np.random.default_rng(7)
    pts = rng.normal(size=(400, 3)) * 0.2
    nodes = sample_nodes(pts, 0.08)
    w = rng.random((400, 24)).astype(np.float32)
    g = build_graph(nodes, pts, w / w.sum(1, keepdims=True), 0.08)
    rot = torch.as_tensor(rng.normal(size=(g.num_nodes, 3)) * 0.2, dtype=torch.float64)
    tra = torch.as_tensor(rng.normal(size=(g.num_nodes, 3)) * 0.02, dtype=torch.float64)
    g.positions = g.positions.double()
    return g, rot, tra


@pytest.mark.parametrize("name", ["arap_residuals", "bind_residuals"])
def test_node_graph_terms_jacobian(name):
    from thuman.capture import node_graph

    g, rot, tra = _graph()
    fn = getattr(node_graph, name)
    f = lambda x: fn(g, x[: len(rot) * 3].reshape(-1, 3), x[len(rot) * 3:].reshape(-1, 3))  # noqa: E731
    x = torch.cat([rot.reshape(-1), tra.reshape(-1)])
    jac = torch.func.jacrev(f)(x)
    eps = 1e-6
    for c in np.random.default_rng(8).choice(len(x), 40, replace=False):
        dx = torch.zeros_like(x)
        dx[c] = eps
        fd = (f(x + dx) - f(x - dx)) / (2 * eps)
        assert float((fd - jac[:, c]).abs().max()) < 1e-7
    assert float(jac.abs().max()) > 0.01
    if name == "arap_residuals":  # the energy the solver uses is the mean square of these residuals
        e = node_graph.arap_energy(g, rot, tra)
        assert float(e) == pytest.approx(float((f(x) ** 2).sum() / (g.neighbours.numel())), rel=1e-9)
