"""One item -> 4 samples (thuman.synth.pipeline): shapes, consistency, determinism, bad input."""
import numpy as np
import pytest

from thuman.synth.fixtures import make_body_item
from thuman.synth.pipeline import SynthConfig, synthesize_item
from thuman.synth.render.renderer import OrthoRenderer, downsample
from thuman_io import InputError
from thuman_io.corpus_validate import sample_problems
from thuman_io.grid import PAPER_GRID, SMALL_GRID


@pytest.fixture(scope="module")
def body_model():
    from thuman_io.body import load_body_model

    return load_body_model("open")


@pytest.fixture(scope="module")
def small_renderer():
    r = OrthoRenderer(SMALL_GRID)
    yield r
    r.close()


def small_item(body_model, seed=1, **kwargs):
    return make_body_item(np.random.default_rng(seed), "s001", 3, body_model, subdivisions=0, **kwargs)


def test_full_resolution_item(body_model):
    r = OrthoRenderer(PAPER_GRID)
    try:
        item = make_body_item(np.random.default_rng(5), "s007", 0, body_model, subdivisions=1)
        result = synthesize_item(item, SynthConfig(grid=PAPER_GRID, seed=3), r)
    finally:
        r.close()
    assert result.warnings == []
    assert len(result.samples) == 4
    d, h, w = PAPER_GRID.shape
    yaws = []
    for s in result.samples:
        assert s.rgb.shape == (2 * h, 2 * w, 3) and s.rgb.dtype == np.uint8
        assert s.normal_map.shape == (2 * h, 2 * w, 3) and s.mask.shape == (2 * h, 2 * w)
        assert s.occupancy.shape == (d, h, w) and s.semantic_volume.shape == (d, h, w, 3)
        assert sample_problems(s, PAPER_GRID) == []
        # the clothed silhouette, the occupancy and the body fit together
        front = s.occupancy.any(axis=0)
        mask = downsample(s.mask.astype(np.float32), 2) > 0.5
        assert (front & mask).sum() / (front | mask).sum() > 0.98
        body = s.semantic_volume.any(axis=-1)
        assert (body & ~s.occupancy).sum() < 0.02 * body.sum()    # the garment covers the body
        # the person fills the box height up to the margin, centred
        rows = np.nonzero(front.any(axis=1))[0]
        assert rows[0] >= 0 and rows[-1] < h and (rows[-1] - rows[0]) > h / 1.3
        yaws.append(s.meta["yaw"])
    steps = np.diff(np.unwrap(yaws))
    assert np.allclose(steps, np.pi / 2)
    assert len({s.meta["pitch"] for s in result.samples}) == 1


def test_same_seed_same_samples_other_seed_differs(body_model, small_renderer):
    item = small_item(body_model)
    a = synthesize_item(item, SynthConfig(grid=SMALL_GRID, seed=4), small_renderer).samples
    b = synthesize_item(item, SynthConfig(grid=SMALL_GRID, seed=4), small_renderer).samples
    c = synthesize_item(item, SynthConfig(grid=SMALL_GRID, seed=5), small_renderer).samples
    for x, y in zip(a, b):
        assert np.array_equal(x.rgb, y.rgb) and np.array_equal(x.occupancy, y.occupancy)
        assert np.array_equal(x.semantic_volume, y.semantic_volume)
        assert x.meta == y.meta
    assert a[0].meta["yaw"] != c[0].meta["yaw"]


def test_untextured_item_is_grey_with_warning(body_model, small_renderer):
    item = small_item(body_model)
    item.mesh.vertex_colors = None
    result = synthesize_item(item, SynthConfig(grid=SMALL_GRID, pitch_range=0, roll_range=0), small_renderer)
    assert any("no texture" in w and "grey" in w for w in result.warnings)
    from scipy.ndimage import binary_erosion

    s = result.samples[0]
    person = s.rgb[binary_erosion(s.mask, iterations=2)].astype(float)   # away from the edges
    # grey albedo: colour only from the light's tint (under 10 % per channel)
    chroma = np.abs(person - person.mean(axis=1, keepdims=True)).max(axis=1) / person.mean(axis=1)
    assert len(person) > 100 and np.percentile(chroma, 99) < 0.1


def test_mesh_with_hole_warns_with_leak(body_model, small_renderer):
    item = small_item(body_model)
    item.mesh.faces = np.delete(item.mesh.faces, np.arange(1000, 1040), axis=0)   # a hole
    result = synthesize_item(item, SynthConfig(grid=SMALL_GRID), small_renderer)
    leak = [w for w in result.warnings if "not watertight" in w]
    assert leak and "voxel columns" in leak[0] and "s001/0003" in leak[0]


def test_mesh_in_millimetres_is_an_error_naming_the_item(body_model, small_renderer):
    item = small_item(body_model)
    item.mesh.vertices = item.mesh.vertices * 1000
    with pytest.raises(InputError, match=r"s001/0003.*m across"):
        synthesize_item(item, SynthConfig(grid=SMALL_GRID), small_renderer)


def test_mesh_far_from_its_body_is_an_error(body_model, small_renderer):
    item = small_item(body_model)
    item.mesh.vertices = item.mesh.vertices + np.float32([4.0, 0, 0])
    with pytest.raises(InputError, match=r"s001/0003.*m from its SMPL body"):
        synthesize_item(item, SynthConfig(grid=SMALL_GRID), small_renderer)


def test_mismatched_smpl_warns_with_distance(body_model, small_renderer):
    item = small_item(body_model)
    item.smpl.body_pose = np.zeros(69, np.float32)             # T-pose: arms far from the mesh's
    item.smpl.global_orient = item.smpl.global_orient + np.float32([0, 1.5, 0])
    result = synthesize_item(item, SynthConfig(grid=SMALL_GRID), small_renderer)
    warn = [w for w in result.warnings if "does not match" in w]
    assert warn and " cm " in warn[0]


def test_normal_map_repairs_pixels_where_opposite_normals_average_out():
    from thuman.synth.pipeline import normal_map_from_colour

    colour = np.full((5, 5, 3), [0.5, 0.5, 1.0], np.float32)     # n = (0, 0, 1)
    colour[2, 2] = 0.5                                            # averaged to (0, 0, 0)
    mask = np.ones((5, 5), bool)
    mask[0] = False
    n = normal_map_from_colour(colour, mask)
    assert np.allclose(n[2, 2], [0, 0, 1]) and np.allclose(n[0], 0)
    assert np.allclose(np.linalg.norm(n[mask], axis=-1), 1)


def test_backgrounds_folder(tmp_path, body_model, small_renderer):
    from PIL import Image

    from thuman.synth.pipeline import background_files

    for name, colour in (("a.png", (255, 0, 0)), ("b.jpg", (0, 0, 255))):
        Image.new("RGB", (200, 300), colour).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    files = background_files(tmp_path)
    assert [p.name for p in files] == ["a.png", "b.jpg"]
    result = synthesize_item(small_item(body_model), SynthConfig(grid=SMALL_GRID, backgrounds=files),
                             small_renderer)
    from scipy.ndimage import binary_dilation

    seen = set()
    for s in result.samples:
        off = s.rgb[~binary_dilation(s.mask, iterations=2)]              # away from the person
        colours = {tuple(int(c) for c in np.round(off.mean(axis=0) / 255))}
        assert np.abs(off.astype(int) - off[0].astype(int)).max() <= 3     # one solid image
        seen |= colours
        assert s.meta["background"] == "image"
    assert seen <= {(1, 0, 0), (0, 0, 1)}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no images"):
        background_files(empty)
