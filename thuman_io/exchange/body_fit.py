"""Give an imported item a body that lies on its surface: ``thuman_io.body.registration`` behind
the importers (``thuman import MESH`` without ``--smpl``, ``thuman import --thuman-release``).
"""
from __future__ import annotations

import numpy as np

from thuman_io.item import SMPLParams


def fit_item_body(body_model: str, gender: str, vertices: np.ndarray, faces: np.ndarray,
                  start: SMPLParams | None = None, clothed: bool = True, config=None):
    """Fit ``body_model`` ('open' or an SMPL file path) to a mesh (vertices (N, 3) metres, item frame,
    faces (F, 3)), from ``start`` or, without one, from the coarse search.

    clothed: the target may be clothed (clothing-aware weights); False for a body mesh such as a
    release's smpl.obj (every point weighs the same). Returns (SMPLParams with ``fit_residual``,
    a JSON-able dict describing the fit for ``meta.extra['body_fit']``).
    """
    from thuman_io.body.model import cached_body_model
    from thuman_io.body.registration import FitConfig, FitStart, fit_body

    model_gender = "neutral" if str(body_model) == "open" else gender
    bm = cached_body_model(str(body_model), model_gender)
    # A body target from a given start (a release's smpl.obj and parameters) is close already:
    # fewer steps; every point weighs the same (no clothing).
    body_target = FitConfig(iterations=(20, 60, 80), outside_weight=(1.0, 1.0), inside_weight=1.0)
    cfg = config or (FitConfig() if clothed else body_target)
    st = None
    if start is not None:
        st = FitStart(betas=start.betas, global_orient=start.global_orient, body_pose=start.body_pose,
                      transl=start.transl)
    fit = fit_body(bm, vertices, faces, start=st, config=cfg)
    params = SMPLParams(betas=fit.betas, global_orient=fit.global_orient, body_pose=fit.body_pose,
                        transl=fit.transl, model="open" if str(body_model) == "open" else bm.name,
                        gender=gender, fit_residual=np.asarray(fit.residual_m, np.float32))
    info = {"start": fit.start, "clothed_target": bool(clothed), "seconds": round(fit.seconds, 2),
            "residual_mean_m": round(fit.residual_m[0], 5), "residual_p95_m": round(fit.residual_m[1], 5)}
    return params, info
