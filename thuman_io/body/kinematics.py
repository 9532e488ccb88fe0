"""The kinematic chain of SMPL-form bodies: one function for numpy and torch.

Every place in the toolkit that poses a skeleton itself (the open model's build script through
``numpy_lbs``, the simulator's skinning, the capture tracker's skinning and its Jacobian) calls
:func:`rigid_transforms`; smplx's ``lbs.batch_rigid_transform`` is the external reference it is
tested against (``tests/test_body_kinematics.py``). The math is SMPL's (Loper et al. 2015, eq. 2-4):

    G_j = G_parent(j) [R_j | J_j - J_parent(j)],   A_j = G_j with translation G_j.t - G_j.R J_j

G_j maps joint j's rest frame (world axes, origin at the rest joint) to the posed world; A_j maps
rest-pose coordinates to posed ones (what skinning blends). Written with operations numpy arrays
and torch tensors share, so ``thuman_io`` keeps importing with numpy alone; torch is never imported
here (a tensor brings its own module).
"""
from __future__ import annotations

import numpy as np


def _cat(parts, axis):
    if type(parts[0]).__module__.startswith("torch"):
        import torch

        return torch.cat(parts, dim=axis)
    return np.concatenate(parts, axis=axis)


def _stack(parts, axis):
    if type(parts[0]).__module__.startswith("torch"):
        import torch

        return torch.stack(parts, dim=axis)
    return np.stack(parts, axis=axis)


def rigid_transforms(rotmats, joints, parents):
    """Forward kinematics of a joint tree.

    rotmats: (..., J, 3, 3) local rotations (joint 0: the global orientation), numpy or torch.
    joints:  (..., J, 3) rest-pose joint positions, metres, same type and leading shape.
    parents: (J,) ints, parents[0] = -1 and parents[j] < j for the others.
    Returns (G, A), both (..., J, 4, 4) of the inputs' type and dtype: G_j joint frame -> posed
    world (its translation is the posed joint), A_j rest coordinates -> posed world (translation
    not included: add the body's ``transl`` afterwards).
    """
    par = [int(p) for p in np.asarray(parents).reshape(-1)]
    n = len(par)
    if rotmats.shape[-3] != n or joints.shape[-2] != n:
        raise ValueError(f"rigid_transforms: {n} parents but rotmats {tuple(rotmats.shape)}, "
                         f"joints {tuple(joints.shape)}")
    offsets = _stack([joints[..., j, :] - (joints[..., par[j], :] if par[j] >= 0 else 0.0)
                      for j in range(n)], -2)
    top = _cat([rotmats, offsets[..., None]], -1)                               # (..., J, 3, 4)
    bottom = top[..., :1, :] * 0.0
    bottom[..., 0, 3] = 1.0
    local = _cat([top, bottom], -2)                                             # (..., J, 4, 4)
    chain = []
    for j in range(n):
        lj = local[..., j, :, :]
        chain.append(lj if par[j] < 0 else chain[par[j]] @ lj)
    g = _stack(chain, -3)
    rest_shift = (g[..., :3, :3] @ joints[..., None])[..., 0]                   # G_j.R J_j
    a = _cat([g[..., :3, :3], (g[..., :3, 3] - rest_shift)[..., None]], -1)
    a = _cat([a, g[..., 3:, :]], -2)
    return g, a
