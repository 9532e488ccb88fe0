"""How far a simulated subject's clothing stands off its body: IoU(body, clothed) at a grid.

It is what the oracle body scores against the clothed occupancy before any network, hence the
room DeepHuman has to improve on the body it is given (``bench/garments.py``).
"""
from __future__ import annotations

import numpy as np

from thuman_io.grid import VolumeGrid


def lowered_arms_pose() -> np.ndarray:
    """(72,) the canonical T-pose with the arms lowered (SMPL joints 16/17, the shoulders, by
    -1.2 / +1.2 rad about z), radians."""
    pose = np.zeros(72)
    pose[16 * 3 + 2], pose[17 * 3 + 2] = -1.2, 1.2
    return pose


def body_clothed_iou(subject, grid: VolumeGrid, pose72: np.ndarray | None = None) -> float:
    """IoU of the occupancies of ``subject``'s body and of the clothed subject (a
    ``capture.sim.subject.ClothedSubject``), posed by ``pose72`` (default :func:`lowered_arms_pose`)
    and fitted together into ``grid``'s box (margin 1.1), voxelised by the synthesizer's occupancy."""
    from thuman.capture.sim.subject import pose_vertices, skinning_transforms
    from thuman.model.metrics import iou
    from thuman.synth.geometry import apply_transform
    from thuman.synth.normalize import fit_views
    from thuman.synth.occupancy import occupancy

    a, _ = skinning_transforms(subject.rig, lowered_arms_pose() if pose72 is None else pose72)
    clothed = pose_vertices(subject.vertices, subject.weights, a)
    body = pose_vertices(subject.rig.vertices, subject.rig.weights, a)
    (m,), _ = fit_views(np.concatenate([clothed, body]), [np.eye(3)], grid, 1.1)
    return iou(occupancy(apply_transform(m, body), subject.rig.faces, grid).volume,
               occupancy(apply_transform(m, clothed), subject.faces, grid).volume)
