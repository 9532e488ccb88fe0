"""The semantic code of DeepHuman (paper sec. 3). This function owns the definition.

Each body-model vertex gets a 3-vector from its rest-pose coordinates, normalised to [0, 1] per
axis over the model's vertices. Synthesis renders it into the semantic map and propagates it into
the semantic volume; the model reads both.
"""
from __future__ import annotations

import numpy as np


def semantic_code(rest_vertices: np.ndarray) -> np.ndarray:
    """Per-vertex semantic code.

    rest_vertices: (V, 3) float, the body model's rest-pose (T-pose) vertices, any unit.
    Returns (V, 3) float32 in [0, 1]: each axis mapped by (p - min) / (max - min).
    """
    v = np.asarray(rest_vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise ValueError(f"rest_vertices must be (V, 3) with V > 0, got {v.shape}")
    lo, hi = v.min(axis=0), v.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return ((v - lo) / span).astype(np.float32)
