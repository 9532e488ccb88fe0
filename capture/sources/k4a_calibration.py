"""Azure Kinect factory calibrations (the ``calibration.json`` that ``k4a_device_get_raw_calibration``
returns and every K4A ``.mkv`` carries as an attachment) -> :class:`~thuman.capture.camera.CameraModel`
per depth mode / colour resolution, and the depth -> colour transform. Pure Python: no SDK needed.

The conversion follows libk4a 1.4 (``src/transformation/mode_specific_calibration.c``): the raw
intrinsics are normalised and 0-cornered; a mode scales them by its binned sensor resolution,
subtracts its crop offset and shifts by half a pixel to OpenCV's pixel centres. ``ModelParameters``
hold (cx, cy, fx, fy, k1..k6, codx, cody, p2, p1) in that order. A metric radius of 0 (colour
cameras) means libk4a's default 1.7.
"""
from __future__ import annotations

import json
import os
from typing import Optional, Union

import numpy as np

from thuman.capture.camera import DEFAULT_METRIC_RADIUS, CameraModel
from thuman_io.errors import InputError

#: depth mode -> (binned calibration resolution, crop offset, output resolution), libk4a 1.4.
DEPTH_MODE_INFO = {
    "NFOV_2X2BINNED": ((512, 512), (96, 90), (320, 288)),
    "NFOV_UNBINNED": ((1024, 1024), (192, 180), (640, 576)),
    "WFOV_2X2BINNED": ((512, 512), (0, 0), (512, 512)),
    "WFOV_UNBINNED": ((1024, 1024), (0, 0), (1024, 1024)),
    "PASSIVE_IR": ((1024, 1024), (0, 0), (1024, 1024)),
}
#: colour resolution -> the same, for a 4:3 colour calibration.
COLOR_MODE_INFO = {
    "720p": ((1280, 960), (0, 120), (1280, 720)),
    "1080p": ((1920, 1440), (0, 180), (1920, 1080)),
    "1440p": ((2560, 1920), (0, 240), (2560, 1440)),
    "1536p": ((2048, 1536), (0, 0), (2048, 1536)),
    "2160p": ((3840, 2880), (0, 360), (3840, 2160)),
    "3072p": ((4096, 3072), (0, 0), (4096, 3072)),
}
_MODEL_TYPES = {"CALIBRATION_LensDistortionModelBrownConrady": "brown_conrady",
                "CALIBRATION_LensDistortionModelRational6KT": "rational_6kt"}


def load_calibration(source: Union[str, bytes, dict, os.PathLike], where=None) -> dict:
    """The parsed calibration: a dict, JSON text/bytes, or a path to a ``calibration.json``."""
    if isinstance(source, dict):
        return source
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        where = where or source
        try:
            with open(source, "rb") as f:
                source = f.read()
        except OSError as e:
            raise InputError(where, f"cannot read the calibration ({e.strerror})") from None
    try:
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        d = json.loads(text.rstrip("\x00"))
        d["CalibrationInformation"]["Cameras"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise InputError(where, f"is not an Azure Kinect calibration ({type(e).__name__}: {e})") from None
    return d


def _camera_entry(calib: dict, purpose: str, where) -> dict:
    for cam in calib["CalibrationInformation"]["Cameras"]:
        if cam.get("Purpose") == purpose:
            return cam
    raise InputError(where, f"the calibration has no {purpose} camera")


def _mode_camera(cam: dict, binned, crop, out, where, normalised_out: bool = False) -> CameraModel:
    intr = cam["Intrinsics"]
    kind = _MODEL_TYPES.get(intr.get("ModelType"))
    params = list(intr.get("ModelParameters", []))
    if kind is None:
        raise InputError(where, f"lens model {intr.get('ModelType')!r} is not supported (only the K4A "
                                "Brown-Conrady and Rational 6KT models are)")
    if len(params) < 14:
        raise InputError(where, f"lens model has {len(params)} parameters, K4A's needs 14")
    cx, cy, fx, fy, k1, k2, k3, k4, k5, k6, codx, cody, p2, p1 = (float(x) for x in params[:14])
    cx, cy = cx * binned[0] - crop[0], cy * binned[1] - crop[1]
    fx, fy = fx * binned[0], fy * binned[1]
    if normalised_out:
        cx, cy, fx, fy = cx / out[0], cy / out[1], fx / out[0], fy / out[1]
    else:
        cx, cy = cx - 0.5, cy - 0.5
    radius = float(cam.get("MetricRadius", 0.0)) or DEFAULT_METRIC_RADIUS
    return CameraModel(int(out[0]), int(out[1]), fx, fy, cx, cy, (k1, k2, k3, k4, k5, k6), p1, p2, codx, cody,
                       radius, kind)


def depth_camera(calibration, depth_mode: str = "NFOV_UNBINNED", where=None) -> CameraModel:
    """The depth camera of ``depth_mode`` (a name of DEPTH_MODE_INFO)."""
    calib = load_calibration(calibration, where)
    if depth_mode not in DEPTH_MODE_INFO:
        raise InputError(where, f"depth mode '{depth_mode}' unknown; use one of {', '.join(DEPTH_MODE_INFO)}")
    cam = _camera_entry(calib, "CALIBRATION_CameraPurposeDepth", where)
    if (cam.get("SensorWidth"), cam.get("SensorHeight")) != (1024, 1024):
        raise InputError(where, f"depth sensor is {cam.get('SensorWidth')}x{cam.get('SensorHeight')}, K4A's is 1024x1024")
    return _mode_camera(cam, *DEPTH_MODE_INFO[depth_mode], where)


def color_camera(calibration, color_resolution: str = "720p", where=None) -> CameraModel:
    """The native colour camera at ``color_resolution`` ('720p' ... '3072p')."""
    calib = load_calibration(calibration, where)
    if color_resolution not in COLOR_MODE_INFO:
        raise InputError(where, f"colour resolution '{color_resolution}' unknown; use one of "
                                f"{', '.join(COLOR_MODE_INFO)}")
    cam = dict(_camera_entry(calib, "CALIBRATION_CameraPurposePhotoVideo", where))
    w, h = int(cam.get("SensorWidth", 0)), int(cam.get("SensorHeight", 0))
    if w * 9 // 16 == h:  # legacy 16:9 calibration: first to the 4:3 sensor, staying normalised
        legacy = _mode_camera(cam, (4096, 2304), (0, -384), (4096, 3072), where, normalised_out=True)
        params = list(cam["Intrinsics"]["ModelParameters"])
        params[:4] = [legacy.cx, legacy.cy, legacy.fx, legacy.fy]
        cam["Intrinsics"] = {**cam["Intrinsics"], "ModelParameters": params}
    elif w * 3 // 4 != h:
        raise InputError(where, f"colour sensor {w}x{h} is neither 4:3 nor 16:9")
    return _mode_camera(cam, *COLOR_MODE_INFO[color_resolution], where)


def _extrinsic(cam: dict) -> np.ndarray:
    rt = cam["Rt"]
    T = np.eye(4)
    T[:3, :3] = np.asarray(rt["Rotation"], np.float64).reshape(3, 3)
    T[:3, 3] = np.asarray(rt["Translation"], np.float64).reshape(3)  # metres in the raw calibration
    return T


def depth_to_color(calibration, where=None) -> np.ndarray:
    """(4, 4) float64 rigid transform, metres: depth camera -> native colour camera."""
    calib = load_calibration(calibration, where)
    d = _extrinsic(_camera_entry(calib, "CALIBRATION_CameraPurposeDepth", where))
    c = _extrinsic(_camera_entry(calib, "CALIBRATION_CameraPurposePhotoVideo", where))
    return c @ np.linalg.inv(d)


def _raw_intrinsics(cam: CameraModel, binned, crop) -> list:
    """The inverse of _mode_camera: a mode's camera -> the 14 normalised raw parameters."""
    cx, cy = (cam.cx + 0.5 + crop[0]) / binned[0], (cam.cy + 0.5 + crop[1]) / binned[1]
    fx, fy = cam.fx / binned[0], cam.fy / binned[1]
    return [cx, cy, fx, fy, *cam.k, cam.codx, cam.cody, cam.p2, cam.p1]


def calibration_json(camera: CameraModel, depth_mode: str, color_camera: CameraModel, color_resolution: str,
                     depth_to_color: np.ndarray, template: Optional[str] = None) -> str:
    """A K4A factory calibration (raw JSON text) holding these cameras, for a stream that came
    without one (a pinhole simulation, an old recording): the inverse of depth_camera/color_camera
    on ``template``'s layout (default: the retail device's), its inertial sensors unchanged.
    Pinhole cameras are written as Brown-Conrady with zero coefficients."""
    if template is None:
        from thuman.capture.sim.lens import factory_calibration_text

        template = factory_calibration_text()
    calib = json.loads(template.rstrip("\x00"))
    cams = calib["CalibrationInformation"]["Cameras"]
    model = {"rational_6kt": "CALIBRATION_LensDistortionModelRational6KT"}
    for cam in cams:
        if cam.get("Purpose") == "CALIBRATION_CameraPurposeDepth":
            binned, crop, out = DEPTH_MODE_INFO[depth_mode]
            cm, T = camera, np.eye(4)
            cam["SensorWidth"], cam["SensorHeight"] = 1024, 1024
        elif cam.get("Purpose") == "CALIBRATION_CameraPurposePhotoVideo":
            binned, crop, out = COLOR_MODE_INFO[color_resolution]
            cm, T = color_camera, np.asarray(depth_to_color, np.float64)
            cam["SensorWidth"], cam["SensorHeight"] = 4096, 3072
        else:
            continue
        if (cm.width, cm.height) != tuple(out):
            raise InputError(None, f"camera {cm.width}x{cm.height} does not match {depth_mode if cm is camera else color_resolution}")
        cam["Intrinsics"] = {"ModelParameterCount": 14, "ModelParameters": _raw_intrinsics(cm, binned, crop),
                             "ModelType": model.get(cm.model, "CALIBRATION_LensDistortionModelBrownConrady")}
        cam["MetricRadius"] = float(cm.metric_radius) if cm.model != "pinhole" else 0.0
        cam["Rt"] = {"Rotation": T[:3, :3].reshape(-1).tolist(), "Translation": T[:3, 3].tolist()}
    return json.dumps(calib)


def color_resolution_name(width: int, height: int) -> Optional[str]:
    """'720p' for 1280x720 and so on; None for a size K4A does not have."""
    for name, (_, _, out) in COLOR_MODE_INFO.items():
        if tuple(out) == (width, height):
            return name
    return None
