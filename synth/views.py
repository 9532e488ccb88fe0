"""Random viewpoints of one item: one random orientation, then views evenly spaced in yaw.

As in DeepHuman's data preparation: yaw uniform over the circle, pitch and roll uniform in
[-0.3, 0.3] rad, drawn once per item; view v adds v * 360 / n degrees of yaw, so 4 views are
90 degrees apart. Ranges are configurable. The rotation maps the item frame (metres, Y up) onto
the view frame's axes (x right, y up, z toward the camera).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ViewAngles:
    """One view: index within the item and angles in radians (yaw about item Y, then roll about
    the view's z, then pitch about the view's x)."""

    index: int
    yaw: float
    pitch: float
    roll: float

    def rotation(self) -> np.ndarray:
        """(3, 3) float64 rotation, item frame -> view frame: Rx(pitch) @ Rz(roll) @ Ry(yaw)."""
        return _rx(self.pitch) @ _rz(self.roll) @ _ry(self.yaw)


def sample_views(rng: np.random.Generator, num_views: int = 4, pitch_range: float = 0.3,
                 roll_range: float = 0.3) -> list[ViewAngles]:
    """``num_views`` views sharing one random pitch and roll, evenly spaced in yaw."""
    yaw0 = rng.uniform(0.0, 2 * np.pi)
    pitch = rng.uniform(-pitch_range, pitch_range) if pitch_range > 0 else 0.0
    roll = rng.uniform(-roll_range, roll_range) if roll_range > 0 else 0.0
    step = 2 * np.pi / num_views
    return [ViewAngles(v, float((yaw0 + v * step) % (2 * np.pi)), float(pitch), float(roll))
            for v in range(num_views)]


def _rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
