"""Library limbs and poses for a fit: limb transplants, crossed legs, whole-pose restarts.

After the torso is placed (search, first stages, front/back twin), a limb can still lie folded
into the trunk or twisted, with the scan's real limb unexplained beside it: gradient steps do not
bring it over (the Geman-McClure kernel sees the far points as outliers), nor do rotations of
one joint at a time (a folded arm that should point needs collar, shoulder and elbow at once;
seed 241 of docs/body.md). Here every limb in turn takes the joint rotations of each pose of the
built-in library (key poses with their variants) and of its mirror image
(``joints.mirror_pose``), and of the fit's own mirror image; the two legs and the two arms are
also tried together (a swapped pair); the rest of the body is held. The candidates are posed in
one batch and ranked by a truncated symmetric chamfer against the target (``search``'s score),
the best few are scored by the fitter's own data term, and the limb keeps the best one if it
lowers that term.

The library also makes whole hypotheses that the fitter runs through its first stages beside the
search's winner: the winner with its legs crossed back (``swapped_legs``) and the winner's root
in whole library poses (``whole_pose_starts``).
"""
from __future__ import annotations

import numpy as np

#: The joints each limb takes from a library pose (joints.py order): collar, shoulder, elbow,
#: wrist for the arms; hip, knee, ankle for the legs.
LIMBS = {"left arm": (13, 16, 18, 20), "right arm": (14, 17, 19, 21), "left leg": (1, 4, 7),
         "right leg": (2, 5, 8)}
#: Limbs that also move together: two legs (or arms) the fit swapped cannot be put right one at a
#: time (each alone would leave both on one side; seed 247's kick).
LIMBS.update({"legs": LIMBS["left leg"] + LIMBS["right leg"], "arms": LIMBS["left arm"] + LIMBS["right arm"]})
_BODY_SUBSAMPLE = 1000
_TARGET_SUBSAMPLE = 2000
_SHORTLIST = 12
#: Whole-pose restarts: donors ranked by chamfer, the best ``_RESTART_SHORTLIST`` of those scored
#: by the data term, the best ``count`` of those returned.
_RESTART_SHORTLIST = 40


def _chamfer_samples(bm, target, seed: int):
    """What the chamfer ranking compares: (body vertex indices (S,) int64 tensor, target samples
    (T, 3) float32 tensor, metres), drawn from ``default_rng(seed)``."""
    import torch

    rng = np.random.default_rng(seed)
    sub = torch.as_tensor(rng.choice(bm.num_vertices, min(_BODY_SUBSAMPLE, bm.num_vertices), replace=False))
    pts = target.points[rng.choice(len(target.points), min(_TARGET_SUBSAMPLE, len(target.points)), replace=False)]
    return sub, torch.as_tensor(pts, dtype=torch.float32)


def library_limb_poses() -> np.ndarray:
    """(400, 69) body poses, radians: the built-in library (20 key poses, each with its 9 default
    variants, seed 0) and their mirror images, the transplant's donors. The key poses alone were
    too coarse: a held-out arm was better explained by its folded fit than by any of their 40 arms,
    and by 10 of these 400 (test_transplant_limbs_unfolds_an_arm's case)."""
    from thuman_io.body.joints import mirror_pose
    from thuman_io.body.poses import load_pose_library

    poses = load_pose_library("builtin", variants=9, seed=0).poses.astype(np.float64)[:, 3:]
    return np.concatenate([poses, mirror_pose(poses)])


def limb_candidates(body_pose: np.ndarray, donors: np.ndarray, joints) -> np.ndarray:
    """(D, 69) copies of ``body_pose`` (69,) with the rotations of ``joints`` (body joint indices,
    1-23) taken from each donor pose (D, 69). Pure."""
    out = np.repeat(np.asarray(body_pose, np.float64)[None], len(donors), axis=0)
    for j in joints:
        out[:, 3 * (j - 1):3 * j] = donors[:, 3 * (j - 1):3 * j]
    return out


def transplant_limbs(p, target, bm, score_fn) -> list:
    """Give each limb of the fit ``p`` (``fit._Params``) the best donor configuration, in place.
    target: ``fit._Target``; score_fn(verts) -> float: the fitter's data term of one posed body
    (V, 3) tensor. Returns the names of the limbs that changed."""
    import torch

    from thuman_io.body.joints import mirror_pose
    from thuman_io.body.registration.search import score_with_shift

    donors = library_limb_poses()
    sub, tgt = _chamfer_samples(bm, target, 0x71AB)

    def posed(body_pose):
        with torch.no_grad():
            return p.pose(torch.as_tensor(body_pose, dtype=p.body_pose.dtype, device=p.body_pose.device))[0]

    changed = []
    current = p.body_pose.detach().cpu().numpy()[0].astype(np.float64)
    best = score_fn(posed(current[None])[0])
    for name, joints in LIMBS.items():
        # The fit's own mirror image is a donor too: its left and right limbs swapped.
        cand = limb_candidates(current, np.concatenate([donors, mirror_pose(current)[None]]), joints)
        chamfer = []
        for k in range(0, len(cand), 24):
            v = posed(cand[k:k + 24])[:, sub].float().cpu()
            chamfer.append(score_with_shift(v, tgt, steps=0)[0])
        order = torch.cat(chamfer).argsort()[:_SHORTLIST].tolist()
        scored = [(score_fn(posed(cand[k][None])[0]), k) for k in order]
        value, k = min(scored)
        if value < best - 1e-4:
            best, current = value, cand[k]
            changed.append(name)
    if changed:
        with torch.no_grad():
            p.body_pose[0] = torch.as_tensor(current, dtype=p.body_pose.dtype, device=p.body_pose.device)
    return changed


def swapped_legs(start):
    """``start`` (a :class:`FitStart`) with its two legs' rotations exchanged and mirrored
    (``joints.mirror_pose`` on the leg joints only): the hypothesis that the fit crossed its
    legs, each hanging from the other's hip (seed 247 of docs/body.md: a kick under a dress, the
    kicking leg fitted from the standing leg's hip). Pure."""
    from thuman_io.body.joints import mirror_pose
    from thuman_io.body.registration.fit import FitStart

    pose = np.zeros(69) if start.body_pose is None else np.asarray(start.body_pose, np.float64)
    swapped = limb_candidates(pose, mirror_pose(pose)[None], LIMBS["legs"])[0]
    return FitStart(betas=start.betas, global_orient=start.global_orient, body_pose=swapped,
                    transl=start.transl, scale=start.scale)


def whole_pose_starts(p, target, bm, score_fn, count: int = 3) -> list:
    """Restarts from whole library poses at the fit's root: every donor pose
    (:func:`library_limb_poses`) with the fit ``p``'s (``fit._Params``) shape, root orientation
    and translation, shifted by one translation-only ICP step, ranked by truncated chamfer; the
    best ``_RESTART_SHORTLIST`` are scored by ``score_fn(verts)`` (the fitter's data term of one
    posed body (V, 3) tensor) and the ``count`` best returned as :class:`FitStart` objects.
    A limb transplant holds the spine, so a limb taken from a pose whose spine differs lands
    elsewhere; a whole pose keeps each limb on the spine it was made with (seed 253: the fit's
    arm hung at the hip while the scan's hand was at the chin)."""
    import torch

    from thuman_io.body.registration.search import score_with_shift

    donors = library_limb_poses()
    sub, tgt = _chamfer_samples(bm, target, 0x5E57)
    dtype, dev = p.body_pose.dtype, p.body_pose.device
    verts, chamfer, shifts = [], [], []
    with torch.no_grad():
        for k in range(0, len(donors), 50):
            v = p.pose(torch.as_tensor(donors[k:k + 50], dtype=dtype, device=dev))[0].float().cpu()
            score, shift = score_with_shift(v[:, sub], tgt, steps=1)
            verts.append(v)
            chamfer.append(score)
            shifts.append(shift)
    verts, shifts = torch.cat(verts), torch.cat(shifts)
    order = torch.cat(chamfer).argsort()[:_RESTART_SHORTLIST].tolist()
    scored = sorted((score_fn((verts[k] + shifts[k]).to(dev)), k) for k in order)
    starts = []
    for _, k in scored[:count]:
        st = p.start()
        st.body_pose = donors[k]
        st.transl = st.transl + shifts[k].numpy().astype(np.float64)
        starts.append(st)
    return starts
