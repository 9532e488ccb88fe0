"""Inference: Nehab-style depth refinement, the mesh, and `thuman reconstruct` end to end."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from thuman.model.reconstruct import front_depth, refine_depth
from thuman.model.testing_data import analytic_sample
from thuman_io.grid import SMALL_GRID, VolumeGrid
from model_fixtures import one_torch_thread  # noqa: F401  (autouse)


def test_refine_depth_recovers_detail_from_normals():
    """A sinusoidal surface seen through coarse depth + exact normals: refinement gets closer."""
    h, w, px = 48, 48, 0.01
    x = (np.arange(w) + 0.5) * px
    z_true = np.tile(0.02 * np.sin(x * 20), (h, 1))
    dzdx = np.tile(0.02 * 20 * np.cos(x * 20), (h, 1))
    n = np.stack([-dzdx, np.zeros_like(dzdx), np.ones_like(dzdx)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    coarse = np.round(z_true / 0.02) * 0.02                   # quantised to "voxels"
    refined = refine_depth(coarse, n, px)
    err0 = np.abs(coarse - z_true).mean()
    err1 = np.abs(refined - z_true).mean()
    assert err1 < 0.5 * err0


def test_front_depth_is_the_marching_cubes_crossing():
    s = analytic_sample(SMALL_GRID, 2)
    z = front_depth(s.occupancy.astype(np.float32), SMALL_GRID)
    cols = s.occupancy.any(axis=0)
    assert np.isfinite(z[cols]).all() and np.isnan(z[~cols]).all()
    k_first = s.occupancy.argmax(axis=0)[cols]
    expect = SMALL_GRID.half_extent[2] - k_first * SMALL_GRID.voxel_size   # the front face of the voxel
    assert np.abs(z[cols] - expect).max() <= SMALL_GRID.voxel_size


def test_reconstruct_cli_writes_mesh_and_side_by_side(tmp_path):
    from PIL import Image

    from thuman.cli.model_commands import reconstruct, train
    from thuman.model.testing_data import write_analytic_corpus
    grid = VolumeGrid(16, 24, 16)
    corpus = write_analytic_corpus(tmp_path / "corpus", grid, 4)
    r = CliRunner().invoke(train, [str(corpus), str(tmp_path / "run"), "--no-progress", "train.stage1_steps=30",
                                   "train.stage2_steps=5", "train.num_workers=0", "train.lr=1e-3"])
    assert r.exit_code == 0, r.output
    Image.fromarray(analytic_sample(grid, 0).rgb).save(tmp_path / "in.png")
    (tmp_path / "body.json").write_text(json.dumps({"betas": [0] * 10, "pose": [0] * 72, "transl": [0, 0, 0],
                                                        "model": "open"}))
    r = CliRunner().invoke(reconstruct, [str(tmp_path / "in.png"), "--smpl", str(tmp_path / "body.json"),
                                         "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "m.ply")])
    assert r.exit_code == 0, r.output
    import trimesh
    mesh = trimesh.load(tmp_path / "m.ply")
    assert len(mesh.faces) > 100
    assert np.all(np.abs(mesh.vertices) <= grid.half_extent + 1e-6)
    assert Image.open(tmp_path / "m.png").size == (4 * 2 * grid.width, 2 * grid.height)


def test_bad_smpl_file_is_a_clear_error(tmp_path):
    from thuman.model.body_inputs import read_body_params
    from thuman_io.errors import InputError
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"betas": [0] * 10, "pose": [0] * 71}))
    with pytest.raises(InputError, match=r"bad.json.*'pose'.*\(71,\), expected \(72,\)"):
        read_body_params(p)
