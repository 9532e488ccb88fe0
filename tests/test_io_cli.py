"""``thuman info / validate / export / import``: output and exit status on good input."""
import numpy as np
import pytest

import thuman_io
from thuman_io.exchange import load_mesh
from thuman_io.testing import make_synthetic_item
from cli_runner import run_cli



@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(4)
    items = {}
    for subject, poses in (("a01", (0, 1, 2)), ("b02", (4,))):
        for p in poses:
            item = make_synthetic_item(rng, subject, p, n_vertices=250, with_frame=(p == 0))
            thuman_io.write_item(tmp_path / "ds", item)
            items[(subject, p)] = item
    return tmp_path / "ds", items


def test_info_dataset_subject_item(dataset, capsys):
    root, items = dataset
    code, out, _ = run_cli(["info", str(root)], capsys)
    assert code == 0
    assert "items     4 in 2 subjects" in out and "a01: 3" in out and "b02: 1" in out
    assert "body      open/neutral: 4" in out and "with RGB-D frame 1" in out
    code, out, _ = run_cli(["info", str(root / "a01")], capsys)
    assert code == 0 and out.startswith("subject") and "items     3 in 1 subjects" in out
    code, out, _ = run_cli(["info", str(root / "a01" / "0000.h5")], capsys)
    v = items[("a01", 0)].mesh.vertices
    assert code == 0 and f"{len(v)} vertices" in out and "frame     96x128x3" in out
    lo = "(" + ", ".join(f"{x:.3f}" for x in v.min(0)) + ")"
    assert f"min {lo}" in out


def test_validate_reports_counts(dataset, capsys):
    root, _ = dataset
    code, out, _ = run_cli(["validate", str(root)], capsys)
    assert code == 0 and out.strip() == f"{root}: 4 items valid"
    code, out, _ = run_cli(["validate", str(root / "a01")], capsys)
    assert code == 0 and "3 items valid" in out
    code, out, _ = run_cli(["validate", str(root / "b02" / "0004.h5")], capsys)
    assert code == 0 and out.strip().endswith("valid")


def test_export_format_from_suffix(dataset, tmp_path, capsys):
    root, items = dataset
    code, out, err = run_cli(["export", str(root / "b02" / "0004.h5"), "--out", str(tmp_path / "m.glb")], capsys)
    assert code == 0, err
    back = load_mesh(tmp_path / "m.glb")
    np.testing.assert_array_equal(back.vertices, items[("b02", 4)].mesh.vertices)


def test_import_usage_errors(dataset, tmp_path, capsys):
    root, _ = dataset
    code, _, err = run_cli(["import", "--dataset", str(root)], capsys)
    assert code == 1 and "missing MESH, --subject, --pose" in err
    code, _, err = run_cli(["import", "x.obj", "--thuman-release", str(tmp_path), "--dataset", str(root)], capsys)
    assert code == 1 and "not both" in err
    code, _, err = run_cli(["import", "--thuman-release", str(tmp_path / "none"), "--dataset", str(root)], capsys)
    assert code == 1 and "release folder not found" in err
