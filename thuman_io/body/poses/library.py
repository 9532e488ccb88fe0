"""The pose library: a named set of SMPL poses, and the built-in open library.

The built-in library is written by hand (``keyposes.json``, CC0): 20 key poses given as
per-joint angles, each followed by ``variants`` random perturbations drawn from a generator
seeded with ``seed`` (normal, ``perturbation_deg`` standard deviation per axis) and clipped to
the per-joint limits in the same file. Same file, variants and seed -> the same library.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thuman_io.body.joints import JOINT_NAMES, NUM_JOINTS
from thuman_io.body.rotations import euler_xyz_to_matrix, matrix_to_axis_angle
from thuman_io.errors import InputError

KEYPOSES_FILE = Path(__file__).resolve().parent / "keyposes.json"


@dataclass
class PoseLibrary:
    """Poses for prompting and for simulated subjects.

    poses: (N, 72) float32 axis-angle, radians: global orientation, then SMPL joints 1-23.
    names: N labels ('walk', 'walk~03', 'CMU_01_01.npz@120', ...). source: where they came from.
    fps: frames per second for a motion sequence (None for a set of stills).
    transl: (N, 3) float32 metres for a motion sequence, else None.
    """
    poses: np.ndarray
    names: list[str]
    source: str
    fps: float | None = None
    transl: np.ndarray | None = None
    about: str = field(default="", repr=False)

    def __len__(self) -> int:
        return len(self.poses)

    def __post_init__(self):
        self.poses = np.asarray(self.poses, dtype=np.float32)
        if self.poses.ndim != 2 or self.poses.shape[1] != 72:
            raise ValueError(f"poses must be (N, 72), got {self.poses.shape}")
        if len(self.names) != len(self.poses):
            raise ValueError(f"{len(self.names)} names for {len(self.poses)} poses")

    def index(self, key: str | int) -> int:
        """A pose's index from its index or its name."""
        if isinstance(key, (int, np.integer)) or str(key).lstrip("-").isdigit():
            i = int(key)
            if not -len(self) <= i < len(self):
                raise IndexError(f"pose index {i} out of range for {len(self)} poses in {self.source}")
            return i % len(self)
        try:
            return self.names.index(str(key))
        except ValueError:
            raise KeyError(f"no pose named {key!r} in {self.source}") from None


def load_pose_library(source: str | os.PathLike = "builtin", variants: int = 9, seed: int = 0,
                      fps: float | None = None) -> PoseLibrary:
    """Load a pose library.

    source: 'builtin' (the hand-authored library), a ``keyposes``-format ``.json`` file, or an
    AMASS/MoSh ``.npz`` (see :func:`load_amass_npz`; ``fps`` resamples it).
    variants: perturbed copies per key pose (built-in / json only). seed: their generator seed.
    """
    if str(source) == "builtin":
        return build_keypose_library(KEYPOSES_FILE, variants, seed, source_name="builtin")
    path = Path(source)
    if path.suffix.lower() == ".json":
        return build_keypose_library(path, variants, seed, source_name=str(path))
    if path.suffix.lower() == ".npz":
        from thuman_io.body.poses.amass import load_amass_npz

        return load_amass_npz(path, fps=fps)
    raise InputError(path, "unknown pose library: use 'builtin', a key-pose .json or an AMASS .npz")


def keypose_to_axis_angle(joints_deg: dict[str, list[float]]) -> np.ndarray:
    """{joint name: [x, y, z] degrees} -> (72,) float64 axis-angle (unnamed joints 0)."""
    euler = np.zeros((NUM_JOINTS, 3))
    for name, angles in joints_deg.items():
        euler[JOINT_NAMES.index(name)] = angles
    return matrix_to_axis_angle(euler_xyz_to_matrix(np.radians(euler))).reshape(72)


def build_keypose_library(path: Path, variants: int, seed: int, source_name: str) -> PoseLibrary:
    spec = _read_keyposes(path)
    limits = np.radians(np.array([spec["limits"][n] for n in JOINT_NAMES], dtype=np.float64))
    sigma = np.radians(float(spec.get("perturbation_deg", 8.0)))
    rng = np.random.default_rng(seed)
    poses, names = [], []
    for name, joints in spec["poses"].items():
        euler = np.zeros((NUM_JOINTS, 3))
        for joint, angles in joints.items():
            euler[JOINT_NAMES.index(joint)] = np.radians(angles)
        for k in range(variants + 1):
            e = euler if k == 0 else euler + rng.normal(0.0, sigma, euler.shape)
            # Limits bound the perturbed angles; a key pose itself is kept as written.
            e = e if k == 0 else np.clip(e, limits[..., 0], limits[..., 1])
            poses.append(matrix_to_axis_angle(euler_xyz_to_matrix(e)).reshape(72))
            names.append(name if k == 0 else f"{name}~{k:02d}")
    return PoseLibrary(poses=np.array(poses, dtype=np.float32), names=names,
                       source=f"{source_name} ({path.name}, {variants} variants, seed {seed})",
                       about=spec.get("about", ""))


def _read_keyposes(path: Path) -> dict:
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "pose library file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid JSON ({e})") from None
    for key in ("limits", "poses"):
        if not isinstance(spec.get(key), dict):
            raise InputError(path, f"field '{key}' missing or not an object")
    missing = [n for n in JOINT_NAMES if n not in spec["limits"]]
    if missing:
        raise InputError(path, "field 'limits'", f"no limits for {', '.join(missing)}")
    for pose, joints in spec["poses"].items():
        for joint, angles in joints.items():
            if joint not in JOINT_NAMES:
                raise InputError(path, f"pose '{pose}'", f"unknown joint '{joint}'")
            if not (isinstance(angles, list) and len(angles) == 3):
                raise InputError(path, f"pose '{pose}'", f"joint '{joint}' needs [x, y, z] degrees")
    return spec
