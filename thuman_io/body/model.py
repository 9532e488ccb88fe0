"""One interface for every body model: the open model and real SMPL files, both through smplx.

    from thuman_io.body import load_body_model
    bm = load_body_model("open")                       # or a path to SMPL_NEUTRAL.pkl / its folder
    out = bm.forward(betas=np.zeros((2, 10)), body_pose=poses[:, 3:])
    out.vertices  # (2, V, 3) float32, metres, Y up, facing +Z

torch and smplx are imported here only when a model is built, so ``import thuman_io.body``
stays light. The math is smplx's ``lbs`` (SMPL, Loper et al. 2015); this class holds the module
and converts arrays.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from thuman_io.body.joints import BODY_POSE_SIZE, JOINT_NAMES, NUM_JOINTS, PARENTS
from thuman_io.body.semantic import semantic_code
from thuman_io.errors import BodyModelError


@dataclass
class BodyOutput:
    """A posed body. numpy arrays from ``forward``, torch tensors from ``forward_torch``.

    vertices: (B, V, 3) float32, metres. joints: (B, 24, 3) float32, metres (SMPL's joints).
    """
    vertices: Any
    joints: Any


class BodyModel:
    """A loaded body model in SMPL form (24 joints, 10 shape components used).

    An SMPL-X model is driven through its first 22 joints (SMPL's 0-21) with flat hands, a
    neutral face and zero expression; SMPL's hand joints (22, 23) map to SMPL-X's middle-finger
    knuckles (``left_middle1``, ``right_middle1``) for the joints returned, and their rotations
    in ``body_pose`` are not used.

    Attributes: ``name`` ('open' | 'smpl' | 'smplx'), ``source`` (the file), ``faces`` (F, 3) int64,
    ``rest_vertices`` (V, 3) float32 (T-pose, zero betas, metres), ``num_betas``, ``parents``
    (24,) int64, ``joint_names`` (24 SMPL names), ``semantic_code`` (V, 3) float32 in [0, 1],
    ``gender``, ``device``, ``meta`` (the open model's build record; empty for SMPL).
    Skinning data for code that poses bodies itself: ``weights`` (V, 24) float32 LBS weights,
    ``j_regressor`` (24, V) float32, ``shapedirs`` (V, 3, num_betas) float32 metres per beta.
    """

    def __init__(self, module, name: str, source, gender: str, device: str, meta: dict):
        self._module = module
        self.name = name
        self.source = source
        self.gender = gender
        self.device = device
        self.meta = meta
        self.num_betas = int(module.num_betas)
        self.faces = np.asarray(module.faces, dtype=np.int64)
        self.rest_vertices = module.v_template.detach().cpu().numpy().astype(np.float32)
        self.parents = PARENTS.copy()
        self.joint_names = list(JOINT_NAMES)
        self.semantic_code = semantic_code(self.rest_vertices)
        weights = module.lbs_weights.detach().cpu().numpy().astype(np.float32)
        j_regressor = module.J_regressor.detach().cpu().numpy().astype(np.float32)
        self.shapedirs = module.shapedirs.detach().cpu().numpy().astype(np.float32)
        parents = module.parents.detach().cpu().numpy()
        if name == "smplx":
            self.weights, self.j_regressor = _smplx_to_smpl_skinning(weights, j_regressor, parents)
        else:
            self.weights, self.j_regressor = weights, j_regressor
        tree = slice(1, 22) if name == "smplx" else slice(1, NUM_JOINTS)
        if len(parents) < tree.stop or not np.array_equal(parents[tree], PARENTS[tree]):
            raise BodyModelError(f"{self.source}: kintree_table is not SMPL's joint tree "
                                 f"(parents {parents.tolist()})")

    @property
    def num_vertices(self) -> int:
        return len(self.rest_vertices)

    def __repr__(self) -> str:
        return (f"BodyModel(name={self.name!r}, vertices={self.num_vertices}, faces={len(self.faces)}, "
                f"betas={self.num_betas}, source={str(self.source)!r})")

    def forward(self, betas=None, global_orient=None, body_pose=None, transl=None) -> BodyOutput:
        """Pose the model (numpy in, numpy out; no gradients).

        betas (B, <=num_betas) shape coefficients, ~N(0, 1); global_orient (B, 3) and body_pose
        (B, 69) axis-angle, radians (joints 1-23 of ``joint_names``); transl (B, 3) metres. Any
        argument may be None (zeros); B is taken from the arguments given (1 if none).
        Returns BodyOutput with vertices (B, V, 3) and joints (B, 24, 3) float32, metres.
        """
        import torch

        args = [betas, global_orient, body_pose, transl]
        tensors = [None if a is None else torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in args]
        with torch.no_grad():
            out = self.forward_torch(*tensors)
        return BodyOutput(vertices=out.vertices.cpu().numpy(), joints=out.joints.cpu().numpy())

    def forward_torch(self, betas=None, global_orient=None, body_pose=None, transl=None) -> BodyOutput:
        """Pose the model with torch tensors, differentiable in every argument.

        Same arguments and shapes as :meth:`forward` (tensors on ``self.device``; float32);
        returns BodyOutput of tensors: vertices (B, V, 3), joints (B, 24, 3), metres.
        """
        import torch

        given = [a for a in (betas, global_orient, body_pose, transl) if a is not None]
        batch = int(given[0].shape[0]) if given else 1
        for a in given:
            if a.ndim != 2 or a.shape[0] != batch:
                shapes = [tuple(x.shape) for x in given]
                raise ValueError(f"body model arguments must be (B, n) with one B; got {shapes}")
        dev, dtype = torch.device(self.device), torch.float32

        def arg(x, width, name):
            if x is None:
                return torch.zeros((batch, width), device=dev, dtype=dtype)
            x = x.to(device=dev, dtype=dtype)
            if name == "betas" and x.shape[1] < width:
                # Fewer shape coefficients than the model has: the rest are zero.
                x = torch.cat([x, x.new_zeros((batch, width - x.shape[1]))], dim=1)
            if x.shape[1] != width:
                raise ValueError(f"{name} must be (B, {width}), got {tuple(x.shape)}")
            return x

        kwargs = dict(betas=arg(betas, self.num_betas, "betas"),
                      global_orient=arg(global_orient, 3, "global_orient"),
                      body_pose=arg(body_pose, BODY_POSE_SIZE, "body_pose"),
                      transl=arg(transl, 3, "transl"), return_verts=True)
        if self.name == "smplx":
            zeros = lambda n: torch.zeros((batch, n), device=dev, dtype=dtype)  # noqa: E731
            m = self._module
            kwargs.update(body_pose=kwargs["body_pose"][:, :63], left_hand_pose=zeros(45),
                          right_hand_pose=zeros(45), jaw_pose=zeros(3), leye_pose=zeros(3),
                          reye_pose=zeros(3), expression=zeros(m.num_expression_coeffs))
            out = m(**kwargs)
            joints = torch.cat([out.joints[:, :22], out.joints[:, list(SMPLX_HAND_JOINTS)]], dim=1)
            return BodyOutput(vertices=out.vertices, joints=joints)
        out = self._module(**kwargs)
        # smplx appends 21 surface landmarks after SMPL's 24 joints; the toolkit uses the 24.
        return BodyOutput(vertices=out.vertices, joints=out.joints[:, :NUM_JOINTS])

    def pose_one(self, betas=None, pose72=None, transl=None) -> BodyOutput:
        """Pose one body from stored parameters (numpy, no gradients).

        betas: (<=num_betas,) or longer; padded with zeros or cut to ``num_betas`` (a file fitted
        with 16 betas poses a 10-beta model with its first 10). pose72: (72,) axis-angle, radians
        (global orientation then 23 joints), or None. transl: (3,) metres, or None.
        Returns BodyOutput with vertices (1, V, 3) and joints (1, 24, 3) float32, metres.
        """
        pose = np.zeros(72, dtype=np.float32) if pose72 is None else np.asarray(pose72, np.float32).reshape(-1)
        if pose.shape != (72,):
            raise ValueError(f"pose72 must have 72 values, got shape {pose.shape}")
        b = np.zeros((1, self.num_betas), np.float32)
        if betas is not None:
            given = np.asarray(betas, np.float32).reshape(-1)[: self.num_betas]
            b[0, : len(given)] = given
        t = None if transl is None else np.asarray(transl, dtype=np.float32).reshape(1, 3)
        return self.forward(betas=b, global_orient=pose[None, :3], body_pose=pose[None, 3:], transl=t)

    def posed_mesh(self, betas=None, pose72=None, transl=None):
        """One posed mesh as (vertices (V, 3) float32 metres, faces (F, 3) int64); see pose_one."""
        return self.pose_one(betas, pose72, transl).vertices[0], self.faces


#: SMPL-X joints standing in for SMPL's left_hand and right_hand (left/right_middle1).
SMPLX_HAND_JOINTS = (28, 43)


def _smplx_to_smpl_skinning(weights: np.ndarray, j_regressor: np.ndarray, parents: np.ndarray):
    """SMPL-X's (V, 55) weights and (55, V) regressor -> SMPL's 24 joints.

    Joints 0-21 are shared. Each extra joint's weight goes to its nearest ancestor among SMPL's
    joints, except that the fingers go to SMPL's hand joints (22, 23): jaw and eyes -> head,
    left fingers -> left_hand, right fingers -> right_hand.
    """
    w = np.zeros((weights.shape[0], NUM_JOINTS), np.float32)
    w[:, :22] = weights[:, :22]
    for j in range(22, weights.shape[1]):
        a = j
        while a >= 22 and parents[a] not in (20, 21):
            a = int(parents[a])
        if a >= 22:  # a finger: its chain starts at a wrist
            target = 22 if parents[a] == 20 else 23
        else:
            target = a
        w[:, target] += weights[:, j]
    reg = np.concatenate([j_regressor[:22], j_regressor[list(SMPLX_HAND_JOINTS)]]).astype(np.float32)
    return w, reg


def load_body_model(model: str | os.PathLike = "open", gender: str = "neutral",
                    device: str = "cpu") -> BodyModel:
    """Load a body model.

    model: 'open' (the toolkit's own model, no download), 'smpl' / 'smplx' (that kind of file
    in the folder ``$THUMAN_SMPL_DIR``), or a path to an SMPL or SMPL-X model file (.pkl/.npz)
    or to a folder holding SMPL_{NEUTRAL,MALE,FEMALE}.pkl or SMPLX_*.npz. gender picks the file in a folder; the open model is one
    gender-neutral model (gender is part of its shape space) and accepts any gender.
    device: torch device for forward_torch ('cpu', 'cuda', ...).
    Raises BodyModelError for a missing or malformed file, saying where SMPL files come from.
    """
    from thuman_io.body import model_files

    if gender not in model_files.GENDERS:
        raise BodyModelError(f"unknown gender {gender!r}: use one of {', '.join(model_files.GENDERS)}")
    if str(model) == "open":
        mf = model_files.open_model_file()
    else:
        mf = model_files.smpl_model_file(model_files.resolve_smpl_path(model, gender))
    module = _smplx_module(mf, gender)
    try:
        module = module.to(device)
    except (RuntimeError, AssertionError) as e:
        raise BodyModelError(f"cannot move the body model to device {device!r}: {e}") from None
    return BodyModel(module, name=mf.kind, source=mf.source,
                     gender="neutral" if mf.kind == "open" else gender, device=device, meta=mf.meta)


@functools.lru_cache(maxsize=8)
def cached_body_model(model: str = "open", gender: str = "neutral") -> BodyModel:
    """``load_body_model(model, gender)`` on the CPU, loaded once per process.

    For code that poses many items (synthesis, evaluation): treat the result as read-only.
    """
    return load_body_model(model, gender=gender)


def _smplx_module(mf, gender: str):
    import smplx
    import torch

    kwargs = dict(model_path=str(mf.pkl_path), gender=gender, num_betas=10, batch_size=1,
                  dtype=torch.float32, create_betas=False, create_global_orient=False,
                  create_body_pose=False, create_transl=False)
    if mf.landmarks is not None:
        kwargs["vertex_ids"] = mf.landmarks
    if mf.kind == "smplx":
        # Hands flat and face neutral: the toolkit drives the body only (see BodyModel).
        kwargs.update(ext=mf.pkl_path.suffix.lower().lstrip("."), use_pca=False, flat_hand_mean=True,
                      num_expression_coeffs=10, create_left_hand_pose=False,
                      create_right_hand_pose=False, create_jaw_pose=False, create_leye_pose=False,
                      create_reye_pose=False, create_expression=False)
    try:
        # smplx prints a warning about SMPL's 10 shape coefficients; the toolkit uses exactly 10.
        with contextlib.redirect_stdout(io.StringIO()):
            module = smplx.SMPLX(**kwargs) if mf.kind == "smplx" else smplx.SMPL(**kwargs)
    except (KeyError, IndexError, ValueError, AttributeError, EOFError, OSError) as e:
        from thuman_io.body.model_files import SMPL_HELP

        raise BodyModelError(f"{mf.source}: smplx cannot load this model "
                             f"({type(e).__name__}: {e}). {SMPL_HELP}") from None
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module
