"""Import the original THuman release (Zheng et al., DeepHuman, ICCV 2019) into a dataset.

What the release holds (from its public README, sample data and data-preparation code in
github.com/ZhengZerong/DeepHuman, ``THUmanDataset/`` and ``TrainingDataPreparation/``)::

    RELEASE/results_<op>_<yyyymmdd>_<name>_<n>_<M|F>/<pose id>/
        mesh.obj            clothed scan; vertex colours as 'v x y z r g b' (r, g, b in [0, 1]);
                            an mtllib + texture image is accepted as well
        smpl.obj            the fitted SMPL mesh (with the open model, the body is fitted to it)
        smpl_params.txt     ShapeParams (10 betas), RootTransformation (4x4), JointRotations (72)
        color.jpg, depth.png (uint16 mm), cam.txt (4x4 mesh frame -> depth camera)   [optional]

Mapping to a THuman item (docs/format.md, "Importing the THuman release"):

* subject  = the ``results_...`` folder name; gender = its last letter (M -> male, F -> female);
  pose_index = the pose folder's number (its rank among the subject's folders if not a number).
* The release's frame is the capture camera's (y down, z forward): DeepHuman's own preparation
  flips y and z (``axis_transformation = [1, -1, -1]``). The item frame is Y up, so vertices are
  multiplied by F = diag(1, -1, -1) (a rotation by pi about x; face winding is kept).
* The root transformation (R, t) acts about the origin: ``v = R smpl(betas, theta) + t``. SMPL
  rotates about the root joint j0(betas), so the item's parameters are
  ``global_orient = rotvec(F R Rot(theta[:3]))``, ``body_pose = theta[3:]``,
  ``transl = F (R j0 + t) - j0``, with j0 from the body model named by ``body_model``.
  A .json/.npz/.pkl parameter file in a pose folder is taken to be in SMPL's convention in the
  release frame: ``global_orient = rotvec(F Rot(g))``, ``transl = F (j0 + transl) - j0``.
* With the open body model the converted parameters are only a start: the open model's shape
  space and rest joints are not SMPL's, so they pose it centimetres away from the release's body.
  The body is then fitted (``thuman_io.body.registration``) to the release's ``smpl.obj`` (same
  person, same pose; an unclothed target) or, without it, to ``mesh.obj`` (clothed), and the fit's
  residual is stored in ``smpl/fit_residual`` (``meta.extra['body_fit']`` says how it was made).
* With color.jpg, depth.png and cam.txt the RGB-D frame is imported with the Kinect intrinsics
  and depth-to-colour transform published in the release's ``cam_param_usage.py`` (the release
  documents no per-subject calibration); ``camera_to_item = F inv(cam) inv(depth_to_color)``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from thuman_io.errors import BodyModelError, InputError
from thuman_io.exchange.importer import build_item
from thuman_io.exchange.mesh_files import load_mesh
from thuman_io.exchange.smpl_params import load_smpl_params, read_thuman_release_params
from thuman_io.item import RGBDFrame, SMPLParams
from thuman_io.storage import write_item

FLIP_YZ = np.diag([1.0, -1.0, -1.0])
PARAM_NAMES = ("smpl_params.txt", "smpl_params.pkl", "smpl_params.npz", "smpl_params.json")
# From the release's cam_param_usage.py (Kinect v2 colour 1920x1080, depth 512x424).
COLOR_INTRINSICS = np.array([[1063.8987, 0, 954.1103], [0, 1063.6822, 553.2578], [0, 0, 1]])
DEPTH_INTRINSICS = np.array([[365.4020, 0, 252.4944], [0, 365.6674, 207.7411], [0, 0, 1]])
DEPTH_TO_COLOR = np.array([
    [9.99968867e-01, -6.80652917e-03, -9.22235761e-03, -5.44798585e-02],
    [6.69376504e-03, 9.99922175e-01, -1.15625133e-02, -3.41685168e-04],
    [9.27761963e-03, 1.14376287e-02, 9.99882174e-01, -2.50539462e-03],
    [0.0, 0.0, 0.0, 1.0]])
_SUBJECT_GENDER = re.compile(r"_([MFmf])$")


def find_release_poses(release_dir: str | os.PathLike) -> list[tuple[str, int, Path]]:
    """(subject, pose_index, pose folder) for every pose folder with a mesh.obj, sorted."""
    root = Path(release_dir)
    if not root.is_dir():
        raise InputError(root, "THuman release folder not found")
    out = []
    for subject_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        poses = sorted(p for p in subject_dir.iterdir() if p.is_dir() and (p / "mesh.obj").is_file())
        for rank, pose_dir in enumerate(poses):
            index = int(pose_dir.name) if pose_dir.name.isdigit() else rank
            out.append((subject_dir.name, index, pose_dir))
    if not out:
        raise InputError(root, "no <subject>/<pose>/mesh.obj folders found",
                         "point --thuman-release at the folder that holds the results_* folders")
    return out


def import_thuman_release(release_dir: str | os.PathLike, dataset_dir: str | os.PathLike,
                          body_model: str = "open", overwrite: bool = False,
                          frames: bool = True, progress=None, fit: bool | None = None) -> list[Path]:
    """Import every pose folder of a THuman release; returns the item paths written.

    ``body_model``: what gives the root joint j0(betas) for the parameter conversion:
    'open' or a path to an SMPL .pkl/.npz, passed to ``thuman_io.body.load_body_model``. The items
    record ``model='smpl'`` when a path is given and 'open' otherwise (then the release's SMPL
    betas and pose are applied to the open model, which shares SMPL's parameterisation: an
    approximation, refined by fitting). ``fit``: fit the body to the pose folder's smpl.obj (or
    mesh.obj); None (default) fits with the open model and keeps an SMPL file's exact conversion.
    """
    poses = find_release_poses(release_dir)
    bm_cache: dict = {}
    written = []
    iterator = poses if progress is None else progress(poses)
    for subject, pose_index, pose_dir in iterator:
        written.append(import_release_pose(pose_dir, subject, pose_index, dataset_dir, body_model,
                                           overwrite=overwrite, frames=frames, _cache=bm_cache, fit=fit))
    return written


def import_release_pose(pose_dir: Path, subject: str, pose_index: int, dataset_dir, body_model: str,
                        overwrite: bool = False, frames: bool = True, _cache: dict | None = None,
                        fit: bool | None = None) -> Path:
    """Import one release pose folder as item (subject, pose_index)."""
    pose_dir = Path(pose_dir)
    m = _SUBJECT_GENDER.search(subject)
    gender = {"m": "male", "f": "female"}[m.group(1).lower()] if m else "neutral"
    params_file = next((pose_dir / n for n in PARAM_NAMES if (pose_dir / n).is_file()), None)
    if params_file is None:
        raise InputError(pose_dir, "no SMPL parameter file", f"expected one of {', '.join(PARAM_NAMES)}")
    mesh = load_mesh(pose_dir / "mesh.obj")
    mesh.vertices = (mesh.vertices.astype(np.float64) @ FLIP_YZ.T).astype(np.float32)
    model_name = "open" if str(body_model) == "open" else "smpl"

    def root_joint(betas):
        return _root_joint(body_model, gender, betas, _cache if _cache is not None else {})

    if params_file.suffix == ".txt":
        betas, root, theta = read_thuman_release_params(params_file)
        smpl = release_to_item_params(betas, root, theta, root_joint(betas), model_name, gender)
    else:
        p = load_smpl_params(params_file, model=model_name, gender=gender)
        rot = _rodrigues(p.global_orient.astype(np.float64))
        j0 = root_joint(p.betas.astype(np.float64))
        p.global_orient = _rotvec(FLIP_YZ @ rot).astype(np.float32)
        p.transl = (FLIP_YZ @ (j0 + p.transl) - j0).astype(np.float32)
        smpl = p
    extra = {"source": str(pose_dir), "release_pose_folder": pose_dir.name}
    if (model_name == "open") if fit is None else fit:
        smpl, extra["body_fit"] = _fit_release_body(pose_dir, mesh, smpl, body_model, gender)
    frame = _release_frame(pose_dir) if frames else None
    item = build_item(mesh, smpl, subject, pose_index, device=f"import:thuman-release:{subject}/{pose_dir.name}",
                      frame=frame, extra=extra,
                      sources={"mesh": pose_dir / "mesh.obj", "smpl": params_file, "meta": pose_dir,
                               "frame": pose_dir})
    return write_item(dataset_dir, item, overwrite=overwrite)


def _fit_release_body(pose_dir: Path, mesh, start: SMPLParams, body_model, gender: str):
    """Fit the body to the folder's smpl.obj (item frame) or else its mesh, from ``start``."""
    from thuman_io.exchange.body_fit import fit_item_body

    smpl_obj = pose_dir / "smpl.obj"
    if smpl_obj.is_file():
        target = load_mesh(smpl_obj)
        vertices = (target.vertices.astype(np.float64) @ FLIP_YZ.T).astype(np.float32)
        params, info = fit_item_body(body_model, gender, vertices, target.faces, start=start, clothed=False)
    else:
        params, info = fit_item_body(body_model, gender, mesh.vertices, mesh.faces, start=start, clothed=True)
    info.update(target=smpl_obj.name if smpl_obj.is_file() else "mesh.obj", start="release parameters")
    return params, info


def release_to_item_params(betas, root, theta, j0, model: str, gender: str) -> SMPLParams:
    """Convert release parameters (root transform about the origin, release frame) to the item's
    SMPL convention (rotation about the root joint j0, item frame). Shapes: betas (B,), root
    (4, 4), theta (72,), j0 (3,) metres (the rest-pose root joint for ``betas``)."""
    rot, t = root[:3, :3], root[:3, 3]
    global_rot = FLIP_YZ @ rot @ _rodrigues(np.asarray(theta[:3], np.float64))
    transl = FLIP_YZ @ (rot @ j0 + t) - j0
    return SMPLParams(betas=np.asarray(betas, np.float32), global_orient=_rotvec(global_rot).astype(np.float32),
                      body_pose=np.asarray(theta[3:], np.float32), transl=transl.astype(np.float32),
                      model=model, gender=gender)


def _root_joint(body_model: str, gender: str, betas: np.ndarray, cache: dict) -> np.ndarray:
    """j0(betas): the body model's root joint in the rest pose, (3,) float64 metres."""
    key = (str(body_model), gender)
    if key not in cache:
        try:
            from thuman_io.body import load_body_model
        except ImportError as e:
            raise BodyModelError(f"the body model loader is not available ({e}); the release's root "
                                 "transformation cannot be converted without it") from None
        model_gender = "neutral" if str(body_model) == "open" else gender
        cache[key] = load_body_model(body_model, gender=model_gender)
    bm = cache[key]
    nb = int(bm.num_betas)
    b = np.zeros((1, nb), np.float32)
    b[0, :min(nb, len(betas))] = np.asarray(betas, np.float32)[:nb]
    z3 = np.zeros((1, 3), np.float32)
    out = bm.forward(betas=b, global_orient=z3, body_pose=np.zeros((1, 69), np.float32), transl=z3)
    return np.asarray(out.joints[0, 0], np.float64)


def _release_frame(pose_dir: Path) -> RGBDFrame | None:
    color, depth, cam = pose_dir / "color.jpg", pose_dir / "depth.png", pose_dir / "cam.txt"
    if not (color.is_file() and depth.is_file() and cam.is_file()):
        return None
    from PIL import Image

    try:
        rgb = np.asarray(Image.open(color).convert("RGB"), np.uint8)
        depth_mm = np.asarray(Image.open(depth), np.uint16)
        world_to_depth = np.loadtxt(cam).reshape(4, 4)
    except (OSError, ValueError) as e:
        raise InputError(pose_dir, "unreadable color.jpg/depth.png/cam.txt", " ".join(str(e).split())[:160]) from None
    flip = np.eye(4)
    flip[:3, :3] = FLIP_YZ
    camera_to_item = flip @ np.linalg.inv(world_to_depth) @ np.linalg.inv(DEPTH_TO_COLOR)
    return RGBDFrame(color=rgb, depth_mm=depth_mm, color_intrinsics=COLOR_INTRINSICS.copy(),
                     depth_intrinsics=DEPTH_INTRINSICS.copy(), depth_to_color=DEPTH_TO_COLOR.copy(),
                     camera_to_item=camera_to_item, depth_registered_to_color=False, timestamp_us=0)


def _rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """(3,) axis-angle -> (3, 3) rotation matrix."""
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-12:
        return np.eye(3)
    k = rotvec / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def _rotvec(matrix: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix -> (3,) axis-angle (robust near pi, via scipy)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(matrix).as_rotvec()
