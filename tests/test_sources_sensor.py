"""The simulated K4A sensor: intrinsics and pixel convention (through the real lens and the pinhole),
noise statistics, dropouts, flying pixels."""
import math

import numpy as np
import pytest

from thuman.capture.camera import backproject, capture_to_cv
from thuman.capture.sim.sensor import DEPTH_MODES, DepthNoise, SceneMesh, SimSensor, depth_mode


def pixel_rays(sensor) -> np.ndarray:
    """(H, W, 3) rays (x/z, y/z, 1) of the sensor's pixels, through its lens (OpenCV frame)."""
    xy = sensor.camera.ray_table()
    return np.concatenate([xy, np.ones(xy.shape[:2] + (1,))], -1)


def quad(center, half, normal_yaw=0.0, color=200, normal_pitch=0.0):
    """A square in the capture frame centred at ``center``, turned by ``normal_yaw`` about y then
    by ``normal_pitch`` about x."""
    cy, sy, cp, sp = math.cos(normal_yaw), math.sin(normal_yaw), math.cos(normal_pitch), math.sin(normal_pitch)
    rot = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    right, up = rot @ [half, 0, 0], rot @ [0, half, 0]
    ctr = np.asarray(center, float)
    v = np.array([ctr - right - up, ctr + right - up, ctr + right + up, ctr - right + up], np.float32)
    return SceneMesh(v, np.array([[0, 1, 2], [0, 2, 3]]), np.full((4, 3), color, np.uint8))


@pytest.fixture(scope="module")
def nfov():
    s = SimSensor(mode=DEPTH_MODES["NFOV_UNBINNED"], seed=1)
    yield s
    s.close()


def test_modes_and_intrinsics():
    m = depth_mode("nfov_unbinned")
    assert (m.width, m.height) == (640, 576) and m.K[0, 2] == 319.5
    assert {k: (v.width, v.height) for k, v in DEPTH_MODES.items()} == {
        "NFOV_2X2BINNED": (320, 288), "NFOV_UNBINNED": (640, 576), "WFOV_2X2BINNED": (512, 512),
        "WFOV_UNBINNED": (1024, 1024)}
    with pytest.raises(Exception, match="depth mode 'QVGA' unknown"):
        depth_mode("QVGA")


def test_plane_at_1p5m_has_the_configured_noise(nfov):
    color, depth_mm, exact = nfov.measure([quad([0, 0, -1.5], 3.0)], frame_index=0)
    assert depth_mm.dtype == np.uint16 and depth_mm.shape == (576, 640)
    np.testing.assert_allclose(exact[exact > 0], 1.5, atol=1e-5)
    valid = depth_mm > 0
    # Missing pixels: only the random dropout on a bright plane facing the camera.
    assert abs((1 - valid.mean()) - nfov.noise.dropout_prob) < 0.0006
    z = depth_mm[valid].astype(np.float64)
    # Expected spread: the model's sigma at each pixel's incidence angle, plus 1 mm quantisation.
    rays = pixel_rays(nfov)
    theta = np.arccos(1 / np.linalg.norm(rays, axis=-1))
    expected = math.sqrt(np.mean(nfov.noise.sigma_mm(1.5, theta[valid]) ** 2) + 1 / 12)
    assert nfov.noise.sigma_mm(1.5) == pytest.approx(1.85)
    assert z.std() == pytest.approx(expected, rel=0.03)
    assert abs(z.mean() - 1500.0) < 0.05
    assert np.all(z == np.round(z))


def test_noise_grows_with_depth_and_range_is_enforced(nfov):
    _, d3, _ = nfov.measure([quad([0, 0, -3.0], 5.0)], frame_index=1)
    z = d3[d3 > 0].astype(np.float64)
    assert z.std() == pytest.approx(math.sqrt(nfov.noise.sigma_mm(3.0) ** 2 + 1 / 12), rel=0.06)
    _, far, _ = nfov.measure([quad([0, 0, -6.0], 8.0)], frame_index=2)
    assert not far.any()  # beyond NFOV unbinned's 3.86 m


@pytest.mark.parametrize("lens", ["k4a", "pinhole"])
@pytest.mark.parametrize("yaw_deg, pitch_deg", [(45, 0), (0, 45)])
def test_exact_mode_and_pixel_convention(yaw_deg, pitch_deg, lens):
    # A plane turned 45 degrees: a half-pixel slip would move its depth by ~2 mm. Through the
    # distorted lens each pixel must see its own ray (the lens moves edge pixels by 20+ px).
    s = SimSensor(mode=DEPTH_MODES["NFOV_2X2BINNED"], noise=DepthNoise.none(), lens=lens)
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    try:
        _, depth_mm, exact = s.measure([quad([0, 0, -1.5], 2.0, normal_yaw=yaw, normal_pitch=pitch)], frame_index=0)
    finally:
        s.close()
    rays = pixel_rays(s)
    # Plane through (0, 0, 1.5) (OpenCV frame) with normal n: depth z = (n . p0) / (n . ray).
    rot = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]]) @ \
        np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
    n = capture_to_cv(rot @ [0, 0, 1.0])
    z = (n @ np.array([0, 0, 1.5])) / (rays @ n)
    inside = exact > 0
    assert inside.mean() > 0.5
    # Away from the quad's outline (nearest sampling there), inverse-depth interpolation is exact.
    interior = inside & np.pad(inside[1:-1, 1:-1] & inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2]
                               & inside[1:-1, 2:], 1)
    assert np.abs(exact[interior] - z[interior]).max() < 2e-4
    np.testing.assert_array_equal(depth_mm, np.where(inside, np.round(exact * 1000.0), 0).astype(np.uint16))
    # backproject() of the measured depth lands on the plane
    pts = backproject(depth_mm * 1e-3, s.camera)[interior]
    assert np.abs((pts - [0, 0, 1.5]) @ n).max() < 1.5e-3


def test_grazing_angles_drop_out(nfov):
    steep = quad([0, 0, -1.8], 1.5, normal_yaw=math.radians(82))
    _, d, exact = nfov.measure([steep], frame_index=3)
    seen = exact > 0
    assert seen.sum() > 2000 and (d[seen] == 0).mean() > 0.5
    _, d, exact = nfov.measure([quad([0, 0, -1.8], 1.5, normal_yaw=math.radians(30))], frame_index=4)
    assert (d[exact > 0] == 0).mean() < 0.01


def test_edges_drop_out_and_fly(nfov):
    scene = [quad([0, 0, -2.0], 3.0), quad([0, 0, -1.2], 0.3)]
    _, d, exact = nfov.measure(scene, frame_index=5)
    front = np.isclose(exact, 1.2, atol=1e-3)
    back = np.isclose(exact, 2.0, atol=1e-3)
    dm = d.astype(np.float64)
    between = (dm > 1230) & (dm < 1970)
    assert 20 < between.sum() < 2000  # flying pixels, only along the square's outline
    edge = front & ~np.pad(front[1:-1, 1:-1] & front[:-2, 1:-1] & front[2:, 1:-1]
                           & front[1:-1, :-2] & front[1:-1, 2:], 1)
    assert (d[edge] == 0).mean() > 0.2  # dropouts at the edge
    inner_front = front & ~edge
    assert (d[inner_front] == 0).mean() < 0.01 and back.sum() > 0


def test_dark_surfaces_drop_out(nfov):
    _, d, exact = nfov.measure([quad([0, 0, -1.5], 3.0, color=5)], frame_index=6)
    assert (d[exact > 0] == 0).mean() == pytest.approx(nfov.noise.dark_drop_prob, abs=0.02)


def test_noise_is_deterministic_per_frame(nfov):
    scene = [quad([0, 0, -1.5], 3.0)]
    a = nfov.measure(scene, frame_index=7)
    b = nfov.measure(scene, frame_index=7)
    c = nfov.measure(scene, frame_index=8)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])
    assert (a[1] != c[1]).mean() > 0.3
