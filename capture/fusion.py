"""DoubleFusion-style tracking and fusion of one subject (Yu et al., CVPR 2018), simplified.

Per frame (``DoubleFusion.process``):

1. the subject's depth points (capture frame) are cut out near the previous body;
2. the inner layer (``body_tracking``) fits pose (and on the first frame shape) to them;
3. the outer layer (``node_graph``) fits the nodes' non-rigid corrections on top of the skinned
   body, against the same points, regularised as rigid as possible;
4. while fusing (stage 1), every voxel of a band around the canonical body is warped to the live
   frame by the double-layer warp and the depth (and colour) is fused into the canonical TSDF
   (``tsdf.integrate``); the fused surface is re-extracted now and then, far-body nodes are added
   where it leaves the node graph, and the body shape is refined against it.

Simplified from DoubleFusion (see docs/capture.md): the two layers are solved one after the other
(alternation), not jointly; Levenberg-Marquardt with a dense normal matrix (body) and Adam (nodes)
replace the GPU Gauss-Newton/PCG solver; the canonical frame is
the first frame's pose, not a canonical star pose; the body-shape term is DoubleFusion's
"body surface on the fused surface" squared TSDF, without its interior/exterior weighting.
Everything is torch on ``device`` (CPU or CUDA).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import torch

from thuman.capture.body_tracking import BodyState, BodyTracker, SurfaceTargets, TrackingConfig, nearest
from thuman.capture.camera import backproject, cv_to_capture, depth_mm_to_m
from thuman.capture.frames import Frame
from thuman.capture.node_graph import (NodeGraph, add_nearest_nodes, arap_energy, bind_residuals, build_graph,
                                       nearest_nodes, node_skinning, node_transforms, node_weights, point_weights,
                                       sample_nodes, update_warp_matrix, warp_by_matrix, warp_matrix,
                                       warp_points, warp_points_and_normals)
from thuman.capture.optim import Adam
from thuman.capture.recovery import RecoveryConfig, recover, yaw_turned
from thuman.capture.segment import find_planes, largest_cluster, remove_planes
from thuman.capture.tracking_health import (LossConfig, TrackingHealth, assess, expected_yaw, free_space_fraction,
                                            free_space_limit, residual_limit, root_yaw, rotation_angle,
                                            unexplained_fraction, yaw_difference)
from thuman.capture.tsdf import FusedMesh, TSDFVolume, extract_mesh, integrate, sample_tsdf, sample_weight
from thuman.capture.visibility import unoccluded
from thuman.capture.warp import blend, body_skinning_weights, canonical_to_live, rest_to_posed
from thuman_io.errors import TrackingLost
from thuman_io.geometry import vertex_normals


@dataclass
class FusionConfig:
    """Settings of tracking and fusion (CPU-friendly defaults).

    voxel_size_m, box_size_m: the canonical TSDF (box centred on the first frame's body).
    band_m: voxels within this distance of the canonical body are integrated (clothing margin).
    node_radius_m: node spacing and falloff. node_iterations / node_lr: Adam steps per frame.
    w_arap, w_bind: weights of the rigidity and the pull toward zero correction (relative to a
    data term in units of ``sigma_m``^2). surface_samples: canonical surface points the node
    data term uses. mesh_every: frames between re-extractions of the fused surface (stage 1).
    shape_every / shape_iterations: body-shape refinement from the fused surface (0 = off).
    track_surface: when the body's pose is fitted against the fused surface (skinned by the body,
    with the node corrections) instead of the naked body, which clothing biases: 'fusing' (stage
    1, once a surface exists), 'always', or 'never'. surface_cover_m: body vertices further than
    this from the fused surface stay model points (parts not seen yet).
    subject_margin_m: depth points further than this from the predicted body are background.
    max_depth_m: depth beyond this is ignored.
    shape_after_coverage: the shape is held back (mean shape, or the first frame's fit with
    ``TrackingConfig.first_frame_shape``) until the turn's coverage (``coverage_seen``, set by the
    session) reaches this; the first refinement after it runs ``shape_iterations`` x 4 steps.
    loss / recovery: loss detection (``tracking_health``) and re-initialisation (``recovery``).
    """

    voxel_size_m: float = 0.01
    box_size_m: tuple = (1.2, 2.0, 1.2)
    trunc_voxels: float = 3.0
    band_m: float = 0.12
    node_radius_m: float = 0.06
    node_iterations: int = 6
    node_lr: float = 0.01
    sigma_m: float = 0.01
    w_arap: float = 20.0
    w_bind: float = 1.0
    surface_samples: int = 3000
    mesh_every: int = 10
    shape_every: int = 20
    shape_iterations: int = 15
    track_surface: str = "fusing"
    surface_cover_m: float = 0.03
    subject_margin_m: float = 0.25
    max_depth_m: float = 4.0
    shape_after_coverage: float = 0.6
    loss: LossConfig = field(default_factory=LossConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    device: str = "cpu"
    seed: int = 0


@dataclass
class FrameReport:
    """What one processed frame did. Times in seconds, residuals in metres (RMS point-to-plane).
    track_s = segment_s (subject points) + body_s (inner layer) + nodes_s (outer layer); fuse_s:
    integration and the periodic surface refresh / shape refinement."""

    index: int
    time_s: float
    fused: bool
    points: int
    body_residual_m: float
    node_residual_m: float
    track_s: float
    fuse_s: float
    voxels_updated: int = 0
    segment_s: float = 0.0
    body_s: float = 0.0
    nodes_s: float = 0.0
    health: Optional[TrackingHealth] = None
    recovery: str = ""  # '' (no loss), 'recovered (start)' or 'lost (not recovered)'


@dataclass
class FusionBand:
    """The voxels fused every frame (a band around the canonical body), float32 torch:
    ids (M,) int64 voxel ids, centres (M, 3) canonical centres (metres), node_idx / node_w (M, k)
    their nodes and weights (``node_graph.point_weights``), node_dist (M, k) the distances to those
    nodes (metres, kept so that added nodes update the band: ``node_graph.add_nearest_nodes``),
    matrix the whole warp of the centres as one sparse (M, 4 N) matrix (``node_graph.warp_matrix``)."""

    ids: torch.Tensor
    centres: torch.Tensor
    node_idx: torch.Tensor
    node_w: torch.Tensor
    node_dist: torch.Tensor
    matrix: torch.Tensor  # (M, 4 N) sparse CSR: node_w times [centre; 1] (node_graph.warp_matrix)


@dataclass
class SurfaceSamples:
    """Canonical surface samples of the node data term, float32 torch: points (S, 3) metres,
    normals (S, 3) unit, node_idx / node_w (S, k) their nodes and weights."""

    points: torch.Tensor
    normals: torch.Tensor
    node_idx: torch.Tensor
    node_w: torch.Tensor


@contextmanager
def deterministic_torch():
    """Run the block with torch's deterministic algorithms, then restore the caller's setting.

    With more than one CPU thread, torch's accumulating scatter ops (``index_put_`` with
    ``accumulate``, ``index_add_``) sum in a thread-dependent order, and tracking amplifies the
    last bits: two identical 2-thread captures gave meshes of 1686 and 1671 vertices. The
    deterministic versions make a capture the same bytes on any thread count. The switch is
    global in torch, so it is set per frame and restored (``warn_only``: CUDA ops without a
    deterministic version warn instead of failing).
    """
    enabled, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


class DoubleFusion:
    """Tracks a subject and fuses its surface in a canonical TSDF. See the module docstring."""

    def __init__(self, body_model, config: FusionConfig | None = None,
                 tracking: TrackingConfig | None = None):
        self.cfg = config or FusionConfig()
        if self.cfg.track_surface not in ("fusing", "always", "never"):
            raise ValueError(f"FusionConfig.track_surface must be 'fusing', 'always' or 'never', "
                             f"not {self.cfg.track_surface!r}")
        self.device = torch.device(self.cfg.device)
        self.bm = body_model
        self.tracker = BodyTracker(body_model, tracking or TrackingConfig(seed=self.cfg.seed), self.device)
        self.parents = np.asarray(body_model.parents, dtype=np.int64)
        self.faces_np = np.asarray(body_model.faces, dtype=np.int64)
        self.faces = torch.as_tensor(self.faces_np, device=self.device)
        self._rng = np.random.default_rng(self.cfg.seed)
        self.volume: Optional[TSDFVolume] = None
        self.planes: Optional[list] = None
        self.graph: Optional[NodeGraph] = None
        self.canonical: Optional[BodyState] = None
        self.frames = 0
        self.frames_fused = 0
        self.body_weights = body_skinning_weights(body_model)  # (V, 24) float32
        self._band: Optional[FusionBand] = None
        self._samples: Optional[SurfaceSamples] = None
        self._mesh: Optional[FusedMesh] = None
        self._mesh_dirty = True
        self._joint_maps: Optional[torch.Tensor] = None
        self._node_maps: Optional[torch.Tensor] = None
        self._surf_fused = False  # the node data term's samples are the body's until a surface is fused
        self._body_uncovered: Optional[torch.Tensor] = None  # (V,) bool, set with the fused surface
        self.coverage_seen = 0.0  # the turn's coverage so far (the session sets it): shape hold-back
        self._shape_solved = False
        self._last_good: Optional[BodyState] = None  # the last frame the loss detector passed
        self._since_start = 0  # frames since the first frame or the last re-initialisation
        self._baseline: list = []  # (residual, free space) of the recent tracked frames (the detector's baseline)
        self._lost_run = 0  # lost frames in a row
        self._yaws: list = []  # (time_s, root yaw) of the recent tracked frames: the turn the yaw lag is judged on
        self.events: list = []  # (frame index, what happened) of every loss detected
        self.last_recovery = None  # the RecoveryResult of the last loss (its starts and scores)
        self.last_health: Optional[TrackingHealth] = None  # the detector's verdict on the last frame

    # -- public ------------------------------------------------------------------------------
    @property
    def body(self) -> Optional[BodyState]:
        """The body in the last live frame."""
        return self.tracker.state

    def subject_points(self, frame: Frame) -> np.ndarray:
        """(P, 3) float32 capture-frame points of the subject in ``frame``."""
        depth = depth_mm_to_m(frame.depth_mm)
        depth = np.where(depth < self.cfg.max_depth_m, depth, 0.0)
        pts = cv_to_capture(backproject(depth, frame.camera))[depth > 0]
        if self.planes is None:  # first frame: find the room's floor and walls once
            self.planes = find_planes(pts, seed=self.cfg.seed)
        pts = remove_planes(pts, self.planes)
        if self.body is None:
            pts = largest_cluster(pts)
        elif self.body.vertices is not None and len(pts):
            from scipy.spatial import cKDTree

            d, _ = cKDTree(self.body.vertices).query(pts, k=1, distance_upper_bound=self.cfg.subject_margin_m)
            pts = pts[np.isfinite(d)]
        return pts.astype(np.float32)

    def _subject_depth(self, frame: Frame) -> np.ndarray:
        """(H, W) metres: the frame's depth with the room's planes (floor, walls) set to 0, so that a
        body vertex over the floor counts as free space, not as occluded."""
        depth = depth_mm_to_m(frame.depth_mm)
        if not self.planes:
            return depth
        pts = cv_to_capture(backproject(depth, frame.camera))
        bg = np.zeros(depth.shape, dtype=bool)
        for n, d in self.planes:
            s = pts @ n + d
            cam_side = np.sign(d) if d != 0 else 1.0
            bg |= (s * cam_side) <= 0.03
        return np.where(bg, 0.0, depth).astype(np.float32)

    def process(self, frame: Frame, fuse: bool = True, update_color: bool = True) -> FrameReport:
        """Track ``frame`` and (if ``fuse``) fuse it. Returns a :class:`FrameReport`.

        Deterministic on any thread count (see :func:`deterministic_torch`)."""
        with deterministic_torch():
            return self._process(frame, fuse, update_color)

    def _process(self, frame: Frame, fuse: bool, update_color: bool) -> FrameReport:
        t0 = time.perf_counter()
        pts = self.subject_points(frame)
        if len(pts) < 50:
            raise TrackingLost(f"only {len(pts)} depth points on the subject (50 needed): the subject left "
                               "the view or tracking lost it; keep the whole body in view 1.5-3 m from the "
                               "camera and start the capture again", frame_index=frame.index)
        time_s = frame.timestamp_us * 1e-6
        t_seg = time.perf_counter()
        predicted = self.tracker.predict(time_s)
        track_kwargs = dict(depth_m=self._subject_depth(frame), K=frame.camera, time_s=time_s,
                            surface=self._surface_targets(time_s, fuse))
        body = self.tracker.track(pts, **track_kwargs)
        health, recovery = None, ""
        if self.canonical is None:
            self._start(body)
            self._yaws = [(time_s, root_yaw(body.global_orient))]
        elif self.cfg.loss.enabled:
            body, health, recovery = self._check(frame, pts, body, predicted, track_kwargs)
            fuse = fuse and not health.lost  # a frame still lost after recovery is not fused
        self.last_health = health
        t_body = time.perf_counter()
        self._joint_maps = self._joint_transforms(body)
        node_res = self._fit_nodes(pts) if self.frames > 0 else float("nan")
        self._node_maps = node_transforms(self.graph, self._joint_maps).detach()
        t1 = time.perf_counter()
        updated = 0
        if fuse:
            depth = torch.as_tensor(depth_mm_to_m(frame.depth_mm), device=self.device)
            color = torch.as_tensor(frame.color, device=self.device)
            band = self._band
            live = warp_by_matrix(self._node_maps, band.matrix)
            updated = integrate(self.volume, depth, frame.camera, color, live_centres=live, ids=band.ids,
                                update_color=update_color)
            self._mesh_dirty = True
            self.frames_fused += 1
            if self.frames_fused % self.cfg.mesh_every == 0:
                self._refresh_surface(grow_nodes=True)
            if self.cfg.shape_every and self.coverage_seen >= self.cfg.shape_after_coverage and (
                    not self._shape_solved or self.frames_fused % self.cfg.shape_every == 0):
                self.refine_shape(iterations=None if self._shape_solved else 4 * self.cfg.shape_iterations)
                self._shape_solved = True
        self.frames += 1
        t2 = time.perf_counter()
        return FrameReport(index=frame.index, time_s=frame.timestamp_us * 1e-6, fused=fuse, points=len(pts),
                           body_residual_m=body.residual_m, node_residual_m=node_res,
                           track_s=t1 - t0, fuse_s=t2 - t1, voxels_updated=updated,
                           segment_s=t_seg - t0, body_s=t_body - t_seg, nodes_s=t1 - t_body,
                           health=health, recovery=recovery)

    def canonical_mesh(self) -> FusedMesh:
        """The fused surface in the canonical frame (re-extracted when fusion changed it)."""
        if self._mesh is None or self._mesh_dirty:
            self._mesh = extract_mesh(self.volume)
            self._mesh_dirty = False
        return self._mesh

    def live_mesh(self) -> FusedMesh:
        """The fused surface warped into the last live frame (capture frame, metres)."""
        m = self.canonical_mesh()
        if len(m.vertices) == 0:
            return m
        v = torch.as_tensor(m.vertices, device=self.device)
        idx, w = point_weights(self.graph, v)
        live = warp_points(self._node_maps, idx, w, v).cpu().numpy().astype(np.float32)
        return FusedMesh(live, m.faces, m.colors)

    def refine_shape(self, iterations: Optional[int] = None) -> None:
        """Refine the body shape so that the canonical body lies on the fused surface
        (DoubleFusion's shape term: squared TSDF at the body vertices, observed band only);
        ``iterations`` Adam steps (default ``shape_iterations``)."""
        c = self.canonical
        dev = self.device
        betas = torch.tensor(c.betas, device=dev, requires_grad=True)
        orient = torch.tensor(c.global_orient, device=dev)
        pose = torch.tensor(c.body_pose, device=dev)
        transl = torch.tensor(c.transl, device=dev)
        opt = Adam([betas], lr=0.02)
        for _ in range(iterations or self.cfg.shape_iterations):
            opt.zero_grad()
            v, _ = self.tracker.posed(betas, orient, pose, transl)
            d = sample_tsdf(self.volume, v)
            wgt = sample_weight(self.volume, v.detach())
            use = (wgt > 0.5) & (d.detach().abs() < 0.99)
            if int(use.sum()) < 100:
                return
            e = (d[use] ** 2).mean() + self.tracker.cfg.w_shape_prior * (betas ** 2).sum()
            e.backward()
            opt.step()
        nb = betas.detach().cpu().numpy().astype(np.float32)
        self.canonical.betas = nb
        self.tracker.state.betas = nb.copy()

    # -- loss of tracking ----------------------------------------------------------------------
    def measure(self, frame: Frame, pts: np.ndarray, body: BodyState, predicted: Optional[BodyState],
                judge_jump: bool = True) -> TrackingHealth:
        """The loss detector's measures of ``body`` on this frame (``tracking_health.assess``):
        its residual, the subject points (P, 3) no model point explains (the posed body and, once
        fused, the clothed surface carried by the body with the current node corrections), the
        visible body vertices in free space, joint limits, and the root's turn from ``predicted``."""
        cfg = self.cfg.loss
        v = body.vertices
        n = vertex_normals(v, self.faces_np)
        vis = (n * -v).sum(1) > 0
        ids = np.nonzero(vis)[0]
        if len(ids):
            vis[ids] = unoccluded(torch.as_tensor(v[ids], dtype=torch.float64), frame.camera,
                                  self.tracker.cfg.occlusion_cell_m, self.tracker.cfg.occlusion_tol_m).cpu().numpy()
        free = free_space_fraction(v, vis, self._subject_depth(frame), frame.camera, cfg.free_space_m)
        model = v
        if self._surf_fused and self.graph is not None:
            with torch.no_grad():
                maps = node_transforms(self.graph, self._joint_transforms(body))
                sm = self._samples
                live = warp_points(maps, sm.node_idx, sm.node_w, sm.points).cpu().numpy()
            model = np.concatenate([v, live])
        unexplained = unexplained_fraction(pts, model, cfg.explain_m)
        jump = 0.0 if predicted is None else rotation_angle(body.global_orient, predicted.global_orient)
        expected = self.expected_yaw(frame.timestamp_us * 1e-6)
        lag = 0.0 if expected is None else abs(yaw_difference(root_yaw(body.global_orient), expected))
        return assess(body.residual_m, unexplained, free, body.body_pose, jump, cfg, judge_jump=judge_jump,
                      max_residual_m=residual_limit([r for r, _ in self._baseline], cfg),
                      max_free_space=free_space_limit([f for _, f in self._baseline], cfg), yaw_lag_rad=lag)

    def _turn_before(self, body: BodyState, frame: Frame) -> Optional[tuple]:
        """(time_s, BodyState): ``body`` turned back by the turn of the recent tracked frames over one
        frame interval, so that a re-initialised body is predicted to go on turning at the subject's
        rate (restarted with no velocity, it fell behind again at once at seed 3's fastest turn,
        about 7 degrees a frame); None when the turn is not known."""
        t = frame.timestamp_us * 1e-6
        if len(self._yaws) < 2:
            return None
        dt = self._yaws[-1][0] - self._yaws[-2][0]
        now, before = self.expected_yaw(t), self.expected_yaw(t - dt)
        if now is None or before is None or not dt > 0:
            return None
        back = yaw_turned(body.global_orient, np.degrees(yaw_difference(before, now)))
        return t - dt, replace(body, global_orient=back, vertices=None, joints=None)

    def expected_yaw(self, time_s: float) -> Optional[float]:
        """The root yaw (radians) the recent tracked frames' turn expects at ``time_s``
        (``tracking_health.expected_yaw``), or None while too few are known."""
        if not self._yaws:
            return None
        t, y = zip(*self._yaws)
        return expected_yaw(t, y, time_s, self.cfg.loss)

    def _check(self, frame: Frame, pts: np.ndarray, body: BodyState, predicted: Optional[BodyState],
               track_kwargs: dict):
        """Judge the tracked frame; when lost, re-initialise the body from a fresh fit
        (``recovery.recover``). Returns (body, health, recovery text for the status line)."""
        self._since_start += 1
        health = self.measure(frame, pts, body, predicted, judge_jump=self._since_start > self.cfg.loss.settle_frames)
        text = ""
        if health.lost and self.cfg.recovery.enabled:
            result = recover(self.tracker, pts, body, health, predicted or body, self._last_good,
                             lambda s: self.measure(frame, pts, s, None, judge_jump=False), self.cfg.loss,
                             self.cfg.recovery, track_kwargs,
                             expected_yaw=self.expected_yaw(frame.timestamp_us * 1e-6)
                             if self.cfg.loss.max_yaw_lag_rad > 0 else None)
            self.last_recovery = result
            if result.start != "tracked":
                body = result.state
                if 0 < self.cfg.loss.max_yaw_lag_rad < result.health.yaw_lag_rad:
                    # The fresh fit left the turn of the tracked frames: that turn is no longer the
                    # subject's (seed 1: a line through yaws across a 180-degree re-initialisation
                    # expected 86-174 degrees off and spun the restarted body); judge from new frames.
                    self._yaws = []
                previous = self._turn_before(body, frame) if self.cfg.recovery.restart_with_turn else None
                self.tracker.restart(body, track_kwargs.get("time_s"), previous=previous)
                self._since_start = 0
            if result.start == "tracked":
                text = f"tracking lost ({health.summary()}): no fresh fit explains the frame better, frame not fused"
            else:
                text = (f"tracking lost ({health.summary()}): re-initialised from a fresh fit ({result.start})"
                        + ("" if not result.health.lost else f", still {result.health.summary()}: frame not fused"))
            self.events.append((frame.index, text))
            health = result.health
        self._lost_run = self._lost_run + 1 if health.lost else 0
        if health.lost and self._lost_run > self.cfg.loss.max_lost_frames:
            # Lost for long: the best fit becomes the new baseline rather than fusion stopping for good.
            health.lost, self._lost_run, self._baseline, self._yaws = False, 0, [], []
            text += f"; lost {self.cfg.loss.max_lost_frames + 1} frames in a row: the best fit is taken as tracked"
            if self.events:
                self.events[-1] = (frame.index, text)
        if not health.lost:
            self._last_good = body
            self._baseline = (self._baseline + [(body.residual_m, health.free_space)])[-self.cfg.loss.residual_window:]
            self._yaws = (self._yaws + [(frame.timestamp_us * 1e-6, root_yaw(body.global_orient))])[-self.cfg.loss.yaw_window:]
        return body, health, text

    # -- internals ----------------------------------------------------------------------------
    def _surface_targets(self, time_s: float, fusing: bool) -> Optional[SurfaceTargets]:
        """The fused surface as the body tracker's model points (DoubleFusion's joint tracking,
        alternated): warped to the predicted pose with the current node corrections, then taken
        back to the rest pose by each point's blended skinning. None before a fused surface exists."""
        mode = self.cfg.track_surface
        if not self._surf_fused or mode == "never" or (mode == "fusing" and not fusing):
            return None
        pred = self.tracker.predict(time_s)
        g = self.graph
        with torch.no_grad():
            maps = node_transforms(g, self._joint_transforms(pred))
            sm = self._samples
            live, live_n = warp_points_and_normals(maps, sm.node_idx, sm.node_w, sm.points, sm.normals)
            live, live_n = live.double(), live_n.double()
            w = torch.einsum("pk,pkj->pj", sm.node_w, g.skin[sm.node_idx]).double()
            w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
            _, rest_j = self.tracker.rest(pred.betas)
            m = blend(rest_to_posed(rest_j, self.parents, torch.as_tensor(pred.full_pose, dtype=torch.float64,
                                                                          device=self.device)), w)
            t = torch.as_tensor(pred.transl, dtype=torch.float64, device=self.device)
            rest_p = torch.linalg.solve(m[:, :, :3], (live - t - m[:, :, 3])[:, :, None])[..., 0]
            rest_n = (m[:, :, :3].transpose(1, 2) @ live_n[:, :, None])[..., 0]
            rest_n = rest_n / rest_n.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return SurfaceTargets(rest_points=rest_p, rest_normals=rest_n, weights=w, body_mask=self._body_uncovered)

    def _start(self, body: BodyState) -> None:
        """First frame: fix the canonical frame, create the volume, the band and the node graph."""
        cfg = self.cfg
        self.canonical = BodyState(betas=body.betas.copy(), global_orient=body.global_orient.copy(),
                                   body_pose=body.body_pose.copy(), transl=body.transl.copy(),
                                   vertices=body.vertices.copy(), joints=body.joints.copy())
        v = body.vertices
        centre = 0.5 * (v.min(0) + v.max(0))
        size = np.asarray(cfg.box_size_m, dtype=np.float64)
        self.volume = TSDFVolume.create(centre - size / 2, size, cfg.voxel_size_m, cfg.trunc_voxels,
                                        device=self.device)
        ids = self.volume.ids_near(v, cfg.band_m)
        nodes = sample_nodes(v, cfg.node_radius_m)
        self.graph = build_graph(nodes, v, self.body_weights, cfg.node_radius_m, device=self.device)
        self._band = self._make_band(ids)
        self._set_surface(v, vertex_normals(v, self.faces_np))
        self.frames_fused = 0

    def _make_band(self, ids: torch.Tensor) -> FusionBand:
        centres = self.volume.voxel_centres(ids)
        dist, idx = nearest_nodes(self.graph.positions, centres)
        return self._band_with(ids, centres, dist, idx)

    def _band_with(self, ids, centres, dist, idx) -> FusionBand:
        w = node_weights(dist, self.graph.radius_m)
        return FusionBand(ids, centres, idx, w, dist, warp_matrix(idx, w, centres, self.graph.num_nodes))

    def _grow_band(self, first_new: int) -> FusionBand:
        """The band after nodes ``first_new``.. were appended to the graph: only the voxels the new
        nodes come near get new nearest nodes (``node_graph.add_nearest_nodes``), weights and rows
        of the warp matrix; the result equals :meth:`_make_band` over the grown graph."""
        b = self._band
        dist, idx, changed = add_nearest_nodes(self.graph.positions, b.centres, b.node_dist, b.node_idx, first_new)
        if idx.shape[1] != b.node_idx.shape[1]:  # the old graph had fewer than k nodes: all rows are new
            return self._band_with(b.ids, b.centres, dist, idx)
        w = b.node_w.clone()
        w[changed] = node_weights(dist[changed], self.graph.radius_m)
        matrix = update_warp_matrix(b.matrix, changed, idx[changed], w[changed], b.centres[changed],
                                    self.graph.num_nodes)
        return FusionBand(b.ids, b.centres, idx, w, dist, matrix)

    def _joint_transforms(self, body: BodyState) -> torch.Tensor:
        """(24, 4, 4) float32 canonical -> live joint maps for ``body`` (``warp.canonical_to_live``)."""
        c = self.canonical
        _, rest_j = self.tracker.rest(c.betas)
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device)  # noqa: E731
        return canonical_to_live(rest_j.float(), self.parents, t(c.full_pose), t(c.transl), t(body.full_pose),
                                 t(body.transl))

    def _set_surface(self, vertices: np.ndarray, normals: np.ndarray) -> None:
        """Canonical surface samples used by the node data term."""
        n = len(vertices)
        pick = np.sort(self._rng.choice(n, min(n, self.cfg.surface_samples), replace=False))
        pts = torch.as_tensor(vertices[pick], dtype=torch.float32, device=self.device)
        nrm = torch.as_tensor(normals[pick], dtype=torch.float32, device=self.device)
        self._samples = SurfaceSamples(pts, nrm, *point_weights(self.graph, pts))

    def _refresh_surface(self, grow_nodes: bool) -> None:
        """Use the fused surface for the node data term; add far-body nodes where it has none."""
        m = self.canonical_mesh()
        if len(m.faces) < 100:
            return
        n = vertex_normals(m.vertices, m.faces)
        if grow_nodes:
            new = sample_nodes(m.vertices, self.cfg.node_radius_m, existing=self.graph.positions.cpu().numpy())
            if len(new):
                old = self.graph
                pos = np.concatenate([old.positions.cpu().numpy(), new])
                g = build_graph(pos, self.canonical.vertices, self.body_weights, self.cfg.node_radius_m,
                                device=self.device)
                g.rotations[:old.num_nodes] = old.rotations
                g.translations[:old.num_nodes] = old.translations
                self.graph = g
                self._band = self._grow_band(old.num_nodes)
                self._node_maps = node_transforms(self.graph, self._joint_maps).detach()
        self._set_surface(m.vertices, n)
        from scipy.spatial import cKDTree

        d, _ = cKDTree(m.vertices).query(self.canonical.vertices, k=1)
        self._body_uncovered = torch.as_tensor(d > self.cfg.surface_cover_m, device=self.device)
        self._surf_fused = True

    def _fit_nodes(self, pts_np: np.ndarray) -> float:
        """Outer layer: Adam on the node corrections (point-to-plane + ARAP + bind)."""
        cfg = self.cfg
        g = self.graph
        pts = torch.as_tensor(self.tracker.subsample(pts_np), device=self.device)
        rot = g.rotations.clone().requires_grad_(True)
        tra = g.translations.clone().requires_grad_(True)
        opt = Adam([rot, tra], lr=cfg.node_lr)
        s2 = cfg.sigma_m ** 2
        residual = float("nan")
        skinning = node_skinning(g, self._joint_maps)  # the same in every step
        sm = self._samples
        for _ in range(cfg.node_iterations):
            opt.zero_grad()
            maps = node_transforms(g, self._joint_maps, rot, tra, skinning=skinning)
            live, nrm = warp_points_and_normals(maps, sm.node_idx, sm.node_w, sm.points, sm.normals)
            with torch.no_grad():
                vis = torch.nonzero((nrm * (-live)).sum(-1) > 0).squeeze(1)
                d, j = nearest(pts, live[vis])
                keep = d < self.tracker.cfg.max_corr_dist_m
                tgt = vis[j[keep]]
            if int(keep.sum()) < 10:
                return residual
            p2pl = ((pts[keep] - live[tgt]) * nrm[tgt]).sum(-1)
            residual = float(p2pl.detach().pow(2).mean().sqrt())
            e = ((p2pl ** 2).mean() / s2 + cfg.w_arap * arap_energy(g, rot, tra) / s2
                 + cfg.w_bind * (bind_residuals(g, rot, tra, cfg.sigma_m) ** 2).sum())
            e.backward()
            opt.step()
        g.rotations = rot.detach()
        g.translations = tra.detach()
        return residual
