"""The method's surface: which occupancy DeepHuman outputs, for ``thuman eval`` and ``thuman
reconstruct`` alike. Pure numpy.

H predicts occupancy probabilities; the paper thresholds them (and runs marching cubes) at 0.5.
At the CPU preset (32 x 48 x 32, a voxel is about 4 cm) the network loses thin parts at 0.5:
forearms, hands, lower legs and feet are one or two voxels wide, and H gives them probabilities
of 0.1-0.4, so its surface misses them (or breaks them off), while the body it was given has
them. The body is inside the clothed surface, so a voxel inside the input body needs less
evidence: there the probability is compared with ``body_level`` instead of ``level``.

    field = p                                  outside the body
    field = min(1, p * level / body_level)     inside the body (1 when body_level = 0)
    occupied = field >= level;  mesh = marching cubes of field at level

``body_level = level`` is the paper's plain threshold; ``body_level = 0`` is the union of the
prediction with the body. A baseline's binary body volume maps to itself. The default was chosen
on the validation subjects of ``bench/fidelity.py`` (docs/model.md, "The surface"), never on the
held-out ones.
"""
from __future__ import annotations

import numpy as np

#: The paper's occupancy threshold (marching cubes at the same level).
LEVEL = 0.5
#: Threshold of the probability inside the input body (chosen on validation subjects, docs/model.md).
BODY_LEVEL = 0.1


def body_occupancy(semantic_volume: np.ndarray, channel_axis: int = -1) -> np.ndarray:
    """(D, H, W) bool: voxels of the input body, i.e. a non-zero semantic code.

    semantic_volume: (D, H, W, 3) or, with channel_axis=0, (3, D, H, W) codes in [0, 1]."""
    return np.asarray(semantic_volume).max(axis=channel_axis) > 0


def surface_field(probability: np.ndarray, body: np.ndarray | None, body_level: float = BODY_LEVEL,
                  level: float = LEVEL) -> np.ndarray:
    """(D, H, W) float32 field whose ``level`` set is the method's surface (formula above).

    probability: (D, H, W) occupancy probabilities in [0, 1]; body: (D, H, W) bool input body or
    None (then the plain probability); 0 <= body_level <= level.
    """
    if not 0.0 <= body_level <= level:
        raise ValueError(f"body_level {body_level} must lie in [0, level={level}]")
    p = np.asarray(probability, dtype=np.float32)
    if body is None or body_level == level:
        return p
    inside = 1.0 if body_level == 0 else np.minimum(1.0, p * (level / body_level))
    return np.where(np.asarray(body, bool), inside, p).astype(np.float32)


def surface_occupancy(probability: np.ndarray, body: np.ndarray | None, body_level: float = BODY_LEVEL,
                      level: float = LEVEL) -> np.ndarray:
    """(D, H, W) bool: the method's occupied voxels (the field at or above ``level``)."""
    return surface_field(probability, body, body_level, level) >= level
