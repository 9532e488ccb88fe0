"""The camera model's own conventions: pinhole = the bare K, projection and back-projection invert
each other through a distorted lens, numpy = torch, Rational 6KT's tangential terms, refusals."""
import numpy as np
import pytest
import torch

from thuman.capture.camera import CameraModel, as_camera, backproject, project, project_torch
from thuman.capture.sources.k4a_calibration import calibration_json, color_camera, depth_camera, depth_to_color
from thuman_io.errors import InputError, SchemaError

from pathlib import Path

CALIBRATION = Path(__file__).resolve().parent / "data" / "azure-kinect" / "calibration.json"


def test_pinhole_is_the_bare_intrinsics():
    K = np.array([[500.0, 0, 319.5], [0, 510.0, 287.5], [0, 0, 1]])
    cam = CameraModel.pinhole(K, 640, 576)
    depth = np.full((576, 640), 2.0, np.float32)
    p = backproject(depth, cam)
    assert np.allclose(p, backproject(depth, K)) and np.allclose(p[287, 320], [2 * 0.5 / 500, -2 * 0.5 / 510, 2])
    assert np.allclose(project(p.reshape(-1, 3), cam), np.stack(np.meshgrid(np.arange(640), np.arange(576)), -1).reshape(-1, 2), atol=1e-4)
    assert as_camera(K, (576, 640)) == cam


def test_distorted_round_trip_numpy_and_torch():
    cam = depth_camera(CALIBRATION, "NFOV_UNBINNED")
    assert cam.model == "brown_conrady" and cam.metric_radius > 1.7 and not cam.is_pinhole
    rays = cam.ray_table()
    assert rays.shape == (576, 640, 2) and np.isfinite(rays).all()  # NFOV: every pixel has a ray
    depth = np.random.default_rng(0).uniform(0.5, 3.5, (576, 640))
    pts = backproject(depth, cam)
    uv, ok = project(pts.reshape(-1, 3).astype(np.float64), cam, with_valid=True)
    grid = np.stack(np.meshgrid(np.arange(640), np.arange(576)), -1).reshape(-1, 2)
    assert ok.all() and np.abs(uv - grid).max() < 1e-3
    uvt, okt = project_torch(torch.as_tensor(pts.reshape(-1, 3), dtype=torch.float64), cam)
    assert okt.all() and np.abs(uvt.numpy() - uv).max() < 1e-6
    # The lens matters: the pinhole part alone lands far off at the image edge.
    assert np.abs(project(pts[0, 0].astype(np.float64), cam.K) - [0, 0]).max() > 10
    assert cam.to_dict() == CameraModel.from_dict(cam.to_dict()).to_dict()


def test_wfov_corners_have_no_ray_and_project_invalid():
    cam = depth_camera(CALIBRATION, "WFOV_2X2BINNED")
    rays = cam.ray_table()
    assert np.isnan(rays[0, 0]).all() and np.isfinite(rays[256, 256]).all()
    assert backproject(np.ones((512, 512)), cam)[0, 0, 2] == 0
    _, ok = project(np.array([[10.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]), cam, with_valid=True)
    assert ok.tolist() == [False, True, False]


def test_rational_6kt_differs_only_in_the_tangential_cross_terms():
    bc = CameraModel(640, 576, 500, 500, 320, 288, (0.1, 0.01, 0, 0, 0, 0), p1=0.01, p2=0.02,
                     metric_radius=1.7, model="brown_conrady")
    kt = CameraModel(**{**bc.to_dict(), "k": bc.k, "model": "rational_6kt"})
    x, y = np.array([0.3]), np.array([0.2])
    (xb, yb), (xk, yk) = bc.distort(x, y), kt.distort(x, y)
    assert np.allclose(xb - xk, x * y * 0.01) and np.allclose(yb - yk, x * y * 0.02)
    xu, yu, ok = kt.undistort(xk, yk)
    assert ok.all() and np.allclose([xu[0], yu[0]], [0.3, 0.2], atol=1e-9)


def test_calibration_file_units_and_refusals(tmp_path):
    T = depth_to_color(CALIBRATION)
    assert 0.030 < abs(T[0, 3]) < 0.034  # about 32 mm, stored in metres
    col = color_camera(CALIBRATION, "720p")
    assert (col.width, col.height) == (1280, 720) and 600 < col.fx < 620
    bad = tmp_path / "bad.json"
    text = CALIBRATION.read_text().replace("CALIBRATION_LensDistortionModelBrownConrady", "CALIBRATION_Fancy", 1)
    bad.write_text(text)
    with pytest.raises(InputError, match="lens model 'CALIBRATION_Fancy' is not supported"):
        depth_camera(bad, "NFOV_UNBINNED", where=bad)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not an Azure Kinect calibration"):
        depth_camera(bad)
    with pytest.raises(SchemaError, match="unknown"):
        CameraModel(10, 10, 1, 1, 5, 5, model="fisheye")


def test_calibration_made_from_cameras_reads_back_as_them():
    for mode in ("NFOV_2X2BINNED", "NFOV_UNBINNED", "WFOV_2X2BINNED", "WFOV_UNBINNED"):
        cam, col, T = depth_camera(CALIBRATION, mode), color_camera(CALIBRATION, "720p"), depth_to_color(CALIBRATION)
        text = calibration_json(cam, mode, col, "720p", T)
        back = depth_camera(text, mode)
        assert back.model == cam.model and np.allclose(back.K, cam.K, atol=1e-9) and np.allclose(back.k, cam.k)
        assert np.allclose(color_camera(text, "720p").K, col.K, atol=1e-9) and np.allclose(depth_to_color(text), T)
    # A pinhole camera becomes Brown-Conrady with zero coefficients (the SDK knows no pinhole).
    pin = CameraModel.pinhole(np.array([[504.2, 0, 319.5], [0, 504.2, 287.5], [0, 0, 1]]), 640, 576)
    text = calibration_json(pin, "NFOV_UNBINNED", color_camera(CALIBRATION, "720p"), "720p", np.eye(4))
    back = depth_camera(text, "NFOV_UNBINNED")
    assert np.allclose(back.K, pin.K) and not any(back.k) and back.is_pinhole is False
    assert np.allclose(project(np.array([0.3, -0.2, 2.0]), back), project(np.array([0.3, -0.2, 2.0]), pin))


def test_item_frame_carries_the_lens(tmp_path):
    import thuman_io
    from thuman_io.testing import make_synthetic_item

    cam = depth_camera(CALIBRATION, "NFOV_2X2BINNED")
    item = make_synthetic_item(np.random.default_rng(0), frame_size=(288, 320))
    item.frame.camera = cam.to_dict()
    path = thuman_io.write_item(tmp_path, item)
    assert thuman_io.validate_item(path) == []
    back = thuman_io.read_item(path)
    assert CameraModel.from_dict(back.frame.camera) == cam and back.frame.color_camera is None
