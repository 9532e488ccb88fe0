"""Bad input (issue 2, item 7): each is refused with one line naming the file and the problem,
a non-zero exit status, and no existing item touched."""
import hashlib
import json

import h5py
import numpy as np
import pytest

import thuman_io
from thuman_io.exchange import export_mesh
from thuman_io.testing import make_synthetic_item
from cli_runner import run_cli



def snapshot(folder):
    """{relative path: sha256} of every file under folder (hidden ones included)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def dataset(tmp_path):
    ds = tmp_path / "ds"
    thuman_io.write_item(ds, make_synthetic_item(np.random.default_rng(0), "s01", 0, n_vertices=300))
    return ds


@pytest.fixture
def good_inputs(tmp_path):
    """A valid mesh (OBJ + MTL + PNG) and parameter file to break one thing at a time."""
    item = make_synthetic_item(np.random.default_rng(1), "x", 0, n_vertices=300)
    export_mesh(item.mesh, tmp_path / "mesh.obj")
    params = {k: getattr(item.smpl, k).tolist() for k in ("betas", "global_orient", "body_pose", "transl")}
    (tmp_path / "params.json").write_text(json.dumps(params))
    return tmp_path / "mesh.obj", tmp_path / "params.json", params


def _import(mesh, params, dataset, capsys, pose=1):
    return run_cli(["import", str(mesh), "--smpl", str(params), "--dataset", str(dataset),
                    "--subject", "s01", "--pose", str(pose)], capsys)


def _one_line_error(err, *needles):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("thuman: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_good_inputs_import_cleanly(dataset, good_inputs, capsys):
    mesh, params, _ = good_inputs
    code, out, err = _import(mesh, params, dataset, capsys)
    assert code == 0, err
    assert thuman_io.validate_dataset(dataset) == []


def _item_copy(dataset, name):
    """A copy of the dataset's item under another subject, to damage without touching the original."""
    src = dataset / "s01" / "0000.h5"
    dst = dataset / name / "0000.h5"
    dst.parent.mkdir()
    dst.write_bytes(src.read_bytes())
    return dst


def test_truncated_hdf5(dataset, capsys):
    bad = _item_copy(dataset, "trunc")
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    before = snapshot(dataset)
    for command in (["validate", str(bad)], ["info", str(bad)], ["export", str(bad), "--out", str(bad.parent / "o.obj")]):
        code, out, err = run_cli(command, capsys)
        assert code == 1
        text = (out + err).strip()
        assert len(text.splitlines()) == 1 and str(bad) in text, text
        assert "truncated or corrupt" in text or "checksum" in text or "unreadable" in text, text
    assert snapshot(dataset) == before
    code, out, _ = run_cli(["validate", str(dataset)], capsys)
    assert code == 1 and len(out.splitlines()) == 1 and "trunc/0000.h5" in out


def test_bit_flipped_data(dataset, capsys):
    bad = _item_copy(dataset, "flip")
    with h5py.File(bad, "r") as f:
        info = f["mesh/vertices"].id.get_chunk_info(0)
    with open(bad, "r+b") as fh:
        fh.seek(info.byte_offset + 5)
        b = fh.read(1)
        fh.seek(info.byte_offset + 5)
        fh.write(bytes([b[0] ^ 0x10]))
    code, out, err = run_cli(["validate", str(bad)], capsys)
    assert code == 1 and len(out.splitlines()) == 1
    assert str(bad) in out and "field 'mesh/vertices'" in out and "checksum" in out
    code, _, err = run_cli(["info", str(bad)], capsys)
    _one_line_error(err, str(bad), "checksum")


def test_bit_flipped_header(dataset, capsys):
    bad = _item_copy(dataset, "head")
    data = bytearray(bad.read_bytes())
    data[1] ^= 0x01  # the HDF5 signature
    bad.write_bytes(bytes(data))
    code, out, _ = run_cli(["validate", str(bad)], capsys)
    assert code == 1 and len(out.splitlines()) == 1 and "not a readable HDF5 file" in out


def test_unknown_schema_version(dataset, capsys):
    bad = _item_copy(dataset, "newer")
    with h5py.File(bad, "r+") as f:
        f.attrs["schema_version"] = 99
    code, out, _ = run_cli(["validate", str(bad)], capsys)
    assert code == 1 and "unknown item schema version 99" in out and str(bad) in out
    code, _, err = run_cli(["info", str(bad)], capsys)
    _one_line_error(err, str(bad), "schema version 99", "upgrade")
    with pytest.raises(thuman_io.SchemaError, match="version 99"):
        thuman_io.read_item(bad)


def test_nan_vertices(dataset, good_inputs, capsys):
    mesh, params, _ = good_inputs
    text = mesh.read_text().splitlines()
    i = next(k for k, line in enumerate(text) if line.startswith("v "))
    text[i] = "v nan 0 0 " + " ".join(text[i].split()[4:])
    mesh.write_text("\n".join(text) + "\n")
    before = snapshot(dataset)
    code, _, err = _import(mesh, params, dataset, capsys)
    assert code == 1
    _one_line_error(err, str(mesh), "field 'mesh/vertices'", "NaN")
    assert snapshot(dataset) == before
    # The same damage inside an item file is found by validate.
    bad = _item_copy(dataset, "nan")
    with h5py.File(bad, "r+") as f:
        v = f["mesh/vertices"][()]
        v[0, 0] = np.inf
        f["mesh/vertices"][...] = v
    code, out, _ = run_cli(["validate", str(bad)], capsys)
    assert code == 1 and "field 'mesh/vertices'" in out and "NaN or inf" in out


def test_faces_out_of_range(dataset, good_inputs, capsys):
    mesh, params, _ = good_inputs
    mesh.write_text(mesh.read_text() + "f 1/1 2/2 100000/100000\n")
    before = snapshot(dataset)
    code, _, err = _import(mesh, params, dataset, capsys)
    assert code == 1
    _one_line_error(err, str(mesh), "out of range")
    assert snapshot(dataset) == before
    bad = _item_copy(dataset, "oor")
    with h5py.File(bad, "r+") as f:
        faces = f["mesh/faces"][()]
        faces[-1, 2] = 10**6
        f["mesh/faces"][...] = faces
    code, out, _ = run_cli(["validate", str(bad)], capsys)
    assert code == 1 and "field 'mesh/faces'" in out and "out of range" in out


def test_empty_mesh(dataset, good_inputs, capsys):
    mesh, params, _ = good_inputs
    mesh.write_text("# an exported mesh with nothing in it\nmtllib mesh.mtl\n")
    before = snapshot(dataset)
    code, _, err = _import(mesh, params, dataset, capsys)
    assert code == 1
    _one_line_error(err, str(mesh), "empty mesh")
    assert snapshot(dataset) == before


def test_missing_texture_file(dataset, good_inputs, capsys):
    mesh, params, _ = good_inputs
    mesh.with_suffix(".png").unlink()
    before = snapshot(dataset)
    code, _, err = _import(mesh, params, dataset, capsys)
    assert code == 1
    _one_line_error(err, str(mesh), "texture file 'mesh.png'", "not found")
    assert snapshot(dataset) == before


@pytest.mark.parametrize("field,value,needle", [
    ("body_pose", [0.0] * 60, "shape (60,), expected (69,)"),
    ("betas", [[0.0] * 10] * 2, "shape (2, 10)"),
    ("transl", [0.0, 1.0], "shape (2,), expected (3,)"),
    ("global_orient", [0.0, "x", 1.0], "not a list of numbers"),
])
def test_wrong_shaped_smpl_params(dataset, good_inputs, capsys, field, value, needle):
    mesh, params, good = good_inputs
    params.write_text(json.dumps({**good, field: value}))
    before = snapshot(dataset)
    code, _, err = _import(mesh, params, dataset, capsys)
    assert code == 1
    _one_line_error(err, str(params), f"field '{field}'", needle)
    assert snapshot(dataset) == before


def test_wrong_shaped_params_in_npz_and_item(dataset, good_inputs, tmp_path, capsys):
    mesh, _, good = good_inputs
    npz = tmp_path / "params.npz"
    np.savez(npz, **{**{k: np.asarray(v) for k, v in good.items()}, "betas": np.zeros((10, 3))})
    code, _, err = _import(mesh, npz, dataset, capsys)
    assert code == 1
    _one_line_error(err, str(npz), "field 'betas'", "shape (10, 3)")
    bad = _item_copy(dataset, "pose")
    with h5py.File(bad, "r+") as f:
        del f["smpl/body_pose"]
        f.create_dataset("smpl/body_pose", data=np.zeros(60, np.float32)).attrs["units"] = "rad"
    code, out, _ = run_cli(["validate", str(bad)], capsys)
    assert code == 1 and "field 'smpl/body_pose'" in out and "(60,)" in out


def test_existing_item_refused_without_overwrite(dataset, good_inputs, capsys):
    mesh, params, _ = good_inputs
    before = snapshot(dataset)
    code, _, err = _import(mesh, params, dataset, capsys, pose=0)
    assert code == 1
    _one_line_error(err, "s01/0000.h5", "item exists", "--overwrite")
    assert snapshot(dataset) == before


def test_random_bit_flips_are_reported_or_harmless(tmp_path):
    """Flip one random bit at a time anywhere in an item file: validate never raises, and when it
    finds nothing the item reads back exactly as written (the flip hit unused bytes)."""
    import dataclasses

    from thuman_io.dataset import read_header

    item = make_synthetic_item(np.random.default_rng(0), "s01", 0, n_vertices=200, frame_size=(16, 16),
                               texture_size=8)
    path = thuman_io.write_item(tmp_path, item)
    original = path.read_bytes()
    reference = thuman_io.read_item(path)

    def content(it):
        meta = dataclasses.asdict(it.meta)
        arrays = [meta.pop("reference_pose")]
        arrays += [getattr(it.mesh, k) for k in ("vertices", "faces", "vertex_colors", "uv", "texture")]
        arrays += [getattr(it.smpl, k) for k in ("betas", "global_orient", "body_pose", "transl")]
        arrays += [getattr(it.frame, k) for k in ("color", "depth_mm", "color_intrinsics", "depth_intrinsics",
                                                  "depth_to_color", "camera_to_item")]
        scalars = (meta, it.smpl.model, it.smpl.gender, it.frame.timestamp_us, it.frame.depth_registered_to_color)
        return [a.tobytes() for a in arrays], repr(scalars)

    rng = np.random.default_rng(7)
    reported = 0
    for _ in range(150):
        data = bytearray(original)
        data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(data))
        problems = thuman_io.validate_item(path)
        if problems:
            reported += 1
            assert all(line.startswith(str(path)) and "\n" not in line for line in problems)
            for read in (thuman_io.read_item, read_header):
                try:
                    read(path)
                except thuman_io.ThumanError:
                    pass
        else:
            assert content(thuman_io.read_item(path)) == content(reference)
    assert reported > 100
