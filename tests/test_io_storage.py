"""Item storage: round trip of every field, lazy reads, atomic writes, overwrite rules."""
import h5py
import numpy as np
import pytest

import thuman_io
from thuman_io.errors import InputError, SchemaError
from thuman_io.item_schema import FIELDS
from thuman_io.storage import item_path, read_item, write_item
from thuman_io.testing import make_synthetic_item
from thuman_io.version import ITEM_SCHEMA, ITEM_SCHEMA_VERSION, TOOLKIT_VERSION


def _assert_items_equal(a, b):
    for name in ("vertices", "faces", "vertex_colors", "uv", "texture"):
        np.testing.assert_array_equal(getattr(a.mesh, name), getattr(b.mesh, name), err_msg=name)
    for name in ("betas", "global_orient", "body_pose", "transl"):
        np.testing.assert_array_equal(getattr(a.smpl, name), getattr(b.smpl, name), err_msg=name)
    assert (a.smpl.model, a.smpl.gender) == (b.smpl.model, b.smpl.gender)
    for name in ("subject", "pose_index", "capture_time", "device", "postprocessing", "extra"):
        assert getattr(a.meta, name) == getattr(b.meta, name), name
    np.testing.assert_array_equal(a.meta.reference_pose, b.meta.reference_pose)


def test_round_trip_every_field(tmp_path, rng):
    item = make_synthetic_item(rng, "s01", 7)
    path = write_item(tmp_path, item)
    assert path == tmp_path / "s01" / "0007.h5"
    back = read_item(path)
    _assert_items_equal(item, back)
    for name in ("color", "depth_mm", "color_intrinsics", "depth_intrinsics", "depth_to_color", "camera_to_item"):
        np.testing.assert_array_equal(getattr(item.frame, name), getattr(back.frame, name), err_msg=name)
    assert back.frame.depth_mm.dtype == np.uint16
    assert back.frame.timestamp_us == item.frame.timestamp_us
    assert back.meta.schema_version == ITEM_SCHEMA_VERSION and back.meta.toolkit_version == TOOLKIT_VERSION
    assert thuman_io.validate_item(path) == []


def test_file_describes_itself(tmp_path, rng):
    path = write_item(tmp_path, make_synthetic_item(rng, "s01", 0))
    with h5py.File(path, "r") as f:
        assert f.attrs["schema"].decode() == ITEM_SCHEMA and int(f.attrs["schema_version"]) == ITEM_SCHEMA_VERSION
        for spec in FIELDS:
            assert spec.path in f, spec.path
            assert f[spec.path].attrs["units"].decode() == spec.units
            assert f[spec.path].dtype == np.dtype(spec.dtype)
            assert f[spec.path].fletcher32  # bit flips are detected on read
            assert f[spec.path].compression in (None, "lzf", "gzip")


def test_lazy_read_skips_the_frame(tmp_path, rng):
    """frame=False never touches the frame: it still reads when the frame's data is corrupt."""
    path = write_item(tmp_path, make_synthetic_item(rng, "s01", 0, frame_size=(120, 160)))
    with h5py.File(path, "r") as f:
        ds = f["frame/color"]
        info = ds.id.get_chunk_info(0)
        offset, size = info.byte_offset, info.size
    with open(path, "r+b") as fh:
        fh.seek(offset + size // 2)
        byte = fh.read(1)
        fh.seek(offset + size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    item = read_item(path, frame=False)
    assert item.frame is None and item.mesh.vertices.shape[1] == 3
    with pytest.raises(InputError, match="checksum"):
        read_item(path, frame=True)


def test_minimal_item_without_optional_fields(tmp_path, rng):
    item = make_synthetic_item(rng, "s02", 1, with_frame=False, textured=False)
    item.mesh.vertex_colors = None
    item.meta.reference_pose = None
    back = read_item(write_item(tmp_path, item))
    assert back.frame is None and back.mesh.texture is None and back.mesh.vertex_colors is None
    assert back.meta.reference_pose is None
    assert thuman_io.validate_item(tmp_path / "s02" / "0001.h5") == []


def test_existing_item_is_not_overwritten(tmp_path, rng):
    first = make_synthetic_item(rng, "s01", 0)
    path = write_item(tmp_path, first)
    before = path.read_bytes()
    with pytest.raises(InputError, match="exists"):
        write_item(tmp_path, make_synthetic_item(rng, "s01", 0))
    assert path.read_bytes() == before
    second = make_synthetic_item(np.random.default_rng(5), "s01", 0)
    write_item(tmp_path, second, overwrite=True)
    np.testing.assert_array_equal(read_item(path).mesh.vertices, second.mesh.vertices)
    assert [p.name for p in path.parent.iterdir()] == ["0000.h5"]  # no temporaries left


def test_invalid_item_writes_nothing(tmp_path, rng):
    item = make_synthetic_item(rng, "s01", 0)
    item.mesh.vertices[3, 1] = np.nan
    with pytest.raises(SchemaError, match=r"0000\.h5: field 'mesh/vertices': 1 vertices contain NaN"):
        write_item(tmp_path, item)
    assert not (tmp_path / "s01").exists() or list((tmp_path / "s01").iterdir()) == []


@pytest.mark.parametrize("subject", ["", "../x", "a b", ".hidden"])
def test_bad_subject_ids_are_refused(tmp_path, subject):
    with pytest.raises(InputError, match="subject id"):
        item_path(tmp_path, subject, 0)
