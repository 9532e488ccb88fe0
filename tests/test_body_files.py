"""Real-SMPL code path with SMPL-format files the tests write, and the errors for bad files."""
import pickle
import sys
import types

import numpy as np
import pytest

from thuman_io.body import load_body_model
from thuman_io.body.model_files import OPEN_MODEL_FILE, smpl_dict_from_arrays
from thuman_io.errors import BodyModelError


@pytest.fixture(scope="module")
def smpl_dict():
    """The open model's arrays as an SMPL-format dict (what SMPL_NEUTRAL.pkl holds)."""
    with np.load(OPEN_MODEL_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    return smpl_dict_from_arrays(arrays, OPEN_MODEL_FILE)


@pytest.fixture(scope="module")
def open_model():
    return load_body_model("open")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("THUMAN_CACHE", str(tmp_path / "cache"))


def _pose(bm, seed=1):
    rng = np.random.default_rng(seed)
    return bm.forward(betas=rng.normal(size=(2, 10)), global_orient=rng.normal(scale=0.3, size=(2, 3)),
                      body_pose=rng.normal(scale=0.3, size=(2, 69))).vertices


def test_an_smpl_pkl_loads_as_smpl_and_poses_like_the_open_model(tmp_path, smpl_dict, open_model):
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(smpl_dict))
    bm = load_body_model(path)
    assert bm.name == "smpl" and bm.num_betas == 10
    assert np.abs(_pose(bm) - _pose(open_model)).max() < 1e-6
    # A folder, and the THUMAN_SMPL_DIR route, find the same file.
    assert load_body_model(tmp_path).source == path


def test_smpl_dir_environment_and_gender(tmp_path, smpl_dict, monkeypatch):
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "SMPL_FEMALE.pkl").write_bytes(pickle.dumps(smpl_dict))
    monkeypatch.setenv("THUMAN_SMPL_DIR", str(tmp_path))
    bm = load_body_model("smpl", gender="female")
    assert bm.gender == "female" and bm.source.name == "SMPL_FEMALE.pkl"
    with pytest.raises(BodyModelError, match="no neutral SMPL model file"):
        load_body_model("smpl", gender="neutral")


def test_an_smpl_npz_is_converted_for_smplx(tmp_path, smpl_dict, open_model):
    path = tmp_path / "my_smpl.npz"
    np.savez(path, **{k: v for k, v in smpl_dict.items() if k != "posedirs"})
    bm = load_body_model(path)
    assert bm.name == "smpl"
    assert np.abs(_pose(bm) - _pose(open_model)).max() < 1e-6


def test_a_chumpy_pickle_is_read_without_chumpy(tmp_path, smpl_dict, open_model, monkeypatch):
    """Official SMPL files hold chumpy arrays; write one with a stand-in 'chumpy.ch.Ch' class."""
    module = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", module)
    d = dict(smpl_dict)
    d["v_template"] = Ch(np.asarray(d["v_template"], np.float64))
    d["shapedirs"] = Ch(np.asarray(d["shapedirs"], np.float64))
    raw = pickle.dumps(d, protocol=2)
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    path = tmp_path / "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl"
    path.write_bytes(raw)
    bm = load_body_model(path)
    assert bm.source == path and bm.name == "smpl"
    assert np.abs(_pose(bm) - _pose(open_model)).max() < 1e-6


def _message(excinfo) -> str:
    return str(excinfo.value)


def test_missing_model_file_says_where_smpl_comes_from(tmp_path):
    with pytest.raises(BodyModelError) as e:
        load_body_model(tmp_path / "SMPL_NEUTRAL.pkl")
    msg = _message(e)
    assert str(tmp_path / "SMPL_NEUTRAL.pkl") in msg
    assert "https://smpl.is.tue.mpg.de" in msg and "THUMAN_SMPL_DIR" in msg and "licence" in msg


def test_empty_folder_and_unset_environment(tmp_path, monkeypatch):
    with pytest.raises(BodyModelError, match="no neutral SMPL model file in this folder"):
        load_body_model(tmp_path)
    monkeypatch.delenv("THUMAN_SMPL_DIR", raising=False)
    with pytest.raises(BodyModelError, match="THUMAN_SMPL_DIR is not set"):
        load_body_model("smpl")


@pytest.mark.parametrize("content, expect", [
    (b"this is not a pickle", "cannot unpickle"),
    (pickle.dumps([1, 2, 3]), "not an SMPL model dict"),
    (pickle.dumps({"v_template": np.zeros((10, 3))}), "missing shapedirs"),
])
def test_malformed_pickles(tmp_path, content, expect):
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(content)
    with pytest.raises(BodyModelError, match=expect) as e:
        load_body_model(path)
    assert str(path) in _message(e) and "smpl.is.tue.mpg.de" in _message(e)


def test_wrong_shapes_name_the_field(tmp_path, smpl_dict):
    bad = dict(smpl_dict)
    bad["weights"] = bad["weights"][:, :20]
    path = tmp_path / "SMPL_MALE.pkl"
    path.write_bytes(pickle.dumps(bad))
    with pytest.raises(BodyModelError, match="field 'weights' has shape"):
        load_body_model(path)
    tree = dict(smpl_dict)
    tree["kintree_table"] = tree["kintree_table"].copy()
    tree["kintree_table"][0, 18] = 17  # left elbow hung on the right shoulder
    path.write_bytes(pickle.dumps(tree))
    with pytest.raises(BodyModelError, match="not SMPL's joint tree"):
        load_body_model(path)
    with pytest.raises(BodyModelError, match="must be .pkl or .npz"):
        txt = tmp_path / "model.txt"
        txt.write_text("x")
        load_body_model(txt)
    with pytest.raises(BodyModelError, match="unknown gender"):
        load_body_model("open", gender="other")
