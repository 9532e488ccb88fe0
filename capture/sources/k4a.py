"""Azure Kinect (and Orbbec Femto through Orbbec's K4A wrapper) through ``pyk4a``: live capture
(:class:`K4ASource`) and ``.mkv`` playback (:class:`MkvSource`).

``pyk4a`` is the optional extra ``thuman[kinect]`` and needs Microsoft's Azure Kinect SDK (libk4a
1.4); it is imported only when one of these sources is opened. Without it, or without a device,
opening raises DeviceError with one line saying what is missing and how to install it.

Frames follow capture/frames.py: colour is resampled into the depth camera (K4A's
``transformed_color``), so one K serves both; ``color_K`` and ``depth_to_color`` come from the
device calibration. Device timestamps (microseconds) give the frame index, so a gap in the
indices is a frame the device or this reader dropped. Live frames are read on a dedicated thread
into a bounded queue (a slow consumer drops the oldest frames instead of stalling the device).
"""
from __future__ import annotations

import importlib
import io
import os
import queue
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from thuman.capture.frames import Frame, FrameSource
from thuman_io.errors import DeviceError, InputError, SourceFault

INSTALL_HINT = ("install Microsoft's Azure Kinect SDK (libk4a 1.4, "
                "https://github.com/microsoft/Azure-Kinect-Sensor-SDK) or, for Orbbec Femto cameras, "
                "Orbbec's K4A wrapper (https://github.com/orbbec/OrbbecSDK-K4A-Wrapper), "
                "then `pip install thuman[kinect]`")

DEPTH_MODES = ("NFOV_2X2BINNED", "NFOV_UNBINNED", "WFOV_2X2BINNED", "WFOV_UNBINNED")
COLOR_RESOLUTIONS = {"720p": "RES_720P", "1080p": "RES_1080P", "1440p": "RES_1440P",
                     "1536p": "RES_1536P", "2160p": "RES_2160P", "3072p": "RES_3072P"}
FPS_VALUES = {5: "FPS_5", 15: "FPS_15", 30: "FPS_30"}

#: The first capture after start is slow (firmware, depth engine): wait this long for it.
FIRST_TIMEOUT_MS = 10_000
TIMEOUT_MS = 2_000


def import_pyk4a():
    """Import pyk4a or raise DeviceError naming what is missing and how to install it."""
    try:
        return importlib.import_module("pyk4a")
    except ImportError as e:
        raise DeviceError(f"Azure Kinect: the Python package 'pyk4a' cannot be imported ({e}); "
                          + INSTALL_HINT) from None
    except Exception as e:  # e.g. a pyk4a build against another numpy major version
        raise DeviceError(f"Azure Kinect: 'pyk4a' is installed but fails to load ({type(e).__name__}: {e}); "
                          "reinstall it against this numpy, or " + INSTALL_HINT) from None


def _calibration_arrays(pyk4a, calibration):
    """(K_depth, K_color, depth_to_color 4x4 metres) from a pyk4a Calibration."""
    ct = pyk4a.CalibrationType
    K = np.asarray(calibration.get_camera_matrix(ct.DEPTH), dtype=np.float64)
    color_K = np.asarray(calibration.get_camera_matrix(ct.COLOR), dtype=np.float64)
    R, t = calibration.get_extrinsic_parameters(ct.DEPTH, ct.COLOR)
    T = np.eye(4)
    T[:3, :3] = np.asarray(R, dtype=np.float64).reshape(3, 3)
    T[:3, 3] = np.asarray(t, dtype=np.float64).reshape(3) * 1e-3  # K4A extrinsics are in millimetres
    return K, color_K, T


def _registered_color(pyk4a, capture, calibration, color_format) -> Optional[np.ndarray]:
    """Colour resampled into the depth camera as (H, W, 3) uint8 RGB; None when the capture lacks it."""
    if capture.depth is None or capture.color is None:
        return None
    if color_format == pyk4a.ImageFormat.COLOR_BGRA32:
        bgra = capture.transformed_color
    else:  # MJPG (recordings usually are): decode, then resample like transformed_color does
        from PIL import Image

        rgb = np.asarray(Image.open(io.BytesIO(np.asarray(capture.color).tobytes())).convert("RGB"))
        bgra = np.concatenate([rgb[..., ::-1], np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
        bgra = pyk4a.color_image_to_depth_camera(np.ascontiguousarray(bgra), capture.depth, calibration, True)
    return np.ascontiguousarray(np.asarray(bgra)[..., 2::-1])


class _K4ABase(FrameSource):
    """Shared frame assembly: registered colour, depth, calibration, index from device time."""

    def _setup(self, pyk4a, calibration, color_format, fps: float):
        self._pyk4a, self._calibration, self._color_format = pyk4a, calibration, color_format
        self.fps = float(fps)
        self.K, self.color_K, self.depth_to_color = _calibration_arrays(pyk4a, calibration)
        self._t0: Optional[int] = None

    def _frame(self, capture) -> Optional[Frame]:
        color = _registered_color(self._pyk4a, capture, self._calibration, self._color_format)
        if color is None:
            return None
        ts = int(capture.depth_timestamp_usec)
        if self._t0 is None:
            self._t0 = ts
        index = int(round((ts - self._t0) * self.fps * 1e-6))
        return Frame(index=index, timestamp_us=ts, color=color, depth_mm=np.asarray(capture.depth, np.uint16),
                     K=self.K.copy(), color_K=self.color_K.copy(), depth_to_color=self.depth_to_color.copy())


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
        self._setup(pyk4a, self._device.calibration, pyk4a.ImageFormat.COLOR_BGRA32, fps)
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
        pyk4a = import_pyk4a()
        self._playback = pyk4a.PyK4APlayback(str(self.path))
        try:
            self._playback.open()
        except Exception as e:
            raise InputError(self.path, f"pyk4a cannot open it as an Azure Kinect recording ({e})") from None
        cfg = self._playback.configuration
        fps = {0: 5, 1: 15, 2: 30}.get(int(cfg.get("camera_fps", 2)), 30)
        self.depth_mode = str(getattr(cfg.get("depth_mode"), "name", cfg.get("depth_mode")))
        self.device = f"mkv:{self.path.name}"
        self._setup(pyk4a, self._playback.calibration, cfg["color_format"], fps)

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
