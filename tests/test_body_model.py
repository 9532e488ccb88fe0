"""The open body model through smplx: file, template, skinning, locality, shape space, frame."""
import json
import pickle

import numpy as np
import pytest

from thuman_io.body import JOINT_NAMES, load_body_model
from thuman_io.body.joints import joint_index
from thuman_io.body.model_files import OPEN_MODEL_FILE, open_model_file


@pytest.fixture(scope="module")
def bm():
    return load_body_model("open")


@pytest.fixture(scope="module")
def open_arrays():
    with np.load(OPEN_MODEL_FILE) as z:
        return {k: z[k] for k in z.files}


def test_smplx_loads_the_open_model_file_with_its_smpl_loader():
    import smplx
    import torch

    mf = open_model_file()
    with open(mf.pkl_path, "rb") as f:
        d = pickle.load(f)
    assert isinstance(d, dict) and d["posedirs"].shape == (len(d["v_template"]), 3, 207)
    assert not np.any(d["posedirs"])  # no pose-corrective blend shapes, as documented
    model = smplx.SMPL(model_path=str(mf.pkl_path), vertex_ids=mf.landmarks, num_betas=10)
    out = model(betas=torch.zeros(1, 10), body_pose=torch.zeros(1, 69), global_orient=torch.zeros(1, 3))
    assert np.abs(out.vertices[0].detach().numpy() - d["v_template"]).max() < 1e-6
    assert out.joints.shape == (1, 24 + 21, 3)  # SMPL joints + smplx's 21 landmarks


def test_interface_shapes_and_types(bm):
    v = bm.num_vertices
    assert bm.name == "open" and bm.num_betas == 10
    assert bm.rest_vertices.shape == (v, 3) and bm.rest_vertices.dtype == np.float32
    assert bm.faces.dtype == np.int64 and bm.faces.shape[1] == 3
    assert bm.faces.min() == 0 and bm.faces.max() == v - 1
    assert bm.parents.shape == (24,) and bm.parents[0] == -1
    assert bm.joint_names == list(JOINT_NAMES) and len(bm.joint_names) == 24
    assert bm.semantic_code.shape == (v, 3) and bm.semantic_code.dtype == np.float32
    assert bm.semantic_code.min() == 0.0 and bm.semantic_code.max() == 1.0
    from thuman_io.body.semantic import semantic_code

    assert np.array_equal(bm.semantic_code, semantic_code(bm.rest_vertices))  # one definition
    assert bm.weights.shape == (v, 24) and np.allclose(bm.weights.sum(axis=1), 1.0, atol=1e-5)
    # A mesh of SMPL's size: synthesis and capture pay per vertex.
    assert 6000 < v < 8000


def test_zero_pose_and_betas_give_the_template(bm):
    out = bm.forward()
    assert out.vertices.shape == (1, bm.num_vertices, 3) and out.vertices.dtype == np.float32
    assert out.joints.shape == (1, 24, 3) and out.joints.dtype == np.float32
    assert np.abs(out.vertices[0] - bm.rest_vertices).max() < 1e-6
    assert np.abs(out.joints[0] - bm.j_regressor @ bm.rest_vertices).max() < 1e-5


def _independent_lbs(arrays, betas, pose, transl):
    """Plain per-joint loop LBS written from SMPL's equations, float64, one body at a time."""
    v_shaped = arrays["v_template"].astype(np.float64) + arrays["shapedirs"].astype(np.float64) @ betas
    joints = arrays["J_regressor"].astype(np.float64) @ v_shaped
    parents = arrays["parents"]
    world = []
    for j in range(24):
        aa = pose[3 * j:3 * j + 3]
        angle = np.linalg.norm(aa)
        r = np.eye(3)
        if angle > 0:
            k = aa / angle
            kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
            r = np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx
        local = np.eye(4)
        local[:3, :3] = r
        local[:3, 3] = joints[j] - (joints[parents[j]] if parents[j] >= 0 else 0)
        world.append(local if parents[j] < 0 else world[parents[j]] @ local)
    skin = []
    for j in range(24):
        g = world[j].copy()
        g[:3, 3] -= g[:3, :3] @ joints[j]
        skin.append(g)
    skin = np.stack(skin)
    t = np.tensordot(arrays["weights"].astype(np.float64), skin, axes=(1, 0))
    verts = np.einsum("vij,vj->vi", t[:, :3, :3], v_shaped) + t[:, :3, 3] + transl
    posed_joints = np.stack([w[:3, 3] for w in world]) + transl
    return verts, posed_joints


def test_posed_vertices_match_an_independent_numpy_lbs(bm, open_arrays):
    rng = np.random.default_rng(3)
    betas = rng.normal(size=(3, 10))
    pose = rng.normal(scale=0.4, size=(3, 72))
    transl = rng.normal(scale=0.5, size=(3, 3))
    out = bm.forward(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:], transl=transl)
    for i in range(3):
        verts, joints = _independent_lbs(open_arrays, betas[i], pose[i], transl[i])
        assert np.abs(out.vertices[i] - verts).max() < 1e-5
        assert np.abs(out.joints[i] - joints).max() < 1e-5


def test_bending_the_left_elbow_moves_only_left_forearm_and_hand(bm):
    body_pose = np.zeros((1, 69), np.float32)
    e = joint_index("left_elbow")
    body_pose[0, 3 * (e - 1):3 * e] = [0.0, -np.pi / 2, 0.0]  # flex: forearm swings forward (+Z)
    moved = np.linalg.norm(bm.forward(body_pose=body_pose).vertices[0] - bm.rest_vertices, axis=1) > 1e-6
    below = [joint_index(n) for n in ("left_elbow", "left_wrist", "left_hand")]
    forearm_and_hand = bm.weights[:, below].sum(axis=1) > 0
    assert moved.any()
    assert not np.any(moved & ~forearm_and_hand)
    assert np.all(moved[bm.weights[:, below].sum(axis=1) > 0.5])
    # All of it on the subject's left (+X), beyond the shoulder.
    shoulder_x = (bm.j_regressor @ bm.rest_vertices)[joint_index("left_shoulder"), 0]
    assert bm.rest_vertices[moved, 0].min() > shoulder_x
    # The hand went forward.
    hand = bm.weights[:, joint_index("left_hand")] > 0.5
    posed = bm.forward(body_pose=body_pose).vertices[0]
    assert posed[hand, 2].mean() > bm.rest_vertices[hand, 2].mean() + 0.15


def test_rest_pose_is_a_t_pose_in_smpl_frame(bm):
    j = bm.j_regressor @ bm.rest_vertices
    idx = {n: i for i, n in enumerate(JOINT_NAMES)}
    assert j[idx["head"], 1] > j[idx["pelvis"], 1] > j[idx["left_knee"], 1] > j[idx["left_ankle"], 1]  # Y up
    assert j[idx["left_wrist"], 0] > 0.5 and j[idx["right_wrist"], 0] < -0.5  # left at +X
    for side in ("left", "right"):  # arms straight and horizontal
        for n in ("elbow", "wrist", "hand"):
            assert abs(j[idx[f"{side}_{n}"], 1] - j[idx[f"{side}_shoulder"], 1]) < 0.02
            assert abs(j[idx[f"{side}_{n}"], 2] - j[idx[f"{side}_shoulder"], 2]) < 0.02
    # Facing +Z: toes ahead of the ankles, nose ahead of the head joint.
    toes = bm.weights[:, idx["left_foot"]] > 0.5
    assert bm.rest_vertices[toes, 2].mean() > j[idx["left_ankle"], 2] + 0.05
    nose = open_model_file().landmarks["nose"]
    assert bm.rest_vertices[nose, 2] > j[idx["head"], 2] + 0.05


def test_joint_regressor_rows_are_convex_weights(bm):
    assert bm.j_regressor.min() >= 0
    assert np.allclose(bm.j_regressor.sum(axis=1), 1.0, atol=1e-5)


def test_height_across_betas_stays_adult(bm):
    """Documented in docs/body.md: betas within +-2 give 1.45-2.00 m (measured 1.50-1.85)."""
    rng = np.random.default_rng(0)
    axes = np.concatenate([2 * np.eye(10), -2 * np.eye(10)])
    betas = np.concatenate([axes, rng.uniform(-2, 2, size=(44, 10))]).astype(np.float32)
    v = bm.forward(betas=betas).vertices
    heights = v[:, :, 1].max(axis=1) - v[:, :, 1].min(axis=1)
    assert heights.min() > 1.45 and heights.max() < 2.00
    # The first component carries stature: +2 is taller than -2 by a clear margin.
    assert heights[0] - heights[10] > 0.2


def test_forward_torch_is_differentiable(bm):
    import torch

    betas = torch.zeros(2, 10, requires_grad=True)
    body_pose = torch.full((2, 69), 0.1, requires_grad=True)
    out = bm.forward_torch(betas=betas, body_pose=body_pose)
    assert out.vertices.shape == (2, bm.num_vertices, 3) and out.joints.shape == (2, 24, 3)
    (out.vertices.pow(2).sum() + out.joints.sum()).backward()
    assert torch.isfinite(betas.grad).all() and betas.grad.abs().sum() > 0
    assert torch.isfinite(body_pose.grad).all() and body_pose.grad.abs().sum() > 0


def test_translation_batch_and_short_betas(bm):
    t = np.array([[0.1, -0.2, 3.0], [0.0, 0.0, 0.0]], np.float32)
    out = bm.forward(transl=t)
    assert out.vertices.shape[0] == 2
    assert np.allclose(out.vertices[0] - out.vertices[1], t[0], atol=1e-5)
    short = bm.forward(betas=np.array([[1.0, -1.0]], np.float32)).vertices
    full = bm.forward(betas=np.array([[1.0, -1.0] + [0.0] * 8], np.float32)).vertices
    assert np.abs(short - full).max() < 1e-7
    with pytest.raises(ValueError):
        bm.forward(betas=np.zeros((2, 10)), body_pose=np.zeros((3, 69)))


def test_open_model_metadata_records_provenance(open_arrays):
    meta = json.loads(str(open_arrays["meta_json"]))
    assert meta["pose_blend_shapes"] == "zero"
    assert meta["anny_version"] and meta["seed"] and meta["num_betas"] == 10
    assert (OPEN_MODEL_FILE.parent / "PROVENANCE.md").is_file()
    assert (OPEN_MODEL_FILE.parent / "LICENCE.md").is_file()
