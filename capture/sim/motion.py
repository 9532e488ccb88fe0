"""The simulated subject's motion under the paper's capture protocol (sec. 5).

Stage 1, ``turn``: the subject turns slowly on the spot (``turns`` full turns in ``turn_seconds``,
starting and stopping smoothly) while doing surface-completion motions: the arms go down, out and
up in a slow cycle (showing the armpits and the flanks), the elbows flex, and half-way through the
turn the subject bows forward (top of the head and the shoulders).

Stage 2, ``imitate``: each prompt (a reference pose shown at time t) is imitated like a person
would: after a reaction delay (``reaction_s``) the body moves from wherever it is to the reference
along a minimum-jerk profile (``transition_s``), turning back to face the camera on the first
prompt, and ends in an imperfect copy: every joint's rotation differs from the reference by a
random rotation of about ``imperfection_rad``. While holding, the body sways slightly.

Prompts come from the capture session (``show_prompt(pose72, time_s)``). If none has come when
the turn ends, the subject prompts itself every ``interval_s`` seconds (the paper's 6 s) from the
pose library (``PoseSampler``); a session prompt switches self-prompting off.

Everything is a function of the time (seconds on the source clock) and the prompts seen, with
random choices seeded from (seed, prompt number), so a run replays exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from thuman_io.body.joints import JOINT_NAMES

_J = {n: i for i, n in enumerate(JOINT_NAMES)}


@dataclass
class MotionConfig:
    """Timing and style of the capture protocol (seconds, radians)."""

    turn_seconds: float = 20.0
    turns: float = 1.0
    interval_s: float = 6.0
    reaction_s: tuple = (0.4, 1.1)
    transition_s: tuple = (0.9, 1.8)
    imperfection_rad: float = 0.08
    sway_rad: float = 0.015
    self_prompt: bool = True


@dataclass
class Prompt:
    """A reference pose shown at ``time_s``; ``by`` is 'session' or 'self'."""

    time_s: float
    pose: np.ndarray
    by: str = "session"


@dataclass
class _Segment:
    start: float          # movement onset (prompt time + reaction delay)
    duration: float
    target: np.ndarray    # (24, 3, 3) imperfect copy of the reference
    reference: np.ndarray  # (72,)
    prompt_time: float
    start_rot: Optional[np.ndarray] = None   # (24, 3, 3) body rotations at ``start``
    start_yaw: float = 0.0
    sway_phase: np.ndarray = field(default_factory=lambda: np.zeros(3))


@dataclass
class MotionState:
    """The subject at one instant.

    pose72: (72,) axis-angle, radians, in the body's own frame (root orientation included).
    yaw: rotation about the vertical (capture y) axis applied on top of the root, radians.
    stage: 'turn' or 'imitate'. reference: the (72,) pose being imitated, or None.
    """

    pose72: np.ndarray
    yaw: float
    stage: str
    reference: Optional[np.ndarray]


# ---------------------------------------------------------------------------------------------
# rotation helpers, batched over joints

def _rotmat(aa: np.ndarray) -> np.ndarray:
    from thuman_io.body.rotations import axis_angle_to_matrix
    return axis_angle_to_matrix(aa)


def _axis_angle(m: np.ndarray) -> np.ndarray:
    from thuman_io.body.rotations import matrix_to_axis_angle
    return matrix_to_axis_angle(m)


def slerp_rotations(r0: np.ndarray, r1: np.ndarray, s: float) -> np.ndarray:
    """Per-joint geodesic interpolation of rotations (J, 3, 3) at fraction s in [0, 1]."""
    rel = np.swapaxes(r0, -1, -2) @ r1
    return r0 @ _rotmat(_axis_angle(rel) * s)


def min_jerk(u: float) -> float:
    """Minimum-jerk profile 10u^3 - 15u^4 + 6u^5 on [0, 1] (clamped): how people reach."""
    u = min(max(u, 0.0), 1.0)
    return u ** 3 * (10 - 15 * u + 6 * u * u)


def _ease_turn(u: float) -> float:
    """Fraction of the turn done at time fraction u: smooth start and stop."""
    u = min(max(u, 0.0), 1.0)
    return u - math.sin(2 * math.pi * u) / (2 * math.pi)


def turn_stage_pose(t: float, cfg: MotionConfig) -> np.ndarray:
    """(72,) body pose during stage 1 at time t (surface-completion motions, no yaw)."""
    p = np.zeros((24, 3))
    cycle = 2 * math.pi * t / 6.0
    # Arms between 1.0 rad down (A-pose) and 0.35 rad above the horizontal, slowly.
    down = 0.33 + 0.67 * math.cos(cycle)
    p[_J["left_shoulder"], 2] = -down
    p[_J["right_shoulder"], 2] = down
    # Forearms forward a little (elbow flexion) in the other half of the cycle.
    flex = 0.15 + 0.35 * max(0.0, math.sin(cycle))
    p[_J["left_elbow"], 1] = -flex
    p[_J["right_elbow"], 1] = flex
    # A bow half-way through the turn.
    u = t / max(cfg.turn_seconds, 1e-6)
    bow = 0.35 * math.exp(-((u - 0.5) / 0.08) ** 2)
    p[_J["spine1"], 0] = 0.4 * bow
    p[_J["spine2"], 0] = 0.35 * bow
    p[_J["spine3"], 0] = 0.25 * bow
    p[_J["head"], 0] = 0.1 * math.sin(2 * math.pi * t / 7.0)
    return p.reshape(72)


class SubjectMotion:
    """Motion of the simulated subject; see the module docstring.

    seed: run seed (delays, imperfections, self-prompt poses). pose_source: callable(rng) -> (72,)
    drawing a self-prompt (default: the built-in pose library through PoseSampler).
    """

    def __init__(self, config: Optional[MotionConfig] = None, seed: int = 0,
                 pose_source: Optional[Callable[[np.random.Generator], np.ndarray]] = None):
        self.config = config or MotionConfig()
        self.seed = int(seed)
        self.prompts: list[Prompt] = []
        self._segments: list[_Segment] = []
        self._session_prompted = False
        self._pose_source = pose_source
        self._sampler = None

    # -- prompts ---------------------------------------------------------------------------
    def show_prompt(self, pose72: np.ndarray, time_s: float, by: str = "session") -> None:
        """Show reference pose ``pose72`` (72,) at ``time_s`` (seconds on the source clock).

        Prompts must come in time order; one earlier than the last is moved to the last one's time.
        """
        pose = np.asarray(pose72, dtype=np.float64).reshape(72)
        if by == "session":
            self._session_prompted = True
            # Self-prompts not yet acted on are replaced by the session's.
            while self.prompts and self.prompts[-1].by == "self" and self.prompts[-1].time_s >= time_s:
                self.prompts.pop()
                self._segments.pop()
        if self.prompts:
            time_s = max(time_s, self.prompts[-1].time_s)
        k = len(self.prompts)
        rng = np.random.default_rng([self.seed, k, 0x1A17])
        cfg = self.config
        delay = rng.uniform(*cfg.reaction_s)
        duration = rng.uniform(*cfg.transition_s)
        ref_rot = _rotmat(pose.reshape(24, 3))
        noise = rng.normal(0.0, cfg.imperfection_rad / math.sqrt(3), (24, 3))
        noise[0] *= 0.5  # people copy the body's attitude better than each joint
        target = ref_rot @ _rotmat(noise)
        self.prompts.append(Prompt(float(time_s), pose, by))
        self._segments.append(_Segment(start=float(time_s) + delay, duration=duration, target=target,
                                       reference=pose, prompt_time=float(time_s),
                                       sway_phase=rng.uniform(0, 2 * math.pi, 3)))

    def _self_prompts_until(self, t: float) -> None:
        cfg = self.config
        if self._session_prompted or not cfg.self_prompt:
            return
        while True:
            k = len(self.prompts)
            when = cfg.turn_seconds + k * cfg.interval_s
            if when > t:
                return
            self.show_prompt(self._draw_pose(k), when, by="self")

    def _draw_pose(self, k: int) -> np.ndarray:
        if self._pose_source is not None:
            return np.asarray(self._pose_source(np.random.default_rng([self.seed, k, 0x5E1F])), np.float64)
        if self._sampler is None:
            from thuman_io.body.poses import PoseSampler, load_pose_library
            self._sampler = PoseSampler(load_pose_library("builtin"), np.random.default_rng([self.seed, 0x5E1F]))
        return np.asarray(self._sampler.next(), np.float64)

    # -- evaluation ------------------------------------------------------------------------
    def _turn_yaw(self, t: float) -> float:
        cfg = self.config
        return 2 * math.pi * cfg.turns * _ease_turn(t / max(cfg.turn_seconds, 1e-6))

    def _rotations_at(self, t: float, upto: int) -> tuple[np.ndarray, float]:
        """Body rotations (24, 3, 3) and yaw at time t considering only the first ``upto`` segments."""
        active = [i for i in range(upto) if self._segments[i].start <= t]
        if not active:
            return _rotmat(turn_stage_pose(t, self.config).reshape(24, 3)), self._turn_yaw(t)
        i = active[-1]
        seg = self._segments[i]
        if seg.start_rot is None:
            seg.start_rot, seg.start_yaw = self._rotations_at(seg.start, i)
        s = min_jerk((t - seg.start) / seg.duration)
        rot = slerp_rotations(seg.start_rot, seg.target, s)
        # The first prompt turns the subject back to face the camera (nearest full turn).
        goal = 2 * math.pi * round(seg.start_yaw / (2 * math.pi))
        yaw = seg.start_yaw + (goal - seg.start_yaw) * s
        return rot, yaw

    def state(self, t: float) -> MotionState:
        """The subject at time t (seconds on the source clock)."""
        self._self_prompts_until(t)
        n = len(self._segments)
        rot, yaw = self._rotations_at(t, n)
        started = [s for s in self._segments if s.start <= t]
        shown = [p for p in self.prompts if p.time_s <= t]
        pose = _axis_angle(rot).reshape(72)
        if started:
            seg = started[-1]
            a = self.config.sway_rad
            ph = seg.sway_phase
            # Holding still is never perfectly still: a slow sway of the trunk and the head.
            sway = np.zeros((24, 3))
            sway[_J["spine1"], 2] = a * math.sin(2 * math.pi * t / 4.1 + ph[0])
            sway[_J["spine2"], 0] = a * math.sin(2 * math.pi * t / 5.3 + ph[1])
            sway[_J["head"], 1] = 2 * a * math.sin(2 * math.pi * t / 3.7 + ph[2])
            pose = _axis_angle(rot @ _rotmat(sway)).reshape(72)
        return MotionState(pose72=pose.astype(np.float32), yaw=float(yaw),
                           stage="imitate" if started else "turn",
                           reference=None if not shown else shown[-1].pose.astype(np.float32))
