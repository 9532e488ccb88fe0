"""Live rate: the simulated sensor in wall time drops frames exactly as K4ASource's queue does."""
import queue
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner


def _k4a_queue_after(produced: int, queue_size: int) -> list:
    """Run K4ASource's own reader against a fake device that captures ``produced`` frames while
    nobody consumes; return the frame numbers left in its queue, oldest first."""
    from thuman.capture.sources.k4a import K4ASource

    src = object.__new__(K4ASource)
    src._queue = queue.Queue(maxsize=queue_size)
    src._stop = threading.Event()

    class Device:
        n = 0

        def get_capture(self, timeout):
            Device.n += 1
            if Device.n >= produced:
                src._stop.set()
            return Device.n - 1

    src._device = Device()
    src._reader()
    out = []
    while not src._queue.empty():
        out.append(src._queue.get_nowait())
    return out


@pytest.mark.parametrize("produced,queue_size", [(3, 8), (20, 8), (20, 1), (9, 4)])
def test_live_queue_rule_matches_k4a_reader(produced, queue_size):
    from thuman.capture.sim.source import live_next_index

    left = _k4a_queue_after(produced, queue_size)
    fps = 30.0
    elapsed = (produced - 1) / fps + 0.001  # frames 0 .. produced-1 captured
    index, wait = live_next_index(None, elapsed, fps, queue_size)
    assert wait == 0 and index == left[0]
    # consuming the rest without further capture: the queue's order, then a wait for a new frame
    got, last = [index], index
    while True:
        index, wait = live_next_index(last, elapsed, fps, queue_size)
        if wait > 0:
            break
        got.append(index)
        last = index
    assert got == left
    assert index == produced and wait == pytest.approx(1 / fps - 0.001)


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_simulated_sensor_in_wall_time_drops_for_a_slow_consumer():
    """At 10 fps with a queue of 2, a consumer taking 0.35 s per frame sees every frame at first
    (the queue fills), then the oldest queued frame: gaps appear, timestamps stay index / fps, and
    the frames are the ones an on-demand source gives for those indices."""
    from thuman.capture.sim.sensor import DepthNoise
    from thuman.capture.sim.source import SimSource

    clock = FakeClock()
    opts = dict(seed=0, depth_mode_name="NFOV_2X2BINNED", fps=10.0, noise=DepthNoise.none(), ground_truth=False)
    live = SimSource(live=True, queue_size=2, clock=clock, sleep=clock.sleep, max_frames=6, **opts)
    frames = []
    for f in live:
        frames.append(f)
        clock.t += 0.35
    idx = [f.index for f in frames]
    # expected from the queue rule: t = 0, .35, .70, 1.05, ... -> newest 0, 3, 7, 10, 14, 17
    assert idx == [0, 2, 6, 9, 13, 16], idx
    assert live.dropped == 16 - 5
    assert all(f.timestamp_us == round(f.index * 1e5) for f in frames)
    offline = SimSource(**opts)
    by_index = {}
    for f in offline:
        by_index[f.index] = f
        if f.index >= 16:
            break
    for f in frames:
        assert np.array_equal(f.depth_mm, by_index[f.index].depth_mm)


def test_fast_consumer_waits_for_the_camera():
    from thuman.capture.sim.source import SimSource

    clock = FakeClock()
    src = SimSource(live=True, clock=clock, sleep=clock.sleep, fps=5.0, depth_mode_name="NFOV_2X2BINNED",
                    max_frames=4, ground_truth=False)
    idx = [f.index for f in src]
    assert idx == [0, 1, 2, 3] and clock.t == pytest.approx(100.6)


def test_live_prompt_takes_effect_now():
    """A prompt shown while frames wait in the queue starts at the present, not at the frame's time."""
    from thuman.capture.sim.source import SimSource

    clock = FakeClock()
    src = SimSource(live=True, clock=clock, sleep=clock.sleep, fps=5.0, depth_mode_name="NFOV_2X2BINNED",
                    ground_truth=False)
    it = iter(src)
    next(it)
    clock.t += 2.0
    src.show_prompt(np.zeros(72, np.float32), 0.0)
    assert src.motion.prompts[-1].time_s == pytest.approx(2.0)


def test_live_in_real_time():
    """On the real clock: frames arrive at the camera's rate, not faster."""
    from thuman.capture.sim.source import SimSource

    src = SimSource(live=True, fps=20.0, depth_mode_name="NFOV_2X2BINNED", max_frames=5, ground_truth=False)
    t0 = time.monotonic()
    idx = [f.index for f in src]
    assert time.monotonic() - t0 >= 4 / 20.0 - 1e-3
    assert idx == sorted(idx) and idx[0] == 0


POSES = [np.zeros(72, np.float32), np.zeros(72, np.float32)]
POSES[0][18 * 3 + 1] = -1.0
POSES[1][16 * 3 + 2] = 0.3


@pytest.fixture(scope="module")
def bm():
    from thuman_io.body import load_body_model

    return load_body_model("open")


class _Live:
    """A source that claims to be a live camera far faster than any processing."""

    live, fps, name = True, 1000.0, "fake-camera"

    def __init__(self, inner):
        self.inner = inner

    def show_prompt(self, pose, t):
        self.inner.show_prompt(pose, t)

    def __iter__(self):
        return iter(self.inner)


def _items(paths):
    import thuman_io

    return [thuman_io.read_item(p) for p in paths]


def test_record_then_fuse_equals_an_online_run_over_the_same_frames(bm, tmp_path):
    """'after' records every frame with the prompts on a fixed schedule and fuses afterwards: its
    items equal those of an online run whose stage 1 ended at the same time; 'auto' on a camera that
    outruns processing switches to it and says so."""
    from capture_fixtures import TurningBodySource, session_config

    from thuman.capture.session import CaptureSession

    def run(mode, out, source, **kw):
        statuses = []
        cfg = session_config("007", coverage_target=1.0, max_turn_s=3.0, record_turn_s=3.0, fuse_mode=mode,
                             rate_check_frames=2, **kw)
        res = CaptureSession(source, bm, out, cfg, lambda k: POSES[k], on_status=statuses.append).run()
        return res, statuses

    make = lambda: TurningBodySource(bm, fps=3, turn_s=3.0, total_s=12.0, turn_rad=np.pi)  # noqa: E731
    online, _ = run("online", tmp_path / "online", make())
    src_after = make()
    after, st_after = run("after", tmp_path / "after", src_after)
    auto, st_auto = run("auto", tmp_path / "auto", _Live(make()))
    assert online.mode == "online" and after.mode == "record-then-fuse" and auto.mode == "record-then-fuse"
    assert len(online.items) == len(after.items) == len(auto.items) == 2
    assert any("record-then-fuse" in w for w in auto.warnings)
    # prompts were shown while recording, on time, once each
    assert [p[1] for p in src_after.prompts] == pytest.approx([3.0, 4.0])
    modes = [s.mode for s in st_after]
    assert modes[0] == "recording" and modes[-1] == "fusing recorded"
    assert "online" in [s.mode for s in st_auto] and st_auto[-1].mode == "fusing recorded"
    for a, b, c in zip(_items(online.items), _items(after.items), _items(auto.items)):
        for other in (b, c):
            assert np.array_equal(a.mesh.vertices, other.mesh.vertices)
            assert np.array_equal(a.mesh.faces, other.mesh.faces)
            assert np.array_equal(a.smpl.body_pose, other.smpl.body_pose)
            assert a.meta.extra["frame_index"] == other.meta.extra["frame_index"]


@pytest.mark.slow
def test_live_simulated_capture_matches_the_offline_run(tmp_path, capsys):
    """The done-when of live rate: ``thuman capture --source sim --live`` on this machine writes
    items that validate with surface error within 1.5x of the offline run of the same subject,
    and says which mode it ran in."""
    import thuman_io
    from thuman.cli.main import cli

    errors = {}
    for name, extra in (("offline", []), ("live", ["--live"])):
        out = tmp_path / name
        r = CliRunner().invoke(cli, ["capture", "--subject", "003", "--source", "sim", "--poses", "1",
                                                     "--seed", "0", "--prompt", "none", "--out", str(out)] + extra)
        assert r.exit_code == 0, (r.output, r.stderr, r.exception)
        assert ("record-then-fuse" in r.stderr or "online" in r.stderr), r.stderr
        (path,) = sorted((out / "003").glob("*.h5"))
        assert thuman_io.validate_item(path) == []
        errors[name] = thuman_io.read_item(path, frame=False).meta.extra["ground_truth_errors"]["surface_mean_mm"]
        with capsys.disabled():
            summary = [line for line in r.stderr.splitlines() if "written to" in line]
            print(f"\n{name}: surface error mean {errors[name]:.1f} mm; {summary}")
    assert errors["live"] <= 1.5 * errors["offline"], errors


def test_cli_live_is_for_the_simulator_only(tmp_path):
    from thuman.cli.main import cli

    r = CliRunner().invoke(cli, ["capture", "--subject", "001", "--source", "playback", str(tmp_path / "x.threc"),
                                 "--live", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--live is for --source sim" in r.output
    r = CliRunner().invoke(cli, ["capture", "--help"])
    assert "--fuse [auto|online|after]" in r.output and "--record-turn" in r.output


def test_capture_is_the_same_bytes_on_two_threads(bm, tmp_path):
    """Two identical captures with 2 torch threads give identical meshes (torch's threaded scatter
    sums differ run to run without deterministic algorithms), and the caller's setting is restored."""
    import torch

    from capture_fixtures import TurningBodySource, session_config

    from thuman.capture.session import CaptureSession

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = []
        for name in ("a", "b"):
            cfg = session_config("008", coverage_target=1.0, max_turn_s=3.0, fuse_mode="online")
            src = TurningBodySource(bm, fps=3, turn_s=3.0, total_s=8.0, turn_rad=np.pi)
            runs.append(_items(CaptureSession(src, bm, tmp_path / name, cfg, lambda k: POSES[k]).run().items))
    finally:
        torch.set_num_threads(threads)
    assert len(runs[0]) == len(runs[1]) >= 1
    for a, b in zip(*runs):
        assert np.array_equal(a.mesh.vertices, b.mesh.vertices) and np.array_equal(a.smpl.body_pose, b.smpl.body_pose)
    assert not torch.are_deterministic_algorithms_enabled()
