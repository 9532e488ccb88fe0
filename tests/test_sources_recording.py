"""The toolkit's recording format: round trip, truncation, corruption, drops, jumps, faults, docs."""
import re
from pathlib import Path

import numpy as np
import pytest

from thuman.capture.frames import Frame, FrameSource, GroundTruth
from thuman.capture.sources.faults import dropped_frame_runs, find_timestamp_jumps
from thuman.capture.sources.recording import RecordingSource, record
from thuman_io.errors import InputError, SchemaError, SourceFault
from thuman_io.item import SMPLParams
from thuman_io.recording import FIELDS, RecordedFrame, RecordingHeader, RecordingWriter, open_recording

H, W = 12, 16
K = np.array([[20.0, 0, 7.5], [0, 20.0, 5.5], [0, 0, 1]])


def _frame(i, rng, ts=None, gt=True, faces=None):
    g = None
    if gt:
        g = {"gt_vertices": rng.random((5, 3), dtype=np.float32),
             "gt_faces": faces if faces is not None else np.array([[0, 1, 2], [2, 3, 4]], np.int32),
             "gt_joints": rng.random((24, 3), dtype=np.float32), "smpl_betas": rng.random(10, dtype=np.float32),
             "smpl_global_orient": rng.random(3, dtype=np.float32), "smpl_body_pose": rng.random(69, dtype=np.float32),
             "smpl_transl": rng.random(3, dtype=np.float32), "reference_pose": rng.random(72, dtype=np.float32),
             "stage": "turn", "smpl_model": "open", "smpl_gender": "neutral"}
    return RecordedFrame(i, int(i * 33333 if ts is None else ts), rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
                         rng.integers(0, 5000, (H, W), dtype=np.uint16), g)


def _header(**kw):
    return RecordingHeader(width=W, height=H, fps=30.0, K=K, source="test", device="unit", depth_mode="NFOV_UNBINNED", **kw)


def _write(path, frames, fault=None, close=True):
    w = RecordingWriter(path, _header(extra={"seed": 7}))
    for f in frames:
        w.add(f)
    if close:
        w.close(fault=fault)
    else:
        w._f.close()  # simulate a writer killed before close(): no END record
    return path


def test_round_trip_is_exact(tmp_path, rng):
    frames = [_frame(i, rng) for i in range(4)]
    frames[3].ground_truth["gt_faces"] = np.array([[4, 3, 2]], np.int32)  # faces change mid-stream
    path = _write(tmp_path / "a.threc", frames)
    with open_recording(path) as rec:
        assert rec.truncated is None and rec.fault is None
        assert len(rec) == 4 and rec.summary["frame_count"] == 4 and rec.summary["dropped"] == 0
        assert rec.header.width == W and rec.header.extra == {"seed": 7} and rec.header.source == "test"
        np.testing.assert_array_equal(rec.header.K, K)
        for i in (2, 0, 3, 1):  # random access, faces carried over from the frame that stored them
            got, want = rec.frame(i), frames[i]
            assert (got.index, got.timestamp_us) == (want.index, want.timestamp_us)
            np.testing.assert_array_equal(got.color, want.color)
            np.testing.assert_array_equal(got.depth_mm, want.depth_mm)
            for k, v in want.ground_truth.items():
                np.testing.assert_array_equal(np.asarray(got.ground_truth[k]), np.asarray(v), err_msg=k)


def test_raw_codec_and_frames_without_ground_truth(tmp_path, rng):
    path = tmp_path / "raw.threc"
    w = RecordingWriter(path, _header(), codec="raw")
    f = _frame(0, rng, gt=False)
    w.add(f)
    w.close()
    got = open_recording(path).frame(0)
    assert got.ground_truth is None
    np.testing.assert_array_equal(got.depth_mm, f.depth_mm)


@pytest.mark.parametrize("cut", ["inside_last_frame", "at_record_boundary"])
def test_truncated_file_names_file_and_last_good_frame(tmp_path, rng, cut):
    path = _write(tmp_path / "t.threc", [_frame(i, rng) for i in range(5)], close=cut != "at_record_boundary")
    size = path.stat().st_size
    if cut == "inside_last_frame":
        with open(path, "r+b") as f:
            f.truncate(size - 200)  # the END record and part of frame 4
    with pytest.raises(InputError) as e:
        open_recording(path)
    msg = str(e.value)
    assert str(path) in msg and "truncated" in msg
    last = 3 if cut == "inside_last_frame" else 4
    assert f"last good frame is {last}" in msg
    # Playback keeps the good frames, then reports the fault with the next frame index.
    src = RecordingSource(path)
    got = []
    with pytest.raises(SourceFault) as e:
        for frame in src:
            got.append(frame.index)
    assert got == list(range(last + 1)) and e.value.frame_index == last + 1
    assert f"last good frame is {last}" in str(e.value) and str(path) in str(e.value)


def test_cut_inside_header_and_foreign_files(tmp_path, rng):
    path = _write(tmp_path / "h.threc", [_frame(0, rng)])
    with open(path, "r+b") as f:
        f.truncate(20)
    with pytest.raises(InputError, match="no frame is readable"):
        open_recording(path)
    other = tmp_path / "x.threc"
    other.write_bytes(b"RIFF....not a recording")
    with pytest.raises(SchemaError, match="not a thuman recording"):
        open_recording(other)
    with pytest.raises(InputError, match="no such recording"):
        open_recording(tmp_path / "missing.threc")


def test_newer_schema_version_is_refused(tmp_path, rng, monkeypatch):
    import thuman_io.recording as recording

    monkeypatch.setattr(recording, "RECORDING_SCHEMA_VERSION", 99)
    path = _write(tmp_path / "v.threc", [_frame(0, rng)])
    monkeypatch.undo()
    with pytest.raises(SchemaError, match="schema_version.*upgrade"):
        open_recording(path)


def test_v2_carries_the_lens_and_v1_files_still_read(tmp_path, rng, monkeypatch):
    import json

    import thuman_io.recording as recording
    from thuman.capture.camera import CameraModel

    lens = CameraModel(W, H, 20.0, 21.0, 7.5, 5.5, (0.5, -0.02, 0.0, 0.9, 0.08, -0.01), p1=2e-5, p2=-7e-5,
                       metric_radius=1.74, model="brown_conrady")
    path = tmp_path / "v2.threc"
    with RecordingWriter(path, _header(camera=lens.to_dict(), k4a_calibration='{"x": 1}')) as w:
        w.add(_frame(0, rng))
    src = RecordingSource(path)
    frame = next(iter(src))
    src.close()
    assert frame.camera == lens and src.camera == lens and json.loads(src.k4a_calibration) == {"x": 1}
    np.testing.assert_array_equal(frame.K, K)
    # A version 1 file (written before the lens fields) reads as its pinhole K.
    monkeypatch.setattr(recording, "RECORDING_SCHEMA_VERSION", 1)
    old = _write(tmp_path / "v1.threc", [_frame(0, rng)])
    monkeypatch.undo()
    with open_recording(old) as rec:
        assert rec.header.schema_version == 1 and rec.header.camera is None
    src = RecordingSource(old)
    frame = next(iter(src))
    src.close()
    assert frame.camera == CameraModel.pinhole(K, W, H) and frame.camera.is_pinhole


def test_corrupt_frame_is_a_fault_naming_the_last_good_frame(tmp_path, rng):
    path = _write(tmp_path / "c.threc", [_frame(i, rng) for i in range(4)])
    rec = open_recording(path)
    offset = rec._entries[2].offset + 40
    rec.close()
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    src = RecordingSource(path)
    seen = []
    with pytest.raises(SourceFault) as e:
        for frame in src:
            seen.append(frame.index)
    assert seen == [0, 1] and e.value.frame_index == 2 and "last good frame is 1" in str(e.value)


def test_dropped_frames_and_timestamp_jumps_are_reported(tmp_path, rng):
    # frames 3, 4 dropped (time advances with them: no jump); at frame 7 the clock jumps +0.5 s.
    idx = [0, 1, 2, 5, 6, 7, 8]
    ts = [i * 33333 + (500_000 if i >= 7 else 0) for i in idx]
    path = _write(tmp_path / "d.threc", [_frame(i, rng, t) for i, t in zip(idx, ts)])
    rec = open_recording(path)
    assert rec.summary["dropped"] == 2
    assert dropped_frame_runs(rec.indices) == [(3, 2)]
    jumps = find_timestamp_jumps(rec.indices, rec.timestamps_us, rec.header.fps)
    assert [j.index for j in jumps] == [7] and jumps[0].actual_us - jumps[0].expected_us == pytest.approx(500_000, abs=2)
    src = RecordingSource(path)
    assert [f.index for f in src] == idx
    assert src.dropped == 2 and [j.index for j in src.timestamp_jumps] == [7]
    # time running backwards is always a jump
    assert [j.index for j in find_timestamp_jumps([0, 1, 2], [0, 33333, 20000], 30.0)] == [2]


def test_recorded_fault_is_replayed(tmp_path, rng):
    path = _write(tmp_path / "f.threc", [_frame(i, rng) for i in range(3)],
                  fault=SourceFault("camera unplugged", frame_index=3))
    rec = open_recording(path)
    assert rec.fault == {"message": "camera unplugged", "frame_index": 3} and rec.truncated is None
    with pytest.raises(SourceFault, match="camera unplugged at frame 3"):
        list(RecordingSource(path))
    assert len(list(RecordingSource(path, replay_fault=False))) == 3


class _ListSource(FrameSource):
    """A real FrameSource over frames made here, which stops with a fault after them."""

    name = "list"

    def __init__(self, frames, fault_at=None):
        super().__init__()
        self.frames, self.fault_at = list(frames), fault_at

    def _read(self):
        if not self.frames:
            if self.fault_at is not None:
                raise SourceFault("unplugged", frame_index=self.fault_at)
            return None
        return self.frames.pop(0)


def _frames_with_gt(rng, n):
    out = []
    for i in range(n):
        r = _frame(i, rng)
        g = r.ground_truth
        smpl = SMPLParams(g["smpl_betas"], g["smpl_global_orient"], g["smpl_body_pose"], g["smpl_transl"])
        out.append(Frame(i, r.timestamp_us, r.color, r.depth_mm, K, ground_truth=GroundTruth(
            g["gt_vertices"], g["gt_faces"], smpl, g["gt_joints"], "imitate", g["reference_pose"])))
    return out


def test_record_keeps_frames_before_a_fault(tmp_path, rng):
    frames = _frames_with_gt(rng, 4)
    report = record(_ListSource(frames, fault_at=4), tmp_path / "r.threc")
    assert report.frames == 4 and isinstance(report.fault, SourceFault) and report.fault.frame_index == 4
    back = []
    with pytest.raises(SourceFault, match="unplugged at frame 4"):
        for f in RecordingSource(tmp_path / "r.threc"):
            back.append(f)
    assert [f.index for f in back] == [0, 1, 2, 3]
    np.testing.assert_array_equal(back[2].ground_truth.smpl.body_pose, frames[2].ground_truth.smpl.body_pose)
    assert back[2].ground_truth.stage == "imitate"
    with pytest.raises(InputError, match="exists already"):
        record(_ListSource(frames), tmp_path / "r.threc")


def test_writer_checks_frames(tmp_path, rng):
    w = RecordingWriter(tmp_path / "w.threc", _header())
    bad = _frame(0, rng)
    bad.depth_mm = bad.depth_mm.astype(np.float32)
    with pytest.raises(InputError, match="depth_mm must be"):
        w.add(bad)
    w.add(_frame(1, rng))
    with pytest.raises(InputError, match="does not follow"):
        w.add(_frame(1, rng))
    w.close()


def test_format_doc_lists_every_field():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "format-recording.md").read_text()
    documented = set(re.findall(r"^\|\s*`([a-zA-Z0-9_]+)`", doc, flags=re.M))
    for record_tag, names in FIELDS.items():
        missing = [n for n in names if n not in documented]
        assert not missing, f"{record_tag} fields missing from docs/format-recording.md: {missing}"
