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


def posed_subject(seed: int, pose72: np.ndarray, transl=(0.0, 0.0, 0.0)) -> PosedSubject:
    """Subject ``seed`` (``make_subject``) posed by ``pose72`` (72,) axis-angle radians (the global
    orientation first; it turns about the root joint, as smplx does) and moved by ``transl`` metres."""
    s = make_subject(int(seed))
    a, joints = skinning_transforms(s.rig, pose72)
    t = np.asarray(transl, np.float32)
    mesh = pose_vertices(s.vertices, s.weights, a) + t
    body = pose_vertices(s.rig.vertices, s.rig.weights, a) + t
    return PosedSubject(vertices=mesh.astype(np.float32), faces=np.asarray(s.faces, np.int32),
                        colors=np.asarray(s.colors, np.uint8), body_vertices=body.astype(np.float32),
                        body_joints=(joints + t).astype(np.float32), betas=np.asarray(s.rig.betas, np.float32),
                        pose72=np.asarray(pose72, np.float32), transl=t, seed=int(seed),
                        garments=s.outfit.garments())
