"""The inner layer of DoubleFusion: the body model's pose and shape tracked against depth.

Per frame we minimise, over the pose theta (orientation and 23 joints, axis-angle), the translation
and, on the first frame, the shape beta (DoubleFusion sec. 5, its E_data / E_prior / E_temp terms)
the sum of the terms of ``thuman.capture.tracking_energy``:

    E = point_to_plane + point_to_point (weak) + free space + pose prior + shape prior + temporal

each a pure function of ``BodyParams`` with an exact Jacobian (``thuman.capture.skinning_jacobian``).
The free-space term (not in DoubleFusion, whose fused surface constrains the body instead) acts on
visible body vertices that project onto background or in front of the measured depth by more
than ``free_space_tol_m``: they are pulled to their nearest depth point q(v) (a point-to-point
term). It is off by default (w_free = 0): on the simulated turn it pulled limbs hidden behind the
trunk into it and made the joint error worse; the pose prior is kept very weak instead, so that an
occluded limb keeps its last pose (temporal term) rather than decaying toward the T-pose.

The temporal term pulls toward the prediction for this frame, the last frame's pose with the root's
rotation and translation moved on at their last velocity (``motion_prediction``). Without it a
subject who turns at 35 degrees per second (the paper's slow turn at 5 fps) leaves the fit behind by
half the step, the lag grows, and the fit falls into the front/back ambiguity of a side view. The
root's orientation has its own, lower temporal weight (``w_temporal_root``).

Data: p_i are depth points of the frame (capture frame, metres), v(i) the nearest *visible* model
point (the body's vertices, or the fused surface skinned by the body: ``SurfaceTargets``; visible:
facing the camera and not hidden behind other model points, ``thuman.capture.visibility``) and n_v
its normal; correspondences further than ``max_corr_dist_m`` are dropped (trimming). The solver is
Levenberg-Marquardt (damped Gauss-Newton) with correspondences and normals re-found at each step
(ICP style) and held fixed within it. Simplified from DoubleFusion: the pose prior is a zero-mean
Gaussian, not a mixture; the model points are skinned without pose-corrective blend shapes (the open
body model has none). Clothing lies a centimetre or two outside the body, so the body-only fit is
biased slightly outward; the body shape is refined later from the fused surface
(``thuman.capture.fusion``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from thuman.capture.camera import as_camera, project_torch
from thuman.capture.body_params import BodyParams, BodyState, ParamLayout
from thuman.capture.skinning_jacobian import pose_chain, subtree_matrix
from thuman.capture.tracking_energy import (Correspondences, ModelPoints, Residuals, ShapeBasis, merge_by_model_point,
                                            point_to_plane, point_to_point, pose_prior, shape_prior, temporal)
from thuman.capture.visibility import unoccluded
from thuman.capture.warp import apply, blend, body_skinning_weights
from thuman_io.geometry import vertex_normals

__all__ = ["BodyState", "BodyTracker", "SurfaceTargets", "TrackingConfig", "nearest", "wrap_axis_angle"]


@dataclass
class SurfaceTargets:
    """The outer layer's surface as model points of the body's data term (DoubleFusion's joint
    tracking, where depth is matched to the fused surface that the body skins, not to the naked
    body inside the clothes).

    rest_points (S, 3), rest_normals (S, 3): the live fused surface of the predicted pose taken back
    to the body's rest pose by its own blended skinning (so the node graph's corrections ride along
    as rest-space offsets), float64 torch. weights (S, 24) float64: their skinning weights.
    body_mask (V,) bool torch: body vertices still used as model points (those the fused surface
    does not cover yet, e.g. the back before the turn shows it).
    """

    rest_points: torch.Tensor
    rest_normals: torch.Tensor
    weights: torch.Tensor
    body_mask: torch.Tensor


@dataclass
class TrackingConfig:
    """Weights and iteration counts of body tracking (defaults tuned on the simulator, CPU).

    sigma_m: residual scale (metres); max_corr_dist_m: correspondence trimming; max_points:
    depth points used per frame (random subset, seeded); iterations / first_iterations: most
    Levenberg-Marquardt steps per frame and on the first frame (which also fits shape); a frame
    stops after ``min_iterations`` once no parameter moves more than ``converged_step`` (radians /
    metres), or once the last step lowered the RMS point-to-plane residual by less than the
    fraction ``converged_residual`` (0: off, the default; on the bench frames the last two steps
    of most frames move a wrist or an ankle by about 0.01 rad while the residual changes by under
    1 %, but with 0.01 simulator seed 1 was lost: joint error 139 against 23.6 mm; see
    docs/capture.md, speed); damping: Marquardt's lambda (relative to the diagonal); w_*: the weights of ``thuman.capture.tracking_energy``'s terms (w_temporal_root: the
    temporal weight of the root's orientation, low because the whole body's points pin it down);
    free_space_tol_m: how far in front of the measured depth a vertex must be to count as in free
    space; motion_prediction: the fraction of the root's last motion (rotation and translation per
    second) carried forward to predict the next frame (0: the last pose is the prediction);
    occlusion_cell_m / occlusion_tol_m: the z-buffer of ``thuman.capture.visibility`` that keeps
    hidden model points out of the data term (cell 0: facing the camera is enough);
    initial_arm_down_rad: the first frame starts from a rough A-pose, arms this far below the
    horizontal (DoubleFusion's performer starts in one; from the T-pose the fit folded an arm on
    simulator seed 3: 79 against 50 mm joint error after the first frame).
    first_frame_shape / w_shape_prior_first: the shape is fitted on the first frame (off: held at
    the mean), held back toward the mean by a shape prior ten times the later one, and solved
    against the fused surface only once the turn has shown the body
    (``FusionConfig.shape_after_coverage``, ``DoubleFusion.refine_shape``). From one front view
    with the weak prior (0.01) simulator seed 5, a flared skirt, took an extreme shape (beta_1,
    beta_2 = -1.6, -2.4 against the truth's -0.55, 0.1; with 0.1: -0.55, -0.42); the mean shape
    instead raised the first frame's joint error of seed 1 from 20 to 30 mm.
    """

    sigma_m: float = 0.01
    max_corr_dist_m: float = 0.10
    max_points: int = 1500
    iterations: int = 6
    first_iterations: int = 15
    min_iterations: int = 2
    converged_step: float = 5e-3
    converged_residual: float = 0.0
    damping: float = 0.05
    w_point_to_plane: float = 1.0
    w_point_to_point: float = 0.1
    w_free_space: float = 0.0
    free_space_tol_m: float = 0.03
    w_pose_prior: float = 0.001
    w_shape_prior: float = 0.01
    w_temporal: float = 0.5
    w_temporal_root: float = 0.05
    motion_prediction: float = 1.0
    occlusion_cell_m: float = 0.03
    occlusion_tol_m: float = 0.05
    initial_arm_down_rad: float = 0.7
    first_frame_shape: bool = True
    w_shape_prior_first: float = 0.1
    seed: int = 0


def wrap_axis_angle(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle vectors with angle over pi replaced by the same rotation with angle in
    [0, pi]. A subject who turns around would otherwise leave the root near 2 pi, where the
    parametrisation is badly conditioned for the next frame's Gauss-Newton steps."""
    angle = aa.norm(dim=-1, keepdim=True)
    scale = torch.where(angle > torch.pi, 1.0 - 2.0 * torch.pi / angle.clamp_min(1e-12), torch.ones_like(angle))
    return aa * scale


def nearest(points: torch.Tensor, targets: torch.Tensor, chunk: int = 4096):
    """Nearest target of each point. points (P, 3), targets (T, 3) -> (dist (P,), index (P,)).
    A k-d tree on CPU (far cheaper than all pairwise distances), cdist on CUDA."""
    if points.device.type == "cpu":
        from scipy.spatial import cKDTree

        d, i = cKDTree(targets.detach().numpy()).query(points.detach().numpy(), k=1)
        return (torch.as_tensor(d, dtype=points.dtype), torch.as_tensor(i, dtype=torch.long))
    ds, ids = [], []
    for s in range(0, len(points), chunk):
        d = torch.cdist(points[s:s + chunk], targets)
        m = d.min(dim=1)
        ds.append(m.values)
        ids.append(m.indices)
    return torch.cat(ds), torch.cat(ids)


class BodyTracker:
    """Tracks one body through a stream of depth point clouds.

    body_model: the object of ``thuman_io.body.load_body_model`` (``forward_torch``, ``faces``,
    ``rest_vertices``, ``shapedirs``, ``j_regressor``, ``weights``, ``num_betas``). The state of
    the last frame is ``self.state``.
    """

    def __init__(self, body_model, config: TrackingConfig | None = None, device="cpu"):
        self.bm = body_model
        self.cfg = config or TrackingConfig()
        self.device = torch.device(device)
        f64 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64, device=self.device)  # noqa: E731
        self.faces = torch.as_tensor(np.asarray(body_model.faces), dtype=torch.long, device=self.device)
        self.num_betas = int(getattr(body_model, "num_betas", 10))
        self.parents = np.asarray(getattr(body_model, "parents"), dtype=np.int64)
        self.state: Optional[BodyState] = None
        self.shape_basis = ShapeBasis(template=f64(body_model.rest_vertices), shapedirs=f64(body_model.shapedirs),
                                      j_regressor=f64(body_model.j_regressor))
        self.weights = f64(body_skinning_weights(body_model))      # (V, 24) body skinning weights
        self.subtree = f64(subtree_matrix(self.parents))
        # Per-frame inputs of the current ``track`` call (None outside it / when not given).
        self._surface: Optional[SurfaceTargets] = None
        self._K = None  # the frame's CameraModel
        self._depth: Optional[tuple] = None
        self._history: list = []  # (time_s, BodyState) of the last two frames, for the prediction
        self._rng = np.random.default_rng(self.cfg.seed)
        self._rest_cache = (None, None, None)  # betas, rest vertices, rest joints

    def rest(self, betas: np.ndarray):
        """Shaped rest pose for ``betas``: (vertices (V, 3), joints (24, 3)) float64 torch, cached."""
        key = np.asarray(betas, dtype=np.float32)
        if self._rest_cache[0] is None or not np.array_equal(self._rest_cache[0], key):
            v, j = self.shape_basis.rest(torch.as_tensor(key, dtype=torch.float64, device=self.device))
            self._rest_cache = (key.copy(), v, j)
        return self._rest_cache[1], self._rest_cache[2]

    # -- the model -------------------------------------------------------------------------
    def posed(self, betas, global_orient, body_pose, transl):
        """Differentiable posed vertices (V, 3) and joints (24, 3) for unbatched torch parameters."""
        out = self.bm.forward_torch(betas=betas[None], global_orient=global_orient[None],
                                    body_pose=body_pose[None], transl=transl[None])
        return out.vertices[0], out.joints[0][:24]

    def subsample(self, points: np.ndarray) -> np.ndarray:
        """At most ``max_points`` of (P, 3) points, chosen by the seeded generator."""
        if len(points) <= self.cfg.max_points:
            return points
        return points[self._rng.choice(len(points), self.cfg.max_points, replace=False)]

    # -- fitting ---------------------------------------------------------------------------
    def initial_state(self, points: np.ndarray) -> BodyState:
        """A starting guess from the first frame: rest pose facing the camera (SMPL faces +z, the
        camera is at +z), shifted so that the body's front is at the points' front."""
        rest = np.asarray(self.bm.rest_vertices, dtype=np.float32)
        centre = 0.5 * (points.min(0) + points.max(0))
        rest_centre = 0.5 * (rest.min(0) + rest.max(0))
        transl = centre - rest_centre
        # The points are the front surface; the body's centre lies behind it.
        transl[2] = points[:, 2].max() - rest[:, 2].max()
        body_pose = np.zeros((23, 3), np.float32)
        # A rough A-pose (DoubleFusion asks the performer to start in one): arms down by
        # ``initial_arm_down_rad`` about z at the shoulders (joints 16, 17; body_pose row = joint - 1).
        body_pose[15, 2] = -self.cfg.initial_arm_down_rad
        body_pose[16, 2] = self.cfg.initial_arm_down_rad
        return BodyState(betas=np.zeros(self.num_betas, np.float32), global_orient=np.zeros(3, np.float32),
                         body_pose=body_pose.reshape(69), transl=transl.astype(np.float32))

    def snapshot(self) -> tuple:
        """The tracker's state and motion history, for :meth:`restore` (a caller that fits trial
        starts with ``track`` puts the tracker back as it was)."""
        return self.state, list(self._history)

    def restore(self, snapshot: tuple) -> None:
        """Put back what :meth:`snapshot` returned."""
        self.state, self._history = snapshot[0], list(snapshot[1])

    def restart(self, state: Optional[BodyState], time_s: Optional[float] = None,
                previous: Optional[tuple] = None) -> None:
        """Continue from ``state`` (None: from nothing) at ``time_s``; the motion of the lost frames
        is not the subject's, so the velocity is none, or that from ``previous`` (time_s, BodyState),
        an earlier state the caller vouches for (the turn of the tracked frames)."""
        self.state = state
        self._history = [(time_s, state)] if state is not None and time_s is not None else []
        if self._history and previous is not None and previous[0] < time_s:
            self._history = [tuple(previous)] + self._history

    def predict(self, time_s: Optional[float]) -> Optional[BodyState]:
        """The state expected at ``time_s``: the last one with the root's rotation and translation
        moved on at their velocity over the last two frames (scaled by ``motion_prediction``;
        the elapsed-time ratio is clipped to [0, 3] so that a dropped frame or a clock jump cannot
        throw the prediction far). None before the first frame; the last state when there is no
        velocity yet or no time is given."""
        if self.state is None:
            return None
        if time_s is None or len(self._history) < 2 or self.cfg.motion_prediction <= 0:
            return self.state
        (t0, s0), (t1, s1) = self._history
        if not t1 > t0:
            return self.state
        from scipy.spatial.transform import Rotation

        k = self.cfg.motion_prediction * float(np.clip((time_s - t1) / (t1 - t0), 0.0, 3.0))
        r0, r1 = Rotation.from_rotvec(s0.global_orient), Rotation.from_rotvec(s1.global_orient)
        step = Rotation.from_rotvec((r1 * r0.inv()).as_rotvec() * k)
        orient = (step * r1).as_rotvec().astype(np.float32)
        transl = (s1.transl + k * (s1.transl - s0.transl)).astype(np.float32)
        return BodyState(betas=s1.betas, global_orient=orient, body_pose=s1.body_pose, transl=transl)

    def track(self, points: np.ndarray, iterations: Optional[int] = None,
              fit_shape: Optional[bool] = None, init: Optional[BodyState] = None,
              depth_m: Optional[np.ndarray] = None, K=None,
              time_s: Optional[float] = None, surface: Optional[SurfaceTargets] = None,
              fresh: bool = False) -> BodyState:
        """Fit the body to one frame's depth points.

        points: (P, 3) float32 metres, capture frame (the subject's points only).
        depth_m (H, W) metres and K (the frame's CameraModel, or a (3, 3) pinhole K): the frame's depth
        image, for the free-space term
        (omitted when not given).
        iterations / fit_shape: override the defaults (first frame: first_iterations, shape on).
        init: a starting state (default: the prediction from the previous frames, else
        :meth:`initial_state`). time_s: the frame's time (seconds), for the prediction.
        surface: the fused surface as model points (not with shape fitting, which needs the body).
        fresh: fit ``init`` as a first frame is (root and translation first, wider correspondences,
        no temporal term): the re-initialisation of ``thuman.capture.recovery``.
        Returns the new state (also kept as ``self.state``).
        """
        cfg = self.cfg
        first = (self.state is None and init is None) or fresh
        prev = init or self.predict(time_s) or self.initial_state(points)
        iterations = iterations or (cfg.first_iterations if first else cfg.iterations)
        fit_shape = (first and cfg.first_frame_shape) if fit_shape is None else fit_shape
        self._surface = None if fit_shape else surface
        self._K = None if K is None else as_camera(K, None if depth_m is None else np.shape(depth_m))
        pts = torch.as_tensor(self.subsample(points), dtype=torch.float32, device=self.device)
        # Not on the first frame: the rest-pose guess lies mostly in free space, and pulling it to the
        # nearest points would fold the limbs into the trunk.
        self._depth = None if depth_m is None or cfg.w_free_space <= 0 or first else (
            torch.as_tensor(np.asarray(depth_m, np.float32), device=self.device), self._K)
        params = BodyParams.from_state(prev, fit_shape, self.device)
        predicted = params
        residual = float("nan")
        residuals = []  # RMS residual at the start of each step
        for it in range(iterations):
            # On the first frame, align the whole body (root + translation) before the limbs.
            active = None if (not first or it >= iterations // 3) else params.layout.columns("orient", "transl")
            # Wider correspondence search at first: fast motion between frames (a turn).
            far = cfg.max_corr_dist_m * (2.0 if it < max(cfg.min_iterations, iterations // 3) else 1.0)
            old = params.vector()
            params, residual = self.step(pts, params, predicted if not first else None, active=active,
                                         max_dist=far, use_free=it >= cfg.min_iterations)
            moved = float((params.vector() - old).abs().max())
            residuals.append(residual)
            # The residual at the start of step it is that after step it - 1: a step that gained
            # under converged_residual says this one gains as little (correspondences as wide as
            # the last step's: the first steps search twice as far, which changes the residual).
            gain = (residuals[-2] - residual) / residuals[-2] if it >= 1 and residuals[-2] > 0 else float("inf")
            same_search = cfg.converged_residual > 0 and it >= max(cfg.min_iterations, iterations // 3) + 1
            if not first and it + 1 >= cfg.min_iterations and (
                    moved < cfg.converged_step or (same_search and gain < cfg.converged_residual)):
                break
        pose = wrap_axis_angle(params.pose72.reshape(24, 3)).reshape(72)
        with torch.no_grad():
            verts, joints = self.posed(params.betas.float(), pose[:3].float(), pose[3:].float(),
                                       params.transl.float())
        n = lambda a: a.detach().cpu().numpy().astype(np.float32)  # noqa: E731
        self.state = BodyState(betas=n(params.betas), global_orient=n(pose[:3]), body_pose=n(pose[3:]),
                               transl=n(params.transl), vertices=n(verts), joints=n(joints), residual_m=residual)
        self._history = (self._history + [(time_s, self.state)])[-2:] if time_s is not None else []
        self._surface, self._K, self._depth = None, None, None
        return self.state

    def model_points(self, params: BodyParams) -> ModelPoints:
        """The model points of this frame: the body's vertices, then the surface targets (if any)."""
        rest_v, rest_j = (self.shape_basis.rest(params.betas) if params.fit_shape
                          else self.rest(params.betas.float().cpu().numpy()))
        rest_p, weights = rest_v, self.weights
        if self._surface is not None:
            rest_p = torch.cat([rest_v, self._surface.rest_points])
            weights = torch.cat([self.weights, self._surface.weights])
        return ModelPoints(rest_points=rest_p, weights=weights, rest_joints=rest_j, parents=self.parents,
                           subtree=self.subtree, shape=self.shape_basis)

    def _posed_with_normals(self, model: ModelPoints, params: BodyParams, chain: Optional[tuple] = None):
        """All model points posed by ``params`` (M, 3), their unit normals (M, 3) and which of them
        take part (M,) bool (body vertices the fused surface covers do not), float64. chain: the
        ``pose_chain`` of ``model.rest_joints`` at ``params`` (computed when not given)."""
        a = (chain or pose_chain(model.rest_joints, self.parents, params.pose72))[1]
        maps = blend(a, model.weights)  # (M, 3, 4)
        posed = apply(maps, model.rest_points) + params.transl
        nv = len(self.weights)
        normals = vertex_normals(posed[:nv], self.faces)
        used = torch.ones(len(posed), dtype=torch.bool, device=posed.device)
        if self._surface is not None:
            sn = (maps[nv:, :, :3] @ self._surface.rest_normals[:, :, None])[..., 0]
            normals = torch.cat([normals, sn / sn.norm(dim=-1, keepdim=True).clamp_min(1e-12)])
            used[:nv] = self._surface.body_mask
        return posed, normals, used

    def step(self, pts: torch.Tensor, params: BodyParams, predicted: Optional[BodyParams],
             active: Optional[list] = None, max_dist: float = 0.1, use_free: bool = True):
        """One Levenberg-Marquardt step on the terms of ``thuman.capture.tracking_energy``.

        pts (P, 3) depth points; predicted: the temporal term's target (None: no temporal term);
        active: the columns solved for (None: all of ``params.layout``). Returns (params, rms
        point-to-plane distance in metres)."""
        cfg = self.cfg
        model = self.model_points(params)
        chain = pose_chain(model.rest_joints, self.parents, params.pose72)  # shared by both posings below
        with torch.no_grad():
            posed, normals, used = self._posed_with_normals(model, params, chain)
        seen = used & ((normals * (-posed)).sum(-1) > 0)
        if self._K is not None and cfg.occlusion_cell_m > 0:
            # Facing the camera is not enough: a limb behind the trunk must not take the trunk's points.
            ids = torch.nonzero(used).squeeze(1)
            seen[ids] &= unoccluded(posed[ids], self._K, cfg.occlusion_cell_m, cfg.occlusion_tol_m)
        visible = torch.nonzero(seen).squeeze(1)
        d, j = nearest(pts, posed[visible].float())
        keep = d < max_dist
        m = int(keep.sum())
        if m < 20:
            return params, float("nan")
        idx = visible[j[keep]]
        targets = pts[keep].double()
        # One row per distinct model point (its depth points merged to their mean, weighted by their
        # count: the same step, a third fewer rows), posed once; both data terms use it.
        data, inv = merge_by_model_point(idx, targets, normals)
        posed_data = model.posed(params, data.model_ids, chain)
        terms = [point_to_plane(params, model, data, cfg.w_point_to_plane, cfg.sigma_m, m, posed=posed_data),
                 point_to_point(params, model, data, cfg.w_point_to_point, cfg.sigma_m, m, posed=posed_data)]
        if use_free and self._depth is not None:
            nv = len(self.weights)
            body_facing = torch.nonzero(seen[:nv] | ((normals[:nv] * (-posed[:nv])).sum(-1) > 0)).squeeze(1)
            free, q = self._free_space(posed[body_facing].float(), pts)
            if len(free):
                terms.append(point_to_point(params, model, Correspondences(body_facing[free], q.double()),
                                            cfg.w_free_space, cfg.sigma_m, m))
        terms.append(pose_prior(params, cfg.w_pose_prior))
        if params.fit_shape:
            terms.append(shape_prior(params, cfg.w_shape_prior_first))
        if predicted is not None:
            terms.append(temporal(params, predicted, cfg.w_temporal, cfg.w_temporal_root))
        rms = float((data.normals[inv] * (posed_data[0][inv] - targets)).sum(-1).pow(2).mean().sqrt())
        return params.with_vector(params.vector() + solve_step(terms, cfg.damping, active)), rms

    def _free_space(self, verts: torch.Tensor, pts: torch.Tensor):
        """Which of the visible vertices (M, 3) lie in observed free space, and their nearest depth
        points. Returns (indices into verts (F,), targets (F, 3))."""
        empty = (torch.zeros(0, dtype=torch.long, device=verts.device), verts.new_zeros((0, 3)))
        if self._depth is None:
            return empty
        depth, K = self._depth
        h, w = depth.shape
        z = -verts[:, 2]
        front = z > 1e-6
        zs = torch.where(front, z, torch.ones_like(z))
        uv, in_lens = project_torch(torch.stack([verts[:, 0], -verts[:, 1], zs], dim=-1), K)
        u, v = torch.round(uv[:, 0]).long(), torch.round(uv[:, 1]).long()
        inside = front & in_lens & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        d = depth[v.clamp(0, h - 1), u.clamp(0, w - 1)]
        # In front of the measured surface, or where the camera saw past the subject (background).
        ids = torch.nonzero(inside & ((d <= 0) | (z < d - self.cfg.free_space_tol_m))).squeeze(1)
        if len(ids) == 0:
            return empty
        _, j = nearest(verts[ids], pts)
        return ids, pts[j]


def solve_step(terms: list, damping: float, active: Optional[list] = None) -> torch.Tensor:
    """The Levenberg-Marquardt update of stacked terms (``Residuals``): (n,) delta solving
    (J^T J + damping diag(J^T J)) delta = -J^T r over the ``active`` columns (None: all), 0 elsewhere."""
    J = torch.cat([t.jacobian for t in terms])
    r = torch.cat([t.values for t in terms])
    delta = torch.zeros(J.shape[1], dtype=J.dtype, device=J.device)
    if active is not None:
        J = J[:, active]
    A = J.T @ J
    A = A + damping * torch.diag(torch.diag(A).clamp_min(1e-6))
    step = torch.linalg.solve(A, -(J.T @ r))
    if active is None:
        return step
    delta[active] = step
    return delta
