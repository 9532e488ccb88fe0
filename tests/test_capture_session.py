"""The capture session and ``thuman capture``: items written, validated, resumable, and intact
after Ctrl-C or a source fault."""
import numpy as np
import pytest
from click.testing import CliRunner

from capture_fixtures import TurningBodySource, session_config


@pytest.fixture(scope="module")
def bm():
    from thuman_io.body import load_body_model

    return load_body_model("open")


POSES = [np.zeros(72, np.float32), np.zeros(72, np.float32)]
POSES[0][18 * 3 + 1] = -1.0  # left elbow bent
POSES[1][16 * 3 + 2] = 0.3   # left arm up


def test_session_writes_valid_items_with_reference_pose_and_steps(bm, tmp_path):
    import thuman_io
    from thuman.capture.session import CaptureSession

    src = TurningBodySource(bm, fps=3, turn_s=3.0, total_s=12.0, turn_rad=np.pi)
    statuses = []
    cfg = session_config("012", prompt_dir=tmp_path / ".prompts" / "012")
    res = CaptureSession(src, bm, tmp_path, cfg, lambda k: POSES[k], on_status=statuses.append).run()
    assert res.stop_reason == "done" and len(res.items) == 2
    assert [p.name for p in res.items] == ["0000.h5", "0001.h5"]
    for k, path in enumerate(res.items):
        assert thuman_io.validate_item(path) == []
        item = thuman_io.read_item(path)
        np.testing.assert_allclose(item.meta.reference_pose, POSES[k])
        assert item.meta.postprocessing[:2] == ["screened_poisson", "density_trim"]
        assert "isotropic_remeshing" in item.meta.postprocessing
        assert item.frame is not None and item.frame.depth_mm.shape == (160, 128)
        assert item.mesh.vertex_colors is not None
        errs = item.meta.extra["ground_truth_errors"]
        # Half a turn at 2.5 cm voxels: loose bounds that a broken pipeline (metres off) fails.
        assert errs["surface_mean_mm"] < 30 and errs["joint_mean_mm"] < 50, errs
    # The simulated subject was prompted with the session's poses, at the end of stage 1.
    assert len(src.prompts) == 2 and src.prompts[1][1] > src.prompts[0][1]
    assert sorted(p.name for p in (tmp_path / ".prompts" / "012").iterdir()) == ["prompt_0000.png", "prompt_0001.png"]
    stages = [s.stage for s in statuses]
    assert stages[0] == "turn" and stages[-1] == "imitate" and statuses[-1].items_saved == 2
    assert all(0 <= s.coverage <= 1 for s in statuses) and statuses[-1].coverage >= 0.5
    assert set(res.fps) == {"turn", "imitate"}
    # The dataset sees exactly the two items (prompts are hidden).
    assert [r.pose_index for r in thuman_io.open_dataset(tmp_path).items()] == [0, 1]


class _Interrupting(TurningBodySource):
    """Raises KeyboardInterrupt (as Ctrl-C would) or a SourceFault at a given frame."""

    def __init__(self, bm, at, error, **kw):
        super().__init__(bm, **kw)
        self.at, self.error = at, error

    def _read(self):
        if self.i == self.at:
            raise self.error
        return super()._read()


@pytest.mark.parametrize("error,reason", [(KeyboardInterrupt(), "interrupted"),
                                          (None, "source fault")])
def test_interrupt_and_fault_keep_saved_items(bm, tmp_path, error, reason):
    import thuman_io
    from thuman.capture.session import CaptureSession, next_pose_index
    from thuman_io.errors import SourceFault

    err = error if error is not None else SourceFault("simulated sensor unplugged", frame_index=11)
    # Stage 1 ends after 2 frames (coverage 0.3); pose 0 is saved at frame 5; stop at frame 7.
    src = _Interrupting(bm, 7, err, fps=3, turn_s=3.0, total_s=30.0, turn_rad=np.pi)
    cfg = session_config("007", poses=3, coverage_target=0.3, fusion=session_config("x").fusion)
    res = CaptureSession(src, bm, tmp_path, cfg, lambda k: POSES[k % 2]).run()
    assert res.stop_reason.startswith(reason)
    assert len(res.items) >= 1
    for p in res.items:
        assert thuman_io.validate_item(p) == []
    assert not list((tmp_path / "007").glob(".tmp-*"))
    assert next_pose_index(tmp_path, "007") == len(res.items)


def test_cli_refuses_existing_subject_without_resume(tmp_path):
    import thuman_io
    from thuman.cli.main import cli
    from thuman_io.testing import make_synthetic_item

    item = make_synthetic_item(np.random.default_rng(0), subject="012", pose_index=0)
    thuman_io.write_item(tmp_path, item)
    r = CliRunner().invoke(cli, ["capture", "--subject", "012", "--source", "sim", "--out", str(tmp_path)])
    assert r.exit_code != 0
    assert "--resume" in str(r.exception) and "--overwrite" in str(r.exception)
    r = CliRunner().invoke(cli, ["capture", "--subject", "012", "--resume", "--overwrite", "--out", str(tmp_path)])
    assert r.exit_code != 0 and "exclude" in r.output


def test_cli_capture_sim_resume_continues_numbering(tmp_path):
    """The real simulator, cut short: a low coverage target, one pose, 2 fps."""
    import thuman_io
    from thuman.cli.main import cli

    args = ["capture", "--subject", "012", "--source", "sim", "--poses", "1", "--interval", "1",
            "--fps", "2", "--coverage", "0.3", "--voxel-mm", "25", "--edge-mm", "30", "--prompt", "images", "--out", str(tmp_path)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, (r.output, r.exception)
    assert (tmp_path / "012" / "0000.h5").exists()
    r = CliRunner().invoke(cli, args + ["--resume", "--seed", "1"])
    assert r.exit_code == 0, (r.output, r.exception)
    paths = sorted(p.name for p in (tmp_path / "012").glob("*.h5"))
    assert paths == ["0000.h5", "0001.h5"]
    for p in (tmp_path / "012").glob("*.h5"):
        assert thuman_io.validate_item(p) == []
    item = thuman_io.read_item(tmp_path / "012" / "0001.h5", frame=False)
    assert item.meta.device == "sim:1" and item.meta.pose_index == 1
    assert "surface error mean" in r.output


class _SubjectLeaves(TurningBodySource):
    """The subject walks out of view after ``leave_at`` frames: depth empty from then on."""

    def __init__(self, bm, leave_at, **kw):
        super().__init__(bm, **kw)
        self.leave_at = leave_at

    def _read(self):
        frame = super()._read()
        if frame is not None and frame.index >= self.leave_at:
            frame.depth_mm[:] = 0
        return frame


def test_losing_the_subject_raises_tracking_lost_naming_subject_and_frame(bm, tmp_path):
    from thuman.capture.session import CaptureSession
    from thuman_io.errors import ThumanError, TrackingLost

    src = _SubjectLeaves(bm, leave_at=2, fps=3, turn_s=3.0, total_s=12.0)
    session = CaptureSession(src, bm, tmp_path, session_config("007"), lambda k: POSES[k])
    with pytest.raises(TrackingLost) as info:
        session.run()
    assert isinstance(info.value, ThumanError)
    assert info.value.subject == "007" and info.value.frame_index == 2
    assert str(info.value).startswith("subject 007: frame 2: only 0 depth points on the subject")
    assert "start the capture again" in str(info.value)


def test_a_subject_facing_the_camera_is_not_taken_for_a_wall():
    """Simulator seed 2 with no room: a 2 cm slab through the subject's front holds 44 % of the
    points and spans 1.1 m x 1.7 m; segmentation once removed it as a wall (the subject lost at
    frame 0). The subject must survive whole, and a real room's planes must still be found."""
    from thuman.capture.camera import backproject, cv_to_capture, depth_mm_to_m
    from thuman.capture.segment import find_planes, largest_cluster, remove_planes
    from thuman.capture.sources import open_source

    for background, want_planes in (("none", 0), ("room", 2)):
        with open_source("sim", seed=2, depth_mode="NFOV_2X2BINNED", fps=5.0, background=background) as src:
            frame = next(iter(src))
        depth = depth_mm_to_m(frame.depth_mm)
        depth = np.where(depth < 4.0, depth, 0.0)
        pts = cv_to_capture(backproject(depth, frame.camera))[depth > 0]
        planes = find_planes(pts, seed=2)
        assert len(planes) == want_planes, (background, planes)
        subject = largest_cluster(remove_planes(pts, planes))
        gt = frame.ground_truth.vertices
        inside = (subject[:, 2] > gt[:, 2].min() - 0.05) & (subject[:, 2] < gt[:, 2].max() + 0.05)
        assert len(subject) > 5000 and inside.mean() > 0.99
