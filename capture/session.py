"""The capture session of the paper (sec. 5): turn and fuse, then imitate prompted poses.

Stage 1 ('turn'): the subject turns slowly in front of the camera; every frame is tracked and
fused (geometry and colour) until the body surface's coverage reaches ``coverage_target`` (or
``max_turn_s`` passes, with a warning in the result).
Stage 2 ('imitate'): fusion and texture updates stop; tracking (body and node graph) goes on.
Every ``interval_s`` seconds a new reference pose is shown (``source.show_prompt`` for the
simulator; to the subject through a :class:`thuman.capture.prompt_display.PromptDisplay`: a window
beside the live reconstruction, PNG images, or nothing); at the end of each interval the RGB-D frame, the live-pose
surface mesh and its body-model parameters are taken, post-processed and written as a THuman item
through ``thuman_io.write_item`` (atomic: an interrupted session leaves every saved item whole).

Time is the frames' device timestamps, never the wall clock, so a simulated session at any frame
rate behaves like a live one.

Live rate (``SessionConfig.fuse_mode``). A live camera does not wait: when processing runs slower
than the camera's frame rate the camera's queue drops frames, and the tracker would see every n-th
frame with n times the motion between them. 'online' tracks and fuses each frame as it comes;
'after' (record-then-fuse) records every frame while the prompts are shown on time, on a fixed
schedule (stage 1 lasts ``record_turn_s``, since coverage needs tracking), then tracks and fuses
the recorded frames with that schedule: the items equal an online run over the same frames whose
stage 1 ended at the same time. 'auto' is 'online' for sources that wait for the consumer
(recordings, the simulator on demand) and, for live sources, measures the processing rate over the
first ``rate_check_frames`` frames and switches to record-then-fuse (keeping those frames) when it is
below the camera's rate. The status line names the mode.
"""
from __future__ import annotations

import datetime
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from thuman.capture.body_tracking import TrackingConfig
from thuman.capture.camera import CV_TO_CAPTURE, depth_mm_to_m
from thuman.capture.coverage import Coverage
from thuman.capture.evaluation import capture_errors
from thuman.capture.frames import Frame
from thuman.capture.fusion import DoubleFusion, FusionConfig
from thuman.capture.postprocess import PostprocessConfig, postprocess_mesh
from thuman.capture.prompt_display import ImagePrompts, PromptDisplay
from thuman_io.errors import SourceFault, TrackingLost
from thuman_io.geometry import vertex_normals
from thuman_io.item import Item, ItemMeta, RGBDFrame


@dataclass
class SessionConfig:
    """Settings of one capture session.

    subject: subject id. poses: items to capture. interval_s: seconds per reference pose (paper: 6).
    coverage_target: stage 1 ends when this fraction of the body surface was seen.
    min_turn_s / max_turn_s: bounds on stage 1's duration (seconds of stream time).
    first_pose_index: pose index of the first item (``--resume`` continues numbering).
    overwrite: replace existing items with the same index.
    prompt_dir: where prompt images go when the session is given no ``prompt_display`` (None:
    none written).
    device_label: recorded as the items' ``meta.device`` (e.g. 'sim:7').
    fuse_mode: 'auto', 'online' or 'after' (record-then-fuse; module docstring). record_turn_s:
    stage 1's length when recording (seconds of stream time). rate_check_frames: frames after the
    first over which 'auto' measures the processing rate of a live source.
    """

    subject: str
    poses: int = 3
    interval_s: float = 6.0
    coverage_target: float = 0.9
    min_turn_s: float = 0.0
    max_turn_s: float = 30.0
    first_pose_index: int = 0
    overwrite: bool = False
    prompt_dir: Optional[Path] = None
    device_label: str = ""
    seed: int = 0
    fuse_mode: str = "auto"
    record_turn_s: float = 20.0
    rate_check_frames: int = 5
    fusion: FusionConfig = field(default_factory=FusionConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)


@dataclass
class SessionStatus:
    """The live status line: stage, frame rate of processing, coverage, tracking residual (m),
    items saved, stream time (s), mode ('online', 'recording' while record-then-fuse records,
    'fusing recorded' while it fuses afterwards)."""

    stage: str
    frame_index: int
    time_s: float
    fps: float
    coverage: float
    residual_m: float
    items_saved: int
    message: str = ""
    mode: str = "online"


@dataclass
class SessionResult:
    """items: paths written. stop_reason: 'done', 'end of stream', 'interrupted' or
    'source fault: ...'. coverage: final stage-1 coverage. fps: processing frames per second per
    stage. errors: per item, the ground-truth errors (simulated sources only). warnings: text.
    mode: 'online' or 'record-then-fuse'."""

    items: list = field(default_factory=list)
    stop_reason: str = ""
    mode: str = "online"
    coverage: float = 0.0
    frames: int = 0
    fps: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


FUSE_MODES = ("auto", "online", "after")


@dataclass
class Schedule:
    """A fixed prompt schedule: stage 1 ends at the first frame at or after ``turn_end_s``
    (seconds of stream time) and ``references`` (72,) are the poses shown, in order."""

    turn_end_s: float
    references: list = field(default_factory=list)


class _SwitchToRecording(Exception):
    """Raised inside the online loop when a live source outruns processing."""


def is_live(source) -> bool:
    """Whether ``source`` delivers frames in wall time whether or not they are read (a camera)."""
    return bool(getattr(source, "live", getattr(source, "name", "") == "k4a"))


class CaptureSession:
    """Runs one session over a frame source. ``reference_pose(k)`` gives the k-th prompt's (72,)
    pose; ``on_status`` is called after every frame with a :class:`SessionStatus`.
    ``prompt_display`` shows the prompts (default: images in ``config.prompt_dir``, or none); the
    session updates it after every frame and closes it when the run ends."""

    def __init__(self, source, body_model, dataset_dir, config: SessionConfig,
                 reference_pose: Callable[[int], np.ndarray],
                 on_status: Optional[Callable[[SessionStatus], None]] = None,
                 prompt_display: Optional[PromptDisplay] = None):
        self.source = source
        self.bm = body_model
        self.dataset_dir = Path(dataset_dir)
        self.cfg = config
        self.reference_pose = reference_pose
        self.on_status = on_status or (lambda s: None)
        if config.fuse_mode not in FUSE_MODES:
            raise ValueError(f"SessionConfig.fuse_mode must be one of {', '.join(FUSE_MODES)}, not "
                             f"{config.fuse_mode!r}")
        if prompt_display is None:
            prompt_display = ImagePrompts(config.prompt_dir) if config.prompt_dir is not None else PromptDisplay()
        self.prompt_display = prompt_display
        # One run seed drives every random choice (point subsets, surface samples).
        self.fusion = DoubleFusion(body_model, replace(config.fusion, seed=config.seed),
                                   replace(config.tracking, seed=config.seed))
        self.coverage: Optional[Coverage] = None
        self._first_busy = 0.0  # processing seconds of the first frame (left out of the rate check)

    def run(self) -> SessionResult:
        """Run until all poses are saved, the stream ends, Ctrl-C or a source fault. Raises
        :class:`thuman_io.errors.TrackingLost` (naming subject and frame) when the subject is lost."""
        from thuman_io.lock import exclusive_lock

        result = SessionResult()
        try:
            # one session per subject at a time: a second one is refused before it captures anything
            with exclusive_lock(self.dataset_dir, f"subject-{self.cfg.subject}", f"subject {self.cfg.subject}"):
                self._run(result)
        except KeyboardInterrupt:
            result.stop_reason = "interrupted"
        except SourceFault as e:
            result.stop_reason = f"source fault: {e}"
        except TrackingLost as e:
            # Items saved so far stay written (atomic); the caller learns who and where.
            if e.subject is None:
                raise TrackingLost(e.detail, e.frame_index, self.cfg.subject) from e
            raise
        finally:
            self.prompt_display.close()
        if not result.stop_reason:
            result.stop_reason = "end of stream"
        return result

    # -- the loop -----------------------------------------------------------------------------
    def _run(self, result: SessionResult) -> None:
        """Online, record-then-fuse, or online until a live source outruns processing."""
        mode = self.cfg.fuse_mode
        if mode == "auto" and not is_live(self.source):
            mode = "online"
        frames = iter(self.source)
        if mode == "online":
            self._loop(result, frames)
            return
        kept: list = []
        if mode == "auto":
            try:
                self._loop(result, _keeping(frames, kept), rate_check=True)
                return
            except _SwitchToRecording as e:
                result.warnings.append(str(e))
        self._record_then_fuse(result, frames, kept)

    def _loop(self, result: SessionResult, frames, rate_check: bool = False,
              schedule: Optional[Schedule] = None, mode: str = "online") -> None:
        """Track (and in stage 1 fuse) each frame; prompts and saves by stream time. With a
        ``schedule`` (fusing recorded frames) stage 1 ends by it and its poses are not shown again."""
        cfg = self.cfg
        stage, t_first, prompt_t, prompt_k, ref = "turn", None, 0.0, 0, None
        busy = {"turn": 0.0, "imitate": 0.0}
        count = {"turn": 0, "imitate": 0}
        camera_fps = float(getattr(self.source, "fps", 0.0) or 0.0)
        for frame in frames:
            if t_first is None:
                t_first = frame.timestamp_us
            t = (frame.timestamp_us - t_first) * 1e-6
            w0 = time.perf_counter()
            frame_stage = stage
            rep = self.fusion.process(frame, fuse=stage == "turn", update_color=stage == "turn")
            if self.coverage is None:
                c = self.fusion.canonical
                self.coverage = Coverage.for_body(c.vertices, self.fusion.faces_np)
            if stage == "turn":
                self._update_coverage(frame)
                self.fusion.coverage_seen = self.coverage.fraction
            result.frames += 1
            busy[stage] += time.perf_counter() - w0
            count[stage] += 1
            if rate_check and count["turn"] == cfg.rate_check_frames + 1 and camera_fps > 0:
                rate = (count["turn"] - 1) / max(busy["turn"] - self._first_busy, 1e-9)
                if rate < camera_fps:
                    raise _SwitchToRecording(
                        f"processing runs at {rate:.1f} fps, below the camera's {camera_fps:g} fps: recording "
                        "every frame with the prompts on time, fusing afterwards (record-then-fuse)")
            if count["turn"] == 1:
                self._first_busy = busy["turn"]  # the first frame's initial fit is not the rate
            cov = self.coverage.fraction
            message = ""
            if schedule is not None:
                turn_over = t >= schedule.turn_end_s
            else:
                turn_over = (cov >= cfg.coverage_target and t >= cfg.min_turn_s) or t >= cfg.max_turn_s
            if stage == "turn" and turn_over:
                result.coverage = cov
                if cov < cfg.coverage_target:
                    result.warnings.append(f"stage 1 ended at {t:.1f} s with coverage {cov:.2f} below the "
                                           f"target {cfg.coverage_target:.2f}")
                stage, prompt_t = "imitate", t
                ref = self._prompt(0, t) if schedule is None else schedule.references[0]
                message = f"coverage {cov:.2f}: fusion stops, pose 1 of {cfg.poses} shown"
            elif stage == "imitate" and t >= prompt_t + cfg.interval_s:
                path = self._save(frame, prompt_k, ref, result)
                result.items.append(path)
                message = f"saved {path.name}"
                prompt_k += 1
                if prompt_k >= cfg.poses:
                    result.stop_reason = "done"
                else:
                    prompt_t = t
                    ref = self._prompt(prompt_k, t) if schedule is None else schedule.references[prompt_k]
            if rep.recovery:
                result.warnings.append(f"frame {frame.index}: {rep.recovery}")
                message = f"{message}; {rep.recovery}" if message else rep.recovery
            res = rep.node_residual_m if np.isfinite(rep.node_residual_m) else rep.body_residual_m
            fps = count[frame_stage] / max(busy[frame_stage], 1e-9)
            status = SessionStatus(stage, frame.index, t, fps, cov, res, len(result.items), message, mode)
            notice = self.prompt_display.update(self._live_mesh, status)
            if notice:
                result.warnings.append(notice)
                status.message = f"{status.message}; {notice}" if status.message else notice
            self.on_status(status)
            if result.stop_reason:
                break
        if stage == "turn":
            result.coverage = self.coverage.fraction if self.coverage is not None else 0.0
        result.fps = {s: count[s] / busy[s] for s in busy if count[s]}

    def _record_then_fuse(self, result: SessionResult, frames, kept: list) -> None:
        """Record every frame while showing the prompts on a fixed schedule, then track and fuse
        the recording (``kept``: frames already taken from ``frames``) with that schedule."""
        cfg = self.cfg
        result.mode = "record-then-fuse"
        recorded = list(kept)
        t_first = recorded[0].timestamp_us if recorded else None
        schedule: Optional[Schedule] = None
        stage, prompt_t, k = "turn", 0.0, 0
        w0 = time.perf_counter()
        nothing = lambda: None  # noqa: E731  (no live reconstruction while recording)
        for frame in frames:
            recorded.append(frame)
            if t_first is None:
                t_first = frame.timestamp_us
            t = (frame.timestamp_us - t_first) * 1e-6
            message = ""
            if stage == "turn" and t >= cfg.record_turn_s:
                schedule = Schedule(turn_end_s=t)
                stage, prompt_t = "imitate", t
                schedule.references.append(self._prompt(0, t, live=nothing))
                message = f"turn over after {t:.1f} s: pose 1 of {cfg.poses} shown"
            elif stage == "imitate" and t >= prompt_t + cfg.interval_s:
                k += 1
                message = f"pose {k} recorded"
                if k >= cfg.poses:
                    break
                prompt_t = t
                schedule.references.append(self._prompt(k, t, live=nothing))
            fps = len(recorded) / max(time.perf_counter() - w0, 1e-9)
            status = SessionStatus(stage, frame.index, t, fps, 0.0, float("nan"), 0, message, "recording")
            notice = self.prompt_display.update(nothing, status)
            if notice:
                result.warnings.append(notice)
            self.on_status(status)
        if schedule is None:
            result.coverage = 0.0
            result.warnings.append(f"the stream ended after {len(recorded)} recorded frames, before the turn's "
                                   f"{cfg.record_turn_s:g} s were over: nothing to fuse")
            return
        # Fuse afterwards, from scratch: the same state an online run over these frames starts from.
        self.fusion = DoubleFusion(self.bm, replace(cfg.fusion, seed=cfg.seed), replace(cfg.tracking, seed=cfg.seed))
        self.coverage = None
        result.frames = 0
        self._loop(result, iter(recorded), schedule=schedule, mode="fusing recorded")

    def _update_coverage(self, frame: Frame) -> None:
        body = self.fusion.body
        n = vertex_normals(body.vertices, self.fusion.faces_np)
        self.coverage.update(body.vertices, n, depth_mm_to_m(frame.depth_mm), frame.camera)

    def _prompt(self, k: int, t: float, live=None) -> np.ndarray:
        """Show reference pose k: to the source (simulator) and on the prompt display (beside
        ``live()``, the live reconstruction by default)."""
        pose = np.asarray(self.reference_pose(k), dtype=np.float32).reshape(72)
        show = getattr(self.source, "show_prompt", None)
        if show is not None:
            show(pose, t)
        # The reference wears the subject's shape (the mean shape while recording before any fit),
        # facing the camera (no global rotation).
        c = self.fusion.canonical
        betas = c.betas if c is not None else None
        ref_v, faces = self.bm.posed_mesh(betas, np.concatenate([np.zeros(3, np.float32), pose[3:]]))
        self.prompt_display.show(ref_v, faces, k, self.cfg.poses, t, self.cfg.interval_s,
                                 self.cfg.first_pose_index + k, live=live or self._live_mesh)
        return pose

    def _live_mesh(self):
        """The live reconstruction as (vertices, faces), None while nothing is fused; the
        displays call it only when they redraw (warping the fused mesh costs)."""
        live = self.fusion.live_mesh()
        return (live.vertices, live.faces) if len(live.faces) else None

    def _save(self, frame: Frame, k: int, reference: np.ndarray, result: SessionResult) -> Path:
        """Post-process the live mesh and write item ``first_pose_index + k``."""
        import thuman_io

        cfg = self.cfg
        live = self.fusion.live_mesh()
        if len(live.faces) == 0:
            raise TrackingLost("the fused surface is empty: stage 1 fused nothing; keep the subject in view "
                               "during the turn and start the capture again", frame_index=frame.index)
        processed = postprocess_mesh(live.vertices, live.faces, live.colors, cfg.postprocess)
        body = self.fusion.body
        index = cfg.first_pose_index + k
        extra = {"fusion": _jsonable(asdict(cfg.fusion)), "tracking": _jsonable(asdict(cfg.tracking)),
                 "postprocess": _jsonable(processed.params), "coverage": float(result.coverage),
                 "body_residual_m": float(body.residual_m), "frame_index": int(frame.index),
                 "tracking_events": [{"frame_index": int(i), "event": e} for i, e in self.fusion.events],
                 "interval_s": float(cfg.interval_s)}
        gt = frame.ground_truth
        if gt is not None:
            errs = capture_errors(processed.mesh.vertices, gt.vertices, gt.faces, body.joints, gt.joints)
            result.errors.append(errs)
            extra["ground_truth_errors"] = errs.as_dict()
        meta = ItemMeta(subject=cfg.subject, pose_index=index,
                        capture_time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                        device=cfg.device_label or getattr(self.source, "name", "source"),
                        reference_pose=reference.astype(np.float32),
                        postprocessing=list(processed.steps), extra=extra)
        rgbd = RGBDFrame(color=np.ascontiguousarray(frame.color), depth_mm=np.ascontiguousarray(frame.depth_mm),
                         color_intrinsics=np.asarray(frame.K, np.float64),
                         depth_intrinsics=np.asarray(frame.K, np.float64), depth_to_color=np.eye(4),
                         camera_to_item=CV_TO_CAPTURE.copy(), depth_registered_to_color=True,
                         timestamp_us=int(frame.timestamp_us), camera=frame.camera.to_dict(),
                         color_camera=None if frame.color_camera is None else frame.color_camera.to_dict())
        smpl = body.to_smpl_params(model=getattr(self.bm, "name", "open"), gender=getattr(self.bm, "gender", "neutral"))
        item = Item(mesh=processed.mesh, smpl=smpl, meta=meta, frame=rgbd)
        return thuman_io.write_item(self.dataset_dir, item, overwrite=cfg.overwrite)


def _keeping(frames, kept: list):
    """Yield ``frames``, appending each to ``kept``."""
    for frame in frames:
        kept.append(frame)
        yield frame


def _jsonable(d):
    """Tuples and paths to JSON-friendly values (meta.extra is JSON)."""
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    if isinstance(d, Path):
        return str(d)
    return d


def next_pose_index(dataset_dir, subject: str) -> int:
    """The pose index after the subject's last item (0 when it has none)."""
    import thuman_io

    root = Path(dataset_dir)
    if not (root / subject).is_dir():
        return 0
    indices = [ref.pose_index for ref in thuman_io.open_dataset(root).items(subject=subject)]
    return max(indices) + 1 if indices else 0
