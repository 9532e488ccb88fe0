"""The energy terms of body tracking (DoubleFusion sec. 5's inner layer), each a pure function of
the parameters (``BodyParams``) returning its residuals and their exact Jacobian.

A term's energy is ``|values|^2``; the solver stacks the terms and takes Levenberg-Marquardt steps
on their sum. Correspondences (which model point each depth point pulls) and the normals of the
point-to-plane term are data of one step (ICP): they are found at the linearisation point and held
fixed while the step is taken, so each term is a smooth function of the parameters alone and its
Jacobian is exact (``tests/test_capture_energy.py`` checks every term against finite differences).

Terms, with m data correspondences, sigma the residual scale (metres):

    point_to_plane  w_p2pl / m  sum_i (n_i . (v(i) - p_i))^2 / sigma^2      depth data (DoubleFusion E_data)
    point_to_point  w / m       sum_i |v(i) - p_i|^2 / sigma^2              weak depth data; also free space
    pose_prior      w_prior |theta_body|^2                                  (DoubleFusion: a GMM; here N(0, I))
    shape_prior     w_shape |beta|^2                                        (first frame)
    temporal        w_root |theta_root - ^theta_root|^2 + w |theta_body - ^theta_body|^2
                    + w |t - ^t|^2 / s_t^2 (+ w |beta - ^beta|^2 when shape is solved)   (E_temp)

v(i): model point i skinned by the body (``ModelPoints``). Shapes: P data points, M model points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from thuman.capture.body_params import BodyParams
from thuman.capture.skinning_jacobian import shape_jacobian, shaped_rest, skin_with_pose_jacobian


@dataclass
class Residuals:
    """One term, linearised: values (R,) and jacobian (R, n), columns in ``params.layout`` order;
    the term's energy is ``(values ** 2).sum()``."""

    values: torch.Tensor
    jacobian: torch.Tensor

    @property
    def energy(self) -> float:
        return float((self.values ** 2).sum())


@dataclass
class ShapeBasis:
    """The body model's shape space, float64 torch: template (V, 3) rest vertices at zero shape,
    shapedirs (V, 3, B) metres per coefficient, j_regressor (24, V)."""

    template: torch.Tensor
    shapedirs: torch.Tensor
    j_regressor: torch.Tensor

    def rest(self, betas: torch.Tensor):
        """(vertices (V, 3), joints (24, 3)) of the shaped rest pose."""
        return shaped_rest(self.template, self.shapedirs, self.j_regressor, betas)


@dataclass
class ModelPoints:
    """Points the body skins (the body's vertices, then any fused-surface targets), float64 torch.

    rest_points (M, 3) in the rest pose of the fixed shape; weights (M, 24); parents (24,);
    subtree (24, 24) (``skinning_jacobian.subtree_matrix``); rest_joints (24, 3) of the fixed
    shape. shape: the body's shape basis, used when the parameters solve for shape (then the
    first V model points are the body's vertices, re-shaped by the betas).
    """

    rest_points: torch.Tensor
    weights: torch.Tensor
    rest_joints: torch.Tensor
    parents: object
    subtree: torch.Tensor
    shape: Optional[ShapeBasis] = None

    def posed(self, params: BodyParams, ids: torch.Tensor, chain: Optional[tuple] = None):
        """Model points ``ids`` (U,) posed by ``params``: (points (U, 3), jacobian (U, 3, n)).
        chain: ``skinning_jacobian.pose_chain`` of ``rest_joints`` at ``params`` when the caller
        has it already."""
        rest_p, rest_j = self.rest_points[ids], self.rest_joints
        if params.fit_shape:
            v, rest_j = self.shape.rest(params.betas)
            rest_p = v[ids]
        pts, d_pose = skin_with_pose_jacobian(rest_p, self.weights[ids], rest_j, self.parents, self.subtree,
                                              params.pose72, params.transl, chain=chain)
        lay = params.layout
        jac = pts.new_zeros((len(ids), 3, lay.size))
        jac[:, :, lay.pose] = d_pose
        jac[:, :, lay.transl] = torch.eye(3, dtype=pts.dtype, device=pts.device)
        if params.fit_shape:
            b = self.shape
            jac[:, :, lay.betas] = shape_jacobian(b.template, b.shapedirs, b.j_regressor, self.weights,
                                                  self.parents, ids, params.betas, params.pose72)
        return pts, jac


@dataclass
class Correspondences:
    """Data of one step: model point ``model_ids`` (P,) pulls toward ``targets`` (P, 3) metres;
    ``normals`` (P, 3) unit (point-to-plane only), taken at the linearisation point.

    ``counts`` (P,) float, optional: how many depth points each row stands for. The c depth points
    that share one model point (and so its normal) give the same Jacobian and Gauss-Newton step as
    one row toward their mean target weighted by c (their energy differs by a constant only), so the
    solver can stack one row per distinct model point (:func:`merge_by_model_point`)."""

    model_ids: torch.Tensor
    targets: torch.Tensor
    normals: Optional[torch.Tensor] = None
    counts: Optional[torch.Tensor] = None


def merge_by_model_point(model_ids: torch.Tensor, targets: torch.Tensor,
                         model_normals: Optional[torch.Tensor] = None):
    """Correspondences model point ``model_ids`` (P,) -> ``targets`` (P, 3) with one row per distinct
    model point: (Correspondences toward the mean target of each model point's depth points, with
    their ``counts`` and the normals ``model_normals[model]`` ((M, 3) over all model points, or
    None), inverse (P,) index from the P rows to the merged ones)."""
    uniq, inv = torch.unique(model_ids, return_inverse=True)
    dt, dev = targets.dtype, targets.device
    counts = torch.zeros(len(uniq), dtype=dt, device=dev).index_add_(0, inv, torch.ones(len(inv), dtype=dt, device=dev))
    sums = torch.zeros((len(uniq), 3), dtype=dt, device=dev).index_add_(0, inv, targets)
    normals = None if model_normals is None else model_normals[uniq]
    return Correspondences(uniq, sums / counts[:, None], normals, counts), inv


def _data(params, model, corr, weight, sigma_m, count, posed):
    """(differences v(i) - p_i (P, 3), Jacobian of v (P, 3, n), scale (P, 1): sqrt(weight / count) / sigma,
    times sqrt(counts) when rows stand for several depth points)."""
    v, jac = posed if posed is not None else model.posed(params, corr.model_ids)
    s = torch.full((len(v), 1), (weight / count) ** 0.5 / sigma_m, dtype=v.dtype, device=v.device)
    if corr.counts is not None:
        s = s * corr.counts.sqrt()[:, None]
    return v - corr.targets, jac, s


def point_to_plane(params: BodyParams, model: ModelPoints, corr: Correspondences, weight: float,
                   sigma_m: float, count: int, posed: Optional[tuple] = None) -> Residuals:
    """sqrt(weight / count) / sigma * n_i . (v(i) - p_i): (P,) residuals. posed: (points,
    jacobian) of ``model.posed(params, corr.model_ids)`` when the caller has them already (terms
    sharing correspondences pose them once); the same for :func:`point_to_point`."""
    diff, jac, s = _data(params, model, corr, weight, sigma_m, count, posed)
    nj = (corr.normals[:, :, None] * jac).sum(1)  # not einsum: a batch of (1, 3) @ (3, n) products is slow
    return Residuals(s[:, 0] * (corr.normals * diff).sum(-1), s * nj)


def point_to_point(params: BodyParams, model: ModelPoints, corr: Correspondences, weight: float,
                   sigma_m: float, count: int, posed: Optional[tuple] = None) -> Residuals:
    """sqrt(weight / count) / sigma * (v(i) - p_i): (3P,) residuals (x, y, z of each point)."""
    diff, jac, s = _data(params, model, corr, weight, sigma_m, count, posed)
    s3 = s.expand(-1, 3).reshape(-1, 1)
    return Residuals(s3[:, 0] * diff.reshape(-1), s3 * jac.reshape(3 * len(diff), -1))


def _diagonal(params: BodyParams, scale: torch.Tensor, offset: torch.Tensor) -> Residuals:
    """Residuals scale * offset over the columns where scale != 0."""
    rows = torch.nonzero(scale).squeeze(1)
    eye = torch.eye(len(scale), dtype=scale.dtype, device=scale.device)
    return Residuals((scale * offset)[rows], (eye * scale[:, None])[rows])


def _zero_mean_prior(params: BodyParams, part: str, weight: float) -> Residuals:
    """sqrt(weight) * the named part of the unknowns (a zero-mean Gaussian)."""
    x = params.vector()
    scale = torch.zeros_like(x)
    scale[getattr(params.layout, part)] = weight ** 0.5
    return _diagonal(params, scale, x)


def pose_prior(params: BodyParams, weight: float) -> Residuals:
    """sqrt(weight) * theta_body: (69,) residuals (a zero-mean Gaussian on the joints' rotations)."""
    return _zero_mean_prior(params, "body_pose", weight)


def shape_prior(params: BodyParams, weight: float) -> Residuals:
    """sqrt(weight) * beta: (B,) residuals when the shape is solved, none otherwise."""
    return _zero_mean_prior(params, "betas", weight)


def temporal(params: BodyParams, predicted: BodyParams, weight: float, weight_root: float,
             transl_scale_m: float = 0.1) -> Residuals:
    """Pull toward the predicted parameters: sqrt(weight_root) on the root's orientation,
    sqrt(weight) on the body pose (and the betas when solved), sqrt(weight) / transl_scale_m on
    the translation. Residuals over all unknowns (n,)."""
    lay = params.layout
    x = params.vector()
    scale = torch.full_like(x, weight ** 0.5)
    scale[lay.orient] = weight_root ** 0.5
    scale[lay.transl] = weight ** 0.5 / transl_scale_m
    return _diagonal(params, scale, x - predicted.vector())
