"""Packaging: reading the data needs numpy and h5py only (checked in a second environment that has
nothing else, h5py 3.8 and numpy 1.x), extras for the rest, py.typed, and the open body model
cached where smplx.create finds it."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

from second_envs import second_env_python
from test_corpus_damage import write_shard
from thuman_io import write_item
from thuman_io.testing import make_synthetic_item

ROOT = Path(__file__).resolve().parents[1]

_READ = r"""
import sys
import thuman_io
from thuman_io.corpus import open_corpus
ds = thuman_io.open_dataset(sys.argv[1])
item = next(iter(ds.items())).load(frame=True)
corpus = open_corpus(sys.argv[2])
s = corpus.sample(0)
assert thuman_io.validate_dataset(sys.argv[1]) == []
import numpy, h5py
others = sorted(m.split(".")[0] for m in sys.modules if m.split(".")[0] in
                ("torch", "trimesh", "smplx", "scipy", "open3d", "pyrender", "PIL", "click", "tqdm"))
print(item.mesh.vertices.shape[0], s.occupancy.sum(), h5py.__version__, numpy.__version__[0], others)
"""


def test_core_dependencies_are_numpy_and_h5py_and_extras_hold_the_rest():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = sorted(d.split(">")[0].split("=")[0].split("[")[0] for d in project["dependencies"])
    assert names == ["click", "h5py", "numpy", "tqdm"]      # click/tqdm: the `thuman` command, pure Python
    extras = project["optional-dependencies"]
    for extra in ("capture", "synth", "model", "kinect", "all"):
        assert extra in extras, extra
    everything = " ".join(d for e in ("body", "exchange", "capture", "synth", "model") for d in extras[e])
    for heavy in ("torch", "open3d", "pyrender", "smplx", "trimesh", "pymeshlab", "libigl"):
        assert heavy in everything, heavy
    assert all(f"thuman[{e}" in " ".join(extras["all"]) or e in " ".join(extras["all"])
               for e in ("capture", "synth", "model"))
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert '.[all,test]' in setup                              # the README's two commands install all
    assert (ROOT / "thuman_io" / "py.typed").is_file() and "py.typed" in (ROOT / "setup.py").read_text()


def test_reading_items_and_corpora_needs_numpy_and_h5py_only(tmp_path, rng):
    python = second_env_python("h5py-old")                      # numpy < 2 and h5py 3.8, nothing else
    write_item(tmp_path / "ds", make_synthetic_item(rng, "s01", 0))
    write_shard(tmp_path / "corpus", rng)
    r = subprocess.run([str(python), "-c", _READ, str(tmp_path / "ds"), str(tmp_path / "corpus")],
                       capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    n_vertices, occupied, h5py_version, numpy_major, others = r.stdout.split(maxsplit=4)
    assert int(n_vertices) > 0 and int(occupied) > 0 and h5py_version == "3.8.0" and numpy_major == "1"
    assert others.strip() == "[]"


def test_smplx_create_loads_the_cached_open_model():
    import smplx
    import torch

    from thuman_io.body import load_body_model, open_model_dir

    folder = open_model_dir()
    assert (folder / "smpl" / "SMPL_NEUTRAL.pkl").is_file()
    model = smplx.create(str(folder), model_type="smpl", gender="neutral")
    pose = torch.zeros(1, 69)
    pose[0, 17 * 3 + 2] = 0.8                                   # right elbow
    out = model(body_pose=pose, betas=torch.zeros(1, 10), global_orient=torch.zeros(1, 3))
    ours = load_body_model("open").pose_one(np.zeros(10), np.concatenate([np.zeros(3), pose[0].numpy()]),
                                            np.zeros(3))
    assert out.vertices.shape[1] == 6898
    assert np.abs(out.vertices[0].detach().numpy() - np.asarray(ours.vertices[0])).max() < 1e-5
