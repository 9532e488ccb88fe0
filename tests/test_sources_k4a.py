"""The Azure Kinect source: a clear DeviceError without the SDK, and real use when pyk4a imports."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from thuman_io.errors import DeviceError, InputError

HAVE_PYK4A = importlib.util.find_spec("pyk4a") is not None


def test_without_pyk4a_one_clear_device_error(monkeypatch):
    from thuman.capture.sources.k4a import K4ASource, import_pyk4a

    # Where pyk4a is installed, hide it; here it is not (FACTS.md: no SDK on this machine).
    monkeypatch.setitem(sys.modules, "pyk4a", None)
    with pytest.raises(DeviceError) as e:
        import_pyk4a()
    msg = str(e.value)
    assert "pyk4a" in msg and "Azure Kinect SDK" in msg and "pip install thuman[kinect]" in msg and "\n" not in msg
    with pytest.raises(DeviceError, match="pyk4a"):
        K4ASource()


def test_configuration_is_checked_before_the_device():
    from thuman.capture.sources.k4a import K4ASource, MkvSource

    with pytest.raises(InputError, match="depth mode 'XYZ' unknown"):
        K4ASource(depth_mode="XYZ")
    with pytest.raises(InputError, match="fps 60"):
        K4ASource(fps=60)
    with pytest.raises(InputError, match="15 fps"):
        K4ASource(depth_mode="WFOV_UNBINNED", fps=30)
    with pytest.raises(InputError, match="no such Azure Kinect recording"):
        MkvSource("/nonexistent/take.mkv")


@pytest.mark.skipif(HAVE_PYK4A, reason="pyk4a is installed: the no-SDK path of the CLI cannot be seen")
def test_cli_without_sdk_exits_nonzero_with_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "thuman.cli.main", "record", "--source", "k4a", "--out",
                        str(tmp_path / "k.threc")], capture_output=True, text=True)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("thuman: error: Azure Kinect") and "pyk4a" in lines[0]
    assert not (tmp_path / "k.threc").exists()


def test_live_device_or_clean_device_error():
    # The main environment runs numpy 2, where pyk4a-bundle cannot load; the same path runs against
    # the real SDK in .venv-k4a (test_sources_k4a_sdk.py::test_live_source_without_a_device_is_one_line).
    pytest.importorskip("pyk4a", reason="pyk4a is not in this environment (numpy 2); the real-SDK run of "
                                        "this path is test_sources_k4a_sdk.py in .venv-k4a")
    from thuman.capture.sources.k4a import K4ASource

    try:
        src = K4ASource(depth_mode="NFOV_2X2BINNED", fps=15)
    except DeviceError as e:  # SDK present, no camera plugged in
        assert "Azure Kinect" in str(e)
        return
    try:
        frames = []
        for f in src:
            frames.append(f)
            if len(frames) == 3:
                break
    finally:
        src.close()
    f = frames[-1]
    assert f.depth_mm.dtype == np.uint16 and f.color.shape == f.depth_mm.shape + (3,)
    assert f.K.shape == (3, 3) and f.K[0, 0] > 0 and frames[1].timestamp_us > frames[0].timestamp_us


def test_headless_display_is_started_or_named(monkeypatch):
    import shutil as sh

    from thuman.capture.sources import virtual_display as vd

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setattr(vd.shutil, "which", lambda name: None)
    with pytest.raises(DeviceError) as e:
        vd.ensure_display()
    assert "Xvfb" in str(e.value) and "apt-get install xvfb" in str(e.value) and "\n" not in str(e.value)
    monkeypatch.undo()
    if sh.which("Xvfb") is None:
        pytest.skip("Xvfb not installed (scripts/setup.sh installs it)")
    monkeypatch.delenv("DISPLAY", raising=False)
    try:
        display = vd.ensure_display()
        assert display.startswith(":") and vd._XVFB is not None and vd._XVFB.poll() is None
        assert vd.ensure_display() == display  # one server per process
    finally:
        vd.stop_display()
    assert "DISPLAY" not in __import__("os").environ
