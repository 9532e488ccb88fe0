""":class:`SimSource`: the simulated subject seen by the simulated K4A sensor, as a frame source.

Every frame carries its :class:`~thuman.capture.frames.GroundTruth` in the capture frame: the
posed clothed mesh (watertight), the SMPL parameters that pose the bare body under it (the same
betas, root orientation including the turn, body pose, translation; ``load_body_model(...).forward``
reproduces the body), the 24 joints, the protocol stage and the reference pose being imitated.

Scene: the camera is the origin of the capture frame looking down -z; the floor is at
``floor_y`` (1 m below the camera); the subject stands ``distance_m`` in front of it with the
lowest point of its clothed surface on the floor.

Faults for tests (see :class:`~thuman.capture.sources.faults.FaultPlan`): ``unplug_at`` ends the
stream with SourceFault, ``drop_every`` / ``drop_frames`` skip frames (their indices are missing),
``timestamp_jumps`` shifts the device clock.

Live mode (``live=True``): the sensor runs in wall time like a camera. Frame i is captured at
``start + i / fps`` seconds of the clock whether or not anyone reads it, and waits in a bounded
queue of ``queue_size`` frames that drops its oldest frame when full, as ``K4ASource``'s reader
thread does: a consumer that asks at clock time T, having last taken frame ``last``, gets
``live_next_index`` (the oldest frame still queued), or waits for frame ``last + 1``. A frame is
rendered only when it is delivered (what it shows depends on its index and on the prompts shown
before its time alone), and a prompt shown while the stream runs takes effect at the stream time of
*now*, not of the frame being processed: the subject sees it when it appears.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Optional

import numpy as np

from thuman.capture.frames import Frame, FrameSource, GroundTruth
from thuman.capture.sim.motion import MotionConfig, MotionState, SubjectMotion
from thuman.capture.sim.sensor import DepthNoise, SceneMesh, SimSensor, depth_mode
from thuman.capture.sim.subject import ClothedSubject, make_subject, pose_vertices, skinning_transforms
from thuman.capture.sources.faults import FaultPlan
from thuman_io.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from thuman_io.errors import InputError, SourceFault
from thuman_io.item import SMPLParams


@dataclasses.dataclass
class PosedSubject:
    """The subject at one instant, capture frame, metres.

    vertices (V, 3) float32 clothed surface; joints (24, 3) float32; smpl: SMPLParams; state: MotionState.
    """

    vertices: np.ndarray
    joints: np.ndarray
    smpl: SMPLParams
    state: MotionState


def place_subject(subject: ClothedSubject, state: MotionState, stand_at: tuple[float, float],
                  floor_y: float) -> PosedSubject:
    """Pose ``subject`` in ``state`` and stand it at (x, z) = ``stand_at`` on the floor ``floor_y``.

    The yaw of the state turns the root about the vertical axis; the translation puts the root
    joint above ``stand_at`` and the lowest clothed vertex on the floor.
    """
    pose = np.asarray(state.pose72, np.float64).reshape(24, 3).copy()
    c, s = np.cos(state.yaw), np.sin(state.yaw)
    yaw = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    pose[0] = matrix_to_axis_angle(yaw @ axis_angle_to_matrix(pose[0]))
    A, joints = skinning_transforms(subject.rig, pose.reshape(72))
    verts = pose_vertices(subject.vertices, subject.weights, A)
    root = subject.rig.joints[0]
    transl = np.array([stand_at[0] - root[0], floor_y - verts[:, 1].min(), stand_at[1] - root[2]])
    verts = verts + transl.astype(np.float32)
    smpl = SMPLParams(betas=subject.rig.betas.astype(np.float32), global_orient=pose[0].astype(np.float32),
                      body_pose=pose[1:].reshape(69).astype(np.float32), transl=transl.astype(np.float32),
                      model=subject.rig.model, gender="neutral")
    return PosedSubject(verts, (joints + transl).astype(np.float32), smpl, state)


def live_next_index(last: Optional[int], elapsed_s: float, fps: float, queue_size: int) -> tuple[int, float]:
    """The frame a live camera's bounded drop-oldest queue hands over.

    last: the index last delivered (None before the first); elapsed_s: clock seconds since frame
    0 was captured; fps; queue_size: frames the queue holds. Returns (index, wait_s): the oldest
    frame still queued, or the next frame and how long until it is captured (wait_s > 0).
    """
    nxt = 0 if last is None else last + 1
    newest = math.floor(elapsed_s * fps + 1e-9)            # frames 0..newest are captured
    if newest < nxt:
        return nxt, nxt / fps - elapsed_s
    return max(nxt, newest - queue_size + 1), 0.0


class SimSource(FrameSource):
    """Frames of a simulated clothed subject following the capture protocol.

    seed: subject (shape, outfit), motion and noise. depth_mode: a K4A depth mode name. fps: frame
    rate (any positive value; the device offers 5, 15, 30). seconds / max_frames: stream length
    (None = endless). noise: DepthNoise (DepthNoise.none() for exact depth). background: 'none' or
    'room'. motion: MotionConfig. distance_m: camera-to-subject distance (default 2.2 m, less
    for the short-range WFOV modes). Faults: see the module docstring. lens: 'k4a' (a retail
    factory calibration's distorted lens, frames carry it as ``camera``) or 'pinhole'. live /
    queue_size / clock / sleep: live mode (module docstring); clock and sleep default to
    ``time.monotonic`` and ``time.sleep`` (tests pass a simulated clock).
    """

    name = "sim"

    def __init__(self, seed: int = 0, depth_mode_name: str = "NFOV_UNBINNED", fps: float = 30.0,
                 seconds: Optional[float] = None, max_frames: Optional[int] = None,
                 noise: Optional[DepthNoise] = None, background: str = "none",
                 motion: Optional[MotionConfig] = None, distance_m: Optional[float] = None,
                 floor_y: float = -1.0, voxel_m: float = 0.01, body_model: str = "open",
                 faults: Optional[FaultPlan] = None, unplug_at: Optional[int] = None, drop_every: int = 0,
                 drop_frames=(), timestamp_jumps: Optional[dict] = None, ground_truth: bool = True,
                 subject: Optional[ClothedSubject] = None, pose_source=None, lens: str = "k4a", live: bool = False,
                 queue_size: int = 8, clock: Optional[Callable[[], float]] = None,
                 sleep: Optional[Callable[[float], None]] = None):
        super().__init__()
        if not fps > 0:
            raise InputError(None, f"fps must be positive, got {fps}")
        self.seed, self.fps = int(seed), float(fps)
        self.mode = depth_mode(depth_mode_name)
        self.depth_mode = self.mode.name
        self.seconds, self.max_frames = seconds, max_frames
        self.noise = noise if noise is not None else DepthNoise()
        self.faults = faults or FaultPlan(unplug_at=unplug_at, drop_every=drop_every,
                                          drop_frames=frozenset(drop_frames), timestamp_jumps=dict(timestamp_jumps or {}))
        self.distance_m = distance_m if distance_m is not None else min(2.2, self.mode.max_depth_m - 0.5)
        self.floor_y = floor_y
        self.ground_truth = ground_truth
        self.subject = subject if subject is not None else make_subject(self.seed, body_model, voxel_m)
        self.motion = SubjectMotion(motion, seed=self.seed, pose_source=pose_source)
        self.sensor = SimSensor(mode=self.mode, noise=self.noise, background=background, seed=self.seed,
                                floor_y=floor_y, lens=lens)
        self.k4a_calibration = self.sensor.k4a_calibration  # the simulated device's factory calibration
        self.device = f"sim:{self.seed}"
        self._next = 0
        self._emitted = 0
        self.live = bool(live)
        if queue_size < 1:
            raise InputError(None, f"queue_size must be at least 1, got {queue_size}")
        self.queue_size = int(queue_size)
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._start: Optional[float] = None  # clock time of frame 0 (live mode)
        self._last_live: Optional[int] = None

    @property
    def recording_extra(self) -> dict:
        """What a recording's header keeps about this simulation."""
        return {"seed": self.seed, "depth_mode": self.depth_mode, "fps": self.fps,
                "distance_m": self.distance_m, "floor_y": self.floor_y,
                "garments": self.subject.outfit.garments(), "betas": self.subject.rig.betas.tolist(),
                "background": self.sensor.background, "noise": dataclasses.asdict(self.noise),
                "motion": dataclasses.asdict(self.motion.config), "lens": self.sensor.lens}

    def show_prompt(self, pose72: np.ndarray, time_s: float) -> None:
        """The capture session shows reference pose ``pose72`` (72,) at ``time_s`` seconds
        (the source clock: frame.timestamp_us / 1e6). Live: no earlier than the stream's present."""
        if self.live and self._start is not None:
            time_s = max(time_s, self._clock() - self._start)
        self.motion.show_prompt(pose72, time_s)

    def time_of(self, index: int) -> float:
        return index / self.fps

    def pose_at(self, index: int) -> PosedSubject:
        """The subject at frame ``index`` (no rendering)."""
        return place_subject(self.subject, self.motion.state(self.time_of(index)),
                             (0.0, -self.distance_m), self.floor_y)

    def _live_skip(self) -> None:
        """Live mode: move ``_next`` to the frame the camera's queue hands over now, waiting for it
        to be captured when the consumer is ahead."""
        if self._start is None:
            self._start = self._clock()
        index, wait = live_next_index(self._last_live, self._clock() - self._start, self.fps, self.queue_size)
        if wait > 0:
            self._sleep(wait)
        self._next = max(self._next, index)

    def _read(self) -> Optional[Frame]:
        if self.max_frames is not None and self._emitted >= self.max_frames:
            return None
        if self.live:
            self._live_skip()
        while True:
            index = self._next
            if self.seconds is not None and self.time_of(index) >= self.seconds - 1e-9:
                return None
            if self.max_frames is not None and self._emitted >= self.max_frames:
                return None
            if self.faults.unplug_at is not None and index >= self.faults.unplug_at:
                raise SourceFault("simulated sensor unplugged", frame_index=index)
            self._next += 1
            if not self.faults.dropped(index):
                break
        self._last_live = index
        posed = self.pose_at(index)
        sub = self.subject
        color, depth_mm, _ = self.sensor.measure([SceneMesh(posed.vertices, sub.faces, sub.colors)], index)
        ts = int(round(index * 1e6 / self.fps)) + self.faults.timestamp_offset_us(index)
        gt = None
        if self.ground_truth:
            gt = GroundTruth(vertices=posed.vertices, faces=sub.faces, smpl=posed.smpl, joints=posed.joints,
                             stage=posed.state.stage, reference_pose=posed.state.reference)
        self._emitted += 1
        sensor = self.sensor  # lens, colour camera and depth -> colour of the simulated device
        return Frame(index=index, timestamp_us=ts, color=color, depth_mm=depth_mm, K=sensor.K, color_K=sensor.color_camera.K,
                     depth_to_color=sensor.depth_to_color.copy(), ground_truth=gt, camera=sensor.camera,
                     color_camera=sensor.color_camera)

    def close(self) -> None:
        self.sensor.close()
