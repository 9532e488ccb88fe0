"""AMASS / MoSh ``.npz`` motion files -> a PoseLibrary of SMPL poses.

An AMASS file holds ``poses`` (N, 156) in SMPL-H order (0-2 root orientation, 3-65 the 21 body
joints, 66-155 the fingers), ``trans`` (N, 3), ``betas``, ``gender`` and ``mocap_framerate``,
in a Z-up world. SMPL's 72 values are ``poses[:, :66]`` followed by six zeros for SMPL's two
hand joints (taking the first 72 values as they are would put finger rotations on the hands).

The toolkit's frame is Y up, so by default the root orientation and the translation are rotated
by -90 degrees about X (Z-up -> Y-up); ``to_y_up=False`` keeps AMASS's frame. The translation is
rotated about the world origin, which is exact for the pelvis path up to the constant offset of
the pelvis joint from the model origin.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thuman_io.body.poses.library import PoseLibrary
from thuman_io.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from thuman_io.errors import InputError

#: Z-up -> Y-up: rotation of -90 degrees about X, (x, y, z) -> (x, z, -y).
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def amass_to_smpl72(poses: np.ndarray) -> np.ndarray:
    """(N, 156) SMPL-H poses (or (N, >=66)) -> (N, 72) SMPL poses, hands dropped."""
    poses = np.asarray(poses, dtype=np.float64)
    return np.concatenate([poses[:, :66], np.zeros((len(poses), 6))], axis=1)


def load_amass_npz(path: str | os.PathLike, fps: float | None = None,
                   to_y_up: bool = True) -> PoseLibrary:
    """Read an AMASS/MoSh ``.npz`` into a PoseLibrary.

    fps: resample to this rate by keeping every (mocap_framerate / fps)-th frame, rounded to a
    whole step (fps above the file's rate keeps every frame). None keeps every frame.
    Returns poses (N', 72) float32, transl (N', 3) metres, fps, names 'FILE@FRAME'.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files if k in ("poses", "trans", "mocap_framerate",
                                                       "mocap_frame_rate")}
    except FileNotFoundError:
        raise InputError(path, "AMASS file not found") from None
    except Exception as e:  # zip / format errors come in many types
        raise InputError(path, f"cannot read as .npz ({type(e).__name__}: {e})") from None
    if "poses" not in data:
        raise InputError(path, "field 'poses' missing (not an AMASS/MoSh file)")
    poses = np.asarray(data["poses"], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] < 66:
        raise InputError(path, "field 'poses'", f"shape {poses.shape}, expected (N, 156) SMPL-H")
    if not np.all(np.isfinite(poses)):
        raise InputError(path, "field 'poses'", "contains NaN or inf")
    n = len(poses)
    trans = np.asarray(data.get("trans", np.zeros((n, 3))), dtype=np.float64)
    if trans.shape != (n, 3):
        raise InputError(path, "field 'trans'", f"shape {trans.shape}, expected ({n}, 3)")
    rate_key = "mocap_framerate" if "mocap_framerate" in data else "mocap_frame_rate"
    if rate_key not in data:
        raise InputError(path, "field 'mocap_framerate' missing: the frame rate is needed")
    rate = float(data[rate_key])
    if not rate > 0:
        raise InputError(path, "field 'mocap_framerate'", f"{rate} is not a positive rate")

    step = 1 if fps is None or fps >= rate else max(1, int(round(rate / fps)))
    frames = np.arange(0, n, step)
    smpl = amass_to_smpl72(poses[frames])
    t = trans[frames]
    if to_y_up:
        root = Z_UP_TO_Y_UP @ axis_angle_to_matrix(smpl[:, :3])
        smpl[:, :3] = matrix_to_axis_angle(root)
        t = t @ Z_UP_TO_Y_UP.T
    return PoseLibrary(poses=smpl.astype(np.float32), names=[f"{path.name}@{i}" for i in frames],
                       source=str(path), fps=rate / step, transl=t.astype(np.float32),
                       about=f"AMASS/MoSh motion, {n} frames at {rate:g} fps, "
                             f"{'rotated Z-up -> Y-up' if to_y_up else 'Z-up as stored'}")
