"""``thuman record``: simulated recording, a fault keeps the saved frames and exits non-zero, playback."""
import subprocess
import sys

from click.testing import CliRunner

from thuman.cli.record_command import record
from thuman_io.recording import open_recording


def test_record_sim_then_play_back(tmp_path):
    out = tmp_path / "sim.threc"
    r = CliRunner().invoke(record, ["--source", "sim", "--out", str(out), "--seconds", "0.6", "--fps", "5",
                                    "--depth-mode", "NFOV_2X2BINNED", "--seed", "5"])
    assert r.exit_code == 0, r.output
    assert "recorded 3 frames" in r.output and "0 dropped" in r.output
    rec = open_recording(out)
    assert len(rec) == 3 and rec.header.source == "sim" and rec.header.extra["seed"] == 5
    assert rec.frame(0).ground_truth is not None
    copy = tmp_path / "copy.threc"
    r = CliRunner().invoke(record, ["--source", "playback", "--file", str(out), "--out", str(copy), "--no-ground-truth"])
    assert r.exit_code == 0, r.output
    back = open_recording(copy)
    assert len(back) == 3 and back.frame(2).ground_truth is None
    assert (back.frame(2).depth_mm == rec.frame(2).depth_mm).all()
    r = CliRunner().invoke(record, ["--source", "sim", "--out", str(out)])
    assert r.exit_code != 0 and "exists already" in str(r.exception)


def test_fault_keeps_saved_frames_and_exits_nonzero(tmp_path):
    out = tmp_path / "fault.threc"
    cmd = [sys.executable, "-m", "thuman.cli.main", "record", "--source", "sim", "--out", str(out), "--seconds", "3",
           "--fps", "5", "--depth-mode", "NFOV_2X2BINNED", "--seed", "5", "--unplug-at", "4", "--drop-every", "3"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    err = r.stderr.strip().splitlines()[-1]
    assert err.startswith("thuman: error: simulated sensor unplugged at frame 4") and "kept 3 frames" in err
    assert "1 dropped" in err
    rec = open_recording(out)
    assert list(rec.indices) == [0, 1, 3] and rec.fault["frame_index"] == 4
    # playing the faulty recording back meets the same fault
    r = CliRunner().invoke(record, ["--source", "playback", "--file", str(out), "--out", str(tmp_path / "p.threc")])
    assert r.exit_code != 0 and "unplugged" in str(r.exception)
    assert len(open_recording(tmp_path / "p.threc")) == 3


def test_truncated_recording_fails_naming_the_last_good_frame(tmp_path):
    out = tmp_path / "t.threc"
    r = CliRunner().invoke(record, ["--source", "sim", "--out", str(out), "--seconds", "0.8", "--fps", "5",
                                    "--depth-mode", "NFOV_2X2BINNED", "--seed", "5"])
    assert r.exit_code == 0, r.output
    size = out.stat().st_size
    with open(out, "r+b") as f:
        f.truncate(size - 1000)
    r = CliRunner().invoke(record, ["--source", "playback", "--file", str(out), "--out", str(tmp_path / "p.threc")])
    assert r.exit_code != 0
    msg = str(r.exception)
    assert str(out) in msg and "truncated" in msg and "last good frame is 2" in msg


def test_bad_option_combinations(tmp_path):
    r = CliRunner().invoke(record, ["--source", "playback", "--out", str(tmp_path / "x.threc")])
    assert r.exit_code != 0 and "needs a file" in str(r.exception)
    r = CliRunner().invoke(record, ["--source", "k4a", "--unplug-at", "3", "--out", str(tmp_path / "x.threc")])
    assert r.exit_code != 0 and "--source sim only" in str(r.exception)


def test_positional_file_and_output_folder(tmp_path):
    src = tmp_path / "in.threc"
    r = CliRunner().invoke(record, ["--source", "sim", "--out", str(src), "--seconds", "0.2", "--fps", "5",
                                    "--depth-mode", "NFOV_2X2BINNED", "--seed", "5"])
    assert r.exit_code == 0, r.output
    folder = tmp_path / "takes"
    folder.mkdir()
    r = CliRunner().invoke(record, ["--source", "playback", str(src), "--out", str(folder)])
    assert r.exit_code == 0, r.output
    written = list(folder.glob("playback-*.threc"))
    assert len(written) == 1 and len(open_recording(written[0])) == 1
    r = CliRunner().invoke(record, ["--source", "playback", str(src), "--out", str(src), "--overwrite"])
    assert r.exit_code != 0 and "being played back" in str(r.exception)


def test_inspect_prints_the_camera_and_gaps_and_writes_the_point_cloud(tmp_path):
    import numpy as np

    from thuman.capture.camera import backproject, depth_mm_to_m
    from thuman.capture.sources.recording import RecordingSource
    from thuman.cli.inspect_command import inspect

    out = tmp_path / "sim.threc"
    r = CliRunner().invoke(record, ["--source", "sim", "--out", str(out), "--seconds", "1.0", "--fps", "5",
                                    "--depth-mode", "NFOV_2X2BINNED", "--drop-every", "3"])
    assert r.exit_code == 0, r.output
    ply = tmp_path / "f.ply"
    r = CliRunner().invoke(inspect, [str(out), "--frame", "1", "--ply", str(ply)])
    assert r.exit_code == 0, r.output
    text = r.output
    assert "NFOV_2X2BINNED  320x288" in text and "brown_conrady" in text and "metric radius 1.74" in text
    assert "translation (-32.08, -2.21, 3.88) mm" in text and "gaps:          1 (1 frames missing)" in text
    data = ply.read_bytes()
    body = data[data.index(b"end_header\n") + len(b"end_header\n"):]
    pts = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    src = RecordingSource(out)
    frame = list(src)[1]
    src.close()
    want = backproject(depth_mm_to_m(frame.depth_mm), frame.camera)
    want = want[want[..., 2] > 0]
    assert len(pts) == len(want) > 1000 and b"metres" in data[:400]
    np.testing.assert_array_equal(np.stack([pts["x"], pts["y"], pts["z"]], -1), want)
    assert np.array_equal(pts["r"], frame.color[frame.depth_mm > 0][:, 0])
