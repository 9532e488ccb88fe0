"""The method's surface: which occupancy DeepHuman outputs, for ``thuman eval``, ``thuman
reconstruct`` and training's validation alike. Pure numpy.

H predicts occupancy probabilities s. Two facts set where its surface lies:

1. **The loss moves even odds.** Eq. 7 weighs occupied voxels by gamma and empty ones by
   1 - gamma (0.7 / 0.3). Its minimiser for a voxel occupied with probability q is
   s = gamma q / (gamma q + (1 - gamma)(1 - q)), so q = 1/2 maps to s = gamma: a voxel is more
   likely occupied than not where s >= gamma, not where s >= 0.5. Thresholding at 0.5 (the paper
   says 0.5) adds a shell of voxels that are more likely empty. :func:`even_odds_level`.
2. **The body is inside the clothing.** At the CPU preset (32 x 48 x 32, a voxel is about 4 cm)
   forearms, hands, lower legs and feet are one or two voxels wide and H gives them
   probabilities of 0.1-0.4, while the body it was given has them. A voxel inside the input
   body needs less evidence: there s is compared with ``body_level`` (:data:`BODY_LEVEL`).

The surface field maps s piecewise linearly so that its threshold goes to :data:`FIELD_LEVEL`:

    t = level outside the body, body_level inside
    field = 0.5 s / t                      for s <= t
    field = 0.5 + 0.5 (s - t) / (1 - t)    for s >= t
    occupied = field >= 0.5;  mesh = marching cubes of field at 0.5

:data:`PLAIN` (0.5 everywhere) is the paper's threshold; ``body_level = 0`` is the union of the
prediction with the body. A baseline's binary body volume maps to itself under any levels. The
levels were checked on the validation subjects of ``bench/fidelity.py`` (docs/model.md, "The
surface"; ``bench/fidelity_surface.py``), never on the held-out ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The level of :func:`surface_field` (occupancy test and marching cubes).
FIELD_LEVEL = 0.5
#: Threshold of the probability inside the input body (chosen on validation subjects, docs/model.md).
BODY_LEVEL = 0.1


@dataclass(frozen=True)
class SurfaceLevels:
    """Thresholds of H's probability: ``level`` outside the input body, ``body_level`` inside.
    0 <= body_level <= level < 1."""

    level: float
    body_level: float

    def __post_init__(self):
        if not 0.0 <= self.body_level <= self.level < 1.0:
            raise ValueError(f"surface levels need 0 <= body_level ({self.body_level}) <= level "
                             f"({self.level}) < 1")


#: The paper's plain threshold, 0.5 everywhere.
PLAIN = SurfaceLevels(0.5, 0.5)


def even_odds_level(gamma: float) -> float:
    """The probability at which a network trained with eq. 7's weight ``gamma`` (in (0, 1)) says
    "occupied as likely as not": gamma (derivation in the module docstring)."""
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma {gamma} must lie in (0, 1)")
    return float(gamma)


def network_levels(cfg) -> SurfaceLevels:
    """The method's levels for a network trained with ``cfg`` (a ``RunConfig``): even odds of its
    loss outside the body and :data:`BODY_LEVEL` inside; a network that never saw a body volume
    (joint heat maps) has no body to guide it, so one level everywhere."""
    level = even_odds_level(cfg.loss.gamma)
    body_level = min(BODY_LEVEL, level) if cfg.net.representation == "semantic" else level
    return SurfaceLevels(level, body_level)


def body_occupancy(semantic_volume: np.ndarray, channel_axis: int = -1) -> np.ndarray:
    """(D, H, W) bool: voxels of the input body, i.e. a non-zero semantic code.

    semantic_volume: (D, H, W, 3) or, with channel_axis=0, (3, D, H, W) codes in [0, 1]."""
    return np.asarray(semantic_volume).max(axis=channel_axis) > 0


def _rescale(p: np.ndarray, t: float) -> np.ndarray:
    """Piecewise-linear map of [0, 1] onto [0, 1] sending t to FIELD_LEVEL."""
    if t == FIELD_LEVEL:
        return p
    if t == 0.0:
        return FIELD_LEVEL + (1.0 - FIELD_LEVEL) * p
    low = p * (FIELD_LEVEL / t)
    high = FIELD_LEVEL + (1.0 - FIELD_LEVEL) * (p - t) / (1.0 - t)
    return np.where(p <= t, low, high)


def surface_field(probability: np.ndarray, body: np.ndarray | None, levels: SurfaceLevels) -> np.ndarray:
    """(D, H, W) float32 field whose :data:`FIELD_LEVEL` set is the method's surface (formula above).

    probability: (D, H, W) occupancy probabilities in [0, 1]; body: (D, H, W) bool input body or
    None (then ``levels.level`` everywhere).
    """
    p = np.clip(np.asarray(probability, dtype=np.float32), 0.0, 1.0)
    outside = _rescale(p, levels.level)
    if body is None or levels.body_level == levels.level:
        return np.asarray(outside, dtype=np.float32)
    inside = _rescale(p, levels.body_level)
    return np.where(np.asarray(body, bool), inside, outside).astype(np.float32)


def surface_occupancy(probability: np.ndarray, body: np.ndarray | None, levels: SurfaceLevels) -> np.ndarray:
    """(D, H, W) bool: the method's occupied voxels (the field at or above :data:`FIELD_LEVEL`)."""
    return surface_field(probability, body, levels) >= FIELD_LEVEL
