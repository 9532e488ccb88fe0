"""The pose library: the built-in open key poses, AMASS/MoSh files, and a sampler.

    from thuman_io.body.poses import load_pose_library, PoseSampler, load_amass_npz
    lib = load_pose_library("builtin")          # (N, 72) poses with names
    sampler = PoseSampler(lib, np.random.default_rng(seed))
    pose = sampler.next()                       # far from the last few shown

Data: ``keyposes.json`` (hand-authored for this project, CC0-1.0).
"""
from thuman_io.body.poses.amass import amass_to_smpl72, load_amass_npz
from thuman_io.body.poses.library import PoseLibrary, keypose_to_axis_angle, load_pose_library
from thuman_io.body.poses.sampler import PoseSampler, pose_distance

__all__ = ["PoseLibrary", "load_pose_library", "load_amass_npz", "amass_to_smpl72",
           "keypose_to_axis_angle", "PoseSampler", "pose_distance"]
