"""The network's body inputs (paper sec. 3): the semantic map and the semantic volume of a posed body.

This is the one place that makes them. The synthesizer (``pipeline.synthesize_item``), inference
(``thuman reconstruct``, ``thuman.model.body_inputs``) and the perturbed bodies of
``thuman.synth.body_perturb`` all call :func:`body_prior`, so a network sees at inference the
same inputs, made with the same threshold and settings, as in training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thuman.synth.semantic_volume import NEIGHBOURS, SIGMA, semantic_volume
from thuman_io.grid import VolumeGrid
from thuman_io.item import SMPLParams

#: A semantic-map pixel is body when at least 2 of its 4 supersamples are (coverage >= 1/2).
#: With 2 x 2 supersampling many silhouette pixels have coverage exactly 1/2, so ``>`` and ``>=``
#: give different maps: this constant is the only threshold of the semantic map.
MAP_COVERAGE = 0.5


@dataclass
class BodyState:
    """A posed body: vertices (V, 3) float64 metres item frame, faces (F, 3), codes (V, 3) in [0, 1],
    joints (24, 3) float64 metres, the body-model name."""

    vertices: np.ndarray
    faces: np.ndarray
    codes: np.ndarray
    model: str
    joints: np.ndarray | None = None


@dataclass
class BodyPrior:
    """semantic_map (2H, 2W, 3) float32 in [0, 1], 0 off the body; semantic_volume (D, H, W, 3)
    float32 in [0, 1], 0 outside the body."""

    semantic_map: np.ndarray
    semantic_volume: np.ndarray


def pose_params(smpl: SMPLParams) -> BodyState:
    """Pose ``smpl``'s body model (loaded once per process, ``thuman_io.body.cached_body_model``)."""
    from thuman_io.body import cached_body_model

    bm = cached_body_model(smpl.model, gender=smpl.gender)
    out = bm.pose_one(smpl.betas, smpl.full_pose, smpl.transl)
    return BodyState(vertices=np.asarray(out.vertices[0], np.float64), faces=np.asarray(bm.faces),
                     codes=np.asarray(bm.semantic_code, np.float32), model=smpl.model,
                     joints=np.asarray(out.joints[0], np.float64))


def semantic_map(renderer, body_vertices_view: np.ndarray, faces: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The body's semantic code rendered unlit at 2H x 2W (``renderer``: an ``OrthoRenderer``).

    body_vertices_view: (V, 3) view frame, normalised units. Returns (2H, 2W, 3) float32."""
    col, alpha = renderer.flat_pass(body_vertices_view, faces, colors=codes, scale=2)
    return np.where((alpha >= MAP_COVERAGE)[..., None], col, 0).astype(np.float32)


def body_prior(body_vertices_view: np.ndarray, faces: np.ndarray, codes: np.ndarray, grid: VolumeGrid,
               renderer, neighbours: int = NEIGHBOURS, sigma: float = SIGMA) -> BodyPrior:
    """Semantic map and volume of a posed body placed in the view frame.

    body_vertices_view: (V, 3) float, view frame (normalised units); faces (F, 3) int; codes (V, 3).
    neighbours, sigma: the semantic volume's code propagation (view-frame units), as the corpus
    was made (its samples' meta ``semantic_neighbours`` / ``semantic_sigma``).
    """
    volume, _ = semantic_volume(body_vertices_view, faces, codes, grid, neighbours, sigma)
    return BodyPrior(semantic_map(renderer, body_vertices_view, faces, codes), volume)
