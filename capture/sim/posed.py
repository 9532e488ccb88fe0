"""A simulated subject in one pose with its ground truth: the meshes body fitting is tested and
benched on (``tests/test_body_fit*.py``, ``bench/body_fit.py``).

The clothed mesh and the body under it are posed by the same linear blend skinning
(:func:`thuman.capture.sim.subject.pose_vertices`), so the true body of the mesh is known exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thuman.capture.sim.subject import make_subject, pose_vertices, skinning_transforms


@dataclass
class PosedSubject:
    """One posed simulated subject, item frame (metres, Y up).

    vertices (N, 3) float32, faces (F, 3) int32, colors (N, 3) uint8: the clothed mesh.
    body_vertices (V, 3), body_joints (24, 3) float32: the true body (the open model's topology).
    betas (10,), pose72 (72,), transl (3,) float32: its parameters (SMPL convention, model 'open').
    seed: the subject's seed; garments: the outfit's garment names.
    """

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    body_vertices: np.ndarray
    body_joints: np.ndarray
    betas: np.ndarray
    pose72: np.ndarray
    transl: np.ndarray
    seed: int
    garments: list


def posed_subject(seed: int, pose72: np.ndarray, transl=(0.0, 0.0, 0.0), voxel_m: float = 0.01) -> PosedSubject:
    """Subject ``seed`` (``make_subject``; ``voxel_m`` sets its mesh's resolution) posed by ``pose72``
    (72,) axis-angle radians (the global orientation first; it turns about the root joint, as
    smplx does) and moved by ``transl`` metres."""
    s = make_subject(int(seed), voxel_m=float(voxel_m))
    a, joints = skinning_transforms(s.rig, pose72)
    t = np.asarray(transl, np.float32)
    mesh = pose_vertices(s.vertices, s.weights, a) + t
    body = pose_vertices(s.rig.vertices, s.rig.weights, a) + t
    return PosedSubject(vertices=mesh.astype(np.float32), faces=np.asarray(s.faces, np.int32),
                        colors=np.asarray(s.colors, np.uint8), body_vertices=body.astype(np.float32),
                        body_joints=(joints + t).astype(np.float32), betas=np.asarray(s.rig.betas, np.float32),
                        pose72=np.asarray(pose72, np.float32), transl=t, seed=int(seed),
                        garments=s.outfit.garments())


def random_pose(seed: int, library_seed: int = 4242) -> tuple[np.ndarray, np.ndarray]:
    """A pose for a fit test: a perturbed variant of a built-in key pose (never a key pose itself,
    which the fit's search tries) turned by a uniform yaw, and a translation ~ N(0, 0.3 m).
    Returns (pose72 (72,) float64 radians, transl (3,) float64 metres); same seed, same pose."""
    from scipy.spatial.transform import Rotation

    from thuman_io.body.poses import load_pose_library

    lib = load_pose_library("builtin", variants=3, seed=library_seed)
    rng = np.random.default_rng([int(seed), 0xB0D7])
    variants = [i for i, n in enumerate(lib.names) if "~" in n]
    pose = lib.poses[variants[rng.integers(len(variants))]].astype(np.float64).copy()
    pose[:3] = (Rotation.from_euler("y", rng.uniform(0, 2 * np.pi)) * Rotation.from_rotvec(pose[:3])).as_rotvec()
    return pose, rng.normal(0, 0.3, 3)
