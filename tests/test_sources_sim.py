"""The simulated subject and source: clothing, ground truth vs depth, motion, faults, playback."""
import math

import numpy as np
import pytest

from thuman.capture.camera import capture_to_cv
from thuman.capture.sim.motion import MotionConfig, SubjectMotion
from thuman.capture.sim.sensor import DepthNoise
from thuman.capture.sim.source import SimSource
from thuman.capture.sim.subject import LABELS, make_subject, sample_betas, sample_outfit
from thuman.capture.sources.recording import RecordingSource, record
from thuman_io.errors import SourceFault

SEED = 5


@pytest.fixture(scope="module")
def subject():
    return make_subject(SEED)


def raycast_depth(vertices, faces, camera, width, height):
    """Exact depth (H, W) metres of a capture-frame mesh by Open3D ray casting along each pixel's ray
    through the camera's lens (independent of pyrender and of the sensor's lens resampling)."""
    from thuman.capture.raycast import render_depth

    return render_depth(vertices, faces, camera, height, width).astype(np.float64)


def interior(depth):
    """Pixels whose 3x3 neighbourhood is surface without depth jumps above 2 %."""
    p = np.pad(depth, 1)
    n = np.stack([p[i:i + depth.shape[0], j:j + depth.shape[1]] for i in range(3) for j in range(3)])
    return (n.min(0) > 0) & (n.max(0) - n.min(0) < 0.02 * depth)


def test_subject_is_watertight_clothed_and_from_the_seed(subject):
    import trimesh

    mesh = trimesh.Trimesh(subject.vertices, subject.faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0.05
    present = {LABELS[i] for i in np.unique(subject.labels)}
    assert {"skin", "shirt", "hair", "shoes"} <= present and present & {"trousers", "skirt"}
    np.testing.assert_allclose(subject.weights.sum(1), 1.0, atol=1e-5)
    assert make_subject(SEED) is subject  # built once per seed and process
    fresh = make_subject(SEED, disk_cache=False)  # the disk cache returns exactly a fresh build
    for name in ("vertices", "faces", "colors", "labels", "weights"):
        assert np.array_equal(getattr(fresh, name), getattr(subject, name)), name
    a, b = np.random.default_rng(1), np.random.default_rng(2)
    assert not np.array_equal(sample_betas(a), sample_betas(b))
    outfits = {tuple(sample_outfit(np.random.default_rng(s)).garments()) for s in range(12)}
    assert len(outfits) >= 4  # variety from the seed: trousers, shorts, skirts, dresses, hair styles


def test_ground_truth_lines_up_with_depth_and_body(subject):
    from thuman_io.body import load_body_model

    src = SimSource(seed=SEED, fps=5.0, max_frames=2, drop_frames={0, 1, 2}, subject=subject)  # frames 3, 4
    frames = list(src)
    assert [f.index for f in frames] == [3, 4]
    bm = load_body_model("open")
    for f in frames:
        gt = f.ground_truth
        exact = raycast_depth(gt.vertices, gt.faces, f.camera, f.depth_mm.shape[1], f.depth_mm.shape[0])
        mask = interior(exact) & (f.depth_mm > 0)
        assert mask.sum() > 5000
        res_mm = f.depth_mm[mask].astype(np.float64) - exact[mask] * 1000.0
        sigma = src.noise.sigma_mm(exact[mask]).mean()
        assert abs(res_mm.mean()) < 0.3 * sigma and np.abs(res_mm).mean() < sigma
        # the silhouettes agree: measured pixels off the true surface are rare (flying pixels only)
        assert ((f.depth_mm > 0) & (exact == 0)).sum() < 0.01 * (exact > 0).sum()
        # the SMPL parameters reproduce the joints and put the body inside the clothes
        s = gt.smpl
        out = bm.forward(betas=s.betas[None], global_orient=s.global_orient[None], body_pose=s.body_pose[None],
                         transl=s.transl[None])
        np.testing.assert_allclose(out.joints[0], gt.joints, atol=1e-4)
        import open3d as o3d

        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3d.core.Tensor(gt.vertices), o3d.core.Tensor(gt.faces.astype(np.uint32)))
        # Where skin shows, the clothed surface is the body's own (meshed at 1 cm): within ~1 cm.
        sd = scene.compute_signed_distance(o3d.core.Tensor(out.vertices[0])).numpy()
        assert np.median(sd) < 0 and np.percentile(sd, 97) < 0.01
        assert gt.stage == "turn" and gt.reference_pose is None
        assert f.timestamp_us == round(f.index * 1e6 / 5.0)
    src.close()


@pytest.mark.parametrize("lens", ["pinhole", "k4a"])
def test_exact_mode_depth_is_the_mesh(subject, lens):
    src = SimSource(seed=SEED, depth_mode_name="NFOV_2X2BINNED", fps=5.0, max_frames=1, noise=DepthNoise.none(),
                    subject=subject, lens=lens)
    f = next(iter(src))
    src.close()
    exact = raycast_depth(f.ground_truth.vertices, f.ground_truth.faces, f.camera, 320, 288)
    mask = interior(exact)
    res = np.abs(f.depth_mm[mask].astype(np.float64) - exact[mask] * 1000.0)
    if lens == "pinhole":
        assert res.max() <= 0.5 + 0.02  # the rounding to millimetres (+ rasterizer precision)
        assert ((f.depth_mm > 0) != (exact > 0)).mean() < 0.002
    else:
        # Resampled through the retail lens: inverse-depth interpolation on the surface (0.1 mm
        # median before rounding), the nearest render pixel at depth steps inside the silhouette.
        assert f.camera.model == "brown_conrady"
        assert np.median(res) < 0.35 and np.percentile(res, 95) < 1.0
        assert ((f.depth_mm > 0) != (exact > 0)).mean() < 0.004


def test_playback_is_bit_identical_to_the_live_simulation(tmp_path, subject):
    kw = dict(seed=SEED, depth_mode_name="NFOV_2X2BINNED", fps=5.0, max_frames=3, drop_frames={1},
              timestamp_jumps={3: 250_000}, subject=subject)
    path = tmp_path / "sim.threc"
    rep = record(SimSource(**kw), path)
    assert rep.frames == 3 and rep.fault is None and rep.dropped == 1
    assert [j.index for j in rep.timestamp_jumps] == [3]
    live = list(SimSource(**kw))
    played = RecordingSource(path)
    back = list(played)
    assert played.dropped == 1 and [j.index for j in played.timestamp_jumps] == [3]
    assert [f.index for f in back] == [f.index for f in live] == [0, 2, 3]
    for a, b in zip(live, back):
        assert a.timestamp_us == b.timestamp_us
        for name in ("color", "depth_mm", "K", "color_K", "depth_to_color"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), name
        ga, gb = a.ground_truth, b.ground_truth
        for name in ("vertices", "faces", "joints"):
            assert np.array_equal(getattr(ga, name), getattr(gb, name)), name
        for name in ("betas", "global_orient", "body_pose", "transl"):
            assert np.array_equal(getattr(ga.smpl, name), getattr(gb.smpl, name)), name
        assert ga.stage == gb.stage


def test_unplugged_sensor_faults_and_recording_keeps_frames(tmp_path, subject):
    src = SimSource(seed=SEED, depth_mode_name="NFOV_2X2BINNED", fps=5.0, unplug_at=2, subject=subject)
    seen = []
    with pytest.raises(SourceFault) as e:
        for f in src:
            seen.append(f.index)
    assert seen == [0, 1] and e.value.frame_index == 2 and "unplugged" in str(e.value)
    rep = record(SimSource(seed=SEED, depth_mode_name="NFOV_2X2BINNED", fps=5.0, unplug_at=2, subject=subject),
                 tmp_path / "u.threc")
    assert rep.frames == 2 and rep.fault.frame_index == 2
    with pytest.raises(SourceFault, match="unplugged at frame 2"):
        assert len(list(RecordingSource(tmp_path / "u.threc"))) == 2


def _angle(a, b):
    from thuman_io.body.poses import pose_distance
    return float(pose_distance(np.asarray(a)[None], np.asarray(b)[None])[0])


def test_prompts_are_imitated_with_delay_and_imperfection():
    from thuman_io.body.poses import load_pose_library

    lib = load_pose_library("builtin")
    ref = lib.poses[len(lib) // 2]
    cfg = MotionConfig(turn_seconds=10.0)
    m = SubjectMotion(cfg, seed=3)
    before = m.state(1.99)
    m.show_prompt(ref, 2.0)
    s = m.state(2.0 + cfg.reaction_s[0] - 0.05)  # not reacting yet
    assert s.stage == "turn" and np.array_equal(s.reference, ref.astype(np.float32))
    assert _angle(s.pose72, ref) > 0.1 and before.stage == "turn"
    end = 2.0 + cfg.reaction_s[1] + cfg.transition_s[1] + 0.1
    held = m.state(end)
    assert held.stage == "imitate"
    d = _angle(held.pose72, ref)
    assert 0.01 < d < 0.15  # close to the reference, never exactly on it
    assert abs(held.yaw - 2 * math.pi * round(held.yaw / (2 * math.pi))) < 1e-6  # faces the camera
    mid = m.state(2.0 + cfg.reaction_s[1] + 0.5 * cfg.transition_s[0])
    assert _angle(mid.pose72, ref) > d  # still on the way
    # replays exactly
    m2 = SubjectMotion(cfg, seed=3)
    m2.state(1.99)
    m2.show_prompt(ref, 2.0)
    np.testing.assert_array_equal(m2.state(end).pose72, held.pose72)


def test_turn_then_self_prompts_every_interval():
    cfg = MotionConfig(turn_seconds=4.0, interval_s=3.0)
    m = SubjectMotion(cfg, seed=1)
    yaws = [m.state(t).yaw for t in np.linspace(0, 4.0, 21)]
    assert yaws[0] == 0 and yaws[-1] == pytest.approx(2 * math.pi) and np.all(np.diff(yaws) >= 0)
    assert m.state(3.9).reference is None
    r1 = m.state(4.05).reference
    r2 = m.state(7.05).reference
    assert r1 is not None and r2 is not None and _angle(r1, r2) > 0.05
    assert [p.time_s for p in m.prompts] == [4.0, 7.0] and {p.by for p in m.prompts} == {"self"}
    # a session prompt replaces self-prompting
    m.show_prompt(np.zeros(72), 8.0)
    m.state(20.0)
    assert [p.by for p in m.prompts] == ["self", "self", "session"]


def test_source_forwards_prompts_to_the_subject(subject):
    src = SimSource(seed=SEED, depth_mode_name="NFOV_2X2BINNED", fps=2.0, max_frames=4, subject=subject,
                    motion=MotionConfig(turn_seconds=30.0))
    ref = np.zeros(72, np.float32)
    ref[16 * 3 + 2] = -1.2  # left arm down
    src.show_prompt(ref, 0.0)
    frames = list(src)
    src.close()
    assert frames[-1].ground_truth.stage == "imitate"
    np.testing.assert_array_equal(frames[-1].ground_truth.reference_pose, ref)
    R = frames[-1].depth_to_color[:3, :3]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-6)  # the factory calibration is float32
