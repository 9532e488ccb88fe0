"""What keeps body tracking on a turning, clothed subject: the z-buffer visibility of model points,
the motion prediction, and the fused surface as the body's model points."""
import numpy as np
import pytest
import torch

from capture_fixtures import TurningBodySource


@pytest.fixture(scope="module")
def bm():
    from thuman_io.body import load_body_model

    return load_body_model("open")


def _plane(x0, x1, y0, y1, z, step=0.01):
    xs, ys = np.meshgrid(np.arange(x0, x1, step), np.arange(y0, y1, step))
    return np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, z)], 1)


def test_points_behind_a_surface_are_occluded():
    """A 'trunk' plane at 2 m hides the part of an 'arm' plane 20 cm behind it; the part of the arm
    that sticks out sideways stays visible, and so does the whole trunk."""
    from thuman.capture.raycast import intrinsics
    from thuman.capture.visibility import unoccluded

    K = intrinsics(320, 288, 75.0)
    trunk = _plane(-0.2, 0.2, -0.3, 0.3, -2.0)
    arm = _plane(-0.1, 0.5, 0.0, 0.1, -2.2)
    pts = torch.as_tensor(np.concatenate([trunk, arm]), dtype=torch.float64)
    vis = unoccluded(pts, K).numpy()
    assert vis[:len(trunk)].all()
    arm_vis = vis[len(trunk):]
    hidden = arm[:, 0] < 0.17       # behind the trunk (a cell of margin at its edge)
    outside = arm[:, 0] > 0.23
    assert not arm_vis[hidden].any()
    assert arm_vis[outside].all()
    # Points behind the camera are never visible.
    assert not unoccluded(torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -2.0]]), K)[0]


def test_prediction_carries_the_turn_forward(bm):
    """Two frames 0.2 s apart turning 7 degrees about y: the prediction for the next frame is at
    14 degrees, moved on in translation too; a frame that arrives 3 intervals late is clipped to 3
    steps; without times the prediction is the last state."""
    from scipy.spatial.transform import Rotation

    from thuman.capture.body_tracking import BodyState, BodyTracker

    tr = BodyTracker(bm)
    z69 = np.zeros(69, np.float32)
    s0 = BodyState(np.zeros(10, np.float32), np.zeros(3, np.float32), z69, np.array([0, 0, -2], np.float32))
    s1 = BodyState(np.zeros(10, np.float32), np.array([0, np.radians(7), 0], np.float32), z69,
                   np.array([0.01, 0, -2], np.float32))
    tr.state, tr._history = s1, [(0.0, s0), (0.2, s1)]
    yaw = lambda s: np.degrees(Rotation.from_rotvec(s.global_orient).as_euler("YXZ")[0])
    p = tr.predict(0.4)
    assert yaw(p) == pytest.approx(14.0, abs=1e-3)
    assert p.transl == pytest.approx([0.02, 0, -2], abs=1e-6)
    assert yaw(tr.predict(5.0)) == pytest.approx(28.0, abs=1e-3)   # 1 + 3 steps at most
    assert tr.predict(None) is s1


def test_surface_targets_reproduce_the_live_surface(bm):
    """The fused surface taken back to the rest pose (``SurfaceTargets``) and skinned by the
    predicted pose lands where the double-layer warp puts it: the body tracker sees the same
    surface as the node graph."""
    from thuman.capture.fusion import DoubleFusion, FusionConfig

    torch.manual_seed(0)
    src = TurningBodySource(bm, fps=5.0, turn_s=6.0, total_s=4.0, turn_rad=np.pi / 2)
    fu = DoubleFusion(bm, FusionConfig(voxel_size_m=0.02, mesh_every=5, node_iterations=3, shape_every=0))
    frames = list(src)
    for f in frames[:-1]:
        fu.process(f)
    assert fu._surf_fused
    # every attribute of the fusion and of its tracker is declared in __init__
    fresh = DoubleFusion(bm, FusionConfig(voxel_size_m=0.02, mesh_every=5, node_iterations=3, shape_every=0))
    assert set(vars(fu)) == set(vars(fresh)) and set(vars(fu.tracker)) == set(vars(fresh.tracker))
    t = frames[-1].timestamp_us * 1e-6
    targets = fu._surface_targets(t, True)
    pred = fu.tracker.predict(t)
    from thuman.capture.node_graph import node_transforms, warp_points

    live = warp_points(node_transforms(fu.graph, fu._joint_transforms(pred)), fu._samples.node_idx, fu._samples.node_w, fu._samples.points)
    tr = fu.tracker
    tr._surface = targets
    from thuman.capture.body_params import BodyParams

    params = BodyParams.from_state(pred, fit_shape=False)
    posed, normals, used = tr._posed_with_normals(tr.model_points(params), params)
    nv = len(bm.rest_vertices)
    pos, nrm = posed[nv:], normals[nv:]
    err = (pos - live.double()).norm(dim=1)
    assert float(err.max()) < 1e-4
    assert torch.allclose(nrm.norm(dim=1), torch.ones(len(nrm), dtype=torch.float64))
    # The body vertices the surface covers are left out as model points; some remain (not seen yet).
    mask = targets.body_mask
    assert 0 < int(mask.sum()) < len(mask)


def test_surface_tracking_follows_a_turning_clothed_body(bm):
    """The synthetic subject (1 cm clothing) turning 90 degrees: tracked with the fused surface as
    model points, the body's joints stay within 3 cm of the truth at every frame."""
    from thuman.capture.fusion import DoubleFusion, FusionConfig

    src = TurningBodySource(bm, fps=5.0, turn_s=6.0, total_s=6.0, turn_rad=np.pi / 2)
    fu = DoubleFusion(bm, FusionConfig(voxel_size_m=0.02, mesh_every=5, node_iterations=3, shape_every=0))
    errors = []
    for f in src:
        fu.process(f)
        errors.append(np.linalg.norm(fu.body.joints - f.ground_truth.joints[:24], axis=1).mean())
    assert fu._surf_fused
    # every attribute of the fusion and of its tracker is declared in __init__
    fresh = DoubleFusion(bm, FusionConfig(voxel_size_m=0.02, mesh_every=5, node_iterations=3, shape_every=0))
    assert set(vars(fu)) == set(vars(fresh)) and set(vars(fu.tracker)) == set(vars(fresh.tracker))
    assert max(errors) < 0.03, np.round(np.array(errors) * 1000, 1)
