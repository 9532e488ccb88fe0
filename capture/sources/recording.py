"""The toolkit's own recordings as a frame source (:class:`RecordingSource`), and
:func:`record` which streams any source into a recording. The file format itself lives in
``thuman_io.recording`` (only thuman_io reads and writes toolkit files)."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from thuman.capture.camera import CameraModel
from thuman.capture.frames import Frame, FrameSource, GroundTruth
from thuman.capture.sources.faults import TimestampJump, find_timestamp_jumps
from thuman_io.errors import InputError, SourceFault
from thuman_io.item import SMPLParams
from thuman_io.recording import RecordedFrame, RecordingHeader, RecordingWriter, open_recording


def frame_to_recorded(frame: Frame) -> RecordedFrame:
    """Frame (with optional ground truth) -> the format's RecordedFrame."""
    gt = None
    if frame.ground_truth is not None:
        g = frame.ground_truth
        gt = {"gt_vertices": g.vertices, "gt_faces": g.faces, "gt_joints": g.joints,
              "smpl_betas": g.smpl.betas, "smpl_global_orient": g.smpl.global_orient,
              "smpl_body_pose": g.smpl.body_pose, "smpl_transl": g.smpl.transl,
              "reference_pose": g.reference_pose, "stage": g.stage, "smpl_model": g.smpl.model,
              "smpl_gender": g.smpl.gender}
    return RecordedFrame(frame.index, frame.timestamp_us, frame.color, frame.depth_mm, gt)


def recorded_to_frame(rec: RecordedFrame, header: RecordingHeader) -> Frame:
    """The format's RecordedFrame + its recording's header -> Frame."""
    gt = None
    if rec.ground_truth is not None:
        g = rec.ground_truth
        smpl = SMPLParams(betas=g["smpl_betas"], global_orient=g["smpl_global_orient"],
                          body_pose=g["smpl_body_pose"], transl=g["smpl_transl"],
                          model=g.get("smpl_model") or "open", gender=g.get("smpl_gender") or "neutral")
        gt = GroundTruth(vertices=g["gt_vertices"], faces=g["gt_faces"], smpl=smpl, joints=g["gt_joints"],
                         stage=g.get("stage", ""), reference_pose=g.get("reference_pose"))
    camera, color_camera = header_cameras(header)
    return Frame(index=rec.index, timestamp_us=rec.timestamp_us, color=rec.color, depth_mm=rec.depth_mm,
                 K=np.array(header.K), color_K=np.array(header.color_K),
                 depth_to_color=np.array(header.depth_to_color), ground_truth=gt, camera=camera,
                 color_camera=color_camera)


def header_cameras(header: RecordingHeader) -> tuple[CameraModel, Optional[CameraModel]]:
    """The depth and colour camera models of a recording; a v1 file's are its pinhole K."""
    camera = (CameraModel.from_dict(header.camera, "HEAD/camera") if header.camera
              else CameraModel.pinhole(header.K, header.width, header.height))
    color = CameraModel.from_dict(header.color_camera, "HEAD/color_camera") if header.color_camera else None
    return camera, color


class RecordingSource(FrameSource):
    """Play back a toolkit recording (``thuman record`` output). Needs no camera SDK.

    Reports what the recording holds: ``dropped`` (index gaps), ``timestamp_jumps``
    (list of TimestampJump, also known before playing from ``recording``), and raises
    SourceFault after the last good frame when the file is truncated or when the recorded
    stream ended in a fault (``replay_fault=False`` ignores the latter).
    """

    name = "playback"

    def __init__(self, path: str | os.PathLike, replay_fault: bool = True):
        super().__init__()
        self.path = Path(path)
        self.recording = open_recording(self.path, allow_truncated=True)
        self.header = self.recording.header
        self.fps = float(self.header.fps)
        self.camera, self.color_camera = header_cameras(self.header)
        self.k4a_calibration = self.header.k4a_calibration
        self.depth_mode = self.header.depth_mode
        self.replay_fault = replay_fault
        self.timestamp_jumps: list[TimestampJump] = []
        self._all_jumps = find_timestamp_jumps(self.recording.indices, self.recording.timestamps_us, self.fps)
        self._pos = 0

    @property
    def device(self) -> str:
        return f"playback:{self.path.name}({self.header.device})"

    def _read(self) -> Optional[Frame]:
        rec = self.recording
        if self._pos >= len(rec):
            if rec.truncated:
                raise SourceFault(rec.truncation_message(), frame_index=None if rec.last_good_index is None
                                  else rec.last_good_index + 1)
            if rec.fault is not None and self.replay_fault:
                raise SourceFault(f"{self.path}: the recorded stream ended with a fault: {rec.fault['message']}",
                                  frame_index=rec.fault.get("frame_index"))
            return None
        frame = recorded_to_frame(rec.frame(self._pos), self.header)
        self._pos += 1
        self.timestamp_jumps.extend(j for j in self._all_jumps if j.index == frame.index)
        return frame

    def close(self) -> None:
        self.recording.close()


#: What :func:`record` writes: the toolkit's recording, or an Azure Kinect .mkv.
RECORD_FORMATS = ("threc", "mkv")


@dataclass
class RecordReport:
    """What :func:`record` did. fault: the SourceFault that ended the stream, or None."""

    path: Path
    frames: int = 0
    dropped: int = 0
    timestamp_jumps: list = field(default_factory=list)
    seconds: float = 0.0
    wall_s: float = 0.0
    fault: Optional[SourceFault] = None


def header_for(source: FrameSource, first: Frame) -> RecordingHeader:
    """The recording header of ``source`` whose first frame is ``first``."""
    h, w = first.depth_mm.shape
    extra = dict(getattr(source, "recording_extra", {}) or {})
    return RecordingHeader(width=w, height=h, fps=float(source.fps), K=first.K, color_K=first.color_K,
                           depth_to_color=first.depth_to_color, source=source.name,
                           device=str(getattr(source, "device", source.name)),
                           depth_mode=str(getattr(source, "depth_mode", "")), extra=extra,
                           camera=first.camera.to_dict(),
                           color_camera=None if first.color_camera is None else first.color_camera.to_dict(),
                           k4a_calibration=str(getattr(source, "k4a_calibration", "") or ""))


def record(source: FrameSource, path: str | os.PathLike, *, seconds: Optional[float] = None,
           max_frames: Optional[int] = None, overwrite: bool = False, ground_truth: bool = True,
           codec: str = "zlib", on_frame: Optional[Callable[[Frame, RecordReport], None]] = None,
           format: str = "threc") -> RecordReport:
    """Stream ``source`` into a recording at ``path`` until it ends, ``seconds`` of device time
    pass, or ``max_frames`` are written.

    A SourceFault closes the file with the fault recorded (every frame before it stays readable)
    and is returned in ``report.fault``; the caller decides the exit status. KeyboardInterrupt
    closes the file and propagates. ``on_frame(frame, report)`` is called after each write.
    ``format``: 'threc' (the toolkit's recording, ground truth included) or 'mkv' (an Azure Kinect
    recording through libk4arecord, see mkv_writer; no ground truth, no fault record).
    """
    if format not in RECORD_FORMATS:
        raise InputError(path, f"recording format '{format}' unknown; use one of {', '.join(RECORD_FORMATS)}")
    report = RecordReport(Path(path))
    writer: Optional[RecordingWriter] = None
    t0 = time.perf_counter()
    ts0 = None
    jump_check: list[tuple[int, int]] = []
    try:
        for frame in source:
            if ts0 is None:
                ts0 = frame.timestamp_us
            elapsed = (frame.timestamp_us - ts0) * 1e-6
            if seconds is not None and elapsed >= seconds - 0.5 / source.fps:
                break
            if writer is None:
                if format == "mkv":
                    from thuman.capture.sources.mkv_writer import MkvWriter

                    writer = MkvWriter(path, header_for(source, frame), overwrite=overwrite)
                else:
                    writer = RecordingWriter(path, header_for(source, frame), overwrite=overwrite, codec=codec)
            if not ground_truth:
                frame = dataclasses.replace(frame, ground_truth=None)
            writer.add(frame_to_recorded(frame))
            jump_check = (jump_check + [(frame.index, frame.timestamp_us)])[-2:]
            if len(jump_check) == 2:
                a, b = np.array(jump_check).T
                report.timestamp_jumps += find_timestamp_jumps(a, b, source.fps)
            report.frames += 1
            report.dropped = source.dropped
            report.seconds = elapsed
            report.wall_s = time.perf_counter() - t0
            if on_frame is not None:
                on_frame(frame, report)
            if max_frames is not None and report.frames >= max_frames:
                break
    except SourceFault as fault:
        report.fault = fault
    finally:
        report.wall_s = time.perf_counter() - t0
        if writer is not None:
            writer.close(fault=report.fault)
    return report
