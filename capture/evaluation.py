"""Errors of a captured item against the simulator's ground truth (issue 7's done-when figures)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class CaptureErrors:
    """surface_mean_mm / surface_p95_mm: point-to-surface distance from the item's mesh vertices
    to the true clothed surface (both in the capture frame), millimetres. joint_mean_mm: mean
    distance between the fitted body's 24 joints and the true ones, millimetres."""

    surface_mean_mm: float
    surface_p95_mm: float
    joint_mean_mm: float

    def as_dict(self) -> dict:
        return asdict(self)


def point_to_surface_m(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(P,) unsigned distances, metres, from points (P, 3) to the mesh (vertices, faces)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(vertices, np.float32)),
                        o3d.core.Tensor(np.asarray(faces, np.uint32)))
    return scene.compute_distance(o3d.core.Tensor(np.asarray(points, np.float32))).numpy()


def capture_errors(mesh_vertices, truth_vertices, truth_faces, joints, truth_joints) -> CaptureErrors:
    """Errors of one item. Arrays in metres (capture frame); joints (24, 3)."""
    d = point_to_surface_m(mesh_vertices, truth_vertices, truth_faces) * 1000.0
    j = np.linalg.norm(np.asarray(joints)[:24] - np.asarray(truth_joints)[:24], axis=1) * 1000.0
    return CaptureErrors(float(d.mean()), float(np.quantile(d, 0.95)), float(j.mean()))
