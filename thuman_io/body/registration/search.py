"""A start for a fit from nothing: a coarse search over orientations and key poses.

Every candidate is the body at one of three statures in one of the built-in library's key poses
(``thuman_io.body.poses``, the 20 hand-authored poses, no variants), turned to one of the
candidate orientations and moved so that its centroid is the target's, then shifted by three
translation-only ICP steps. Candidates are scored by a truncated symmetric chamfer distance between a subsample of the body's vertices and the
target's samples; the best one is the start.
"""
from __future__ import annotations

import numpy as np

#: Yaw steps of the search, radians (45 degrees apart).
YAWS = np.radians(np.arange(0, 360, 45))
_BODY_SUBSAMPLE = 700
_TARGET_SUBSAMPLE = 2000
_TRUNCATE_M = 0.15
_SHIFT_STEPS = 3
#: Values of the first shape coefficient tried (the open model's stature component).
STATURE_BETAS = (-1.5, 0.0, 1.5)


def candidate_orientations(mode: str) -> np.ndarray:
    """(K, 3, 3) rotations to try. 'upright': yaw about +Y only (the item frame is Y up);
    'any': the same yaws after each of the 6 axis-aligned 'up' directions."""
    from scipy.spatial.transform import Rotation

    yaw = Rotation.from_euler("y", YAWS[:, None]).as_matrix()
    if mode == "upright":
        return yaw
    if mode != "any":
        raise ValueError(f"orientations must be 'upright' or 'any', not {mode!r}")
    ups = Rotation.from_rotvec([[0, 0, 0], [np.pi, 0, 0], [np.pi / 2, 0, 0], [-np.pi / 2, 0, 0],
                                [0, 0, np.pi / 2], [0, 0, -np.pi / 2]]).as_matrix()
    return np.einsum("uij,yjk->uyik", ups, yaw).reshape(-1, 3, 3)


def search_starts(bm, target_points: np.ndarray, cfg, count: int = 4) -> list:
    """The ``count`` best candidates as :class:`FitStart` objects, best first, plus the best one
    turned by 180 degrees of yaw (front and back are what a coarse chamfer confuses most).
    target_points: (M, 3) metres."""
    import torch
    from scipy.spatial.transform import Rotation

    from thuman_io.body.poses import load_pose_library
    from thuman_io.body.registration.fit import FitStart

    keyposes = load_pose_library("builtin", variants=0).poses.astype(np.float64)
    # Each key pose at a few statures: the first shape component carries most of the stature.
    poses = np.repeat(keyposes, len(STATURE_BETAS), axis=0)
    betas = np.zeros((len(poses), bm.num_betas), np.float32)
    betas[:, 0] = np.tile(STATURE_BETAS, len(keyposes))
    rots = candidate_orientations(cfg.orientations)
    rng = np.random.default_rng([int(cfg.seed), 0x5EA2C])
    tgt = target_points[rng.choice(len(target_points), min(_TARGET_SUBSAMPLE, len(target_points)), replace=False)]
    sub = rng.choice(bm.num_vertices, min(_BODY_SUBSAMPLE, bm.num_vertices), replace=False)
    # Pose each key pose once with its own root orientation, then turn the vertices.
    out = bm.forward(global_orient=poses[:, :3].astype(np.float32), body_pose=poses[:, 3:].astype(np.float32),
                     betas=betas)
    verts = out.vertices[:, sub].astype(np.float64)                              # (P, S, 3)
    turned = np.einsum("kij,psj->kpsi", rots, verts)                            # (K, P, S, 3)
    turned += (tgt.mean(0) - turned.mean(2))[:, :, None]
    t_tgt = torch.as_tensor(tgt, dtype=torch.float32)
    flat = torch.as_tensor(turned.reshape(-1, len(sub), 3), dtype=torch.float32)
    scores, shifts = [], []
    for chunk in torch.split(flat, 32):
        score, shift = score_with_shift(chunk, t_tgt)
        scores.append(score)
        shifts.append(shift)
    shifts = torch.cat(shifts).numpy().reshape(len(rots), len(poses), 3)
    order = torch.cat(scores).argsort().tolist()
    # The best candidate of each of the ``count`` best key poses (distinct poses make the
    # refinement explore; near-duplicates of one pose at other yaws or statures would not).
    picks, seen = [], set()
    for i in order:
        k, pi = divmod(i, len(poses))
        if pi // len(STATURE_BETAS) not in seen:
            seen.add(pi // len(STATURE_BETAS))
            picks.append((k, pi))
        if len(picks) == count:
            break
    back = Rotation.from_euler("y", np.pi).as_matrix() @ rots[picks[0][0]]
    starts = []
    best_k, best_p = picks[0]
    cands = [(rots[k], pi, shifts[k, pi]) for k, pi in picks] + [(back, best_p, shifts[best_k, best_p])]
    for r, pi, shift in cands:
        g = Rotation.from_matrix(r @ Rotation.from_rotvec(poses[pi, :3]).as_matrix()).as_rotvec()
        # smplx turns about the root joint j0; place the turned body's centroid on the target's.
        j0 = np.asarray(out.joints[pi, 0], np.float64)
        turned_sub = (out.vertices[pi, sub].astype(np.float64) - j0) @ r.T + j0
        starts.append(FitStart(betas=betas[pi], global_orient=g, body_pose=poses[pi, 3:],
                               transl=tgt.mean(0) - turned_sub.mean(0) + shift))
    return starts


def front_back_twin(start):
    """The body seen from the other side: a :class:`FitStart` whose body is ``start``'s mirrored
    through its own coronal plane (through the root joint), so that each limb stays about where
    it was while the torso faces the other way. A depth scan or a coarse chamfer tells front from
    back poorly; a fit facing backwards puts its limbs on the far side of the body, and
    gradients cannot turn it round (seeds 241, 243 of docs/body.md). The coronal mirror is the
    sagittal one (``joints.mirror_pose``: left and right swapped) followed by half a turn about
    the body's own vertical axis; betas and translation are kept (the root joint stays put)."""
    from scipy.spatial.transform import Rotation

    from thuman_io.body.joints import mirror_pose
    from thuman_io.body.registration.fit import FitStart

    orient = np.zeros(3) if start.global_orient is None else np.asarray(start.global_orient, np.float64)
    g = Rotation.from_rotvec(orient)
    pose = np.zeros(69) if start.body_pose is None else np.asarray(start.body_pose, np.float64)
    return FitStart(betas=start.betas, global_orient=(g * Rotation.from_euler("y", np.pi)).as_rotvec(),
                    body_pose=mirror_pose(pose), transl=start.transl, scale=start.scale)


def score_with_shift(bodies, target, steps: int = _SHIFT_STEPS):
    """Truncated symmetric chamfer of each body after a few translation-only ICP steps.

    Clothing and hair move a scan's centroid away from its body's (by 4-8 cm on simulated
    subjects), so centroids alone misplace every candidate. bodies (C, S, 3), target (T, 3) tensors,
    metres. Returns (scores (C,), shifts (C, 3)): the chamfer (metres) and the shift applied.
    """
    import torch

    shift = torch.zeros(len(bodies), 1, 3)
    tgt = target[None].expand(len(bodies), -1, -1)
    for step in range(steps + 1):
        b = bodies + shift
        d = torch.cdist(b, tgt)
        d_b, i_b = d.min(2)                       # each body point -> nearest target point
        d_t, i_t = d.min(1)                       # each target point -> nearest body point
        score = d_b.clamp(max=_TRUNCATE_M).mean(1) + d_t.clamp(max=_TRUNCATE_M).mean(1)
        if step == steps:
            break
        near_b = (d_b < _TRUNCATE_M).float()[..., None]
        near_t = (d_t < _TRUNCATE_M).float()[..., None]
        pull_b = ((torch.gather(tgt, 1, i_b[..., None].expand(-1, -1, 3)) - b) * near_b).sum(1)
        pull_t = ((tgt - torch.gather(b, 1, i_t[..., None].expand(-1, -1, 3))) * near_t).sum(1)
        shift = shift + ((pull_b + pull_t) / (near_b.sum(1) + near_t.sum(1)).clamp(min=1))[:, None]
    return score, shift[:, 0]
