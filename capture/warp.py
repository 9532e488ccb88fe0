"""Skinning transforms of the body layer, in torch: canonical frame -> live frame.

The canonical frame of fusion is the capture frame of the first tracked frame (DynamicFusion's
choice): the canonical body is the body model posed with (theta_0, t_0). A canonical point moves
to the live frame with joint j's relative transform

    M_j = T(t_live) A_j(theta_live) A_j(theta_0)^-1 T(-t_0)

where A_j(theta) maps rest-pose (T-pose, shaped) coordinates to posed ones (SMPL's linear blend
skinning, Loper et al. 2015, eq. 2-4, without pose blend shapes). A point blends the M_j with
skinning weights. Pure functions over tensors; shapes in each docstring.
"""
from __future__ import annotations

import numpy as np
import torch

from thuman_io.body.kinematics import rigid_transforms


def rodrigues(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle, radians -> (..., 3, 3) rotation matrices (differentiable at 0)."""
    angle = torch.sqrt((axis_angle ** 2).sum(-1, keepdim=True) + 1e-16)
    axis = axis_angle / angle
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(axis_angle.shape[:-1] + (3, 3))
    s = torch.sin(angle)[..., None]
    c = torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand(k.shape)
    return eye + s * k + (1 - c) * (k @ k)


def rest_to_posed(rest_joints: torch.Tensor, parents, pose72: torch.Tensor) -> torch.Tensor:
    """Per-joint skinning transforms A_j (``thuman_io.body.kinematics`` owns the chain).

    rest_joints: (24, 3) metres, the shaped rest pose's joints. parents: (24,) ints, root -1.
    pose72: (72,) axis-angle, radians. Returns (24, 4, 4): rest coordinates -> posed coordinates
    (no translation; add transl separately).
    """
    return rest_to_posed_batch(rest_joints, parents, pose72[None])[0]


def rest_to_posed_batch(rest_joints: torch.Tensor, parents, poses72: torch.Tensor) -> torch.Tensor:
    """Batched :func:`rest_to_posed`: rest_joints (24, 3), poses72 (B, 72) -> (B, 24, 4, 4)."""
    b = poses72.shape[0]
    rot = rodrigues(poses72.reshape(b, -1, 3))
    joints = rest_joints.to(rot.dtype).expand(b, -1, -1)
    return rigid_transforms(rot, joints, parents)[1]


def skin_vertices(rest_vertices: torch.Tensor, weights: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning without pose blend shapes.

    rest_vertices (P, 3) shaped rest pose; weights (P, 24); transforms (B, 24, 4, 4) from
    :func:`rest_to_posed_batch`. Returns (B, P, 3) posed vertices (add transl separately).
    """
    t = torch.einsum("pj,bjk->bpk", weights, transforms[:, :, :3, :].reshape(transforms.shape[0], -1, 12))
    t = t.reshape(t.shape[0], t.shape[1], 3, 4)
    return (t[..., :3] @ rest_vertices[None, :, :, None])[..., 0] + t[..., 3]


def canonical_to_live(rest_joints, parents, pose0, transl0, pose, transl) -> torch.Tensor:
    """(24, 4, 4) joint transforms M_j taking canonical points (posed by pose0, transl0) to the
    live pose (pose, transl). All inputs torch; pose (72,), transl (3,) metres."""
    a0 = rest_to_posed(rest_joints, parents, pose0)
    a1 = rest_to_posed(rest_joints, parents, pose)
    t0 = torch.eye(4, dtype=a0.dtype, device=a0.device).clone()
    t0[:3, 3] = -transl0
    t1 = torch.eye(4, dtype=a0.dtype, device=a0.device).clone()
    t1[:3, 3] = transl
    return t1 @ a1 @ torch.linalg.inv(a0) @ t0


def body_skinning_weights(body_model) -> np.ndarray:
    """(V, 24) float32 linear-blend-skinning weights of the body model's vertices, rows summing to 1.

    Every ``thuman_io`` BodyModel exposes SMPL's 24-joint weights (SMPL-X's are mapped onto them).
    """
    w = np.asarray(body_model.weights, dtype=np.float32)[:, :24]
    return w / np.maximum(w.sum(1, keepdims=True), 1e-8)


def blend(transforms: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(J, 4, 4) transforms, (P, J) weights -> (P, 3, 4) blended affine maps."""
    j = transforms.shape[0]
    return (weights @ transforms[:, :3, :].reshape(j, 12)).reshape(-1, 3, 4)  # one matrix product


def apply(maps: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(P, 3, 4) affine maps applied to (P, 3) points -> (P, 3)."""
    # Written out: a batch of P (3, 3) @ (3, 1) products is several times slower on CPU.
    return (maps[:, :, 0] * points[:, 0:1] + maps[:, :, 1] * points[:, 1:2] + maps[:, :, 2] * points[:, 2:3]
            + maps[:, :, 3])
