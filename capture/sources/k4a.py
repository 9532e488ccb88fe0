"""Azure Kinect (and Orbbec Femto through Orbbec's K4A wrapper) through ``pyk4a``: live capture
(:class:`K4ASource`) and ``.mkv`` playback (:class:`MkvSource`).

``pyk4a`` is the optional extra ``thuman[kinect]`` (pyk4a-bundle: the SDK's libk4a 1.4.2 in a wheel,
numpy < 2); it is imported only when one of these sources is opened. Without it, or without a device,
opening raises DeviceError with one line saying what is missing and how to install it.

Frames follow capture/frames.py: colour is resampled into the depth camera (K4A's
``transformed_color``), so one camera serves both. The cameras (lens distortion included) and
``depth_to_color`` come from the raw factory calibration (``calibration_raw``) through
``k4a_calibration``; pyk4a's own matrices would drop the lens. Colour registration runs the depth
engine, which needs OpenGL: without ``$DISPLAY`` the sources start Xvfb (``virtual_display``). Device timestamps (microseconds) give the frame index, so a gap in the
indices is a frame the device or this reader dropped. Live frames are read on a dedicated thread
into a bounded queue (a slow consumer drops the oldest frames instead of stalling the device).
"""
from __future__ import annotations

import importlib
import importlib.util
import io
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from thuman.capture.frames import Frame, FrameSource
from thuman.capture.sources.virtual_display import ensure_display
from thuman_io.errors import DeviceError, InputError, SourceFault

INSTALL_HINT = ("`pip install thuman[kinect]` (pyk4a-bundle: the real Azure Kinect SDK 1.4.2 in a wheel, "
                "needs numpy < 2; or run scripts/setup.d/k4a.sh for a separate .venv-k4a); for Orbbec Femto "
                "cameras, Orbbec's K4A wrapper (https://github.com/orbbec/OrbbecSDK-K4A-Wrapper)")

DEPTH_MODES = ("NFOV_2X2BINNED", "NFOV_UNBINNED", "WFOV_2X2BINNED", "WFOV_UNBINNED")
COLOR_RESOLUTIONS = {"720p": "RES_720P", "1080p": "RES_1080P", "1440p": "RES_1440P",
                     "1536p": "RES_1536P", "2160p": "RES_2160P", "3072p": "RES_3072P"}
FPS_VALUES = {5: "FPS_5", 15: "FPS_15", 30: "FPS_30"}

#: The first capture after start is slow (firmware, depth engine): wait this long for it.
FIRST_TIMEOUT_MS = 10_000
TIMEOUT_MS = 2_000
#: Fresh depth-engine starts tried when colour registration fails, before giving up with one line.
REGISTRATION_RETRIES = 1


def import_pyk4a():
    """Import pyk4a or raise DeviceError naming what is missing and how to install it."""
    os.environ.setdefault("K4A_ENABLE_LOG_TO_STDOUT", "0")  # the SDK's log lines would mix into stdout
    try:
        missing = importlib.util.find_spec("pyk4a") is None
    except (ValueError, AttributeError):  # hidden in sys.modules
        missing = True
    if missing:
        raise DeviceError("Azure Kinect: the Python package 'pyk4a' is not installed; " + INSTALL_HINT)
    stderr, sys.stderr = sys.stderr, io.StringIO()  # numpy prints a banner when an extension mismatches it
    try:
        return importlib.import_module("pyk4a")
    except Exception as e:
        chain, cause = [], e
        while cause is not None:
            chain.append(f"{type(cause).__name__}: {cause}")
            cause = cause.__cause__ or cause.__context__
        text = " / ".join(chain)
        import numpy

        if "numpy" in text or "_ARRAY_API" in text:
            raise DeviceError(f"Azure Kinect: pyk4a was built against another numpy major version than the "
                              f"installed numpy {numpy.__version__} (pyk4a-bundle 1.5 needs numpy < 2): "
                              "`pip install 'numpy<2'` here, or use the separate .venv-k4a of "
                              "scripts/setup.d/k4a.sh") from None
        raise DeviceError(f"Azure Kinect: 'pyk4a' is installed but fails to load ({chain[-1]}); "
                          + INSTALL_HINT) from None
    finally:
        sys.stderr = stderr


def _cameras(raw_calibration: str, depth_mode: str, color_resolution: Optional[str], where):
    """(depth CameraModel, colour CameraModel or None, depth_to_color 4x4 metres) from the raw
    factory calibration JSON (pyk4a's ``calibration_raw``), through k4a_calibration."""
    from thuman.capture.sources import k4a_calibration as kc

    camera = kc.depth_camera(raw_calibration, depth_mode, where)
    color = kc.color_camera(raw_calibration, color_resolution, where) if color_resolution else None
    return camera, color, kc.depth_to_color(raw_calibration, where)


def _registered_color(pyk4a, capture, calibration, color_format, where: str) -> Optional[np.ndarray]:
    """Colour resampled into the depth camera as (H, W, 3) uint8 RGB; None when the capture lacks it,
    False when the depth engine failed (no OpenGL context, or its thread did not start)."""
    if capture.depth is None or capture.color is None:
        return None
    # MJPG (recordings usually are) is decoded first; then resampled as transformed_color does, with
    # our calibration object (a retry can replace it).
    bgra = pyk4a.color_image_to_depth_camera(decode_color(capture.color, color_format, pyk4a),
                                             capture.depth, calibration, True)
    if bgra is None:
        return False
    return np.ascontiguousarray(np.asarray(bgra)[..., 2::-1])


def _no_registration(where: str) -> DeviceError:
    return DeviceError(f"{where}: the Azure Kinect depth engine cannot register colour to depth (no OpenGL "
                       f"context on $DISPLAY={os.environ.get('DISPLAY', '')!r}); run under a working X "
                       "display, or unset $DISPLAY so thuman starts Xvfb itself")


def decode_color(color, color_format, pyk4a) -> np.ndarray:
    """A K4A colour image (MJPG bytes or BGRA32) -> (H, W, 4) uint8 BGRA."""
    if color_format == pyk4a.ImageFormat.COLOR_BGRA32:
        return np.ascontiguousarray(color)
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(np.asarray(color).tobytes())).convert("RGB"))
    bgra = np.concatenate([rgb[..., ::-1], np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    return np.ascontiguousarray(bgra)


class _K4ABase(FrameSource):
    """Shared frame assembly: registered colour, depth, calibration, index from device time.
    ``registered_by``: 'sdk' (the depth engine) or 'thuman' (camera.register_color, when the depth
    engine has no OpenGL context)."""

    def _register_here(self, capture) -> np.ndarray:
        """Colour registered through the toolkit's camera model (the SDK's lens model to 1e-4 px)."""
        from thuman.capture.camera import depth_mm_to_m, register_color

        if self.color_camera is None:
            raise _no_registration(self.device)
        if not self._warned:
            print(f"thuman: warning: {self.device}: the Azure Kinect depth engine has no OpenGL context on "
                  f"$DISPLAY={os.environ.get('DISPLAY', '')!r}; colour is registered by thuman's camera model",
                  file=sys.stderr)
            self._warned = True
        bgra = decode_color(capture.color, self._color_format, self._pyk4a)
        return register_color(np.ascontiguousarray(bgra[..., 2::-1]), depth_mm_to_m(capture.depth), self.camera,
                              self.color_camera, self.depth_to_color)

    def _setup(self, pyk4a, calibration, raw_calibration: str, color_format, fps: float, color_resolution):
        self._pyk4a, self._calibration, self._color_format = pyk4a, calibration, color_format
        self.fps = float(fps)
        self.k4a_calibration = raw_calibration
        self.camera, self.color_camera, self.depth_to_color = _cameras(raw_calibration, self.depth_mode,
                                                                       color_resolution, self.device)
        self.K = self.camera.K
        self._warned = False
        self.color_K = np.eye(3) if self.color_camera is None else self.color_camera.K
        self._t0: Optional[int] = None

    def _frame(self, capture) -> Optional[Frame]:
        if self.color_camera is None and capture.depth is not None:  # a depth-only recording: black colour
            depth = np.asarray(capture.depth, np.uint16)
            return self._make_frame(capture, np.zeros(depth.shape + (3,), np.uint8))
        color = _registered_color(self._pyk4a, capture, self._calibration, self._color_format, self.device)
        for attempt in range(REGISTRATION_RETRIES):
            if color is not False:
                break
            # The depth engine sometimes fails to make its OpenGL context on a fresh Xvfb (error 204,
            # seen in a third of the runs here under load); pyk4a keeps the broken transformation.
            time.sleep(0.2 * (attempt + 1))
            self._calibration = self._pyk4a.Calibration.from_raw(
                self.k4a_calibration, self._calibration.depth_mode, self._calibration.color_resolution)
            color = _registered_color(self._pyk4a, capture, self._calibration, self._color_format, self.device)
        if color is False:
            color = self._register_here(capture)
        if color is None:
            return None
        return self._make_frame(capture, color)

    def _make_frame(self, capture, color: np.ndarray) -> Frame:
        ts = int(capture.depth_timestamp_usec)
        if self._t0 is None:
            self._t0 = ts
        index = int(round((ts - self._t0) * self.fps * 1e-6))
        self.registered_by = "sdk" if not self._warned else "thuman"
        return Frame(index=index, timestamp_us=ts, color=color, depth_mm=np.asarray(capture.depth, np.uint16),
                     K=self.K.copy(), color_K=self.color_K.copy(), depth_to_color=self.depth_to_color.copy(),
                     camera=self.camera, color_camera=self.color_camera)


class K4ASource(_K4ABase):
    """Live Azure Kinect / Orbbec Femto (K4A wrapper) frames.

    device_index: which device (0 = first). depth_mode: one of DEPTH_MODES. color_resolution:
    '720p' ... '3072p'. fps: 5, 15 or 30. Synchronized images only; calibration from the device.
    """

    name = "k4a"

    def __init__(self, device_index: int = 0, depth_mode: str = "NFOV_UNBINNED",
                 color_resolution: str = "720p", fps: int = 30, queue_size: int = 8):
        super().__init__()
        if depth_mode not in DEPTH_MODES:
            raise InputError(None, f"depth mode '{depth_mode}' unknown; use one of {', '.join(DEPTH_MODES)}")
        if color_resolution not in COLOR_RESOLUTIONS:
            raise InputError(None, f"colour resolution '{color_resolution}' unknown; use one of "
                                   f"{', '.join(COLOR_RESOLUTIONS)}")
        if fps not in FPS_VALUES:
            raise InputError(None, f"fps {fps} unsupported by K4A; use 5, 15 or 30")
        if depth_mode == "WFOV_UNBINNED" and fps == 30:
            raise InputError(None, "WFOV_UNBINNED runs at 15 fps at most; pass fps=15")
        ensure_display()  # before libk4a loads (see _K4ABase._frame)
        pyk4a = import_pyk4a()
        self.depth_mode = depth_mode
        self.device = f"azure-kinect:{device_index}"
        try:
            count = pyk4a.connected_device_count()
        except Exception as e:
            raise DeviceError(f"Azure Kinect: the K4A library cannot enumerate devices ({e}); " + INSTALL_HINT) from None
        if device_index >= count:
            raise DeviceError(f"Azure Kinect: no device at index {device_index} ({count} connected); "
                              "plug the camera into a USB 3 port and its power supply, check `k4aviewer`")
        config = pyk4a.Config(color_resolution=getattr(pyk4a.ColorResolution, COLOR_RESOLUTIONS[color_resolution]),
                              color_format=pyk4a.ImageFormat.COLOR_BGRA32,
                              depth_mode=getattr(pyk4a.DepthMode, depth_mode),
                              camera_fps=getattr(pyk4a.FPS, FPS_VALUES[fps]),
                              synchronized_images_only=True)
        self._device = pyk4a.PyK4A(config=config, device_id=device_index)
        try:
            self._device.start()
        except Exception as e:
            raise DeviceError(f"Azure Kinect {device_index}: cannot start ({e}); is another program using it? "
                              "A headless host needs a (virtual) display for the depth engine") from None
        try:
            serial = self._device.serial
            self.device = f"azure-kinect:{serial}"
        except Exception:
            pass
        try:
            raw = self._device.calibration_raw
        except Exception as e:
            raise DeviceError(f"Azure Kinect ({self.device}): cannot read its factory calibration ({e})") from None
        self._setup(pyk4a, self._device.calibration, raw, pyk4a.ImageFormat.COLOR_BGRA32, fps, color_resolution)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._reader, daemon=True, name="k4a-reader")
        self._thread.start()

    def _reader(self) -> None:
        # A dedicated reader keeps the device's queue drained; when the consumer is slow the oldest
        # frame is dropped here (its index gap reports it).
        timeout = FIRST_TIMEOUT_MS
        while not self._stop.is_set():
            try:
                item = self._device.get_capture(timeout=timeout)
            except Exception as e:  # unplugged, timeout, USB error: end the stream with the reason
                item = e
            timeout = TIMEOUT_MS
            while True:
                try:
                    self._queue.put_nowait(item)
                    break
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                    except queue.Empty:
                        pass
            if isinstance(item, Exception):
                return

    def _read(self) -> Optional[Frame]:
        while True:
            item = self._queue.get()
            if isinstance(item, Exception):
                nxt = None if self._last_index is None else self._last_index + 1
                raise SourceFault(f"Azure Kinect ({self.device}) stopped delivering frames "
                                  f"({type(item).__name__}: {item}); check the USB cable and power", nxt)
            frame = self._frame(item)
            if frame is not None:
                return frame

    def close(self) -> None:
        self._stop.set()
        try:
            self._device.stop()
        except Exception:
            pass


class MkvSource(_K4ABase):
    """Playback of an Azure Kinect ``.mkv`` recording (k4arecorder or pyk4a's PyK4ARecord)."""

    name = "playback"

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(self.path, "no such Azure Kinect recording")
        if self.path.stat().st_size == 0:
            raise InputError(self.path, "is empty (0 bytes), not an Azure Kinect recording")
        ensure_display()  # before libk4a loads (see _K4ABase._frame)
        pyk4a = import_pyk4a()
        self._playback = pyk4a.PyK4APlayback(str(self.path))
        try:
            self._playback.open()
        except Exception as e:
            raise InputError(self.path, f"cannot be opened as an Azure Kinect recording ({type(e).__name__}: "
                                        f"{e}); it may be truncated or not a K4A .mkv") from None
        try:
            cfg = self._playback.configuration
            fps = {0: 5, 1: 15, 2: 30}.get(int(cfg.get("camera_fps", 2)), 30)
            self.depth_mode = str(getattr(cfg.get("depth_mode"), "name", cfg.get("depth_mode")))
            res = str(getattr(cfg.get("color_resolution"), "name", "OFF"))
            color_resolution = None if res == "OFF" else res.replace("RES_", "").lower()
            color_format = cfg["color_format"]
        except Exception as e:
            self._playback.close()
            raise InputError(self.path, f"has an unreadable recording configuration ({type(e).__name__}: {e})") from None
        self.device = f"mkv:{self.path.name}"
        try:
            raw = self._playback.calibration_raw
            calibration = self._playback.calibration
        except Exception:
            self._playback.close()
            raise InputError(self.path, "has no camera calibration (no calibration.json attachment); record it "
                                        "with k4arecorder, or add the device's calibration") from None
        self._setup(pyk4a, calibration, raw, color_format, fps, color_resolution)

    def _read(self) -> Optional[Frame]:
        while True:
            try:
                capture = self._playback.get_next_capture()
            except EOFError:
                return None
            except Exception as e:
                nxt = None if self._last_index is None else self._last_index + 1
                raise SourceFault(f"{self.path}: cannot read the next capture ({e}); the file may be truncated; "
                                  f"the last good frame is {self._last_index}", nxt) from None
            frame = self._frame(capture)
            if frame is not None:
                return frame

    def close(self) -> None:
        try:
            self._playback.close()
        except Exception:
            pass
