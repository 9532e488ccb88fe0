"""The network's body inputs from a body fit: semantic map and semantic volume.

``thuman reconstruct IMAGE --smpl PARAMS`` has an image and a body fit (the paper uses HMR's) but
no corpus sample, so the inputs are made here by the synthesizer's own function
(``thuman.synth.body_prior.body_prior``: one threshold, the corpus's code propagation).

PARAMS is an SMPL parameter file read by ``thuman_io.exchange.load_smpl_params`` (``.json``,
``.npz`` or ``.pkl``: ``betas``, ``pose`` or ``global_orient`` + ``body_pose``, ``transl`` in
metres, ``model`` and ``gender`` with that reader's defaults), plus optionally ``item_to_view``
(4 x 4, body frame in metres -> view frame) and ``semantic_sigma`` / ``semantic_neighbours`` (the
corpus's settings, stored in every sample's meta). Without ``item_to_view`` the body is centred in
the box and scaled to 1 / 1.1 of it, facing the camera: frame the image the same way (as the
corpus does, paper sec. 5).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thuman_io.errors import InputError
from thuman_io.grid import VolumeGrid
from thuman_io.item import SMPLParams

DEFAULT_MARGIN = 1.1


@dataclass
class BodyFit:
    """A body fit for inference: SMPL parameters (item frame), item_to_view (4, 4) or None,
    the semantic volume's code propagation (sigma in view-frame units, neighbours)."""

    smpl: SMPLParams
    item_to_view: np.ndarray | None = None
    sigma: float | None = None
    neighbours: int | None = None


@dataclass
class BodyInputs:
    """semantic_map (2H, 2W, 3) float32; semantic_volume (D, H, W, 3) float32; item_to_view (4, 4);
    body_vertices_view (V, 3) and body_faces (F, 3) of the posed body in the view frame."""

    semantic_map: np.ndarray
    semantic_volume: np.ndarray
    item_to_view: np.ndarray
    body_vertices_view: np.ndarray
    body_faces: np.ndarray


def read_body_params(path: str | os.PathLike) -> BodyFit:
    """Read a PARAMS file (see module doc); InputError/SchemaError naming the file and the field."""
    from thuman_io.exchange.smpl_params import params_from_mapping, read_param_mapping

    path = Path(path)
    raw = read_param_mapping(path)
    smpl = params_from_mapping(raw, path)
    m = None
    if "item_to_view" in raw:
        m = np.asarray(raw["item_to_view"], dtype=np.float64)
        if m.size != 16 or not np.isfinite(m).all():
            raise InputError(path, "field 'item_to_view'", "give a finite 4 x 4 matrix")
        m = m.reshape(4, 4)
    sigma = float(np.asarray(raw["semantic_sigma"])) if "semantic_sigma" in raw else None
    neighbours = int(np.asarray(raw["semantic_neighbours"])) if "semantic_neighbours" in raw else None
    if (sigma is not None and not sigma > 0) or (neighbours is not None and neighbours < 1):
        raise InputError(path, "fields 'semantic_sigma'/'semantic_neighbours'", "must be > 0 and >= 1")
    return BodyFit(smpl, m, sigma, neighbours)


def corpus_body_params(corpus, index: int) -> dict:
    """The body fit of corpus sample ``index`` as a PARAMS mapping (JSON-ready): what
    ``thuman reconstruct --smpl`` needs to rebuild that sample's stored body inputs."""
    sample, meta = corpus.sample(index), corpus.meta(index)
    params = {"pose": np.asarray(sample.smpl_full_pose).reshape(72).tolist(),
              "betas": np.asarray(sample.smpl_betas).ravel().tolist(),
              "transl": np.asarray(sample.smpl_transl).ravel().tolist(),
              "item_to_view": np.asarray(sample.item_to_view).tolist(),
              "model": str(meta.get("body_model", "open")),
              "gender": str(meta.get("body_gender", "neutral"))}
    for key in ("semantic_sigma", "semantic_neighbours"):
        if key in meta:
            params[key] = meta[key]
    return params


def body_inputs(fit: BodyFit, grid: VolumeGrid, renderer=None) -> BodyInputs:
    """Pose the body, place it in the view frame, and make the semantic map and volume."""
    from thuman.synth.body_prior import body_prior, pose_params
    from thuman.synth.geometry import apply_transform
    from thuman.synth.normalize import fit_views
    from thuman.synth.render.renderer import OrthoRenderer
    from thuman.synth.semantic_volume import NEIGHBOURS, SIGMA

    body = pose_params(fit.smpl)
    m = fit.item_to_view
    if m is None:
        (m,), _ = fit_views(body.vertices, [np.eye(3)], grid, DEFAULT_MARGIN)
    bv = apply_transform(m, body.vertices)
    own = renderer is None
    renderer = renderer or OrthoRenderer(grid)
    try:
        prior = body_prior(bv, body.faces, body.codes, grid, renderer,
                           NEIGHBOURS if fit.neighbours is None else fit.neighbours,
                           SIGMA if fit.sigma is None else fit.sigma)
    finally:
        if own:
            renderer.close()
    return BodyInputs(prior.semantic_map, prior.semantic_volume, m, bv, body.faces)
