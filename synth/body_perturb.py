"""Bodies like an estimate: a body fit perturbed the way a fitted body is wrong.

The corpus's bodies are the simulator's ground truth (an "oracle body"); DeepHuman at test time
gets a body *fitted* to the image (the paper used HMR with a silhouette refinement, sec. 6.2.1).
:func:`perturb_params` draws such an error from a Generator:

* per-joint rotation: each of the 23 body joints' rotation composed with a random axis-angle;
* global rotation: the root's rotation composed likewise (about the root joint);
* shape: Gaussian noise on every shape coefficient (fitters regress towards the mean shape);
* translation: Gaussian, metres, larger in depth (depth is what one image cannot tell);
* scale: a log-normal factor about the root joint (body size is ambiguous with depth).

The default levels (:data:`DEFAULT_LEVELS`) are set so that the perturbed joints are as far from
the true ones as published estimators are on real images: on 3DPW, SPIN (Kolotouros et al.,
ICCV 2019, Table 2) has MPJPE 96.9 mm and PA-MPJPE 59.2 mm, HMR (Kanazawa et al., CVPR 2018, as
reported there) PA-MPJPE 81.3 mm; HMR's own Human3.6M figures are MPJPE 88.0 mm and PA-MPJPE
56.8 mm. ``tests/test_model_perturb.py`` measures the defaults on the open body model (root
aligned, the MPJPE protocol: about 90-100 mm; after Procrustes alignment: about 55-65 mm) and
``bench/fidelity.py`` prints them for the held-out bodies.

Everything here is a pure function of its inputs and the Generator, so a perturbed body is
regenerated exactly from (seed, sample index).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from thuman.synth.body_prior import BodyState, pose_params
from thuman_io.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from thuman_io.item import SMPLParams


@dataclass(frozen=True)
class PerturbLevels:
    """Standard deviations of the fitting errors (see the module doc for their source).

    joint_rotation_rad: per axis-angle component of each body joint's error rotation.
    global_rotation_rad: per component of the root's error rotation.
    betas: added to each shape coefficient (units of the model's shape PCA, std 1 over people).
    translation_m: (x, y, z) metres, item frame (y up, z towards the camera of a frontal view).
    log_scale: std of log(scale), scale about the root joint.
    """

    joint_rotation_rad: float = 0.10
    global_rotation_rad: float = 0.10
    betas: float = 0.6
    translation_m: tuple = (0.015, 0.015, 0.05)
    log_scale: float = 0.03

    def scaled(self, factor: float) -> "PerturbLevels":
        """Every level multiplied by ``factor`` (0 gives the oracle body)."""
        return PerturbLevels(self.joint_rotation_rad * factor, self.global_rotation_rad * factor,
                             self.betas * factor, tuple(t * factor for t in self.translation_m),
                             self.log_scale * factor)


DEFAULT_LEVELS = PerturbLevels()


@dataclass
class Perturbation:
    """One draw: error rotations (24, 3) axis-angle (root first), betas offset (B,), translation
    offset (3,) metres, scale factor about the root joint."""

    rotations: np.ndarray
    betas: np.ndarray
    translation_m: np.ndarray
    scale: float


def draw_perturbation(rng: np.random.Generator, levels: PerturbLevels, num_betas: int) -> Perturbation:
    """One fitting error drawn from ``rng`` (always the same number of draws, in the same order)."""
    rot = rng.normal(0.0, 1.0, (24, 3))
    rot[0] *= levels.global_rotation_rad
    rot[1:] *= levels.joint_rotation_rad
    betas = rng.normal(0.0, levels.betas, num_betas)
    transl = rng.normal(0.0, 1.0, 3) * np.asarray(levels.translation_m, np.float64)
    scale = float(np.exp(rng.normal(0.0, levels.log_scale)))
    return Perturbation(rot, betas, transl, scale)


def perturb_params(smpl: SMPLParams, p: Perturbation) -> SMPLParams:
    """``smpl`` with the error rotations composed onto its joints (R_err @ R), betas and
    translation offset. The scale is applied to the posed body (:func:`perturbed_body`)."""
    pose = np.asarray(smpl.full_pose, np.float64).reshape(24, 3)
    rotated = matrix_to_axis_angle(axis_angle_to_matrix(p.rotations) @ axis_angle_to_matrix(pose))
    betas = np.asarray(smpl.betas, np.float64).reshape(-1)
    betas = betas + p.betas[: len(betas)]
    return dataclasses.replace(smpl, betas=betas.astype(np.float32),
                               global_orient=rotated[0].astype(np.float32),
                               body_pose=rotated[1:].reshape(69).astype(np.float32),
                               transl=(np.asarray(smpl.transl, np.float64) + p.translation_m).astype(np.float32))


def perturbed_body(smpl: SMPLParams, p: Perturbation) -> BodyState:
    """The posed body of the perturbed fit, scaled by ``p.scale`` about its root joint.
    Vertices (V, 3) and joints (24, 3) in metres, item frame."""
    body = pose_params(perturb_params(smpl, p))
    root = body.joints[0]
    body.vertices = root + p.scale * (body.vertices - root)
    body.joints = root + p.scale * (body.joints - root)
    return body


def joint_errors_mm(true_joints: np.ndarray, fitted_joints: np.ndarray) -> dict:
    """MPJPE (root-aligned) and PA-MPJPE (after a similarity Procrustes fit) in mm, the two
    protocols of the papers cited in the module doc. Joints (J, 3) metres."""
    t = np.asarray(true_joints, np.float64)
    f = np.asarray(fitted_joints, np.float64)
    mpjpe = np.linalg.norm((f - f[0]) - (t - t[0]), axis=1).mean()
    tc, fc = t - t.mean(0), f - f.mean(0)
    u, s, vt = np.linalg.svd(fc.T @ tc)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    r = u @ fix @ vt
    scale = (s * np.diag(fix)).sum() / (fc ** 2).sum()
    aligned = scale * fc @ r
    pa = np.linalg.norm(aligned - tc, axis=1).mean()
    return {"mpjpe_mm": float(mpjpe * 1000), "pa_mpjpe_mm": float(pa * 1000)}


def perturbed_prior(smpl: SMPLParams, item_to_view: np.ndarray, p: Perturbation, grid, renderer,
                    neighbours: int, sigma: float):
    """The semantic map and volume (``body_prior.BodyPrior``) of the perturbed fit, placed in the
    view by the sample's ``item_to_view`` (4, 4) exactly as the oracle body was."""
    from thuman.synth.body_prior import body_prior
    from thuman.synth.geometry import apply_transform

    body = perturbed_body(smpl, p)
    return body_prior(apply_transform(item_to_view, body.vertices), body.faces, body.codes, grid, renderer,
                      neighbours, sigma)
