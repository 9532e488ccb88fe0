"""SMPL's 24-joint kinematic tree: names, parents and the layout of a 72-value pose vector.

Every body model of the toolkit (the open model, SMPL, SMPL-X reduced to its body) is driven by
this tree. A pose is 72 axis-angle values, radians: joint 0 (pelvis) is the global orientation,
joints 1-23 the body pose (69 values) in the order below. Joint frames are the world axes in the
rest T-pose (metres, Y up, subject facing +Z, the subject's left at +X).
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)

#: parent index of each joint; the root's parent is -1.
PARENTS: np.ndarray = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21], dtype=np.int64)

NUM_JOINTS = 24
POSE_SIZE = 72  # 24 joints x 3 axis-angle values
BODY_POSE_SIZE = 69  # joints 1-23

#: The 21 surface landmarks smplx appends to the joints (its VertexJointSelector needs all keys).
LANDMARK_NAMES: tuple[str, ...] = (
    "nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
    "RSmallToe", "RHeel", "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb", "rindex",
    "rmiddle", "rring", "rpinky",
)


def joint_index(name: str) -> int:
    """Index of a SMPL joint by name (``ValueError`` naming the valid names otherwise)."""
    try:
        return JOINT_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown SMPL joint {name!r}; valid names: {', '.join(JOINT_NAMES)}") from None


def descendants(joint: int) -> list[int]:
    """The joint and every joint below it in the tree."""
    out = [joint]
    for j in range(joint + 1, NUM_JOINTS):
        if PARENTS[j] in out:
            out.append(j)
    return out
