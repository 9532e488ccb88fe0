"""What every frame source yields: :class:`Frame`, and the :class:`FrameSource` interface.

Colour is registered to depth (pixel-aligned, same size), see ``thuman.capture.camera``.
Simulated sources attach a :class:`GroundTruth` to every frame.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

from thuman.capture.camera import CameraModel
from thuman_io.item import SMPLParams


@dataclass
class GroundTruth:
    """The truth behind a simulated frame, in the capture frame (metres, y up, z toward camera).

    vertices: (V, 3) float32 clothed surface (watertight). faces: (F, 3) int32.
    smpl: the body-model parameters that pose the body onto that surface (capture frame).
    joints: (24, 3) float32 body joints. stage: 'turn' or 'imitate'. reference_pose: (72,) shown
    pose being imitated, or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    smpl: SMPLParams
    joints: np.ndarray
    stage: str = ""
    reference_pose: Optional[np.ndarray] = None


@dataclass
class Frame:
    """One RGB-D frame.

    index:            frame index in the stream, 0, 1, ...; a gap means frames were dropped.
    timestamp_us:     device timestamp, microseconds.
    color:            (H, W, 3) uint8 RGB registered to the depth camera (pixel-aligned with depth).
    depth_mm:         (H, W) uint16 millimetres along the optical axis, 0 = no measurement.
    K:                (3, 3) float64 pinhole part of the depth camera (serves ``color`` too).
    color_K:          (3, 3) float64 intrinsics of the native colour camera.
    depth_to_color:   (4, 4) float64 metres, depth camera -> native colour camera.
    ground_truth:     simulated sources only.
    camera:           the depth camera's full lens (CameraModel); project and back-project with it,
                      never with ``K`` alone. Defaults to the pinhole ``K`` at the depth image's size.
    color_camera:     the native colour camera's lens, or None.
    """

    index: int
    timestamp_us: int
    color: np.ndarray
    depth_mm: np.ndarray
    K: np.ndarray
    color_K: np.ndarray = field(default_factory=lambda: np.eye(3))
    depth_to_color: np.ndarray = field(default_factory=lambda: np.eye(4))
    ground_truth: Optional[GroundTruth] = None
    camera: Optional[CameraModel] = None
    color_camera: Optional[CameraModel] = None

    def __post_init__(self):
        if self.camera is None:
            h, w = np.shape(self.depth_mm)[:2]
            self.camera = CameraModel.pinhole(self.K, w, h)

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth_mm.shape


class FrameSource(abc.ABC):
    """Base of every source: iterate frames, count dropped ones, close.

    Subclasses implement ``_read()`` returning the next Frame, or None at the end of the stream,
    and raise :class:`thuman_io.errors.SourceFault` when the stream breaks (unplugged device,
    truncated file). ``dropped`` counts frames the source knows it lost (index gaps).
    Sources that render a subject (the simulator) accept ``show_prompt(pose72, time_s)``: the
    capture session calls it when it shows a new reference pose.
    """

    name = "source"
    fps: float = 30.0

    def __init__(self):
        self.dropped = 0
        self._last_index: Optional[int] = None

    @abc.abstractmethod
    def _read(self) -> Optional[Frame]:
        """The next frame, or None at the end of the stream."""

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self._read()
            if frame is None:
                return
            if self._last_index is not None and frame.index > self._last_index + 1:
                self.dropped += frame.index - self._last_index - 1
            self._last_index = frame.index
            yield frame

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
