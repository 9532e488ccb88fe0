"""Run in .venv-k4a under a display (xvfb-run): write a flat wall at 2.5 m as an Azure Kinect .mkv
through libk4arecord (MkvWriter) with a factory calibration, export its frame with
``thuman inspect --ply``, and compare the points with the SDK's own point cloud
(``k4a_transformation_depth_image_to_point_cloud`` through pyk4a) of the same depth image.

Usage: python sdk_wall_check.py CALIBRATION_JSON OUT_DIR. Prints one JSON object per depth mode.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("K4A_ENABLE_LOG_TO_STDOUT", "0")
import numpy as np  # noqa: E402
import pyk4a  # noqa: E402
from pyk4a import Calibration, ColorResolution, DepthMode  # noqa: E402

from thuman.capture.sources.k4a_calibration import color_camera, depth_camera, depth_to_color  # noqa: E402
from thuman.capture.sources.mkv_writer import MkvWriter  # noqa: E402
from thuman_io.recording import RecordedFrame, RecordingHeader  # noqa: E402

raw = Path(sys.argv[1]).read_text()
out = Path(sys.argv[2])
thuman = str(Path(sys.executable).with_name("thuman"))
result = {}
for mode in ("NFOV_UNBINNED", "WFOV_2X2BINNED"):
    cam = depth_camera(raw, mode)
    col = color_camera(raw, "720p")
    rays = cam.ray_table()
    depth = np.where(np.isfinite(rays[..., 0]), 2500, 0).astype(np.uint16)   # a wall at Z = 2.5 m
    color = np.full(depth.shape + (3,), 180, np.uint8)
    header = RecordingHeader(width=cam.width, height=cam.height, fps=15.0, K=cam.K, color_K=col.K,
                             depth_to_color=depth_to_color(raw), depth_mode=mode, camera=cam.to_dict(),
                             color_camera=col.to_dict(), k4a_calibration=raw)
    mkv = out / f"wall-{mode}.mkv"
    with MkvWriter(mkv, header, overwrite=True) as w:
        for i in range(2):
            w.add(RecordedFrame(i, i * 66667, color, depth))
    ply = out / f"wall-{mode}.ply"
    r = subprocess.run([thuman, "inspect", str(mkv), "--ply", str(ply)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = ply.read_bytes()
    body = data[data.index(b"end_header\n") + len(b"end_header\n"):]
    pts = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    ours = np.stack([pts["x"], pts["y"], pts["z"]], -1).astype(np.float64)
    cal = Calibration.from_raw(raw, getattr(DepthMode, mode), ColorResolution.RES_720P)
    sdk = pyk4a.depth_image_to_point_cloud(depth, cal, True, True).reshape(-1, 3).astype(np.float64) * 1e-3
    sdk = sdk[sdk[:, 2] > 0]
    pin = np.stack(np.meshgrid(np.arange(cam.width), np.arange(cam.height)), -1).reshape(-1, 2)[depth.reshape(-1) > 0]
    pin_x = (pin[:, 0] - cam.cx) / cam.fx * 2.5
    pin_y = (pin[:, 1] - cam.cy) / cam.fy * 2.5
    ext = lambda a: float(a.max() - a.min())  # noqa: E731
    result[mode] = {"points": len(ours), "sdk_points": len(sdk),
                    "x_extent_m": ext(ours[:, 0]), "y_extent_m": ext(ours[:, 1]),
                    "sdk_x_extent_m": ext(sdk[:, 0]), "sdk_y_extent_m": ext(sdk[:, 1]),
                    "pinhole_x_extent_m": ext(pin_x), "pinhole_y_extent_m": ext(pin_y),
                    "z_max_abs_err_m": float(np.abs(ours[:, 2] - 2.5).max())}
print(json.dumps(result))
