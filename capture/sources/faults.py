"""Stream faults: the plan of faults to inject into the simulator, and the timeline checks that
report dropped frames and timestamp jumps of any source. Pure functions, no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class FaultPlan:
    """Faults a simulated source injects, so that tests can drive every fault path.

    unplug_at:        frame index at which the stream stops with SourceFault (None = never).
    drop_every:       drop every N-th frame (index % N == N - 1); 0 = never.
    drop_frames:      explicit frame indices to drop.
    timestamp_jumps:  {frame index: microseconds} added to that frame's timestamp and all later ones
                      (a device clock jump; a negative value makes time run backwards).
    """

    unplug_at: Optional[int] = None
    drop_every: int = 0
    drop_frames: frozenset = field(default_factory=frozenset)
    timestamp_jumps: dict = field(default_factory=dict)

    def dropped(self, index: int) -> bool:
        return (self.drop_every > 0 and index % self.drop_every == self.drop_every - 1) or index in self.drop_frames

    def timestamp_offset_us(self, index: int) -> int:
        return int(sum(v for k, v in self.timestamp_jumps.items() if index >= k))


@dataclass
class TimestampJump:
    """A timestamp step that the frame-index step does not explain.

    index: frame index where it shows. expected_us / actual_us: the step predicted from the index
    step and the frame rate, and the step seen.
    """

    index: int
    expected_us: int
    actual_us: int

    def __str__(self) -> str:
        return (f"timestamp jump at frame {self.index}: {self.actual_us / 1e3:+.1f} ms "
                f"(expected {self.expected_us / 1e3:+.1f} ms)")


def find_timestamp_jumps(indices: np.ndarray, timestamps_us: np.ndarray, fps: float,
                         tolerance: float = 0.5) -> list[TimestampJump]:
    """Steps in device time that differ from (index step / fps) by more than ``tolerance`` frames.

    indices, timestamps_us: (N,) int, in stream order. fps: nominal frame rate. A dropped frame
    (index gap with the matching time gap) is not a jump; time running backwards always is.
    """
    idx = np.asarray(indices, dtype=np.int64)
    ts = np.asarray(timestamps_us, dtype=np.int64)
    if len(idx) < 2:
        return []
    period = 1e6 / fps
    expected = np.diff(idx) * period
    actual = np.diff(ts)
    bad = (np.abs(actual - expected) > tolerance * period) | (actual <= 0)
    return [TimestampJump(int(idx[i + 1]), int(round(expected[i])), int(actual[i])) for i in np.flatnonzero(bad)]


def dropped_frame_runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """(first missing index, count) for each gap in a stream's frame indices."""
    idx = np.asarray(indices, dtype=np.int64)
    gaps = np.flatnonzero(np.diff(idx) > 1)
    return [(int(idx[i] + 1), int(idx[i + 1] - idx[i] - 1)) for i in gaps]
