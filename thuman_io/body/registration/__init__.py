"""Registering a body model to a mesh (clothed or not): ``fit_body`` (docs/body.md, "Fitting a body").

    from thuman_io.body import load_body_model
    from thuman_io.body.registration import fit_body
    fit = fit_body(load_body_model("open"), vertices, faces)   # from nothing: coarse search first
    fit.betas, fit.global_orient, fit.body_pose, fit.transl, fit.residual_m

torch, scipy and Open3D are imported when a fit runs.
"""
from thuman_io.body.registration.fit import FitConfig, FitResult, FitStart, fit_body

__all__ = ["FitConfig", "FitResult", "FitStart", "fit_body"]
