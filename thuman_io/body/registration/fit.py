"""Register a body model to a mesh: pose, shape, translation (and optionally scale).

The objective is scan registration's (SMPLify-like priors, clothing-aware data terms as in
ClothCap / Bhatnagar et al. 2020): two Geman-McClure distance terms,

* body -> scan: every body vertex to its nearest dense sample of the target surface
  (point-to-plane). A body vertex
  *outside* the surface is wrong whatever the clothing (weight 1); one inside may sit under
  clothing (weight ``inside_weight``);
* scan -> body: area samples of the target to their nearest body vertex. A sample *outside* the
  body may be clothing or hair (weight ``outside_weight``); one inside the body means the body is
  too big there (weight 1);

plus L2 priors on betas and on the pose's distance from the start. Correspondences are found on
the CPU (k-d trees over the target's samples and over the body's vertices) from detached
vertices every iteration (Open3D's exact closest points give the final residual); the objective and its gradients are torch on the body model's device
(CPU or CUDA). The kinematic chain is ``BodyModel.forward_torch``.

Stages: rigid (orientation, translation, scale), then pose and shape with strong priors, then
with weak priors. Without a start the orientation and a coarse pose come from a search
(:mod:`thuman_io.body.registration.search`); its candidates each run the first two stages; so
do three kinds of hypothesis made from the winner in turn, the lowest objective going on: its
front/back twin (``search.front_back_twin``), its legs crossed back (``limbs.swapped_legs``) and
whole library poses at its root (``limbs.whole_pose_starts``). The result has its limbs replaced
by library limbs where that explains the scan better (``limbs.transplant_limbs``), and a limb
search (discrete shoulder, elbow, hip and knee rotations) precedes the last stage.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from thuman_io.body.registration.surface import SurfaceQuery, sample_surface


@dataclass
class FitConfig:
    """Settings of :func:`fit_body` (defaults measured on simulated clothed subjects, docs/body.md).

    iterations: Adam steps of the (rigid, strong-prior, weak-prior) stages.
    scan_points: area samples of the target used by the scan -> body term.
    outside_weight: weight of target samples outside the body (clothing) relative to inside (1),
    in the first two stages and in the last: high at first so that far limbs pull the body (a
    limb is not clothing), low at the end so that clothing does not inflate it.
    inside_weight: weight of body vertices inside the target (under clothing) relative to outside (1).
    robust_m: Geman-McClure scale, metres (residuals much larger count as outliers), first two
    stages and last: coarse to fine.
    betas_prior, pose_prior: L2 weights on betas and on the pose's change from the start, per
    stage 2 and 3 (dimensionless; the data terms are in [0, 1)).
    joints_weight: weight of the 3D-joint term when joints are given.
    fit_scale: also fit a global scale (items store no scale: importers keep it at 1).
    orientations: 'upright' (search yaw about +Y, the item frame) or 'any' (6 axis-aligned ups).
    search_candidates: best search candidates refined (plus the best turned 180 degrees).
    restarts: whole library poses tried at the winner's root (``limbs.whole_pose_starts``).
    lr: Adam step size (radians, metres, beta units per step).
    seed: seeds the target's samples.
    """

    iterations: tuple = (40, 100, 160)
    scan_points: int = 6000
    outside_weight: tuple = (0.5, 0.1)
    inside_weight: float = 0.3
    robust_m: tuple = (0.15, 0.05)
    betas_prior: tuple = (3e-3, 3e-4)
    pose_prior: tuple = (3e-3, 3e-4)
    joints_weight: float = 1.0
    fit_scale: bool = False
    orientations: str = "upright"
    lr: float = 0.01
    search_candidates: int = 6
    restarts: int = 3
    seed: int = 0


@dataclass
class FitStart:
    """A starting point: any field may be None (zeros; scale 1).

    betas (B,), global_orient (3,), body_pose (69,) axis-angle radians, transl (3,) metres.
    """

    betas: np.ndarray | None = None
    global_orient: np.ndarray | None = None
    body_pose: np.ndarray | None = None
    transl: np.ndarray | None = None
    scale: float = 1.0


@dataclass
class FitResult:
    """A fitted body. The posed body is ``scale * model(betas, pose, transl=0) + transl``; with
    scale 1 (the default) that is the model with ``transl``, as an item stores it.

    betas (B,), global_orient (3,), body_pose (69,), transl (3,) float32; scale float.
    vertices (V, 3), joints (24, 3) float32 metres: the posed body.
    residual_m: (mean, 95th percentile) distance of the body's vertices to the target surface.
    loss: final objective. seconds: wall time. start: 'given', 'joints' or 'search'.
    """

    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    scale: float
    vertices: np.ndarray
    joints: np.ndarray
    residual_m: tuple
    loss: float
    seconds: float
    start: str
    history: list = field(default_factory=list, repr=False)


class _Target:
    """The target mesh (numpy, CPU): exact closest points for the final residual, ``points`` for
    the scan -> body term, and a k-d tree over denser samples for the body -> scan term (an exact
    closest-point query per iteration cost 5-10x more than the rest of an iteration here)."""

    def __init__(self, vertices, faces, n_points: int, seed: int):
        from scipy.spatial import cKDTree

        self.query = SurfaceQuery(vertices, faces)
        self.points, self.normals = sample_surface(vertices, faces, n_points, seed)
        self.dense_points, self.dense_normals = sample_surface(vertices, faces, _DENSE_SAMPLES, seed + 1)
        self.tree = cKDTree(self.dense_points)
        self.centroid = self.points.mean(0)

    def closest(self, v: np.ndarray):
        """Nearest dense sample of each point (N, 3) and its normal: (points, normals) (N, 3)."""
        idx = self.tree.query(v, k=1)[1]
        return self.dense_points[idx], self.dense_normals[idx]


#: Samples of the target for the body -> scan term: about 8 mm apart on a clothed adult (2.5 m^2);
#: the residual is point-to-plane, so the spacing adds little error.
_DENSE_SAMPLES = 40000


def fit_body(bm, vertices: np.ndarray, faces: np.ndarray, start: FitStart | None = None,
             joints3d: np.ndarray | None = None, config: FitConfig | None = None,
             progress=None) -> FitResult:
    """Fit body model ``bm`` (``load_body_model``) to a target mesh.

    vertices (N, 3) metres, item frame (Y up); faces (F, 3) counter-clockwise from outside.
    start: given parameters (e.g. a release's), or None. joints3d: (24, 3) metres (NaN rows are
    ignored), used to place the body when there is no start and as a term throughout.
    Without either, a coarse search over orientation and key poses picks the start.
    progress: optional callable(stage, iteration, loss) called every 20 steps.
    """
    import torch

    cfg = config or FitConfig()
    t0 = time.perf_counter()
    target = _Target(vertices, faces, cfg.scan_points, cfg.seed)
    dev = torch.device(bm.device)
    jt = None
    if joints3d is not None:
        j = np.asarray(joints3d, np.float32).reshape(-1, 3)
        jt = (torch.as_tensor(np.nan_to_num(j), device=dev), torch.as_tensor(np.isfinite(j).all(1), device=dev))
    how = "given"
    if start is not None:
        starts = [start]
    elif joints3d is not None:
        starts, how = [start_from_joints(bm, joints3d)], "joints"
    else:
        from thuman_io.body.registration.search import search_starts

        starts, how = search_starts(bm, target.points, cfg, count=cfg.search_candidates), "search"
    coarse = (cfg.robust_m[0], cfg.outside_weight[0])
    fine = (cfg.robust_m[1], cfg.outside_weight[1])
    stages = [("rigid", False, 0.0, 1.0, cfg.iterations[0], coarse),
              ("pose", True, cfg.betas_prior[0], cfg.pose_prior[0], cfg.iterations[1], coarse),
              ("refine", True, cfg.betas_prior[1], cfg.pose_prior[1], cfg.iterations[2], fine)]
    history: list = []
    # Several starts (a search): each runs the first two stages; the lowest objective goes on.
    tried = []
    for k, st in enumerate(starts):
        p = _Params(bm, st, dev)
        loss = _run(p, stages[:2], target, bm, jt, cfg, history, progress, tag=f"{k}:" if len(starts) > 1 else "")
        tried.append((loss, k, p))
    loss, _, p = min(tried, key=lambda x: x[0])
    if how == "search":
        from thuman_io.body.registration.limbs import swapped_legs, transplant_limbs, whole_pose_starts
        from thuman_io.body.registration.search import front_back_twin

        def score(verts):
            return float(data_loss(verts, target, bm.faces, coarse[0], coarse[1], 1.0))

        # Hypotheses from the winner, each run through the same two stages; the lowest goes on:
        # its front/back twin, its legs crossed back (limbs.swapped_legs), then whole library
        # poses at the resulting root (limbs.whole_pose_starts).
        for tag, make in (("twin", lambda q: [front_back_twin(q.start())]),
                          ("legs", lambda q: [swapped_legs(q.start())]),
                          ("restart", lambda q: whole_pose_starts(q, target, bm, score, cfg.restarts))):
            for k, st in enumerate(make(p)):
                alt = _Params(bm, st, dev)
                alt_loss = _run(alt, stages[:2], target, bm, jt, cfg, history, progress, tag=f"{tag}{k}:")
                if alt_loss < loss:
                    loss, p = alt_loss, alt
        # Limbs folded or twisted away from the scan's limbs take a library pose's (limbs.py).
        if transplant_limbs(p, target, bm, score):
            p.start_pose = p.body_pose.detach().clone()
            loss = _run(p, stages[1:2], target, bm, jt, cfg, history, progress, tag="transplant:")
    for _ in range(2 if how == "search" else 0):
        if not _limb_search(p, target, bm, coarse):
            break
        loss = _run(p, stages[1:2], target, bm, jt, cfg, history, progress, tag="limbs:")
    loss = _run(p, stages[2:], target, bm, jt, cfg, history, progress)
    with torch.no_grad():
        verts, joints = p.pose()
    v = verts[0].cpu().numpy()
    c, _ = target.query.closest(v)
    d = np.linalg.norm(v - c, axis=1)
    return FitResult(betas=p.betas.detach().cpu().numpy()[0].astype(np.float32),
                     global_orient=p.global_orient.detach().cpu().numpy()[0].astype(np.float32),
                     body_pose=p.body_pose.detach().cpu().numpy()[0].astype(np.float32),
                     transl=p.transl.detach().cpu().numpy()[0].astype(np.float32),
                     scale=float(torch.exp(p.log_scale).detach().cpu()), vertices=v.astype(np.float32),
                     joints=joints[0].cpu().numpy().astype(np.float32),
                     residual_m=(float(d.mean()), float(np.percentile(d, 95))), loss=loss,
                     seconds=time.perf_counter() - t0, start=how, history=history)


def _run(p, stages, target, bm, jt, cfg, history, progress, tag="") -> float:
    """Adam over each stage's parameters; returns the last objective value."""
    import torch

    loss = float("nan")
    for name, pose_too, w_betas, w_pose, steps, (sigma, w_outside) in stages:
        opt = torch.optim.Adam(p.all(cfg.fit_scale) if pose_too else p.rigid(cfg.fit_scale), lr=cfg.lr)
        for it in range(int(steps)):
            opt.zero_grad()
            verts, joints = p.pose()
            total = data_loss(verts[0], target, bm.faces, sigma, w_outside, cfg.inside_weight)
            total = total + w_betas * (p.betas ** 2).sum() + w_pose * ((p.body_pose - p.start_pose) ** 2).sum()
            if jt is not None and bool(jt[1].any()):
                err = ((joints[0] - jt[0]) ** 2).sum(-1)[jt[1]]
                total = total + cfg.joints_weight * _gm(err, sigma).mean()
            total.backward()
            opt.step()
            loss = float(total.detach())
            history.append((tag + name, it, loss))
            if progress is not None and it % 20 == 0:
                progress(tag + name, it, loss)
    return loss


#: (joint index, local rotations to try, as extrinsic xyz Euler angles in degrees) for the
#: limb search: shoulders swung up/down and forward/back, elbows bent, hips forward/back and
#: apart, knees bent (joints.py order; signs in keyposes.json's 'about').
_LIMB_TRIALS = tuple(
    [(j, [(0, y, z) for z in (-90, -45, 0, 45, 90) for y in (-60, 0, 60)]) for j in (16, 17)]
    + [(j, [(0, y, 0) for y in (-90, -45, 0, 45, 90)]) for j in (18, 19)]
    + [(j, [(x, 0, z) for x in (-90, -45, 0, 45) for z in (-30, 0, 30)]) for j in (1, 2)]
    + [(j, [(x, 0, 0) for x in (0, 45, 90)]) for j in (4, 5)])


def _limb_search(p, target, bm, weights) -> bool:
    """Try discrete rotations of each shoulder and hip in turn and keep any that lowers the data
    term: a limb the first stages left on the wrong side of the body cannot be pulled over by
    gradients (the Geman-McClure kernel sees the far scan points as outliers). True if one changed."""
    import torch
    from scipy.spatial.transform import Rotation

    sigma, w_outside = weights
    changed = False

    def score():
        with torch.no_grad():
            verts, _ = p.pose()
            return float(data_loss(verts[0], target, bm.faces, sigma, w_outside, 1.0))

    best = score()
    for joint, trials in _LIMB_TRIALS:
        sl = slice(3 * (joint - 1), 3 * joint)
        keep = p.body_pose.detach()[0, sl].clone()
        choice = None
        for angles in trials:
            rv = Rotation.from_euler("xyz", angles, degrees=True).as_rotvec()
            with torch.no_grad():
                p.body_pose[0, sl] = torch.as_tensor(rv, dtype=p.body_pose.dtype, device=p.body_pose.device)
            value = score()
            if value < best - 1e-4:
                best, choice = value, rv
        with torch.no_grad():
            p.body_pose[0, sl] = keep if choice is None else torch.as_tensor(choice, dtype=p.body_pose.dtype, device=p.body_pose.device)
        changed |= choice is not None
    return changed


class _Params:
    """The optimised tensors, (1, n) each, and the posing that uses them."""

    def __init__(self, bm, start: FitStart, dev):
        import torch

        def t(x, n):
            a = np.zeros(n, np.float32)
            if x is not None:
                x = np.asarray(x, np.float32).reshape(-1)[:n]
                a[:len(x)] = x
            return torch.tensor(a[None], device=dev, requires_grad=True)

        self.bm = bm
        self.betas = t(start.betas, bm.num_betas)
        self.global_orient = t(start.global_orient, 3)
        self.body_pose = t(start.body_pose, 69)
        self.transl = t(start.transl, 3)
        self.log_scale = torch.tensor([[float(np.log(start.scale))]], device=dev, requires_grad=True)
        self.start_pose = self.body_pose.detach().clone()
        # The scale acts about the root joint so that changing it does not move the body away.
        with torch.no_grad():
            self.pivot = bm.forward_torch(betas=self.betas, global_orient=self.global_orient,
                                          body_pose=self.body_pose).joints[:, :1]

    def start(self) -> FitStart:
        """The current parameters as a :class:`FitStart`."""
        def a(t):
            return t.detach().cpu().numpy()[0].astype(np.float64)
        return FitStart(betas=a(self.betas), global_orient=a(self.global_orient), body_pose=a(self.body_pose),
                        transl=a(self.transl), scale=float(np.exp(a(self.log_scale)[0])))

    def rigid(self, scale: bool):
        return [self.global_orient, self.transl] + ([self.log_scale] if scale else [])

    def all(self, scale: bool):
        return [self.betas, self.global_orient, self.body_pose, self.transl] + ([self.log_scale] if scale else [])

    def pose(self, body_pose=None):
        """(vertices (N, V, 3), joints (N, 24, 3)) of the current parameters, metres; N = 1, or
        with ``body_pose`` (N, 69) tensor the current shape, root and translation in each of
        those body poses (candidates scored in one batch)."""
        import torch

        n = 1 if body_pose is None else len(body_pose)
        out = self.bm.forward_torch(betas=self.betas.expand(n, -1), global_orient=self.global_orient.expand(n, -1),
                                    body_pose=self.body_pose if body_pose is None else body_pose)
        s = torch.exp(self.log_scale)[:, :, None]
        # scale * (x - pivot) + pivot + transl; with s = 1 exactly the model's own transl.
        shift = (1 - s) * self.pivot + self.transl[:, None]
        return s * out.vertices + shift, s * out.joints + shift


def data_loss(verts, target: _Target, faces: np.ndarray, sigma: float, outside_weight: float,
              inside_weight: float):
    """The two clothing-aware robust distance terms (module doc). verts: (V, 3) tensor, metres;
    sigma: Geman-McClure scale, metres; the weights as in :class:`FitConfig`.
    Returns a scalar tensor, dimensionless (each term is a mean of values in [0, 1))."""
    import torch

    v = verts.detach().cpu().numpy()
    dev = verts.device
    # body -> scan: closest surface points; outside the surface weighs 1, inside inside_weight.
    c, n = target.closest(v)
    outside = np.einsum("ij,ij->i", v - c, n) > 0
    w_b = torch.as_tensor(np.where(outside, 1.0, inside_weight).astype(np.float32), device=dev)
    b2s = (w_b * _gm(_plane_sq(verts - torch.as_tensor(c, device=dev), torch.as_tensor(n, device=dev)),
                     sigma)).sum() / w_b.sum()
    # scan -> body: nearest body vertex of each sample; clothing (outside the body) weighs less.
    from scipy.spatial import cKDTree

    idx = cKDTree(v).query(target.points, k=1)[1]
    normals = vertex_normals(v, faces)[idx]
    e = target.points - v[idx]
    out_body = np.einsum("ij,ij->i", e, normals) > 0
    w_s = torch.as_tensor(np.where(out_body, outside_weight, 1.0).astype(np.float32), device=dev)
    pts = torch.as_tensor(target.points, device=dev)
    s2b = (w_s * _gm(_plane_sq(pts - verts[torch.as_tensor(idx, device=dev)], torch.as_tensor(normals, device=dev)),
                     sigma)).sum() / w_s.sum()
    return b2s + s2b


def _plane_sq(e, n, tangential: float = 0.2):
    """Squared residual mostly along the normal n (point-to-plane, which does not pull a surface
    towards the samples' spacing), plus ``tangential`` of the rest so that nothing slides freely.
    e, n: (N, 3) tensors -> (N,)."""
    along = (e * n).sum(-1) ** 2
    return along + tangential * ((e ** 2).sum(-1) - along)


def _gm(sq, sigma: float):
    """Geman-McClure on squared distances: sq / (sq + sigma^2), in [0, 1)."""
    return sq / (sq + sigma ** 2)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) float32 area-weighted unit vertex normals (numpy; used for weights, not gradients)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    return (n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def start_from_joints(bm, joints3d: np.ndarray) -> FitStart:
    """Orientation and translation that best map the rest body's joints onto ``joints3d``
    (24, 3) metres (NaN rows ignored): a rigid Procrustes (Kabsch) fit, the pose left at rest."""
    from scipy.spatial.transform import Rotation

    j = np.asarray(joints3d, np.float64).reshape(-1, 3)
    ok = np.isfinite(j).all(1)
    rest = np.asarray(bm.forward().joints[0], np.float64)[: len(j)]
    # Torso joints move little between poses; use them when enough are given.
    torso = np.zeros(len(j), bool)
    torso[[0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17]] = True
    use = ok & torso if (ok & torso).sum() >= 4 else ok
    a, b = rest[use], j[use]
    ca, cb = a.mean(0), b.mean(0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1, 1, d]) @ u.T
    # smplx rotates about the root joint j0: v' = R (v - j0) + j0 + transl.
    j0 = rest[0]
    transl = cb - r @ ca - j0 + r @ j0
    return FitStart(global_orient=Rotation.from_matrix(r).as_rotvec(), transl=transl)
