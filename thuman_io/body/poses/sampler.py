"""Draw reference poses far from the recently shown ones (for prompting a capture subject).

Distance between two poses: the mean over SMPL joints 1-23 of the rotation angle between their
local rotations (global orientation excluded: turning around is not a new pose).
"""
from __future__ import annotations

import numpy as np

from thuman_io.body.poses.library import PoseLibrary
from thuman_io.body.rotations import axis_angle_to_matrix, geodesic_angle


def pose_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean joint angle (radians) between poses a (..., 72) and b (..., 72), joints 1-23."""
    ra = axis_angle_to_matrix(np.asarray(a, dtype=np.float64).reshape(a.shape[:-1] + (24, 3))[..., 1:, :])
    rb = axis_angle_to_matrix(np.asarray(b, dtype=np.float64).reshape(b.shape[:-1] + (24, 3))[..., 1:, :])
    return geodesic_angle(ra, rb).mean(axis=-1)


class PoseSampler:
    """``PoseSampler(library, rng).next()`` -> the next reference pose (72,) float32.

    Each draw scores ``candidates`` random library poses by their distance to the nearest of the
    last ``memory`` poses shown and keeps the farthest, so consecutive prompts differ while the
    choice stays random. ``last_index`` / ``last_name`` say which pose was drawn.
    """

    def __init__(self, library: PoseLibrary, rng: np.random.Generator, memory: int = 5,
                 candidates: int = 16):
        if len(library) == 0:
            raise ValueError(f"pose library {library.source} is empty")
        self.library = library
        self.rng = rng
        self.memory = memory
        self.candidates = candidates
        self.recent: list[int] = []
        self.last_index: int | None = None
        # Joint rotation matrices of the whole library, computed once.
        self._rot = axis_angle_to_matrix(library.poses.reshape(-1, 24, 3)[:, 1:].astype(np.float64))

    @property
    def last_name(self) -> str | None:
        return None if self.last_index is None else self.library.names[self.last_index]

    def next_index(self) -> int:
        n = len(self.library)
        cand = self.rng.choice(n, size=min(self.candidates, n), replace=False)
        if self.recent:
            recent = self._rot[self.recent]
            d = geodesic_angle(self._rot[cand][:, None], recent[None]).mean(axis=-1).min(axis=1)
            pick = int(cand[np.argmax(d)])
        else:
            pick = int(cand[0])
        self.recent = (self.recent + [pick])[-self.memory:]
        self.last_index = pick
        return pick

    def next(self) -> np.ndarray:
        """The next pose, (72,) float32 axis-angle radians."""
        return self.library.poses[self.next_index()].copy()
