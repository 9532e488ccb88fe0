"""Import and export: mesh + SMPL parameters -> item -> mesh files, parameter formats, the
original THuman release layout."""
import json
import pickle

import numpy as np
import pytest

import thuman_io
from thuman_io.errors import InputError, SchemaError
from thuman_io.exchange import export_mesh, load_mesh, load_smpl_params
from thuman_io.exchange.smpl_params import read_thuman_release_params
from thuman_io.testing import make_synthetic_item
from cli_runner import run_cli



@pytest.fixture
def source_files(tmp_path):
    """A textured mesh OBJ and its parameters in JSON, made from a synthetic item."""
    item = make_synthetic_item(np.random.default_rng(11), "x", 0, n_vertices=500)
    item.mesh.vertex_colors = None
    item.mesh.vertices = item.mesh.vertices * np.float32(1.0 / 3.0)  # values that print long
    export_mesh(item.mesh, tmp_path / "scan.obj")
    params = {k: getattr(item.smpl, k).tolist() for k in ("betas", "global_orient", "body_pose", "transl")}
    (tmp_path / "scan.json").write_text(json.dumps({**params, "gender": "female"}))
    return item, tmp_path / "scan.obj", tmp_path / "scan.json"


@pytest.mark.parametrize("fmt", ["obj", "ply", "glb"])
def test_import_validate_export_round_trip(tmp_path, source_files, capsys, fmt):
    item, mesh, params = source_files
    ds = tmp_path / "ds"
    code, out, err = run_cli(["import", str(mesh), "--smpl", str(params), "--dataset", str(ds),
                              "--subject", "sub7", "--pose", "3"], capsys)
    assert code == 0, err
    path = ds / "sub7" / "0003.h5"
    code, out, err = run_cli(["validate", str(ds)], capsys)
    assert code == 0 and "1 items valid" in out, out + err
    stored = thuman_io.read_item(path)
    assert stored.smpl.gender == "female" and stored.meta.device == "import:scan.obj"
    np.testing.assert_array_equal(stored.mesh.texture, item.mesh.texture)
    np.testing.assert_array_equal(stored.mesh.uv, item.mesh.uv)
    out_file = tmp_path / f"back.{fmt}"
    code, out, err = run_cli(["export", str(path), "--format", fmt, "--out", str(out_file)], capsys)
    assert code == 0, err
    back = load_mesh(out_file)
    np.testing.assert_array_equal(back.vertices, item.mesh.vertices)  # identical, not close
    np.testing.assert_array_equal(back.faces, item.mesh.faces)
    if fmt == "ply":  # PLY carries no image: the texture becomes vertex colours
        assert back.vertex_colors is not None and back.vertex_colors.shape == (len(item.mesh.vertices), 3)
    else:
        np.testing.assert_array_equal(back.texture, item.mesh.texture)


def test_vertex_coloured_obj_round_trip(tmp_path, rng):
    item = make_synthetic_item(rng, "x", 0, n_vertices=200, textured=False)
    export_mesh(item.mesh, tmp_path / "c.obj")
    back = load_mesh(tmp_path / "c.obj")
    np.testing.assert_array_equal(back.vertices, item.mesh.vertices)
    np.testing.assert_array_equal(back.vertex_colors, item.mesh.vertex_colors)


def test_parameter_formats_agree(tmp_path, rng):
    full = rng.normal(0, 0.2, 72)
    betas, transl = rng.normal(0, 1, 10), rng.normal(0, 1, 3)
    (tmp_path / "p.json").write_text(json.dumps({"betas": betas.tolist(), "pose": full.tolist(),
                                                 "trans": transl.tolist(), "gender": "m", "model": "smpl"}))
    np.savez(tmp_path / "p.npz", betas=betas[None], global_orient=full[:3], body_pose=full[3:], transl=transl,
             gender="male", model="smpl")
    with open(tmp_path / "p.pkl", "wb") as f:
        pickle.dump({"betas": betas, "poses": full[None], "transl": transl, "gender": "male"}, f)
    loaded = [load_smpl_params(tmp_path / n) for n in ("p.json", "p.npz", "p.pkl")]
    for p in loaded:
        np.testing.assert_allclose(p.betas, betas.astype(np.float32))
        np.testing.assert_allclose(p.full_pose, full.astype(np.float32))
        np.testing.assert_allclose(p.transl, transl.astype(np.float32))
        assert (p.model, p.gender) == ("smpl", "male")


class _Evil:
    def __reduce__(self):
        return (print, ("this pickle ran code",))


def test_pickle_that_runs_code_is_refused(tmp_path, capsys):
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"betas": _Evil()}, f)
    with pytest.raises(InputError, match="refusing to load builtins.print"):
        load_smpl_params(tmp_path / "evil.pkl")
    assert "ran code" not in capsys.readouterr().out


def test_missing_pose_is_named(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"betas": [0.0] * 10}))
    with pytest.raises(SchemaError, match=r"p\.json: field 'body_pose': missing"):
        load_smpl_params(tmp_path / "p.json")


# ----------------------------------------------------------------------------------------------
# The original THuman release


def _write_release_params(path, betas, root, theta):
    rows = ["ShapeParams", " ".join(f"{b:.9g}" for b in betas), "RootTransformation"]
    rows += [" ".join(f"{x:.9g}" for x in r) for r in root]
    rows += ["JointRotations"] + [f"{t:.9g}" for t in theta]
    path.write_text("\r\n".join(rows) + "\r\n")  # the release's files have Windows line ends


def _rotation(rng):
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(rng.normal(0, 0.8, 3)).as_matrix()


def test_thuman_release_import(tmp_path, rng, capsys):
    from thuman_io.body import load_body_model
    from thuman_io.exchange.release import FLIP_YZ

    bm = load_body_model("open")
    release = tmp_path / "THUman"
    truth = {}
    for subject, pose_name in (("results_gyc_20181010_hsc_1_F", "00012"), ("results_wxl_20181008_wlz_3_M", "00003")):
        betas, theta = rng.normal(0, 0.8, 10), rng.normal(0, 0.25, 72)
        root = np.eye(4)
        root[:3, :3], root[:3, 3] = _rotation(rng), rng.normal(0, 0.5, 3)
        body = bm.forward(betas=betas[None].astype(np.float32), global_orient=theta[None, :3].astype(np.float32),
                          body_pose=theta[None, 3:].astype(np.float32), transl=np.zeros((1, 3), np.float32))
        scan = body.vertices[0].astype(np.float64) @ root[:3, :3].T + root[:3, 3]  # the release's frame
        folder = release / subject / pose_name
        folder.mkdir(parents=True)
        colors = rng.uniform(0, 1, scan.shape)
        (folder / "mesh.obj").write_text(
            "".join(f"v {a:.7f} {b:.7f} {c:.7f} {r:.4f} {g:.4f} {bb:.4f}\n" for (a, b, c), (r, g, bb) in zip(scan, colors))
            + "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in bm.faces))
        _write_release_params(folder / "smpl_params.txt", betas, root, theta)
        truth[subject] = (scan, colors)
    # One pose also has its RGB-D frame.
    from PIL import Image

    frame_dir = release / "results_wxl_20181008_wlz_3_M" / "00003"
    Image.fromarray(rng.integers(0, 256, (54, 96, 3), dtype=np.uint8)).save(frame_dir / "color.jpg")
    Image.fromarray(rng.integers(500, 3000, (42, 51), dtype=np.uint16)).save(frame_dir / "depth.png")
    cam = np.eye(4)
    cam[:3, :3], cam[:3, 3] = _rotation(rng), (0.1, 0.2, 2.0)
    np.savetxt(frame_dir / "cam.txt", cam)

    betas, root, theta = read_thuman_release_params(release / "results_wxl_20181008_wlz_3_M/00003/smpl_params.txt")
    assert betas.shape == (10,) and root.shape == (4, 4) and theta.shape == (72,)

    ds = tmp_path / "ds"
    code, out, err = run_cli(["import", "--thuman-release", str(release), "--dataset", str(ds),
                              "--body-model", "open", "--no-fit"], capsys)  # the conversion alone
    assert code == 0, err
    assert thuman_io.validate_dataset(ds) == []
    refs = {r.subject: r for r in thuman_io.open_dataset(ds).items()}
    assert refs["results_gyc_20181010_hsc_1_F"].pose_index == 12
    for subject, (scan, colors) in truth.items():
        item = refs[subject].load(frame=True)
        assert item.smpl.gender == ("female" if subject.endswith("F") else "male")
        # Item frame = release frame turned Y up.
        np.testing.assert_allclose(item.mesh.vertices, scan @ FLIP_YZ.T, atol=1e-6)
        # 'v x y z r g b' colours in [0, 1] become uint8 (the file has 4 decimals: off by <= 1).
        assert np.abs(item.mesh.vertex_colors.astype(int) - colors * 255).max() <= 1.0
        # The converted parameters pose the body model onto the scan.
        s = item.smpl
        posed = bm.forward(betas=s.betas[None], global_orient=s.global_orient[None],
                           body_pose=s.body_pose[None], transl=s.transl[None]).vertices[0]
        assert np.abs(posed - item.mesh.vertices).max() < 1e-4
    item = refs["results_wxl_20181008_wlz_3_M"].load(frame=True)
    assert item.frame is not None and item.frame.depth_mm.shape == (42, 51)
    assert not item.frame.depth_registered_to_color
    # camera_to_item undoes cam.txt, the depth-to-colour transform and the Y-up flip.
    from thuman_io.exchange.release import DEPTH_TO_COLOR

    flip = np.eye(4)
    flip[:3, :3] = FLIP_YZ
    np.testing.assert_allclose(item.frame.camera_to_item @ DEPTH_TO_COLOR @ cam @ flip, np.eye(4), atol=1e-9)
    assert refs["results_gyc_20181010_hsc_1_F"].load(frame=True).frame is None


def test_release_params_with_wrong_counts(tmp_path):
    path = tmp_path / "smpl_params.txt"
    _write_release_params(path, np.zeros(10), np.eye(4), np.zeros(60))
    with pytest.raises(SchemaError, match="section 'JointRotations': 60 values, expected 72"):
        read_thuman_release_params(path)


def test_export_with_body_model(tmp_path, rng, capsys):
    item = make_synthetic_item(rng, "s01", 0, n_vertices=300)
    path = thuman_io.write_item(tmp_path / "ds", item)
    code, out, err = run_cli(["export", str(path), "--out", str(tmp_path / "m.ply"), "--smpl"], capsys)
    assert code == 0, err
    body = load_mesh(tmp_path / "m_smpl.ply")
    from thuman_io.body import load_body_model

    bm = load_body_model("open")
    s = item.smpl
    expected = bm.forward(betas=s.betas[None], global_orient=s.global_orient[None], body_pose=s.body_pose[None],
                          transl=s.transl[None]).vertices[0]
    np.testing.assert_allclose(body.vertices, expected, atol=1e-6)
    np.testing.assert_array_equal(body.faces, bm.faces)
