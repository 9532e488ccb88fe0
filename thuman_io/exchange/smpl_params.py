"""SMPL parameter files: JSON, NPZ, PKL and the THuman release's ``smpl_params.txt``.

JSON/NPZ/PKL hold a mapping with these keys (aliases in brackets):

* ``betas`` (``shape``): (B,) or (1, B)
* ``global_orient`` (``root_orient``): (3,) axis-angle, and ``body_pose``: (69,) -- or (63,), the
  21 body joints of SMPL-X / SMPL-H, which are SMPL's first 21 (SMPL's two hand joints get 0) --
  or instead one ``pose`` (``poses``, ``thetas``, ``full_pose``): (72,) = global orientation + body pose
* ``transl`` (``trans``, ``translation``): (3,) metres; 0 when absent
* optional ``model`` ('open' | 'smpl' | 'smplx'; default 'smplx' when the body pose has 63 values
  or SMPL-X's face/hand keys are present, else 'smpl') and ``gender`` ('neutral' | 'male' | 'female')

A leading batch axis of size 1 is dropped. PKL files are read with an unpickler that only builds
numpy arrays and plain containers, so a parameter file cannot run code.
"""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np

from thuman_io.errors import InputError, SchemaError
from thuman_io.item import SMPLParams
from thuman_io.item_schema import BODY_MODELS, GENDERS

#: Keys only SMPL-X parameter files have (kept by importers in the item's ``meta.extra``).
SMPLX_KEYS = ("left_hand_pose", "right_hand_pose", "jaw_pose", "leye_pose", "reye_pose", "expression")

_ALIASES = {
    "betas": ("betas", "shape"),
    "global_orient": ("global_orient", "root_orient"),
    "body_pose": ("body_pose",),
    "pose": ("pose", "poses", "thetas", "full_pose"),
    "transl": ("transl", "trans", "translation"),
}


def load_smpl_params(path: str | os.PathLike, model: str | None = None,
                     gender: str | None = None) -> SMPLParams:
    """Read SMPL parameters from a .json, .npz or .pkl file (see the module doc for keys).

    ``model``/``gender`` override what the file says (default 'smpl'/'neutral' when it says
    nothing). Raises InputError/SchemaError naming the file and the field.
    """
    path = Path(path)
    mapping = read_param_mapping(path)
    return params_from_mapping(mapping, path, model=model, gender=gender)


def read_param_mapping(path: Path) -> dict:
    """The raw key -> value mapping of a JSON/NPZ/PKL parameter file."""
    if not path.is_file():
        raise InputError(path, "SMPL parameter file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(path.read_text())
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        elif suffix == ".pkl":
            with open(path, "rb") as f:
                data = _SafeUnpickler(f, encoding="latin1").load()
        else:
            raise InputError(path, f"unknown parameter file type {suffix!r}", "use .json, .npz or .pkl")
    except InputError:
        raise
    except (ValueError, OSError, EOFError, pickle.UnpicklingError) as e:
        raise InputError(path, f"cannot read {suffix[1:].upper()} parameters",
                         " ".join(str(e).split())[:160] or type(e).__name__) from None
    if not isinstance(data, dict):
        raise SchemaError(path, f"top level is {type(data).__name__}, expected a mapping of parameter names")
    return data


def params_from_mapping(data: dict, path, model: str | None = None, gender: str | None = None) -> SMPLParams:
    """Build :class:`SMPLParams` from a mapping, checking every shape."""
    def pick(name):
        for key in _ALIASES[name]:
            if key in data:
                return key, data[key]
        return None, None

    def arr(key, value, size):
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise SchemaError(path, f"field '{key}'", "not a list of numbers") from None
        if a.ndim == 2 and a.shape[0] == 1:
            a = a[0]
        if a.ndim != 1 or (size is not None and a.shape[0] != size) or a.shape[0] == 0:
            want = "(B,)" if size is None else f"({size},)"
            raise SchemaError(path, f"field '{key}'", f"shape {a.shape}, expected {want}")
        if not np.isfinite(a).all():
            raise SchemaError(path, f"field '{key}'", "contains NaN or inf")
        return a.astype(np.float32)

    key, value = pick("betas")
    if key is None:
        raise SchemaError(path, "field 'betas'", f"missing (keys present: {', '.join(map(str, data)) or 'none'})")
    betas = arr(key, value, None)
    pkey, pose = pick("pose")
    gkey, gvalue = pick("global_orient")
    bkey, bvalue = pick("body_pose")
    if bkey is not None:
        size = np.size(bvalue) if np.size(bvalue) == 63 else 69
        body_pose = arr(bkey, bvalue, size)
        if size == 63:      # SMPL-X / SMPL-H body joints = SMPL's first 21; SMPL's hands stay 0
            body_pose = np.concatenate([body_pose, np.zeros(6, np.float32)])
        global_orient = arr(gkey, gvalue, 3) if gkey is not None else np.zeros(3, np.float32)
    elif pkey is not None:
        full = arr(pkey, pose, 72)
        global_orient, body_pose = full[:3], full[3:]
    else:
        raise SchemaError(path, "field 'body_pose'", "missing (give body_pose (69,) or pose (72,))")
    tkey, tvalue = pick("transl")
    transl = arr(tkey, tvalue, 3) if tkey is not None else np.zeros(3, np.float32)
    smplx_like = (bkey is not None and np.size(bvalue) == 63) or any(k in data for k in SMPLX_KEYS)
    model = model or _text(data.get("model", "smplx" if smplx_like else "smpl"))
    gender = gender or _text(data.get("gender", "neutral"))
    gender = {"m": "male", "f": "female", "n": "neutral"}.get(gender.lower(), gender.lower())
    if model not in BODY_MODELS:
        raise SchemaError(path, "field 'model'", f"{model!r} is not one of {', '.join(BODY_MODELS)}")
    if gender not in GENDERS:
        raise SchemaError(path, "field 'gender'", f"{gender!r} is not one of {', '.join(GENDERS)}")
    return SMPLParams(betas=betas, global_orient=global_orient, body_pose=body_pose, transl=transl,
                      model=model, gender=gender)


def _text(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.item() if value.shape == () else value.tolist()
    if isinstance(value, bytes):
        value = value.decode()
    return str(value)


def read_thuman_release_params(path: str | os.PathLike):
    """Parse the THuman release's ``smpl_params.txt``.

    Layout (text, whitespace separated): line 1 ``ShapeParams``, line 2 the 10 betas, line 3
    ``RootTransformation``, lines 4-7 a 4x4 matrix, line 8 ``JointRotations``, lines 9-80 the 72
    pose values (one per line; the first three, the root's, are usually 0).
    The 4x4 matrix rotates and translates the posed body *about the origin*:
    ``v = R @ smpl(betas, theta) + t`` (unlike SMPL's rotation about the root joint).

    Returns (betas (10,) float64, root (4, 4) float64, theta (72,) float64).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "SMPL parameter file not found")
    sections: dict[str, list[float]] = {}
    current = None
    try:
        for line in path.read_text(errors="replace").splitlines():
            words = line.split()
            if not words:
                continue
            if words[0][0].isalpha():
                current = words[0]
                sections[current] = []
            elif current is None:
                raise ValueError("numbers before the first section name")
            else:
                sections[current] += [float(w) for w in words]
    except ValueError as e:
        raise InputError(path, "not a THuman smpl_params.txt", str(e)) from None
    expected = {"ShapeParams": 10, "RootTransformation": 16, "JointRotations": 72}
    for name, size in expected.items():
        values = sections.get(name)
        if values is None:
            raise SchemaError(path, f"section '{name}'", "missing")
        if len(values) != size:
            raise SchemaError(path, f"section '{name}'", f"{len(values)} values, expected {size}")
        if not np.isfinite(values).all():
            raise SchemaError(path, f"section '{name}'", "contains NaN or inf")
    root = np.array(sections["RootTransformation"], np.float64).reshape(4, 4)
    return np.array(sections["ShapeParams"]), root, np.array(sections["JointRotations"])


class _SafeUnpickler(pickle.Unpickler):
    """Builds numpy arrays, dtypes and builtins only; anything else (chumpy, code) is refused."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("builtins", "float"),
        ("builtins", "int"), ("builtins", "str"), ("collections", "OrderedDict"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays and plain "
                                     "containers are allowed; convert chumpy objects to numpy first)")
