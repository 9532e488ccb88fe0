"""Exact derivatives of linear blend skinning with respect to pose and shape (body tracking's
Jacobians; they replace the finite differences the tracker used before).

Pose. Let joint j's local rotation be R_j = exp([theta_j]x). Moving theta_j by delta turns R_j by
exp([J_l(theta_j) delta]x) on the left (J_l: the left Jacobian of SO(3)), which in the posed world
is a rotation about the posed joint p_j with axis c = R_parent(j) J_l(theta_j) delta, applied to
everything joint j's subtree carries. A skinned point v = sum_k w_k A_k x therefore moves by

    dv / dtheta_j[i] = c_ji x (S_j - W_j p_j),   S_j = sum_{k in sub(j)} w_k A_k x,  W_j = sum_{k in sub(j)} w_k,

with c_ji the i-th column of R_parent(j) J_l(theta_j). Translation columns are the identity.
Shape (first frame only): the rotations do not depend on shape, so the derivative is linear
through the shaped rest vertices, the joint regressor and the chain's translations
(:func:`shape_jacobian`).
Pose-corrective blend shapes are not part of this skinning (the open model has none).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from thuman.capture.warp import rodrigues
from thuman_io.body.kinematics import rigid_transforms

#: Levi-Civita symbol: (a x b)_i = EPS[i, j, k] a_j b_k.
_EPS = np.zeros((3, 3, 3))
_EPS[0, 1, 2] = _EPS[1, 2, 0] = _EPS[2, 0, 1] = 1.0
_EPS[0, 2, 1] = _EPS[2, 1, 0] = _EPS[1, 0, 2] = -1.0


def subtree_matrix(parents) -> np.ndarray:
    """(J, J) float64 D with D[j, k] = 1 when joint k is j or below it in the tree."""
    par = [int(p) for p in np.asarray(parents).reshape(-1)]
    d = np.eye(len(par))
    for k in range(len(par)):
        a = par[k]
        while a >= 0:
            d[a, k] = 1.0
            a = par[a]
    return d


def left_jacobian(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3) left Jacobian of SO(3):
    I + (1 - cos a) / a^2 [t]x + (a - sin a) / a^3 [t]x^2 (Taylor series below a = 1e-3)."""
    a2 = (axis_angle ** 2).sum(-1)[..., None, None]
    a = a2.sqrt()
    small = a < 1e-3
    a_safe = torch.where(small, torch.ones_like(a), a)
    c1 = torch.where(small, 0.5 - a2 / 24.0, (1 - torch.cos(a_safe)) / a_safe ** 2)
    c2 = torch.where(small, 1.0 / 6.0 - a2 / 120.0, (a_safe - torch.sin(a_safe)) / a_safe ** 3)
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(axis_angle.shape[:-1] + (3, 3))
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand(k.shape)
    return eye + c1 * k + c2 * (k @ k)


def pose_chain(rest_joints: torch.Tensor, parents, pose72: torch.Tensor):
    """(G, A), each (24, 4, 4): the forward kinematics of ``thuman_io.body.kinematics`` at pose72
    (72,) axis-angle for rest_joints (24, 3); A is ``warp.rest_to_posed``'s. A tracking step
    computes it once for posing all model points and for the Jacobian."""
    g, a = rigid_transforms(rodrigues(pose72.reshape(-1, 3))[None], rest_joints.to(pose72.dtype)[None], parents)
    return g[0], a[0]


def skin_with_pose_jacobian(rest_points: torch.Tensor, weights: torch.Tensor, rest_joints: torch.Tensor,
                            parents, subtree: torch.Tensor, pose72: torch.Tensor, transl: torch.Tensor,
                            chain: Optional[tuple] = None):
    """Skinned points and their exact derivative in pose.

    rest_points (P, 3) shaped rest pose, metres; weights (P, 24) skinning weights; rest_joints
    (24, 3); parents (24,); subtree (24, 24) from :func:`subtree_matrix` (same dtype/device);
    pose72 (72,) axis-angle, radians; transl (3,) metres. All float64 torch. chain: the (G, A)
    (24, 4, 4) each of :func:`pose_chain` at this pose and these joints, when the caller has them.
    Returns (points (P, 3) metres, d_pose (P, 3, 72) metres per radian, columns in pose72's order).
    """
    theta = pose72.reshape(-1, 3)
    g, a = pose_chain(rest_joints, parents, pose72) if chain is None else chain
    n, nj = len(rest_points), len(par_list := [int(p) for p in np.asarray(parents).reshape(-1)])
    # Plain matrix products, not einsum: einsum runs these as batches of tiny products (3x slower on CPU).
    y = (rest_points @ a[:, :3, :3].reshape(-1, 3).T).reshape(n, nj, 3) + a[None, :, :3, 3]   # (P, 24, 3)
    carried = weights[..., None] * y                                                # w_k A_k x
    points = carried.sum(1) + transl
    s = (carried.transpose(1, 2).reshape(-1, nj) @ subtree.T).reshape(n, 3, nj).transpose(1, 2)  # S_j
    w_sub = weights @ subtree.T                                                     # W_j (P, 24)
    q = s - w_sub[..., None] * g[None, :, :3, 3]
    eye = torch.eye(3, dtype=g.dtype, device=g.device)
    r_parent = torch.stack([g[p, :3, :3] if p >= 0 else eye for p in par_list])     # (24, 3, 3)
    axes = r_parent @ left_jacobian(theta)                                          # columns c_ji
    # jac[p, :, j, i] = c_ji x q_pj, written out (the Levi-Civita contraction of _EPS), built
    # directly in the (P, 3, 24, 3) layout so that the final reshape is free.
    c = axes.transpose(1, 2)[None]                                                  # (1, 24, 3 i, 3 b)
    qx, qy, qz = q[..., 0:1], q[..., 1:2], q[..., 2:3]                              # (P, 24, 1)
    jac = torch.stack([c[..., 1] * qz - c[..., 2] * qy, c[..., 2] * qx - c[..., 0] * qz,
                       c[..., 0] * qy - c[..., 1] * qx], dim=1)                     # (P, 3, 24, 3)
    return points, jac.reshape(n, 3, -1)


def shaped_rest(template: torch.Tensor, shapedirs: torch.Tensor, j_regressor: torch.Tensor, betas: torch.Tensor):
    """The shaped rest pose: template (V, 3) + shapedirs (V, 3, B) @ betas (B,), and its joints
    j_regressor (24, V) @ vertices. Returns (vertices (V, 3), joints (24, 3)), metres."""
    v = template + torch.einsum("vcb,b->vc", shapedirs[..., :len(betas)], betas)
    return v, j_regressor @ v


def shape_jacobian(template: torch.Tensor, shapedirs: torch.Tensor, j_regressor: torch.Tensor,
                   weights: torch.Tensor, parents, ids: torch.Tensor, betas: torch.Tensor,
                   pose72: torch.Tensor) -> torch.Tensor:
    """(U, 3, B) exact derivative of the skinned body vertices ``ids`` (U,) in the shape
    coefficients betas (B,), at pose pose72 (72,); float64 torch inputs as in :func:`shaped_rest`,
    weights (V, 24).

    The rotations do not depend on shape; the rest vertices move by shapedirs and the rest joints by
    J_reg shapedirs, which moves each G_j's translation along the chain:
    d G_j.t = G_parent.R (dJ_j - dJ_parent) + d G_parent.t, and A_j's translation by
    d G_j.t - G_j.R dJ_j. So dv = sum_k w_k (G_k.R dx + d A_k.t)."""
    _, rest_j = shaped_rest(template, shapedirs, j_regressor, betas)
    g, _ = rigid_transforms(rodrigues(pose72.reshape(-1, 3))[None], rest_j[None], parents)
    rot = g[0, :, :3, :3]                                                          # (24, 3, 3)
    nb = len(betas)
    d_joints = torch.einsum("jv,vcb->jcb", j_regressor, shapedirs[..., :nb])         # (24, 3, B)
    par = [int(p) for p in np.asarray(parents).reshape(-1)]
    d_gt = []
    for j, p in enumerate(par):
        d_gt.append(d_joints[j] if p < 0 else rot[p] @ (d_joints[j] - d_joints[p]) + d_gt[p])
    d_at = torch.stack(d_gt) - rot @ d_joints                                         # (24, 3, B)
    w = weights[ids]
    d_rest = shapedirs[ids][..., :nb]                                                 # (U, 3, B)
    blended_r = torch.einsum("pj,jab->pab", w, rot)
    return blended_r @ d_rest + torch.einsum("pj,jcb->pcb", w, d_at)
