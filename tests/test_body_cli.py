"""`thuman body export` and `thuman body poses` through the real command group."""
import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from thuman.cli.main import cli


def test_body_poses_lists_the_builtin_library():
    r = CliRunner().invoke(cli, ["body", "poses"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("# builtin") and "200 poses" in lines[0]
    assert lines[1].split() == ["0", "t_pose"] and len(lines) == 201
    keys = CliRunner().invoke(cli, ["body", "poses", "--keys-only"]).output.splitlines()
    assert len(keys) == 21 and "walk" in [line.split()[-1] for line in keys[1:]]


def test_body_export_writes_a_posed_mesh(tmp_path):
    import trimesh

    from thuman_io.body import load_body_model
    from thuman_io.body.poses import load_pose_library

    out = tmp_path / "walk.ply"
    r = CliRunner().invoke(cli, ["body", "export", "--out", str(out), "--betas", "1.5,-0.5",
                                 "--pose-from", "builtin:walk"])
    assert r.exit_code == 0, r.output
    mesh = trimesh.load(out, process=False)
    bm = load_body_model("open")
    lib = load_pose_library("builtin")
    pose = lib.poses[lib.index("walk")]
    expect, faces = bm.posed_mesh(betas=[1.5, -0.5], pose72=pose)
    assert np.abs(np.asarray(mesh.vertices) - expect).max() < 1e-5
    assert np.array_equal(np.asarray(mesh.faces), faces)
    assert "pose walk" in r.output and not list(tmp_path.glob(".tmp-*"))
    # By index too, as OBJ.
    r = CliRunner().invoke(cli, ["body", "export", "--out", str(tmp_path / "p.obj"), "--pose-from", "builtin:31"])
    assert r.exit_code == 0 and "walk~01" in r.output


def test_body_export_errors_are_one_line(tmp_path):
    for args, expect in [
        (["--model", str(tmp_path / "nothing.pkl")], "smpl.is.tue.mpg.de"),
        (["--pose-from", "builtin:nope"], "no pose named 'nope'"),
        (["--betas", "a,b"], "comma-separated numbers"),
    ]:
        r = subprocess.run([sys.executable, "-m", "thuman.cli.main", "body", "export", "--out",
                            str(tmp_path / "x.obj"), *args], capture_output=True, text=True)
        assert r.returncode == 1
        assert r.stderr.startswith("thuman: error:") and expect in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
