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


def _mirror_permutation() -> np.ndarray:
    names = list(JOINT_NAMES)
    swap = {"left_": "right_", "right_": "left_"}
    out = []
    for n in names:
        side = next((s for s in swap if n.startswith(s)), None)
        out.append(names.index(swap[side] + n[len(side):]) if side else names.index(n))
    return np.asarray(out, np.int64)


#: MIRROR[j]: the joint on the other side of the body (left <-> right; the spine, neck, head and
#: pelvis map to themselves).
MIRROR: np.ndarray = _mirror_permutation()


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """The pose of the body's mirror image through its sagittal plane (x = 0 of the rest frame,
    which swaps the subject's left and right): each joint takes its mirror joint's rotation with
    the axis-angle's y and z negated. pose: (..., 72) with the global orientation first, or
    (..., 69) body pose, radians; returns the same shape. ``mirror_pose(mirror_pose(p)) == p``.
    The global orientation is mirrored about the rest frame's x = 0 plane too, so a 72-value pose
    of a body facing +Z stays facing +Z."""
    p = np.asarray(pose, np.float64)
    n = p.shape[-1] // 3
    if p.shape[-1] not in (POSE_SIZE, BODY_POSE_SIZE):
        raise ValueError(f"mirror_pose: expected 72 or 69 values, got {p.shape[-1]}")
    first = NUM_JOINTS - n                     # 0 for a full pose, 1 for a body pose
    perm = MIRROR[first:] - first
    aa = p.reshape(p.shape[:-1] + (n, 3))[..., perm, :] * np.array([1.0, -1.0, -1.0])
    return aa.reshape(p.shape)
