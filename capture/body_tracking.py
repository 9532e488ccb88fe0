"""The inner layer of DoubleFusion: the body model's pose and shape tracked against depth.

Per frame we minimise, over the pose theta (72 axis-angle values), the translation and, on the
first frame, the shape beta (DoubleFusion sec. 5, its E_data / E_prior / E_temp terms):

    E = w_p2pl * mean_i rho(n_v(i) . (p_i - v(i)))^2 / sigma^2           point-to-plane
      + w_p2p  * mean_i rho(|p_i - v(i)|)^2 / sigma^2                    point-to-point (weak)
      + w_prior * |theta_body|^2  + w_shape * |beta|^2                   pose and shape priors
      + w_temp  * (|theta - theta_pred|^2 + |t - t_pred|^2 / 0.1^2)      temporal smoothing
      + w_free * sum_v |v - q(v)|^2 / (P sigma^2)                         free space

The free-space term (not in DoubleFusion, whose fused surface constrains the body instead) acts on
visible body vertices that project onto background or in front of the measured depth by more
than ``free_space_tol_m``: they are pulled to their nearest depth point q(v). It is off by default
(w_free = 0): on the simulated turn it pulled limbs hidden behind the trunk into it and made the
joint error worse; the pose prior is kept very weak instead, so that an occluded limb keeps its
last pose (temporal term) rather than decaying toward the T-pose.

theta_pred, t_pred: the prediction for this frame, the last frame's pose with the root's rotation
and translation moved on at their last velocity (``motion_prediction``). Without it a subject who
turns at 35 degrees per second (the paper's slow turn at 5 fps) leaves the fit behind by half the
step, the lag grows, and the fit falls into the front/back ambiguity of a side view. The root's
orientation has its own, lower temporal weight (``w_temporal_root``).

p_i are depth points of the frame (capture frame, metres), v(i) the nearest *visible* model point
(the posed body's vertices, or the fused surface skinned by the body: ``SurfaceTargets``; visible:
facing the camera and not hidden behind other model points, ``thuman.capture.visibility``) and n_v
its normal; correspondences further than
``max_corr_dist_m`` are dropped (rho is that trimming). Simplified from DoubleFusion: the pose
prior is a zero-mean Gaussian, not a mixture; the solver is Levenberg-Marquardt (damped
Gauss-Newton) with correspondences re-found at each step (ICP style), and the Jacobian of the
vertices comes from finite differences evaluated as one batched forward pass of the body model
(cheaper on CPU than autograd row by row; the translation's columns are exact): the pose columns
from linear blend skinning of the corresponded vertices only, the shape columns (first frame)
from one batch of the body model.
Clothing lies a centimetre or two outside the body, so the fit is biased slightly outward; the
body shape is refined later from the fused surface (``thuman.capture.fusion``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from thuman.capture.camera import as_camera, project_torch
from thuman.capture.visibility import unoccluded
from thuman_io.item import SMPLParams


@dataclass
class BodyState:
    """The body model's parameters and posed surface in one frame (capture frame, metres).

    betas (B,), global_orient (3,), body_pose (69,), transl (3,): float32 numpy.
    vertices (V, 3), joints (24, 3): float32 posed surface and joints.
    residual_m: RMS point-to-plane distance of the depth points used, metres.
    """

    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    vertices: Optional[np.ndarray] = None
    joints: Optional[np.ndarray] = None
    residual_m: float = float("nan")

    @property
    def full_pose(self) -> np.ndarray:
        return np.concatenate([self.global_orient, self.body_pose]).astype(np.float32)

    def to_smpl_params(self, model: str = "open", gender: str = "neutral") -> SMPLParams:
        return SMPLParams(betas=self.betas.astype(np.float32), global_orient=self.global_orient.astype(np.float32),
                          body_pose=self.body_pose.astype(np.float32), transl=self.transl.astype(np.float32),
                          model=model, gender=gender)


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
    metres); damping: Marquardt's lambda (relative to the diagonal); fd_step: finite-difference
    step of the Jacobian; w_*: the weights of the module docstring's energy (w_temporal_root: the
    temporal weight of the root's orientation, low because the whole body's points pin it down);
    free_space_tol_m: how far in front of the measured depth a vertex must be to count as in free
    space; motion_prediction: the fraction of the root's last motion (rotation and translation per
    second) carried forward to predict the next frame (0: the last pose is the prediction);
    occlusion_cell_m / occlusion_tol_m: the z-buffer of ``thuman.capture.visibility`` that keeps
    hidden model points out of the data term (cell 0: facing the camera is enough).
    """

    sigma_m: float = 0.01
    max_corr_dist_m: float = 0.10
    max_points: int = 1500
    iterations: int = 6
    first_iterations: int = 15
    min_iterations: int = 2
    converged_step: float = 5e-3
    damping: float = 0.05
    fd_step: float = 1e-3
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
    seed: int = 0


def wrap_axis_angle(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle vectors with angle over pi replaced by the same rotation with angle in
    [0, pi]. A subject who turns around would otherwise leave the root near 2 pi, where the
    parametrisation is badly conditioned for the next frame's Gauss-Newton steps."""
    angle = aa.norm(dim=-1, keepdim=True)
    scale = torch.where(angle > torch.pi, 1.0 - 2.0 * torch.pi / angle.clamp_min(1e-12), torch.ones_like(angle))
    return aa * scale


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted vertex normals. vertices (V, 3), faces (F, 3) long -> (V, 3) unit."""
    v0, v1, v2 = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    fn = torch.cross(v1 - v0, v2 - v0, dim=-1)
    n = torch.zeros_like(vertices)
    for k in range(3):
        n.index_add_(0, faces[:, k], fn)
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)


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
    ``rest_vertices``, ``num_betas``). The state of the last frame is ``self.state``.
    """

    def __init__(self, body_model, config: TrackingConfig | None = None, device="cpu"):
        self.bm = body_model
        self.cfg = config or TrackingConfig()
        self.device = torch.device(device)
        self.faces = torch.as_tensor(np.asarray(body_model.faces), dtype=torch.long, device=self.device)
        self.num_betas = int(getattr(body_model, "num_betas", 10))
        self.state: Optional[BodyState] = None
        self._surface: Optional[SurfaceTargets] = None
        self._K = None  # the frame's CameraModel
        self._history: list = []  # (time_s, BodyState) of the last two frames, for the prediction
        self._rng = np.random.default_rng(self.cfg.seed)
        self.parents = np.asarray(getattr(body_model, "parents"), dtype=np.int64)
        self._weights = None  # (V, 24) skinning weights, float64 torch, for the Jacobian
        self._rest_cache = (None, None, None)  # betas, rest vertices, rest joints

    def rest(self, betas: np.ndarray):
        """Shaped rest pose for ``betas``: (vertices (V, 3), joints (24, 3)) float64 torch, cached."""
        key = np.asarray(betas, dtype=np.float32)
        if self._rest_cache[0] is None or not np.array_equal(self._rest_cache[0], key):
            z = lambda n: torch.zeros(n, device=self.device)
            with torch.no_grad():
                v, j = self.posed(torch.as_tensor(key, device=self.device), z(3), z(69), z(3))
            self._rest_cache = (key.copy(), v.double(), j.double())
        if self._weights is None:
            from thuman.capture.warp import body_skinning_weights

            w = body_skinning_weights(self.bm)
            self._weights = torch.as_tensor(w, dtype=torch.float64, device=self.device)
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
        return BodyState(betas=np.zeros(self.num_betas, np.float32), global_orient=np.zeros(3, np.float32),
                         body_pose=np.zeros(69, np.float32), transl=transl.astype(np.float32))

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
              time_s: Optional[float] = None, surface: Optional[SurfaceTargets] = None) -> BodyState:
        """Fit the body to one frame's depth points.

        points: (P, 3) float32 metres, capture frame (the subject's points only).
        depth_m (H, W) metres and K (the frame's CameraModel, or a (3, 3) pinhole K): the frame's depth
        image, for the free-space term
        (omitted when not given).
        iterations / fit_shape: override the defaults (first frame: first_iterations, shape on).
        init: a starting state (default: the prediction from the previous frames, else
        :meth:`initial_state`). time_s: the frame's time (seconds), for the prediction.
        surface: the fused surface as model points (not with shape fitting, which needs the body).
        Returns the new state (also kept as ``self.state``).
        """
        cfg = self.cfg
        first = self.state is None and init is None
        prev = init or self.predict(time_s) or self.initial_state(points)
        iterations = iterations or (cfg.first_iterations if first else cfg.iterations)
        fit_shape = first if fit_shape is None else fit_shape
        self._surface = None if fit_shape else surface
        self._K = None if K is None else as_camera(K, None if depth_m is None else np.shape(depth_m))
        pts = torch.as_tensor(self.subsample(points), dtype=torch.float32, device=self.device)
        # Not on the first frame: the rest-pose guess lies mostly in free space, and pulling it to the
        # nearest points would fold the limbs into the trunk.
        self._depth = None if depth_m is None or cfg.w_free_space <= 0 or first else (
            torch.as_tensor(np.asarray(depth_m, np.float32), device=self.device), self._K)
        self._pts_tree = None
        f64 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64, device=self.device)
        # x = [pose (72), transl (3), betas (B) if fitted]
        x = torch.cat([f64(prev.full_pose), f64(prev.transl)] + ([f64(prev.betas)] if fit_shape else []))
        x_prev = x.clone()
        betas_fixed = f64(prev.betas)
        residual = float("nan")
        for it in range(iterations):
            # On the first frame, align the whole body (root + translation) before the limbs.
            active = None if (not first or it >= iterations // 3) else [0, 1, 2, 72, 73, 74]
            # Wider correspondence search at first: fast motion between frames (a turn).
            far = cfg.max_corr_dist_m * (2.0 if it < max(cfg.min_iterations, iterations // 3) else 1.0)
            x_old = x
            x, residual = self._gauss_newton_step(pts, x, x_prev, betas_fixed, fit_shape, temporal=not first,
                                                  active=active, max_dist=far,
                                                  shape_now=fit_shape and active is None,
                                                  use_free=it >= cfg.min_iterations)
            if not first and it + 1 >= cfg.min_iterations and float((x - x_old).abs().max()) < cfg.converged_step:
                break
        pose, transl = wrap_axis_angle(x[:72].reshape(24, 3)).reshape(72), x[72:75]
        betas = x[75:] if fit_shape else betas_fixed
        with torch.no_grad():
            verts, joints = self.posed(betas.float(), pose[:3].float(), pose[3:].float(), transl.float())
        self.state = BodyState(betas=betas.cpu().numpy().astype(np.float32),
                               global_orient=pose[:3].cpu().numpy().astype(np.float32),
                               body_pose=pose[3:].cpu().numpy().astype(np.float32),
                               transl=transl.cpu().numpy().astype(np.float32),
                               vertices=verts.cpu().numpy().astype(np.float32),
                               joints=joints.cpu().numpy().astype(np.float32), residual_m=residual)
        self._history = (self._history + [(time_s, self.state)])[-2:] if time_s is not None else []
        return self.state

    def _shape_jacobian(self, x: torch.Tensor, ids: torch.Tensor, eps: float) -> torch.Tensor:
        """(U, 3, B) Jacobian of vertices ``ids`` w.r.t. the shape coefficients x[75:], by finite
        differences evaluated as one batch of the body model (base + one row per coefficient)."""
        nb = len(x) - 75
        xs = x[None].repeat(1 + nb, 1)
        xs[1 + torch.arange(nb), 75 + torch.arange(nb)] += eps
        xs = xs.float()
        with torch.no_grad():
            v = self.bm.forward_torch(betas=xs[:, 75:], global_orient=xs[:, :3], body_pose=xs[:, 3:72],
                                      transl=xs[:, 72:75]).vertices[:, ids].double()
        return ((v[1:] - v[0][None]) / eps).permute(1, 2, 0)

    def _model_points(self, betas: torch.Tensor):
        """Rest positions (V + S, 3) and skinning weights (V + S, 24), float64: the body's vertices,
        then the surface targets' points when there are any."""
        rest_v, _ = self.rest(betas.float().cpu().numpy())
        if self._surface is None:
            return rest_v, self._weights
        return (torch.cat([rest_v, self._surface.rest_points]), torch.cat([self._weights, self._surface.weights]))

    def _pose_jacobian(self, x: torch.Tensor, betas: torch.Tensor, ids: torch.Tensor, eps: float) -> torch.Tensor:
        """(U, 3, n) Jacobian of model points ``ids`` (:meth:`_model_points`) w.r.t. pose and
        translation (shape fixed), by finite differences of linear blend skinning restricted to
        those points (the body model's pose blend shapes are left out of the Jacobian only;
        residuals use the full model)."""
        _, rest_j = self.rest(betas.float().cpu().numpy())
        rest_p, weights = self._model_points(betas)
        xs = x[None, :72].repeat(73, 1)
        xs[1 + torch.arange(72), torch.arange(72)] += eps
        from thuman.capture.warp import rest_to_posed_batch, skin_vertices

        a = rest_to_posed_batch(rest_j, self.parents, xs)
        v = skin_vertices(rest_p[ids], weights[ids], a)               # (73, U, 3)
        jac = torch.zeros(len(ids), 3, len(x), dtype=torch.float64, device=x.device)
        jac[:, :, :72] = ((v[1:] - v[0][None]) / eps).permute(1, 2, 0)
        jac[:, :, 72:75] = torch.eye(3, dtype=torch.float64, device=x.device)
        return jac

    def _gauss_newton_step(self, pts, x, x_prev, betas_fixed, fit_shape, temporal, active, max_dist,
                           shape_now=False, use_free=True):
        """One Levenberg-Marquardt step on the energy of the module docstring. Returns (x, rms).
        ``shape_now``: differentiate w.r.t. shape too (the costly whole-model batch)."""
        cfg = self.cfg
        betas_cur = x[75:] if fit_shape else betas_fixed
        with torch.no_grad():
            xf = x.float()
            base = self.posed(betas_cur.float(), xf[:3], xf[3:72], xf[72:75])[0].double()
        verts = base.float()
        normals = vertex_normals(verts, self.faces)
        facing = (normals * (-verts)).sum(-1) > 0
        body_visible = torch.nonzero(facing).squeeze(1)
        if self._surface is not None:
            # Model points: the body where the fused surface does not cover it, and the surface.
            sp, sn = self._surface_live(x, betas_cur)
            used = torch.cat([self._surface.body_mask, torch.ones(len(sp), dtype=torch.bool, device=sp.device)])
            base = torch.cat([base, sp])
            normals = torch.cat([normals.double(), sn])
            facing = torch.cat([facing, (sn * (-sp)).sum(-1) > 0]) & used
        else:
            used = torch.ones_like(facing)
        seen = facing.clone()
        if self._K is not None and cfg.occlusion_cell_m > 0:
            # Facing the camera is not enough: a limb behind the trunk must not take the trunk's points.
            ids = torch.nonzero(used).squeeze(1)
            seen[ids] &= unoccluded(base[ids], self._K, cfg.occlusion_cell_m, cfg.occlusion_tol_m)
        visible = torch.nonzero(seen).squeeze(1)
        d, j = nearest(pts, base[visible].float())
        keep = d < max_dist
        if int(keep.sum()) < 20:
            return x, float("nan")
        idx = visible[j[keep]]
        p = pts[keep].double()
        nrm = normals[idx].double()
        diff = base[idx] - p                                     # (P, 3)
        free, q = self._free_space(verts[body_visible], pts) if use_free else (body_visible[:0], verts[:0])
        free = body_visible[free]
        all_ids = torch.cat([idx, free])
        uniq, inv = torch.unique(all_ids, return_inverse=True)
        jac = self._pose_jacobian(x, betas_cur, uniq, cfg.fd_step)
        if shape_now:
            jac[:, :, 75:] = self._shape_jacobian(x, uniq, cfg.fd_step)
        jv = jac[inv[:len(idx)]]                                 # (P, 3, n)
        m = len(p)
        rows, res = [], []
        if len(free):
            s_fs = (cfg.w_free_space / m) ** 0.5 / cfg.sigma_m
            rows.append(s_fs * jac[inv[len(idx):]].reshape(3 * len(free), -1))
            res.append(s_fs * (base[free] - q.double()).reshape(-1))
        s_pl = (cfg.w_point_to_plane / m) ** 0.5 / cfg.sigma_m
        rows.append(s_pl * torch.einsum("pc,pcn->pn", nrm, jv))
        res.append(s_pl * (nrm * diff).sum(-1))
        s_pp = (cfg.w_point_to_point / m) ** 0.5 / cfg.sigma_m
        rows.append(s_pp * jv.reshape(3 * m, -1))
        res.append(s_pp * diff.reshape(-1))
        n = len(x)
        eye = torch.eye(n, dtype=torch.float64, device=x.device)
        prior_w = torch.zeros(n, dtype=torch.float64, device=x.device)
        prior_w[3:72] = cfg.w_pose_prior ** 0.5
        if fit_shape:
            prior_w[75:] = cfg.w_shape_prior ** 0.5
        rows.append(eye * prior_w[:, None])
        res.append(prior_w * x)
        if temporal:
            tw = torch.full((n,), cfg.w_temporal ** 0.5, dtype=torch.float64, device=x.device)
            tw[:3] = cfg.w_temporal_root ** 0.5
            tw[72:75] /= 0.1  # translation in units of 10 cm
            rows.append(eye * tw[:, None])
            res.append(tw * (x - x_prev))
        J = torch.cat(rows)
        r = torch.cat(res)
        if active is not None:
            J = J[:, active]
        A = J.T @ J
        A = A + cfg.damping * torch.diag(torch.diag(A).clamp_min(1e-6))
        delta = torch.linalg.solve(A, -(J.T @ r))
        x = x.clone()
        if active is None:
            x += delta
        else:
            x[active] += delta
        rms = float((nrm * diff).sum(-1).pow(2).mean().sqrt())
        return x, rms

    def _surface_live(self, x: torch.Tensor, betas: torch.Tensor):
        """The surface targets posed by x: positions (S, 3) and unit normals (S, 3), float64."""
        from thuman.capture.warp import apply, blend, rest_to_posed

        _, rest_j = self.rest(betas.float().cpu().numpy())
        surf = self._surface
        m = blend(rest_to_posed(rest_j, self.parents, x[:72]), surf.weights)   # (S, 3, 4)
        n = (m[:, :, :3] @ surf.rest_normals[:, :, None])[..., 0]
        return apply(m, surf.rest_points) + x[72:75], n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)

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
