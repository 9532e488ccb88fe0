"""THuman2.0/2.1 and generic scan folders import (thuman_io.exchange.thuman2), generated folders
laid out like the real ones; the texture survives import, synthesis and export (OBJ+MTL+PNG, GLB
checked by the Khronos glTF validator)."""
import io
import pickle

import numpy as np
import pytest
from PIL import Image

from cli_runner import run_cli
from gltf_validator import validate_gltf
from thuman.synth.fixtures import make_body_item, vertex_normals
from thuman_io import read_item
from thuman_io.exchange.smpl_params import load_smpl_params

SCALE, OFFSET = 1.03, np.array([0.1, -0.2, 0.05])
CELLS = 128      # texture atlas: one cell of CELLS x CELLS per triangle


@pytest.fixture(scope="module")
def body_model():
    from thuman_io.body import load_body_model

    return load_body_model("open")


def _scan(rng, body_model):
    """A posed open body 1 cm 'clothed', its SMPL-X-style fit (hand joints 0) and per-face colours."""
    item = make_body_item(rng, "x", 0, body_model, subdivisions=0)
    p = item.smpl
    p.body_pose[63:] = 0.0                                  # SMPL-X has no SMPL hand joints
    out = body_model.pose_one(p.betas, p.full_pose, p.transl)
    v = np.asarray(out.vertices[0], np.float64)
    f = np.asarray(body_model.faces, np.int64)
    v = v + 0.01 * vertex_normals(v, f)
    colours = rng.integers(0, 256, (len(f), 3), dtype=np.uint8)
    return v, f, p, colours


def _write_thuman2(root, ident, rng, body_model):
    """ROOT/THuman2.0_Release/<id>/<id>.obj + material0.mtl/.jpeg; ROOT/THuman2.0_smplx/<id>/smplx_param.pkl."""
    v, f, p, colours = _scan(rng, body_model)
    scan = SCALE * v + OFFSET                               # scan = scale * smplx(params) + translation
    mesh_dir = root / "THuman2.0_Release" / ident
    mesh_dir.mkdir(parents=True)
    # one atlas cell per triangle: every vertex has as many uv as triangles around it (seams everywhere)
    n = int(np.ceil(np.sqrt(len(f))))
    size = n * 4
    atlas = np.zeros((size, size, 3), np.uint8)
    lines = ["mtllib material0.mtl", "usemtl material0"]
    lines += [f"v {a:.7f} {b:.7f} {c:.7f}" for a, b, c in scan]
    vt = []
    for i, colour in enumerate(colours):
        r, c = divmod(i, n)
        atlas[r * 4:(r + 1) * 4, c * 4:(c + 1) * 4] = colour
        u0, v0 = (c * 4 + 0.5) / size, 1 - (r * 4 + 0.5) / size       # OBJ: v up, row 0 at the top
        d = 3.0 / size
        vt += [(u0, v0), (u0 + d, v0), (u0, v0 - d)]
    lines += [f"vt {a:.7f} {b:.7f}" for a, b in vt]
    lines += [f"f {a + 1}/{3 * i + 1} {b + 1}/{3 * i + 2} {c + 1}/{3 * i + 3}" for i, (a, b, c) in enumerate(f)]
    (mesh_dir / f"{ident}.obj").write_text("\n".join(lines) + "\n")
    (mesh_dir / "material0.mtl").write_text("newmtl material0\nKd 1 1 1\nmap_Kd material0.jpeg\n")
    Image.fromarray(atlas).save(mesh_dir / "material0.jpeg", quality=100, subsampling=0)
    fit_dir = root / "THuman2.0_smplx" / ident
    fit_dir.mkdir(parents=True)
    fit = {"betas": p.betas[None], "global_orient": p.global_orient[None], "body_pose": p.body_pose[None, :63],
           "transl": p.transl[None], "left_hand_pose": np.zeros((1, 12), np.float32),
           "right_hand_pose": np.zeros((1, 12), np.float32), "jaw_pose": np.zeros((1, 3), np.float32),
           "leye_pose": np.zeros((1, 3), np.float32), "reye_pose": np.zeros((1, 3), np.float32),
           "expression": np.zeros((1, 10), np.float32), "scale": np.array([SCALE], np.float32),
           "translation": OFFSET[None].astype(np.float32)}
    (fit_dir / "smplx_param.pkl").write_bytes(pickle.dumps(fit))
    return v, f, colours, atlas


def test_thuman2_imports_validates_synthesizes_and_exports_its_texture(tmp_path, body_model, capsys):
    from thuman.synth.pipeline import SynthConfig
    from thuman.synth.run import run_synthesis
    from thuman_io.corpus_validate import validate_corpus
    from thuman_io.grid import SMALL_GRID

    rng = np.random.default_rng(4)
    root, ds = tmp_path / "THuman2.0", tmp_path / "ds"
    made = {ident: _write_thuman2(root, ident, rng, body_model) for ident in ("0000", "0001")}
    code, out, err = run_cli(["import", "--thuman2", str(root), "--dataset", str(ds), "--body-model", "open"], capsys)
    assert code == 0 and "imported 2 items" in out, out + err
    code, out, _ = run_cli(["validate", str(ds)], capsys)
    assert code == 0 and "2 items valid" in out

    for ident, (v, f, colours, atlas) in made.items():
        item = read_item(ds / ident / "0000.h5")
        assert item.smpl.model == "open" and item.meta.extra["scan_to_body"]["scale"] == pytest.approx(SCALE)
        assert item.meta.extra["smplx"]["expression"] == [0.0] * 10
        # the mesh is the scan in the fit's frame: the posed body lies 1 cm inside it
        body = body_model.pose_one(item.smpl.betas, item.smpl.full_pose, item.smpl.transl).vertices[0]
        assert np.abs(item.mesh.vertices.min(0) - np.asarray(v).min(0)).max() < 1e-4
        assert np.abs(np.asarray(body).min(0) - np.asarray(v).min(0)).max() < 0.02
        # split at seams: each triangle's uv still lands in its own atlas cell, so its colour survives
        m = item.mesh
        assert m.texture.shape == atlas.shape and len(m.uv) == 3 * len(f)
        centre_uv = m.uv[m.faces].mean(axis=1)
        h, w = m.texture.shape[:2]
        rows = np.clip(((1 - centre_uv[:, 1]) * h).astype(int), 0, h - 1)
        cols = np.clip((centre_uv[:, 0] * w).astype(int), 0, w - 1)
        sampled = m.texture[rows, cols].astype(int)
        assert np.abs(sampled - atlas[rows, cols].astype(int)).max() <= 8        # JPEG, quality 100
        assert len(np.unique(sampled // 16, axis=0)) > 0.5 * len(np.unique(colours // 16, axis=0))

    corpus = tmp_path / "corpus"
    report = run_synthesis(ds, corpus, SynthConfig(grid=SMALL_GRID, views=2))
    assert not report.failed and len(report.done) == 2
    assert validate_corpus(corpus) == []

    item_file = ds / "0000" / "0000.h5"
    code, out, _ = run_cli(["export", str(item_file), "--out", str(tmp_path / "x.obj")], capsys)
    assert code == 0 and "x.png" in out and "x.mtl" in out
    png = np.asarray(Image.open(tmp_path / "x.png").convert("RGB"))
    assert np.array_equal(png, read_item(item_file).mesh.texture)
    code, out, _ = run_cli(["export", str(item_file), "--out", str(tmp_path / "x.glb")], capsys)
    assert code == 0
    report = validate_gltf(tmp_path / "x.glb")
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    assert report["info"]["hasTextures"] and report["info"]["totalTriangleCount"] == len(made["0000"][1])
    image = report["info"]["resources"][-1]["image"]
    assert (image["height"], image["width"]) == made["0000"][3].shape[:2]


def test_generic_scan_folder(tmp_path, body_model, capsys):
    from thuman_io.exchange.mesh_files import export_mesh

    rng = np.random.default_rng(5)
    root, ds = tmp_path / "scans", tmp_path / "ds"
    a = make_body_item(rng, "a", 0, body_model, subdivisions=0)
    export_mesh(a.mesh, root / "alice" / "0003.ply")
    p = a.smpl
    (root / "alice" / "0003.json").write_text(
        '{"betas": %s, "global_orient": %s, "body_pose": %s, "transl": %s, "gender": "female"}'
        % tuple(str(np.asarray(x).tolist()) for x in (p.betas, p.global_orient, p.body_pose, p.transl)))
    b = make_body_item(rng, "b", 0, body_model, subdivisions=0, textured=True)
    export_mesh(b.mesh, root / "bob" / "standing" / "scan.obj")
    np.savez(root / "bob" / "standing" / "fit_smplx.npz", betas=b.smpl.betas, global_orient=b.smpl.global_orient,
             body_pose=b.smpl.body_pose[:63], transl=b.smpl.transl, expression=np.zeros(10))
    code, out, err = run_cli(["import", "--scans", str(root), "--dataset", str(ds)], capsys)
    assert code == 0 and "imported 2 items" in out, out + err
    alice, bob = read_item(ds / "alice" / "0003.h5"), read_item(ds / "bob" / "0000.h5")
    assert alice.smpl.model == "smpl" and alice.smpl.gender == "female"
    assert np.allclose(alice.mesh.vertices, a.mesh.vertices, atol=1e-6)
    assert bob.smpl.model == "smplx" and np.all(bob.smpl.body_pose[63:] == 0)
    assert bob.mesh.texture is not None and np.array_equal(bob.mesh.texture, b.mesh.texture)
    code, out, _ = run_cli(["validate", str(ds)], capsys)
    assert code == 0

    (root / "carol").mkdir()
    (root / "carol" / "0000.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    code, _, err = run_cli(["import", "--scans", str(root), "--dataset", str(tmp_path / "ds2")], capsys)
    assert code == 1 and "carol/0000.obj: no parameter file beside the scan" in err
    assert not (tmp_path / "ds2").exists()


def test_smplx_body_pose_maps_to_smpl_order(tmp_path):
    path = tmp_path / "p.npz"
    pose = np.arange(63, dtype=np.float32) / 100
    np.savez(path, betas=np.zeros(10), body_pose=pose[None], jaw_pose=np.zeros(3))
    p = load_smpl_params(path)
    assert p.model == "smplx" and p.body_pose.shape == (69,)
    assert np.array_equal(p.body_pose[:63], pose) and not p.body_pose[63:].any()
