"""Write real Azure Kinect recordings (Matroska ``.mkv``) from any source, through Microsoft's
libk4arecord (the copy that the ``pyk4a-bundle`` wheel carries), by ctypes: pyk4a exposes no way to
record without a device.

What the file holds: the factory calibration as the ``calibration.json`` attachment (the source's
own, else one made from the frames' cameras on the retail device's layout), depth as DEPTH16
(K4A's ``b16g`` track, bit-identical to the frames), colour as MJPG (JPEG quality 95, as
k4arecorder writes it; or BGRA32, uncompressed: 3.7 MB a frame at 720p) at the native colour
resolution (the registered colour splatted back into the colour camera through its lens: K4A
playback registers it to depth again), IR as IR16 (toolkit frames have none: the colour's
luminance x 4, so viewers show something), and the frames' device timestamps. The file is
written under a temporary name and renamed when closed, so a crash leaves no half file.

Calls (libk4arecord 1.4 / libk4a 1.4): k4a_record_create(path, NULL, config), k4a_record_add_attachment,
k4a_record_write_header, then per frame k4a_capture_create, k4a_image_create + k4a_image_get_buffer
(k4a_image_create_from_buffer for MJPG),
k4a_image_set_device_timestamp_usec, k4a_capture_set_*_image, k4a_record_write_capture; k4a_record_flush
and k4a_record_close at the end.
"""
from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
from pathlib import Path
from typing import Optional

import numpy as np

from thuman.capture.camera import CameraModel, color_from_registered, depth_mm_to_m
from thuman_io.atomic import TMP_PREFIX
from thuman_io.errors import DeviceError, InputError

_FORMAT = {"MJPG": 0, "BGRA32": 3, "DEPTH16": 4, "IR16": 5}
_COLOR_RES = {"720p": 1, "1080p": 2, "1440p": 3, "1536p": 4, "2160p": 5, "3072p": 6}
_DEPTH_MODE = {"NFOV_2X2BINNED": 1, "NFOV_UNBINNED": 2, "WFOV_2X2BINNED": 3, "WFOV_UNBINNED": 4}
_FPS = {5: 0, 15: 1, 30: 2}


class _DeviceConfiguration(ctypes.Structure):
    """k4a_device_configuration_t (k4atypes.h), passed by value to k4a_record_create."""

    _fields_ = [("color_format", ctypes.c_int), ("color_resolution", ctypes.c_int), ("depth_mode", ctypes.c_int),
                ("camera_fps", ctypes.c_int), ("synchronized_images_only", ctypes.c_bool),
                ("depth_delay_off_color_usec", ctypes.c_int32), ("wired_sync_mode", ctypes.c_int),
                ("subordinate_delay_off_master_usec", ctypes.c_uint32),
                ("disable_streaming_indicator", ctypes.c_bool)]


_LIBS: Optional[tuple] = None


def k4a_libraries() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    """(libk4a, libk4arecord) from the installed pyk4a-bundle, or DeviceError saying what to install."""
    global _LIBS
    if _LIBS is not None:
        return _LIBS
    try:
        spec = importlib.util.find_spec("pyk4a")
    except (ValueError, AttributeError):
        spec = None
    folder = None if spec is None or not spec.origin else Path(spec.origin).parent.parent / "pyk4a_bundle.libs"
    k4a = sorted(glob.glob(str(folder / "libk4a-*.so*"))) if folder else []
    rec = sorted(glob.glob(str(folder / "libk4arecord-*.so*"))) if folder else []
    if not k4a or not rec:
        raise DeviceError("writing an Azure Kinect .mkv needs libk4arecord from pyk4a-bundle: "
                          "`pip install thuman[kinect]`, or use .venv-k4a (scripts/setup.d/k4a.sh)")
    os.environ.setdefault("K4A_ENABLE_LOG_TO_STDOUT", "0")
    lib = ctypes.CDLL(k4a[0], mode=ctypes.RTLD_GLOBAL)
    record = ctypes.CDLL(rec[0], mode=ctypes.RTLD_GLOBAL)
    vp, i, u64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64
    lib.k4a_capture_create.argtypes = [ctypes.POINTER(vp)]
    lib.k4a_capture_release.argtypes = [vp]
    lib.k4a_image_create.argtypes = [i, i, i, i, ctypes.POINTER(vp)]
    lib.k4a_image_create_from_buffer.argtypes = [i, i, i, i, ctypes.c_char_p, ctypes.c_size_t, vp, vp,
                                                 ctypes.POINTER(vp)]
    lib.k4a_image_get_buffer.argtypes = [vp]
    lib.k4a_image_get_buffer.restype = ctypes.POINTER(ctypes.c_uint8)
    lib.k4a_image_get_size.argtypes = [vp]
    lib.k4a_image_get_size.restype = ctypes.c_size_t
    lib.k4a_image_set_device_timestamp_usec.argtypes = [vp, u64]
    lib.k4a_image_release.argtypes = [vp]
    for name in ("color", "depth", "ir"):
        getattr(lib, f"k4a_capture_set_{name}_image").argtypes = [vp, vp]
    record.k4a_record_create.argtypes = [ctypes.c_char_p, vp, _DeviceConfiguration, ctypes.POINTER(vp)]
    record.k4a_record_add_attachment.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    record.k4a_record_write_header.argtypes = [vp]
    record.k4a_record_write_capture.argtypes = [vp, vp]
    record.k4a_record_flush.argtypes = [vp]
    record.k4a_record_close.argtypes = [vp]
    record.k4a_record_close.restype = None
    _LIBS = (lib, record)
    return _LIBS


class MkvWriter:
    """Write frames into an Azure Kinect ``.mkv`` (the RecordingWriter interface: add, close).

    header: the stream's RecordingHeader (thuman_io.recording): size, fps, depth mode, cameras and
    the K4A calibration, if any. fps must be 5, 15 or 30 and the depth mode a K4A one.
    attach_calibration=False leaves the calibration out (a file K4A playback cannot use: for tests).
    color_format: 'MJPG' (default) or 'BGRA32'.
    """

    def __init__(self, path: str | os.PathLike, header, *, overwrite: bool = False, color_resolution: str = "720p",
                 attach_calibration: bool = True, color_format: str = "MJPG", jpeg_quality: int = 95):
        from thuman.capture.sources import k4a_calibration as kc

        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise InputError(self.path, "exists already; choose another path or overwrite it")
        fps = int(round(header.fps))
        if fps not in _FPS or abs(header.fps - fps) > 1e-6:
            raise InputError(self.path, f"a K4A recording runs at 5, 15 or 30 fps, this stream at {header.fps:g}")
        if header.depth_mode not in _DEPTH_MODE:
            raise InputError(self.path, f"depth mode {header.depth_mode!r} is not a K4A one "
                                        f"({', '.join(_DEPTH_MODE)})")
        if color_format not in ("MJPG", "BGRA32"):
            raise InputError(self.path, f"colour format '{color_format}' unknown; use MJPG or BGRA32")
        self.color_format, self.jpeg_quality = color_format, int(jpeg_quality)
        self.header = header
        camera = (CameraModel.from_dict(header.camera) if header.camera
                  else CameraModel.pinhole(header.K, header.width, header.height))
        self.camera = camera
        raw = header.k4a_calibration
        if raw:  # the device's own calibration: its colour camera at the recorded resolution
            color_resolution = self._color_resolution(header) or color_resolution
            self.color_camera = kc.color_camera(raw, color_resolution, self.path)
            self.depth_to_color = kc.depth_to_color(raw, self.path)
        else:
            color = CameraModel.from_dict(header.color_camera) if header.color_camera else None
            if color is None or kc.color_resolution_name(color.width, color.height) is None:
                color = CameraModel.pinhole(header.color_K, 1280, 720)
            color_resolution = kc.color_resolution_name(color.width, color.height)
            self.color_camera, self.depth_to_color = color, np.asarray(header.depth_to_color, np.float64)
            raw = kc.calibration_json(camera, header.depth_mode, color, color_resolution, self.depth_to_color)
        self.calibration = raw
        self._lib, self._rec = k4a_libraries()
        config = _DeviceConfiguration(_FORMAT[color_format], _COLOR_RES[color_resolution], _DEPTH_MODE[header.depth_mode],
                                      _FPS[fps], True, 0, 0, 0, False)
        self._tmp = self.path.with_name(f"{TMP_PREFIX}{os.getpid()}-{self.path.name}")  # thuman_io.atomic naming
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = ctypes.c_void_p()
        if self._rec.k4a_record_create(str(self._tmp).encode(), None, config, ctypes.byref(self._handle)) != 0:
            raise InputError(self.path, "libk4arecord cannot create the recording")
        blob = raw.encode("utf-8")
        if attach_calibration:
            self._check(self._rec.k4a_record_add_attachment(self._handle, b"calibration.json", blob, len(blob)),
                        "add the calibration attachment")
        self._check(self._rec.k4a_record_write_header(self._handle), "write the header")
        self.frame_count = 0
        self._last: Optional[int] = None

    @staticmethod
    def _color_resolution(header) -> Optional[str]:
        if header.color_camera:
            from thuman.capture.sources.k4a_calibration import color_resolution_name

            return color_resolution_name(int(header.color_camera["width"]), int(header.color_camera["height"]))
        return None

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            raise InputError(self.path, f"libk4arecord could not {what} (result {result})")

    def _image(self, fmt: str, array: np.ndarray, timestamp_us: int):
        h, w = array.shape[:2]
        stride = array.strides[0]
        image = ctypes.c_void_p()
        self._check(self._lib.k4a_image_create(_FORMAT[fmt], w, h, stride, ctypes.byref(image)), f"create a {fmt} image")
        size = self._lib.k4a_image_get_size(image)
        ctypes.memmove(self._lib.k4a_image_get_buffer(image), np.ascontiguousarray(array).ctypes.data, size)
        self._lib.k4a_image_set_device_timestamp_usec(image, int(timestamp_us))
        return image

    def add(self, frame) -> None:
        """Append one frame (a RecordedFrame or Frame: index, timestamp_us, color, depth_mm)."""
        if self._handle is None:
            raise InputError(self.path, "recording is closed; cannot add frames")
        depth = np.ascontiguousarray(frame.depth_mm, np.uint16)
        if depth.shape != (self.header.height, self.header.width):
            raise InputError(self.path, f"frame {frame.index}: depth {depth.shape} is not the stream's size")
        if self._last is not None and frame.index <= self._last:
            raise InputError(self.path, f"frame index {frame.index} does not follow {self._last}")
        ts = int(frame.timestamp_us)
        rgb = color_from_registered(np.asarray(frame.color), depth_mm_to_m(depth), self.camera, self.color_camera,
                                    self.depth_to_color)
        lum = np.asarray(frame.color, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        ir = np.round(lum * 4).astype(np.uint16)
        capture = ctypes.c_void_p()
        self._check(self._lib.k4a_capture_create(ctypes.byref(capture)), "create a capture")
        jpeg = None
        if self.color_format == "MJPG":
            import io

            from PIL import Image

            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, format="JPEG", quality=self.jpeg_quality)
            jpeg = buf.getvalue()  # referenced until the capture is written and released
            color_image = ctypes.c_void_p()
            self._check(self._lib.k4a_image_create_from_buffer(_FORMAT["MJPG"], rgb.shape[1], rgb.shape[0], 0, jpeg,
                                                               len(jpeg), None, None, ctypes.byref(color_image)),
                        "create an MJPG image")
            self._lib.k4a_image_set_device_timestamp_usec(color_image, ts)
        else:
            bgra = np.concatenate([rgb[..., ::-1], np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
            color_image = self._image("BGRA32", bgra, ts)
        images = [color_image, self._image("DEPTH16", depth, ts), self._image("IR16", ir, ts)]
        try:
            for name, image in zip(("color", "depth", "ir"), images):
                getattr(self._lib, f"k4a_capture_set_{name}_image")(capture, image)
            self._check(self._rec.k4a_record_write_capture(self._handle, capture), f"write frame {frame.index}")
        finally:
            for image in images:
                self._lib.k4a_image_release(image)
            self._lib.k4a_capture_release(capture)
            del jpeg
        self.frame_count += 1
        self._last = int(frame.index)

    def close(self, fault=None) -> None:
        """Flush, close and move the file into place (a fault is not recorded in a K4A file)."""
        if self._handle is None:
            return
        self._rec.k4a_record_flush(self._handle)
        self._rec.k4a_record_close(self._handle)
        self._handle = None
        os.replace(self._tmp, self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
