"""The camera model against the real Azure Kinect SDK (libk4a 1.4.2 through pyk4a-bundle, run in
.venv-k4a made by scripts/setup.d/k4a.sh): on the retail factory calibration of the fixtures, every
pixel of every depth mode back-projects like ``Calibration.convert_2d_to_3d`` and projects like
``convert_3d_to_2d``."""
import json
import subprocess
from pathlib import Path

from second_envs import second_env_python

HERE = Path(__file__).resolve().parent
CALIBRATION = HERE / "data" / "azure-kinect" / "calibration.json"  # a retail device's, MIT (pyk4a)


def sdk_figures():
    python = second_env_python("k4a")
    r = subprocess.run([str(python), str(HERE / "k4a" / "sdk_camera_check.py"), str(CALIBRATION)],
                       capture_output=True, text=True, timeout=600, env={"K4A_ENABLE_LOG_TO_STDOUT": "0",
                                                                          "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_every_depth_mode_matches_the_sdk():
    figures = sdk_figures()
    for mode in ("NFOV_2X2BINNED", "NFOV_UNBINNED", "WFOV_2X2BINNED", "WFOV_UNBINNED"):
        f = figures[mode]
        assert f["sdk_valid"] > 0.5 * f["width"] * f["height"], (mode, f)
        assert f["validity_mismatch"] == 0, (mode, f)
        assert f["backproject_max_mm"] < 0.5, (mode, f)          # the bound at 2 m
        assert f["project_max_px"] < 0.05 and f["project_all_valid"], (mode, f)
        assert f["K_max_diff"] < 1e-3 and f["dist_max_diff"] < 1e-6, (mode, f)
        assert f["pinhole_median_mm"] > 50  # the lens matters: K alone is far off (86 mm NFOV)
    c = figures["color_720p"]
    assert c["K_max_diff"] < 1e-3 and c["project_max_px"] < 0.05
    assert c["R_max_diff"] < 1e-6 and c["t_max_diff_m"] < 1e-6
    assert 0.03 < abs(c["translation_m"][0]) < 0.034  # about 32 mm, in metres
    r6 = figures["rational_6kt_nfov"]  # the older lens model is read, and is not Brown-Conrady
    assert r6["model"] == "rational_6kt" and r6["pixels"] > 5000
    assert r6["backproject_max_mm"] < 0.5 < r6["as_brown_conrady_max_mm"]
