"""Body tracking (inner layer), the node graph (outer layer), skinning transforms, segmentation."""
import numpy as np
import pytest
import torch

from capture_fixtures import TurningBodySource


@pytest.fixture(scope="module")
def bm():
    from thuman_io.body import load_body_model

    return load_body_model("open")


def test_canonical_to_live_reproduces_the_body_model(bm):
    """Skinning the canonical body with the joint maps M_j gives the body model's live pose."""
    from thuman.capture.warp import apply, blend, body_skinning_weights, canonical_to_live

    rng = np.random.default_rng(1)
    betas = rng.normal(size=(1, 10)).astype(np.float32) * 0.5
    p0 = (rng.normal(size=72) * 0.2).astype(np.float32)
    p1 = (rng.normal(size=72) * 0.3).astype(np.float32)
    t0, t1 = np.array([0, 0.1, -2.0], np.float32), np.array([0.2, 0.0, -2.3], np.float32)
    rest = bm.forward(betas)
    v0 = bm.forward(betas, p0[None, :3], p0[None, 3:], t0[None]).vertices[0]
    v1 = bm.forward(betas, p1[None, :3], p1[None, 3:], t1[None]).vertices[0]
    w = body_skinning_weights(bm)
    t = lambda a: torch.as_tensor(np.asarray(a, np.float32))
    M = canonical_to_live(t(rest.joints[0]), bm.parents, t(p0), t(t0), t(p1), t(t1))
    live = apply(blend(M, t(w)), t(v0)).numpy()
    # LBS is not exactly invertible per joint, so blending the relative maps is close, not exact.
    err = np.linalg.norm(live - v1, axis=1)
    assert np.median(err) < 0.005 and np.quantile(err, 0.99) < 0.03


def test_lbs_jacobian_path_matches_body_model(bm):
    from thuman.capture.body_tracking import BodyTracker
    from thuman.capture.warp import rest_to_posed_batch, skin_vertices

    tr = BodyTracker(bm)
    betas = np.zeros(10, np.float32)
    rest_v, rest_j = tr.rest(betas)
    pose = torch.as_tensor(np.random.default_rng(0).normal(size=(1, 72)) * 0.3)
    v = skin_vertices(rest_v, tr.weights, rest_to_posed_batch(rest_j, bm.parents, pose))[0].numpy()
    ref = bm.forward(betas[None], pose[:, :3].numpy(), pose[:, 3:].numpy()).vertices[0]
    assert np.abs(v - ref).max() < 1e-4  # the open model has no pose blend shapes


def test_body_tracker_follows_a_turning_body(bm):
    from thuman.capture.body_tracking import BodyTracker
    from thuman.capture.fusion import DoubleFusion, FusionConfig

    src = TurningBodySource(bm, fps=4, turn_s=4.0, total_s=2.0, turn_rad=np.pi / 2)
    fus = DoubleFusion(bm, FusionConfig(voxel_size_m=0.03))
    errs = []
    for frame in src:
        fus.process(frame, fuse=False)
        errs.append(np.linalg.norm(fus.body.joints - frame.ground_truth.joints, axis=1).mean())
    assert max(errs) < 0.04, errs  # metres; the 1 cm "clothing" biases the fit slightly outward
    assert abs(fus.body.global_orient[1] - frame.ground_truth.smpl.global_orient[1]) < 0.1
    assert fus.body.residual_m < 0.015


def test_node_graph_identity_and_rigidity():
    from thuman.capture.node_graph import arap_energy, build_graph, node_transforms, point_weights, sample_nodes, warp_points
    from thuman.capture.warp import rodrigues

    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.5, 0.5, (4000, 3)).astype(np.float32)
    nodes = sample_nodes(pts, 0.1)
    d = np.linalg.norm(nodes[:, None] - nodes[None], axis=-1) + np.eye(len(nodes))
    assert d.min() >= 0.1 - 1e-6 and 200 < len(nodes) < 1000
    g = build_graph(nodes, pts, np.full((len(pts), 24), 1 / 24, np.float32), 0.1)
    eye = torch.eye(4).expand(24, 4, 4)
    x = torch.as_tensor(pts[:100])
    idx, w = point_weights(g, x)
    assert torch.allclose(w.sum(1), torch.ones(100))
    assert torch.allclose(warp_points(node_transforms(g, eye), idx, w, x), x, atol=1e-6)
    # A rigid motion expressed in the nodes is as rigid as possible: zero energy.
    R_aa = torch.tensor([0.1, -0.2, 0.3])
    R = rodrigues(R_aa)
    t = torch.tensor([0.05, 0.0, -0.02])
    rot = R_aa.expand(g.num_nodes, 3).clone()
    tra = (g.positions @ R.T + t) - g.positions
    assert float(arap_energy(g, rot, tra)) < 1e-10
    assert float(arap_energy(g, rot * 0, tra)) > 1e-5
    moved = warp_points(node_transforms(g, eye, rot, tra), idx, w, x)
    assert torch.allclose(moved, x @ R.T + t, atol=1e-5)


def test_segmentation_removes_floor_and_wall():
    from thuman.capture.segment import find_planes, largest_cluster, remove_planes

    rng = np.random.default_rng(0)
    floor = np.c_[rng.uniform(-2, 2, 5000), np.full(5000, -1.0), rng.uniform(-4, -1, 5000)]
    wall = np.c_[rng.uniform(-2, 2, 4000), rng.uniform(-1, 1.5, 4000), np.full(4000, -3.5)]
    body = np.c_[rng.normal(0, 0.15, 3000), rng.uniform(-1.0, 0.7, 3000), rng.normal(-2.2, 0.1, 3000)]
    speck = np.array([[1.5, 0.5, -2.0]])
    pts = np.concatenate([floor, wall, body, speck]).astype(np.float32)
    planes = find_planes(pts)
    assert len(planes) == 2
    left = largest_cluster(remove_planes(pts, planes))
    assert len(left) > 0.9 * 3000 and len(left) <= 3000
    assert left[:, 2].max() < -1.5 and left[:, 1].min() > -0.98


def test_band_warp_by_sparse_matrix_equals_the_gather_warp():
    """The fusion band is warped by one sparse product per frame; it must equal warp_points."""
    from thuman.capture.node_graph import point_weights, warp_by_matrix, warp_matrix, warp_points
    from thuman.capture.node_graph import build_graph, sample_nodes

    rng = np.random.default_rng(3)
    pts = rng.normal(size=(500, 3)).astype(np.float32) * 0.3
    g = build_graph(sample_nodes(pts, 0.1), pts, np.full((500, 24), 1 / 24, np.float32), 0.1)
    maps = torch.as_tensor(rng.normal(size=(g.num_nodes, 3, 4)), dtype=torch.float32)
    x = torch.as_tensor(rng.normal(size=(2000, 3)), dtype=torch.float32) * 0.3
    idx, w = point_weights(g, x)
    a = warp_points(maps, idx, w, x)
    b = warp_by_matrix(maps, warp_matrix(idx, w, x, g.num_nodes))
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("n_new", [0, 1, 7, 60])
def test_adding_nodes_updates_nearest_nodes_as_a_full_search(n_new):
    """The fusion band's nearest nodes after nodes are added (only the points they come near are
    searched again) must be those of a search over all nodes, and so must the band's warp matrix."""
    from thuman.capture.node_graph import (add_nearest_nodes, nearest_nodes, node_weights, update_warp_matrix,
                                           warp_by_matrix, warp_matrix)

    rng = np.random.default_rng(n_new)
    old = torch.as_tensor(rng.uniform(-0.3, 0.3, (80, 3)), dtype=torch.float32)
    new = torch.as_tensor(rng.uniform(-0.5, 0.5, (n_new, 3)), dtype=torch.float32)
    pos = torch.cat([old, new])
    x = torch.as_tensor(rng.uniform(-0.6, 0.6, (20000, 3)), dtype=torch.float32)
    d0, i0 = nearest_nodes(old, x)
    d, i, changed = add_nearest_nodes(pos, x, d0, i0, len(old))
    d_full, i_full = nearest_nodes(pos, x)
    assert torch.equal(i, i_full) and torch.equal(d, d_full)
    assert (len(changed) == 0) == (n_new == 0) and len(changed) < len(x)
    unchanged = torch.ones(len(x), dtype=torch.bool)
    unchanged[changed] = False
    assert torch.equal(i[unchanged], i0[unchanged])
    if n_new:
        assert bool((i[changed] >= len(old)).any(1).all())  # a changed point took a new node
    w, w_full = node_weights(d, 0.1), node_weights(d_full, 0.1)
    assert torch.equal(w, w_full)
    # Only the changed rows of the band's warp matrix are written again, as fusion does.
    before = warp_matrix(i0, node_weights(d0, 0.1), x, len(old))
    w_upd = node_weights(d0, 0.1).clone()
    w_upd[changed] = node_weights(d[changed], 0.1)
    assert torch.equal(w_upd, w_full)
    grown = update_warp_matrix(before, changed, i[changed], w_upd[changed], x[changed], len(pos))
    full = warp_matrix(i_full, w_full, x, len(pos))
    assert grown.shape == full.shape == (len(x), 4 * len(pos))
    for part in ("crow_indices", "col_indices", "values"):
        assert torch.equal(getattr(grown, part)(), getattr(full, part)())
    assert before.shape == (len(x), 4 * len(old))  # the old matrix is left as it was
    maps = torch.as_tensor(rng.normal(size=(len(pos), 3, 4)), dtype=torch.float32)
    assert torch.equal(warp_by_matrix(maps, grown), warp_by_matrix(maps, full))


def test_adding_nodes_to_a_graph_of_fewer_than_k_searches_again():
    from thuman.capture.node_graph import add_nearest_nodes, nearest_nodes

    rng = np.random.default_rng(1)
    pos = torch.as_tensor(rng.uniform(-0.3, 0.3, (6, 3)), dtype=torch.float32)
    x = torch.as_tensor(rng.uniform(-0.3, 0.3, (500, 3)), dtype=torch.float32)
    d0, i0 = nearest_nodes(pos[:2], x)
    assert d0.shape == (500, 2)
    d, i, changed = add_nearest_nodes(pos, x, d0, i0, 2)
    d_full, i_full = nearest_nodes(pos, x)
    assert d.shape == (500, 4) and torch.equal(i, i_full) and torch.equal(d, d_full) and len(changed) == 500


def test_one_blend_warps_points_and_normals_as_the_separate_warps():
    """The node fit blends the node maps once per step for points and normals, with the nodes'
    skinning computed once per frame; both must equal the separate functions exactly."""
    from thuman.capture.node_graph import (build_graph, node_skinning, node_transforms, point_weights,
                                           sample_nodes, warp_normals, warp_points, warp_points_and_normals)
    from thuman.capture.warp import rodrigues

    rng = np.random.default_rng(5)
    pts = rng.normal(size=(800, 3)).astype(np.float32) * 0.3
    g = build_graph(sample_nodes(pts, 0.1), pts, rng.dirichlet(np.ones(24), 800).astype(np.float32), 0.1)
    joints = torch.eye(4).repeat(24, 1, 1)
    joints[:, :3, :3] = rodrigues(torch.as_tensor(rng.normal(size=(24, 3)) * 0.3, dtype=torch.float32))
    joints[:, :3, 3] = torch.as_tensor(rng.normal(size=(24, 3)) * 0.1, dtype=torch.float32)
    rot = torch.as_tensor(rng.normal(size=(g.num_nodes, 3)) * 0.05, dtype=torch.float32).requires_grad_(True)
    tra = torch.as_tensor(rng.normal(size=(g.num_nodes, 3)) * 0.01, dtype=torch.float32)
    maps = node_transforms(g, joints, rot, tra)
    assert torch.equal(maps, node_transforms(g, joints, rot, tra, skinning=node_skinning(g, joints)))
    x = torch.as_tensor(pts[:300])
    n = torch.nn.functional.normalize(torch.as_tensor(rng.normal(size=(300, 3)), dtype=torch.float32), dim=1)
    idx, w = point_weights(g, x)
    live, live_n = warp_points_and_normals(maps, idx, w, x, n)
    assert torch.equal(live, warp_points(maps, idx, w, x)) and torch.equal(live_n, warp_normals(maps, idx, w, n))
    assert live.requires_grad and not live_n.requires_grad


def test_pose_chain_is_the_chain_of_posing_and_of_the_jacobian(bm):
    """A tracking step computes the kinematic chain once for posing all model points and for the
    data rows' Jacobian; it must be exactly the chain each of them computes on its own."""
    from thuman.capture.body_tracking import BodyTracker
    from thuman.capture.skinning_jacobian import pose_chain, skin_with_pose_jacobian
    from thuman.capture.warp import rest_to_posed

    tr = BodyTracker(bm)
    rest_v, rest_j = tr.rest(np.zeros(10, np.float32))
    pose = torch.as_tensor(np.random.default_rng(2).normal(size=72) * 0.4)
    transl = torch.tensor([0.1, 0.0, -2.0], dtype=torch.float64)
    chain = pose_chain(rest_j, bm.parents, pose)
    assert torch.equal(chain[1], rest_to_posed(rest_j, bm.parents, pose))
    ids = torch.arange(0, len(rest_v), 7)
    a = skin_with_pose_jacobian(rest_v[ids], tr.weights[ids], rest_j, bm.parents, tr.subtree, pose, transl)
    b = skin_with_pose_jacobian(rest_v[ids], tr.weights[ids], rest_j, bm.parents, tr.subtree, pose, transl,
                                chain=chain)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_residual_convergence_ends_a_frame_early_and_zero_turns_it_off(bm):
    """converged_residual stops the Levenberg-Marquardt steps once a step gains little; 0 runs the
    steps the parameter-change test alone allows."""
    from thuman.capture.body_tracking import TrackingConfig
    from thuman.capture.fusion import DoubleFusion, FusionConfig
    from thuman.capture.tracking_health import LossConfig

    frames = list(TurningBodySource(bm, fps=4, turn_s=4.0, total_s=0.5, turn_rad=np.pi / 4))
    counts = {}
    for tol in (0.0, 0.5):
        fus = DoubleFusion(bm, FusionConfig(voxel_size_m=0.03, loss=LossConfig(enabled=False)),
                           TrackingConfig(converged_residual=tol, converged_step=0.0))
        fus.process(frames[0], fuse=False)
        steps, orig = [], fus.tracker.step
        fus.tracker.step = lambda *a, **k: (steps.append(1), orig(*a, **k))[1]
        fus.process(frames[1], fuse=False)
        counts[tol] = len(steps)
        assert fus.body.residual_m < 0.02
    assert counts[0.0] == TrackingConfig().iterations, counts
    assert TrackingConfig().min_iterations <= counts[0.5] < counts[0.0], counts
