"""Inspect a recording (toolkit ``.threc`` or Azure Kinect ``.mkv``): its camera model, frame count,
gaps, timestamps and depth mode, and one frame as a coloured point cloud in the depth camera's frame
(OpenCV: x right, y down, z forward, metres), back-projected through the lens, so that a user can
check a camera in MeshLab."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from thuman.capture.camera import CameraModel, backproject, depth_mm_to_m
from thuman.capture.frames import Frame


@dataclass
class RecordingSummary:
    """What :func:`inspect_recording` found.

    path, source (the source kind, e.g. 'playback'), device, depth_mode, fps.
    camera / color_camera: CameraModel (colour may be None). depth_to_color: (4, 4) metres.
    frames: frame count; first_index / last_index; gaps: list of (after_index, missing count).
    timestamps_us: (N,) int64 device timestamps. frame: the frame asked for (None if absent).
    """

    path: str
    source: str
    device: str
    depth_mode: str
    fps: float
    camera: CameraModel
    color_camera: Optional[CameraModel]
    depth_to_color: np.ndarray
    frames: int = 0
    first_index: Optional[int] = None
    last_index: Optional[int] = None
    gaps: list = field(default_factory=list)
    timestamps_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    frame: Optional[Frame] = None

    def lines(self) -> list[str]:
        """Human-readable summary, one fact a line."""
        c = self.camera
        out = [f"recording:     {self.path} ({self.device})",
               f"depth mode:    {self.depth_mode or '?'}  {c.width}x{c.height}  {self.fps:g} fps",
               f"depth camera:  {c.model}  fx {c.fx:.3f}  fy {c.fy:.3f}  cx {c.cx:.3f}  cy {c.cy:.3f} px",
               f"  distortion:  k1..k6 {', '.join(f'{k:.6g}' for k in c.k)}  p1 {c.p1:.6g}  p2 {c.p2:.6g}  "
               f"cod ({c.codx:.4g}, {c.cody:.4g})  metric radius {c.metric_radius:.4g}"]
        if self.color_camera is not None:
            cc = self.color_camera
            out.append(f"colour camera: {cc.model}  {cc.width}x{cc.height}  fx {cc.fx:.3f}  fy {cc.fy:.3f}  "
                       f"cx {cc.cx:.3f}  cy {cc.cy:.3f} px")
        t = self.depth_to_color[:3, 3] * 1000
        out.append(f"depth->colour: translation ({t[0]:.2f}, {t[1]:.2f}, {t[2]:.2f}) mm")
        ts = self.timestamps_us
        span = (ts[-1] - ts[0]) * 1e-6 if len(ts) > 1 else 0.0
        out.append(f"frames:        {self.frames} (indices {self.first_index}..{self.last_index}), "
                   f"{span:.3f} s of device time")
        if len(ts):
            out.append(f"timestamps:    {ts[0]} .. {ts[-1]} us")
        missing = sum(n for _, n in self.gaps)
        out.append(f"gaps:          {len(self.gaps)} ({missing} frames missing)"
                   + "".join(f"; after {i}: {n}" for i, n in self.gaps[:10]))
        return out


def inspect_recording(path: str | os.PathLike, frame_index: Optional[int] = None) -> RecordingSummary:
    """Play ``path`` through once (``--source playback``) and summarise it; keep the frame whose
    position in the stream is ``frame_index`` (0 = the first frame; None = keep none)."""
    from thuman.capture.sources.factory import open_source

    src = open_source("playback", path)
    try:
        indices, stamps, kept = [], [], None
        for k, frame in enumerate(src):
            indices.append(frame.index)
            stamps.append(frame.timestamp_us)
            if k == frame_index:
                kept = frame
        first = kept
        camera = getattr(src, "camera", None) or (first.camera if first is not None else None)
        if camera is None:
            camera = CameraModel.pinhole(getattr(src, "K", np.eye(3)), 1, 1)
        idx = np.asarray(indices, np.int64)
        gaps = [(int(a), int(b - a - 1)) for a, b in zip(idx[:-1], idx[1:]) if b > a + 1]
        return RecordingSummary(path=str(path), source=src.name, device=str(getattr(src, "device", "")),
                                depth_mode=str(getattr(src, "depth_mode", "")), fps=float(src.fps), camera=camera,
                                color_camera=getattr(src, "color_camera", None),
                                depth_to_color=_depth_to_color(src, first),
                                frames=len(idx), first_index=int(idx[0]) if len(idx) else None,
                                last_index=int(idx[-1]) if len(idx) else None, gaps=gaps,
                                timestamps_us=np.asarray(stamps, np.int64), frame=kept)
    finally:
        src.close()


def _depth_to_color(src, frame: Optional[Frame]) -> np.ndarray:
    if getattr(src, "depth_to_color", None) is not None:          # K4A sources
        return np.asarray(src.depth_to_color, np.float64)
    if hasattr(src, "header"):                                     # toolkit recordings
        return np.asarray(src.header.depth_to_color, np.float64)
    return np.asarray(frame.depth_to_color if frame is not None else np.eye(4), np.float64)


def frame_point_cloud(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) float32 points, metres, depth camera's OpenCV frame, and (N, 3) uint8 colours of the
    frame's valid depth pixels, back-projected through the frame's lens."""
    depth = depth_mm_to_m(frame.depth_mm)
    pts = backproject(depth, frame.camera)
    ok = pts[..., 2] > 0
    return pts[ok], np.asarray(frame.color)[ok]
