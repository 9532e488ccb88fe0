"""Recovery from a loss of body tracking: a fresh fit of the body to the current depth frame.

When ``thuman.capture.tracking_health`` calls a frame lost, the body is re-initialised by fitting
it afresh to this frame from several starts (hypotheses) and keeping the one the frame explains
best. The failure seen on the simulated turns is the root's yaw falling behind the subject in a
side view until the front/back ambiguity takes it; a local solver cannot climb out of that basin,
so the starts differ in the root's yaw (the prediction turned by ``yaw_offsets_deg`` about the
vertical) and in the limbs (the last tracked pose, or the rough A-pose of the first frame). Each
start is fitted as a first frame is (root and translation first, then everything, no temporal pull
toward the lost solution) and scored by the loss detector's own measures; the lost solution is one
of the candidates, so a false alarm costs time but never accuracy.

Pure with respect to the tracker: ``recover`` saves and restores the tracker's history and hands
back the chosen state; the caller (``DoubleFusion``) installs it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from thuman.capture.body_params import BodyState
from thuman.capture.tracking_health import TrackingHealth, root_yaw, yaw_difference

__all__ = ["RecoveryConfig", "RecoveryResult", "health_score", "recover", "yaw_turned"]


@dataclass
class RecoveryConfig:
    """enabled: re-initialise on a lost frame. yaw_offsets_deg: turns of the predicted root about
    the vertical tried as starts (degrees; 180 is the front/back flip). iterations: Levenberg-Marquardt
    steps per start (the first third on root and translation only). a_pose_starts: also start the
    limbs from the A-pose (not only the last tracked pose), at yaw 0 and 180. min_gain: a start replaces the tracked
    solution only when its score (``health_score``) is lower by this much."""

    enabled: bool = True
    yaw_offsets_deg: tuple = (-30.0, 30.0, -60.0, 60.0, 180.0)
    iterations: int = 9
    a_pose_starts: bool = True
    min_gain: float = 0.05
    restart_with_turn: bool = False  # the re-initialised body's prediction goes on at the tracked turn's rate


@dataclass
class RecoveryResult:
    """state: the chosen body; health: its measures; start: which start won ('tracked' when the
    lost solution stayed best); tried: (start label, score) of every start."""

    state: BodyState
    health: TrackingHealth
    start: str
    tried: list = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return self.start != "tracked" and not self.health.lost


def health_score(h: TrackingHealth, limits) -> float:
    """One number per candidate, lower is better: each measure relative to its threshold
    (``LossConfig``), summed; a joint past its limit counts as half a threshold; the yaw lag
    (off the turn of the tracked frames) counts up to 4 thresholds, so that a start facing away
    from the turn (a side view's front/back flip explains the depth about as well) needs a clearly
    better fit to win, and a flip the turn did not make can still win when it is much better."""
    res = h.residual_m if np.isfinite(h.residual_m) else 10 * limits.max_residual_m
    yaw = min(h.yaw_lag_rad / limits.max_yaw_lag_rad, 4.0) if limits.max_yaw_lag_rad > 0 else 0.0
    return (res / limits.max_residual_m + h.unexplained / limits.max_unexplained
            + h.free_space / limits.max_free_space + 0.5 * h.joints_over_limit + yaw)


def yaw_turned(global_orient: np.ndarray, degrees: float) -> np.ndarray:
    """(3,) axis-angle: ``global_orient`` turned by ``degrees`` about the capture frame's vertical
    (y), i.e. the subject turned on the spot."""
    from scipy.spatial.transform import Rotation

    turn = Rotation.from_rotvec([0.0, np.radians(degrees), 0.0])
    return (turn * Rotation.from_rotvec(np.asarray(global_orient, np.float64))).as_rotvec().astype(np.float32)


def recover(tracker, points: np.ndarray, lost: BodyState, lost_health: TrackingHealth, predicted: BodyState,
            last_good: Optional[BodyState], measure: Callable[[BodyState], TrackingHealth], limits,
            cfg: RecoveryConfig, track_kwargs: dict, expected_yaw: Optional[float] = None) -> RecoveryResult:
    """Fit the body afresh to this frame from several starts and keep the best.

    tracker: the ``BodyTracker`` (its ``track`` fits a start; its state and history are restored
    afterwards). points (P, 3): the frame's subject points. lost / lost_health: the solution the
    detector rejected and its measures. predicted: the motion prediction for this frame (the root
    the starts turn). last_good: the last state judged tracked (its limbs are a start), or None.
    measure: the detector's measures of a candidate state. limits: the ``LossConfig``.
    track_kwargs: the frame's other ``track`` arguments (depth_m, K, time_s, surface).
    expected_yaw: the yaw (radians) the turn of the tracked frames expects now
    (``tracking_health.expected_yaw``), or None; the starts then turn the prediction onto it
    first: a tracker that fell behind the turn predicts the lag it fell into.
    """
    saved = tracker.snapshot()
    if expected_yaw is not None:
        predicted = replace(predicted, global_orient=yaw_turned(
            predicted.global_orient, np.degrees(yaw_difference(expected_yaw, root_yaw(predicted.global_orient)))))
    last = ("last", (last_good or predicted).body_pose)
    a_pose = ("A-pose", tracker.initial_state(points).body_pose)
    best = RecoveryResult(state=lost, health=lost_health, start="tracked")
    best_score = health_score(lost_health, limits)
    best.tried.append(("tracked", best_score))
    kw = dict(track_kwargs)
    kw.pop("time_s", None)  # each start is fitted alone: no prediction, no history
    try:
        for yaw in (0.0,) + tuple(cfg.yaw_offsets_deg):
            # The A-pose start only facing as predicted or flipped: the limbs of the last tracked
            # pose are right far more often, and each start costs a frame's tracking.
            with_a = cfg.a_pose_starts and (yaw == 0.0 or abs(abs(yaw) - 180.0) < 1e-6)
            for limb_label, limbs in [last, a_pose] if with_a else [last]:
                start = replace(predicted, global_orient=yaw_turned(predicted.global_orient, yaw),
                                body_pose=np.asarray(limbs, np.float32).copy(), vertices=None, joints=None)
                tracker.restart(None)
                state = tracker.track(points, iterations=cfg.iterations, fit_shape=False, init=start,
                                      fresh=True, **kw)
                h = measure(state)
                score = health_score(h, limits)
                label = f"yaw {yaw:+.0f}, {limb_label}"
                best.tried.append((label, score))
                if score < best_score - (cfg.min_gain if best.start == "tracked" else 0.0):
                    best, best_score = RecoveryResult(state=state, health=h, start=label, tried=best.tried), score
    finally:
        tracker.restore(saved)
    return best
