"""Rendering passes against the grid (thuman.synth.render): normals, silhouettes, texture, semantics."""
import numpy as np
import pytest

from thuman.synth.geometry import vertex_normals
from thuman.synth.occupancy import occupancy
from thuman.synth.render.renderer import OrthoRenderer, downsample
from thuman.synth.semantic_volume import semantic_volume
from thuman.synth.preview import front_projection
from thuman_io.grid import PAPER_GRID
from tests.test_synth_occupancy import uv_sphere


@pytest.fixture(scope="module")
def renderer():
    r = OrthoRenderer(PAPER_GRID)
    yield r
    r.close()


def test_sphere_normals_match_analytic(renderer):
    g = PAPER_GRID
    c, radius = np.array([0.03, -0.05, 0.02]), 0.22
    v, f = uv_sphere(radius, c, 96, 192)
    n = vertex_normals(v, f)
    colour, alpha = renderer.flat_pass(v, f, colors=(n + 1) / 2, scale=2)
    mask = alpha > 0.5
    normal = colour * 2 - 1
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True) + 1e-12
    xy = g.pixel_centres(2) - c[:2]
    r2 = (xy ** 2).sum(-1)
    inner = r2 < (0.97 * radius) ** 2
    analytic = np.concatenate([xy, np.sqrt(np.maximum(radius ** 2 - r2, 0))[..., None]], -1) / radius
    angle = np.degrees(np.arccos(np.clip((analytic * normal).sum(-1), -1, 1)))
    assert mask[inner].all()
    assert angle[inner].mean() < 3.0


def test_silhouette_of_occupancy_equals_rendered_silhouette(renderer):
    g = PAPER_GRID
    v, f = uv_sphere(0.2, np.array([0.05, 0.1, -0.03]), 48, 96)
    v = v * [1.0, 1.6, 0.7]                       # an ellipsoid, off centre: tests both axes
    _, alpha = renderer.flat_pass(v, f, colors=np.ones_like(v), scale=2)
    rendered = downsample(alpha, 2) > 0.5         # (H, W)
    front = occupancy(v, f, g).volume.any(axis=0)
    iou = (rendered & front).sum() / (rendered | front).sum()
    assert iou > 0.98
    # image row 0 is the top: the ellipsoid (centre y = +0.16) reaches the top more than the bottom
    rows = np.nonzero(front.any(axis=1))[0]
    assert rows[0] < g.height - 1 - rows[-1]


def test_texture_orientation(renderer):
    g = PAPER_GRID
    # a quad facing the camera, uv origin bottom-left (OBJ), texture row 0 at the top
    v = np.array([[-0.2, -0.2, 0], [0.2, -0.2, 0], [0.2, 0.2, 0], [-0.2, 0.2, 0]])
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    f = np.array([[0, 1, 2], [0, 2, 3]])
    tex = np.zeros((8, 8, 3), np.uint8)
    tex[:4, :4] = [255, 0, 0]      # top-left red
    tex[:4, 4:] = [0, 255, 0]      # top-right green
    tex[4:, :4] = [0, 0, 255]      # bottom-left blue
    tex[4:, 4:] = [255, 255, 255]
    colour, alpha = renderer.flat_pass(v, f, colors=np.ones((4, 3)), uv=uv, texture=tex, scale=1)
    row, col = g.view_to_index(np.array([[-0.1, 0.1, 0], [0.1, 0.1, 0], [-0.1, -0.1, 0], [0.1, -0.1, 0]]))[:, 1:].astype(int).T
    got = np.round(colour[row, col]).astype(int)
    assert got.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]


@pytest.fixture(scope="module")
def posed_body():
    from thuman_io.body import load_body_model

    bm = load_body_model("open")
    pose = np.zeros((1, 69), np.float32)   # body_pose[3 * (j - 1):3 * j] rotates SMPL joint j
    pose[0, 45:48] = [0.0, 0.0, -1.35]     # left shoulder (16): arm down, pressed into the torso
    pose[0, 48:51] = [0.0, 0.0, 1.35]      # right shoulder (17)
    pose[0, 0:3] = [-0.5, 0.0, 0.0]        # left hip (1) forward
    out = bm.forward(betas=np.zeros((1, 10), np.float32), global_orient=np.array([[0, 0.5, 0]], np.float32),
                     body_pose=pose, transl=np.zeros((1, 3), np.float32))
    v = out.vertices[0].astype(np.float64)
    v = (v - (v.min(0) + v.max(0)) / 2) / (np.ptp(v, axis=0).max() * 1.1)
    return v, np.asarray(bm.faces), np.asarray(bm.semantic_code)


def test_semantic_map_equals_front_voxels_of_semantic_volume(renderer, posed_body):
    g = PAPER_GRID
    v, f, codes = posed_body
    volume, occ = semantic_volume(v, f, codes, g)
    assert occ.leak_columns == 0
    front = front_projection(volume, occ.volume)                      # (H, W, 3)
    colour, alpha = renderer.flat_pass(v, f, colors=codes, scale=2)
    # the 2H x 2W map sampled at the centre of each grid pixel's 2x2 block
    semantic_map = np.where((alpha > 0.5)[..., None], colour, 0)
    sampled = downsample(semantic_map, 2)
    both = occ.volume.any(axis=0) & (downsample(alpha, 2) > 0.99)
    agree = np.abs(sampled - front).max(axis=-1) < 0.05
    assert both.sum() > 2000
    assert agree[both].mean() > 0.95, agree[both].mean()


def test_fused_normal_output_equals_a_separate_normal_pass(renderer):
    """flat_pass_with_normals draws colour and normals in one rasterization: the colour and the
    coverage are those of flat_pass, the normals those of a pass coloured (n + 1) / 2."""
    v, f = uv_sphere(0.2, np.array([0.02, -0.03, 0.0]), 48, 96)
    v = v * [1.0, 1.5, 0.8]
    n = vertex_normals(v, f)
    colors = np.random.default_rng(0).uniform(0.2, 0.9, (len(v), 3))
    colour, alpha, normal_colour = renderer.flat_pass_with_normals(v, f, n, colors=colors, scale=2)
    colour2, alpha2 = renderer.flat_pass(v, f, colors=colors, scale=2)
    normal2, alpha3 = renderer.flat_pass(v, f, colors=(n + 1) / 2, scale=2)
    assert np.array_equal(colour, colour2) and np.array_equal(alpha, alpha2) and np.array_equal(alpha, alpha3)
    assert alpha.sum() > 1000
    assert np.abs(normal_colour - normal2).max() <= 1.01 / 255      # 8-bit rounding of the interpolant
    assert not normal_colour[alpha == 0].any()


def test_passes_are_anti_aliased_by_2x2_supersampling(renderer):
    """Coverage takes the values k / 4 (2 x 2 samples per pixel); inside it is 1, outside 0, and a
    vertical edge through the middle of a pixel column covers half of it."""
    g = PAPER_GRID
    px = 1.0 / (2 * g.height)                     # pixel size of the 2H x 2W image, view units
    col = 100                                     # the pixel column whose middle the edge runs down
    x0 = -g.half_extent[0] + (col + 0.5) * px
    v = np.array([[x0, -0.2, 0], [0.2, -0.2, 0], [0.2, 0.2, 0], [x0, 0.2, 0]])
    f = np.array([[0, 1, 2], [0, 2, 3]])
    colour, alpha = renderer.flat_pass(v, f, colors=np.full((4, 3), 0.6), scale=2)
    assert set(np.unique(alpha * 4).round(6)) <= {0, 1, 2, 3, 4}
    rows = slice(g.height - 20, g.height + 20)
    assert np.allclose(alpha[rows, col], 0.5) and np.allclose(alpha[rows, col + 1], 1.0)
    assert np.allclose(alpha[rows, col - 1], 0.0)
    assert np.allclose(colour[rows, col], 0.6, atol=1 / 255)   # edge pixels keep their colour
