"""Run in .venv-k4a (the real Azure Kinect SDK through pyk4a-bundle): compare the toolkit's camera
model with libk4a's own conversions on a factory calibration, for every depth mode.

Prints one JSON object: per depth mode, the valid-pixel count of each side, validity mismatches, the
largest 3D difference (mm) of back-projection at 2 m against ``Calibration.convert_2d_to_3d``, the
largest projection difference (px) against ``convert_3d_to_2d``, and the pinhole-only figures.
Usage: python sdk_camera_check.py CALIBRATION_JSON [STEP]  (STEP > 1 samples every STEP-th pixel).
"""
import json
import os
import sys

os.environ.setdefault("K4A_ENABLE_LOG_TO_STDOUT", "0")
import numpy as np  # noqa: E402
from pyk4a import Calibration, CalibrationType, ColorResolution, DepthMode  # noqa: E402

from thuman.capture.camera import backproject, project  # noqa: E402
from thuman.capture.sources.k4a_calibration import color_camera, depth_camera, depth_to_color  # noqa: E402

path = sys.argv[1]
step = int(sys.argv[2]) if len(sys.argv) > 2 else 1
raw = open(path).read()
Z_MM = 2000.0
out = {}
for mode in ("NFOV_2X2BINNED", "NFOV_UNBINNED", "WFOV_2X2BINNED", "WFOV_UNBINNED"):
    cal = Calibration.from_raw(raw, getattr(DepthMode, mode), ColorResolution.RES_720P)
    cam = depth_camera(raw, mode)
    depth = np.full((cam.height, cam.width), Z_MM * 1e-3)
    ours = backproject(depth, cam).astype(np.float64) * 1e3
    ours_valid = ours[..., 2] > 0
    pin = backproject(depth, cam.K).astype(np.float64) * 1e3
    sdk = np.zeros_like(ours)
    sdk_valid = np.zeros(ours_valid.shape, bool)
    for v in range(0, cam.height, step):
        for u in range(0, cam.width, step):
            try:
                sdk[v, u] = cal.convert_2d_to_3d((float(u), float(v)), Z_MM, CalibrationType.DEPTH)
                sdk_valid[v, u] = True
            except ValueError:
                pass
    sampled = np.zeros(ours_valid.shape, bool)
    sampled[::step, ::step] = True
    both = sdk_valid & ours_valid & sampled
    err = np.linalg.norm(ours[both] - sdk[both], axis=1)
    pin_err = np.linalg.norm(pin[both] - sdk[both], axis=1)
    # Projection: the SDK's 3D points back to pixels, both ways.
    pts = sdk[both][:: max(1, both.sum() // 20000)]
    uv_ours, ok = project(pts * 1e-3, cam, with_valid=True)
    uv_sdk = np.array([cal.convert_3d_to_2d(tuple(p), CalibrationType.DEPTH) for p in pts])
    perr = np.linalg.norm(uv_ours - uv_sdk, axis=1)
    K = cal.get_camera_matrix(CalibrationType.DEPTH)
    out[mode] = {"width": cam.width, "height": cam.height, "sdk_valid": int((sdk_valid & sampled).sum()),
                 "ours_valid": int((ours_valid & sampled).sum()),
                 "validity_mismatch": int(((sdk_valid != ours_valid) & sampled).sum()),
                 "backproject_max_mm": float(err.max()), "backproject_median_mm": float(np.median(err)),
                 "pinhole_median_mm": float(np.median(pin_err)), "pinhole_p95_mm": float(np.percentile(pin_err, 95)),
                 "project_points": int(len(pts)), "project_max_px": float(perr.max()), "project_all_valid": bool(ok.all()),
                 "K_max_diff": float(np.abs(K - cam.K).max()),
                 "dist_max_diff": float(np.abs(cal.get_distortion_coefficients(CalibrationType.DEPTH) - cam.distortion).max())}
cal = Calibration.from_raw(raw, DepthMode.NFOV_UNBINNED, ColorResolution.RES_720P)
col = color_camera(raw, "720p")
R, t = cal.get_extrinsic_parameters(CalibrationType.DEPTH, CalibrationType.COLOR)
T = depth_to_color(raw)
rng = np.random.default_rng(0)
pts = np.stack([rng.uniform(-1, 1, 500), rng.uniform(-0.8, 0.8, 500), rng.uniform(0.8, 3, 500)], -1)
uv_ours = project(pts, col)
uv_sdk = np.array([cal.convert_3d_to_2d(tuple(p * 1e3), CalibrationType.COLOR) for p in pts])
out["color_720p"] = {"K_max_diff": float(np.abs(cal.get_camera_matrix(CalibrationType.COLOR) - col.K).max()),
                     "project_max_px": float(np.abs(uv_ours - uv_sdk).max()),
                     "R_max_diff": float(np.abs(np.asarray(R) - T[:3, :3]).max()),
                     "t_max_diff_m": float(np.abs(np.asarray(t).reshape(3) - T[:3, 3]).max()),
                     "translation_m": T[:3, 3].tolist()}
# The older Rational 6KT lens model (early devices): the same calibration relabelled, with tangential
# terms made large enough (x200) that the factor the two models differ by shows.
calib = json.loads(raw)
for cam_entry in calib["CalibrationInformation"]["Cameras"]:
    if cam_entry["Purpose"] == "CALIBRATION_CameraPurposeDepth":
        cam_entry["Intrinsics"]["ModelType"] = "CALIBRATION_LensDistortionModelRational6KT"
        cam_entry["Intrinsics"]["ModelParameters"][12] *= 200
        cam_entry["Intrinsics"]["ModelParameters"][13] *= 200
raw6 = json.dumps(calib)
cal6 = Calibration.from_raw(raw6, DepthMode.NFOV_UNBINNED, ColorResolution.RES_720P)
cam6 = depth_camera(raw6, "NFOV_UNBINNED")
ours6 = backproject(np.full((cam6.height, cam6.width), Z_MM * 1e-3), cam6).astype(np.float64) * 1e3
bc = depth_camera(raw6.replace("LensDistortionModelRational6KT", "LensDistortionModelBrownConrady"), "NFOV_UNBINNED")
ours_bc = backproject(np.full((bc.height, bc.width), Z_MM * 1e-3), bc).astype(np.float64) * 1e3
errs, bc_errs = [], []
for v in range(0, cam6.height, 8):
    for u in range(0, cam6.width, 8):
        try:
            p = np.array(cal6.convert_2d_to_3d((float(u), float(v)), Z_MM, CalibrationType.DEPTH))
        except ValueError:
            continue
        errs.append(np.linalg.norm(ours6[v, u] - p))
        bc_errs.append(np.linalg.norm(ours_bc[v, u] - p))
out["rational_6kt_nfov"] = {"model": cam6.model, "pixels": len(errs), "backproject_max_mm": float(np.max(errs)),
                            "as_brown_conrady_max_mm": float(np.max(bc_errs))}
print(json.dumps(out))
