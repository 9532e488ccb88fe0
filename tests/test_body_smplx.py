"""SMPL-X files through smplx's SMPL-X loader, driven with SMPL's 24-joint interface.

SMPL-X files are licence-gated too; the test writes an SMPL-X-format file from the open model
(padded to SMPL-X's 10,475 vertices, fingers on the hand joints, zero expression and pose
correctives), so the SMPL-X body must pose exactly like the open model.
"""
import numpy as np
import pytest

from thuman_io.body import load_body_model
from thuman_io.body.model_files import OPEN_MODEL_FILE
from thuman_io.errors import BodyModelError

SMPLX_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
                 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53]


def smplx_arrays_from_open():
    with np.load(OPEN_MODEL_FILE) as z:
        o = {k: z[k] for k in z.files}
    v0, n = len(o["v_template"]), 10475
    pad = n - v0
    v_template = np.concatenate([o["v_template"], np.repeat(o["v_template"][:1], pad, axis=0)])
    shapedirs = np.zeros((n, 3, 20), np.float32)
    shapedirs[:v0, :, :10] = o["shapedirs"]
    reg = np.zeros((55, n), np.float32)
    reg[:22, :v0] = o["J_regressor"][:22]
    reg[22:25, :v0] = o["J_regressor"][15]  # jaw, eyes at the head joint
    reg[25:40, :v0] = o["J_regressor"][22]  # left fingers at the left hand joint
    reg[40:55, :v0] = o["J_regressor"][23]
    weights = np.zeros((n, 55), np.float32)
    weights[:v0, :22] = o["weights"][:, :22]
    weights[:v0, 28] = o["weights"][:, 22]  # left hand -> left_middle1
    weights[:v0, 43] = o["weights"][:, 23]
    weights[v0:, 0] = 1.0
    kintree = np.stack([np.array(SMPLX_PARENTS) % 2**32, np.arange(55)]).astype(np.int64)
    return dict(v_template=v_template, f=o["f"].astype(np.int64), shapedirs=shapedirs,
                posedirs=np.zeros((n, 3, 486), np.float32), J_regressor=reg, weights=weights,
                kintree_table=kintree, hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
                hands_meanl=np.zeros(45), hands_meanr=np.zeros(45),
                lmk_faces_idx=np.zeros(51, np.int64), lmk_bary_coords=np.full((51, 3), 1 / 3))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("THUMAN_CACHE", str(tmp_path / "cache"))


def test_smplx_file_poses_like_the_open_model(tmp_path, monkeypatch):
    arrays = smplx_arrays_from_open()
    (tmp_path / "smplx").mkdir()
    path = tmp_path / "smplx" / "SMPLX_NEUTRAL.npz"
    np.savez(path, **arrays)
    monkeypatch.setenv("THUMAN_SMPL_DIR", str(tmp_path))
    bm = load_body_model("smplx")
    ref = load_body_model("open")
    assert bm.name == "smplx" and bm.source == path and bm.num_betas == 10
    assert bm.num_vertices == 10475 and bm.weights.shape == (10475, 24)
    assert bm.j_regressor.shape == (24, 10475)
    v0 = ref.num_vertices
    assert np.allclose(bm.weights[:v0], ref.weights, atol=1e-6)
    rng = np.random.default_rng(2)
    pose = rng.normal(scale=0.3, size=(3, 72)).astype(np.float32)
    pose[:, 66:] = 0  # SMPL's hand joints are not driven on SMPL-X
    args = dict(betas=rng.normal(size=(3, 10)), global_orient=pose[:, :3], body_pose=pose[:, 3:],
                transl=rng.normal(size=(3, 3)))
    a, b = bm.forward(**args), ref.forward(**args)
    assert a.joints.shape == (3, 24, 3)
    assert np.abs(a.vertices[:, :v0] - b.vertices).max() < 1e-5
    assert np.abs(a.joints - b.joints).max() < 1e-5
    # Differentiable as well.
    import torch

    bp = torch.zeros(1, 69, requires_grad=True)
    bm.forward_torch(body_pose=bp).vertices.sum().backward()
    assert torch.isfinite(bp.grad).all()


def test_malformed_smplx_file(tmp_path):
    arrays = smplx_arrays_from_open()
    del arrays["hands_meanr"]
    path = tmp_path / "SMPLX_NEUTRAL.npz"
    np.savez(path, **arrays)
    with pytest.raises(BodyModelError, match="not an SMPL-X model file .missing hands_meanr") as e:
        load_body_model(path)
    assert "smpl.is.tue.mpg.de" in str(e.value)
    arrays = smplx_arrays_from_open()
    arrays["weights"] = arrays["weights"][:, :50]
    np.savez(path, **arrays)
    with pytest.raises(BodyModelError, match="field 'weights' has shape"):
        load_body_model(path)
