"""The pose library: built-in key poses (and what they look like), AMASS files, the sampler."""
import json

import numpy as np
import pytest

from thuman_io.body import JOINT_NAMES, load_body_model
from thuman_io.body.poses import (PoseSampler, amass_to_smpl72, load_amass_npz, load_pose_library,
                                  pose_distance)
from thuman_io.body.poses.amass import Z_UP_TO_Y_UP
from thuman_io.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from thuman_io.errors import InputError

J = {n: i for i, n in enumerate(JOINT_NAMES)}


@pytest.fixture(scope="module")
def lib():
    return load_pose_library("builtin")


@pytest.fixture(scope="module")
def bm():
    return load_body_model("open")


def test_builtin_library_shape_names_and_determinism(lib):
    assert lib.poses.shape == (200, 72) and lib.poses.dtype == np.float32
    assert len(set(lib.names)) == len(lib.names) == 200
    assert np.all(lib.poses[:, :3] == 0)  # no global orientation: callers turn the body
    again = load_pose_library("builtin")
    assert np.array_equal(again.poses, lib.poses) and again.names == lib.names
    other = load_pose_library("builtin", seed=1)
    assert not np.array_equal(other.poses, lib.poses)
    assert np.array_equal(load_pose_library("builtin", variants=0).poses, lib.poses[::10])


def test_variants_stay_near_their_key_pose(lib):
    for k in range(0, 200, 10):
        d = pose_distance(lib.poses[k + 1:k + 10], lib.poses[k][None])
        assert np.all(d > np.radians(4)) and np.all(d < np.radians(16))  # ~1.6 x 8 deg per joint


def _joints(bm, lib, name):
    p = lib.poses[lib.index(name)][None]
    return bm.forward(global_orient=p[:, :3], body_pose=p[:, 3:]).joints[0]


def test_key_poses_do_what_their_names_say(bm, lib):
    """Each check fails if a sign convention of keyposes.json drifts."""
    j = _joints(bm, lib, "arms_up")
    assert j[J["left_wrist"], 1] > j[J["head"], 1] and j[J["right_wrist"], 1] > j[J["head"], 1]
    j = _joints(bm, lib, "stand_relaxed")
    assert j[J["left_wrist"], 1] < j[J["spine1"], 1] and j[J["left_wrist"], 0] > 0
    j = _joints(bm, lib, "walk")  # left leg forward (+Z), right arm forward
    assert j[J["left_ankle"], 2] > j[J["right_ankle"], 2] + 0.2
    assert j[J["right_wrist"], 2] > j[J["left_wrist"], 2]
    j = _joints(bm, lib, "squat")  # knees ahead and hips low
    assert j[J["left_knee"], 2] > j[J["pelvis"], 2] + 0.3
    assert j[J["pelvis"], 1] - j[J["left_ankle"], 1] < 0.45
    j = _joints(bm, lib, "wave")  # right hand up beside the head
    assert j[J["right_wrist"], 1] > j[J["neck"], 1] and j[J["right_wrist"], 0] < 0
    j = _joints(bm, lib, "kick")
    assert j[J["left_ankle"], 2] > j[J["pelvis"], 2] + 0.4
    j = _joints(bm, lib, "bend_forward")
    assert j[J["head"], 2] > j[J["pelvis"], 2] + 0.2


def test_library_from_a_json_file_and_bad_files(tmp_path):
    spec = json.loads((load_pose_library.__globals__["KEYPOSES_FILE"]).read_text())
    spec["poses"] = {"salute": {"right_shoulder": [0, 0, -30], "right_elbow": [0, 120, 0]}}
    good = tmp_path / "mine.json"
    good.write_text(json.dumps(spec))
    lib = load_pose_library(good, variants=2, seed=5)
    assert lib.names == ["salute", "salute~01", "salute~02"]
    spec["poses"] = {"oops": {"left_tail": [0, 0, 0]}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(spec))
    with pytest.raises(InputError, match="unknown joint 'left_tail'"):
        load_pose_library(bad)
    with pytest.raises(InputError, match="not valid JSON"):
        (tmp_path / "broken.json").write_text("{")
        load_pose_library(tmp_path / "broken.json")
    with pytest.raises(InputError, match="unknown pose library"):
        load_pose_library(tmp_path / "x.bvh")


def _write_amass(path, poses72_y_up, rate=120.0, seed=0):
    """An AMASS-format file: SMPL-H poses (156) in a Z-up world, random finger values."""
    rng = np.random.default_rng(seed)
    n = len(poses72_y_up)
    root_z_up = matrix_to_axis_angle(Z_UP_TO_Y_UP.T @ axis_angle_to_matrix(poses72_y_up[:, :3]))
    poses = np.concatenate([root_z_up, poses72_y_up[:, 3:66], rng.normal(size=(n, 90))], axis=1)
    trans_y_up = rng.normal(size=(n, 3))
    np.savez(path, poses=poses, trans=trans_y_up @ Z_UP_TO_Y_UP, betas=np.zeros(16),
             gender=np.array("neutral"), mocap_framerate=np.array(rate))
    return trans_y_up


def test_amass_pose_round_trips(tmp_path, lib, bm):
    rng = np.random.default_rng(7)
    src = lib.poses[rng.choice(len(lib), 24, replace=False)].astype(np.float64)
    src[:, :3] = rng.normal(scale=0.5, size=(24, 3))  # a real global orientation too
    src[:, 66:] = 0.0  # SMPL's hand joints are not in AMASS's body
    path = tmp_path / "subject_01.npz"
    trans = _write_amass(path, src, rate=120.0)
    every = load_amass_npz(path)
    assert every.poses.shape == (24, 72) and every.fps == 120.0
    assert np.all(every.poses[:, 66:] == 0)  # finger values dropped, not put on the hands
    r_in = axis_angle_to_matrix(src.reshape(-1, 24, 3))
    r_out = axis_angle_to_matrix(every.poses.reshape(-1, 24, 3).astype(np.float64))
    assert np.abs(r_in - r_out).max() < 1e-5
    assert np.abs(every.transl - trans).max() < 1e-5
    # Posed through the body model, the round-tripped pose gives the same body.
    a = bm.forward(global_orient=src[:, :3], body_pose=src[:, 3:]).vertices
    b = bm.forward(global_orient=every.poses[:, :3], body_pose=every.poses[:, 3:]).vertices
    assert np.abs(a - b).max() < 1e-5
    # Resampling respects the frame rate: 120 -> 30 fps keeps every 4th frame.
    slow = load_amass_npz(path, fps=30)
    assert slow.fps == 30.0 and len(slow) == 6 and slow.names[1] == "subject_01.npz@4"
    assert np.array_equal(slow.poses, every.poses[::4])
    # Z-up as stored when asked.
    raw = load_amass_npz(path, to_y_up=False)
    assert np.allclose(raw.poses[:, 3:], every.poses[:, 3:])
    assert not np.allclose(raw.poses[:, :3], every.poses[:, :3])
    # The library loader dispatches .npz here.
    assert np.array_equal(load_pose_library(path, fps=30).poses, slow.poses)


def test_amass_to_smpl72_drops_fingers():
    poses = np.arange(2 * 156, dtype=np.float64).reshape(2, 156)
    out = amass_to_smpl72(poses)
    assert out.shape == (2, 72) and np.array_equal(out[:, :66], poses[:, :66]) and not out[:, 66:].any()


def test_bad_amass_files(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, trans=np.zeros((3, 3)), mocap_framerate=60.0)
    with pytest.raises(InputError, match="field 'poses' missing"):
        load_amass_npz(p)
    np.savez(p, poses=np.zeros((3, 156)))
    with pytest.raises(InputError, match="mocap_framerate"):
        load_amass_npz(p)
    np.savez(p, poses=np.zeros((3, 30)), mocap_framerate=60.0)
    with pytest.raises(InputError, match="SMPL-H"):
        load_amass_npz(p)
    with pytest.raises(InputError, match="not found"):
        load_amass_npz(tmp_path / "none.npz")


def test_sampler_draws_far_from_recent_poses(lib):
    draws = [PoseSampler(lib, np.random.default_rng(11)) for _ in range(2)]
    seq = [[s.next_index() for _ in range(40)] for s in draws]
    assert seq[0] == seq[1]  # same seed, same prompts
    idx = seq[0]
    assert all(i not in idx[max(0, k - 5):k] for k, i in enumerate(idx))  # no repeat within memory
    consecutive = pose_distance(lib.poses[idx[1:]], lib.poses[idx[:-1]]).mean()
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(lib), 400), rng.integers(0, len(lib), 400)
    random_pairs = pose_distance(lib.poses[a], lib.poses[b]).mean()
    assert consecutive > 1.2 * random_pairs
    s = PoseSampler(lib, np.random.default_rng(0))
    pose = s.next()
    assert pose.shape == (72,) and pose.dtype == np.float32 and s.last_name in lib.names
