"""One kinematic chain (thuman_io.body.kinematics) behind every skinning copy, checked against smplx."""
import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def bm():
    from thuman_io.body import load_body_model

    return load_body_model("open")


def _pose(seed=0, scale=0.4):
    return np.random.default_rng(seed).normal(size=72) * scale


def test_rigid_transforms_match_smplx_in_numpy_and_torch(bm):
    from smplx.lbs import batch_rigid_transform, batch_rodrigues

    from thuman_io.body.kinematics import rigid_transforms

    joints = bm.forward().joints[0].astype(np.float64)
    pose = torch.as_tensor(_pose(), dtype=torch.float64).reshape(24, 3)
    rot = batch_rodrigues(pose)[None]                                  # (1, 24, 3, 3)
    j = torch.as_tensor(joints)[None]
    posed_ref, a_ref = batch_rigid_transform(rot, j, torch.as_tensor(bm.parents), dtype=torch.float64)
    g_t, a_t = rigid_transforms(rot, j, bm.parents)
    g_n, a_n = rigid_transforms(rot.numpy(), joints[None], bm.parents)
    assert isinstance(a_n, np.ndarray) and isinstance(a_t, torch.Tensor)
    assert torch.allclose(a_t, a_ref, atol=1e-12)
    assert torch.allclose(g_t[..., :3, 3], posed_ref, atol=1e-12)
    assert np.abs(a_n - a_ref.numpy()).max() < 1e-12 and np.abs(g_n - g_t.numpy()).max() < 1e-12


def test_every_skinning_copy_reproduces_the_body_model(bm):
    """The capture warp, the simulator's rig and the numpy reference all pose through the one chain:
    each must give the body model's (smplx's) vertices for the same pose."""
    from thuman.capture.sim.subject import body_rig, pose_vertices, skinning_transforms
    from thuman.capture.warp import body_skinning_weights, rest_to_posed_batch, skin_vertices
    from thuman_io.body import numpy_lbs

    betas = np.zeros(10, np.float32)
    pose = _pose(3).astype(np.float32)
    ref = bm.forward(betas[None], pose[None, :3], pose[None, 3:]).vertices[0]
    rest = bm.forward(betas[None])
    rest_v, rest_j = rest.vertices[0].astype(np.float64), rest.joints[0].astype(np.float64)
    w = body_skinning_weights(bm).astype(np.float64)

    a = rest_to_posed_batch(torch.as_tensor(rest_j), bm.parents, torch.as_tensor(pose, dtype=torch.float64)[None])
    v_warp = skin_vertices(torch.as_tensor(rest_v), torch.as_tensor(w), a)[0].numpy()
    v_np, _ = numpy_lbs.skin(rest_v[None], rest_j[None], bm.parents, w,
                             numpy_lbs.rodrigues(pose.reshape(1, 24, 3).astype(np.float64)))
    rig = body_rig(bm, betas)
    a_sim, _ = skinning_transforms(rig, pose)
    v_sim = pose_vertices(rig.vertices, rig.weights, a_sim)
    for name, v in (("capture.warp", v_warp), ("numpy_lbs", v_np[0]), ("sim rig", v_sim)):
        assert np.abs(v - ref).max() < 2e-5, name  # the open model has no pose blend shapes


def test_a_wrong_tree_is_refused():
    from thuman_io.body.kinematics import rigid_transforms

    with pytest.raises(ValueError, match="parents"):
        rigid_transforms(np.zeros((24, 3, 3)), np.zeros((24, 3)), [-1, 0, 0])
