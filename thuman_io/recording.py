"""The toolkit's RGB-D recording format (``thuman.recording`` v2; v1 files still read): writer, reader, truncation check.

One file holds a stream of frames. It is a sequence of self-delimiting records after an 8-byte
magic; each record carries its length and a CRC32, and the last record (``END``) marks a file that
was closed. So the file is *append-safe*: the writer flushes each frame as it goes, a crash or a
copy cut short leaves every complete record readable, and the reader says exactly which frame was
the last good one. That is why a recording, alone among toolkit files, is written in place and not
through ``thuman_io.atomic``: a half-written recording is a recording of fewer frames, not garbage.
docs/format-recording.md describes the bytes; ``FIELDS`` below is the list the docs must match.

Needs numpy and the standard library only (no camera SDK, no h5py).

Layout::

    file    := MAGIC record*
    record  := tag (4 ASCII bytes) | length (u64 LE) | payload (length bytes) | crc32 (u32 LE)
    payload := [index i64 | timestamp_us i64]   (FRAM only) | json_len (u32) | JSON (UTF-8) | blobs

The JSON of each record lists its arrays (name, dtype, shape, codec, offset, nbytes into the
blobs). Tags: HEAD (first record: schema, camera, source), FRAM (one frame), FALT (the fault that
ended a recording), END (closing summary). Readers skip tags they do not know.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from thuman_io.errors import InputError, SchemaError, SourceFault
from thuman_io.version import RECORDING_SCHEMA, RECORDING_SCHEMA_VERSION, TOOLKIT_VERSION

MAGIC = b"THUMREC\x01"
_RECORD_HEAD = struct.Struct("<4sQ")   # tag, payload length
_CRC = struct.Struct("<I")
_FRAME_PREFIX = struct.Struct("<qq")   # frame index, device timestamp (microseconds)
_JSON_LEN = struct.Struct("<I")

TAG_HEAD, TAG_FRAME, TAG_FAULT, TAG_END = b"HEAD", b"FRAM", b"FALT", b"END "
CODECS = ("zlib", "raw")

#: Every field the format defines, by record; docs/format-recording.md lists the same names.
FIELDS = {
    "HEAD": ["schema", "schema_version", "toolkit_version", "created", "source", "device",
             "width", "height", "fps", "depth_mode", "K", "color_K", "depth_to_color",
             "color_registered_to_depth", "codec", "extra", "camera", "color_camera", "k4a_calibration"],
    "FRAM": ["index", "timestamp_us", "color", "depth_mm", "gt_vertices", "gt_faces", "gt_joints",
             "smpl_betas", "smpl_global_orient", "smpl_body_pose", "smpl_transl",
             "reference_pose", "stage", "smpl_model", "smpl_gender"],
    "FALT": ["message", "frame_index"],
    "END": ["frame_count", "first_index", "last_index", "dropped", "timestamp_first_us",
            "timestamp_last_us"],
}

#: Ground-truth array fields of a FRAM record (simulated sources), name -> dtype.
GT_ARRAYS = {"gt_vertices": np.float32, "gt_faces": np.int32, "gt_joints": np.float32,
             "smpl_betas": np.float32, "smpl_global_orient": np.float32,
             "smpl_body_pose": np.float32, "smpl_transl": np.float32, "reference_pose": np.float32}
GT_STRINGS = ("stage", "smpl_model", "smpl_gender")


@dataclass
class RecordingHeader:
    """What a recording says about its camera and source (the HEAD record).

    width, height:   depth image size in pixels (colour is registered to it, same size).
    fps:             nominal frame rate.
    K:               (3, 3) float64 depth intrinsics (OpenCV, pixel centres at integers); serve colour.
    color_K:         (3, 3) float64 intrinsics of the native colour camera.
    depth_to_color:  (4, 4) float64 rigid transform, metres, depth camera -> native colour camera.
    source, device:  which source wrote it ('sim', 'k4a', 'playback') and a device description.
    depth_mode:      e.g. 'NFOV_UNBINNED'.
    extra:           free-form JSON-serialisable details (simulator seed, configuration).
    camera:          the depth camera's full lens model as ``CameraModel.to_dict()`` (capture/camera.py)
                     gives it; None = the pinhole ``K`` (what v1 files hold).
    color_camera:    the same for the native colour camera, or None.
    k4a_calibration: the Azure Kinect factory calibration JSON text the stream came with, or "".
    """

    width: int
    height: int
    fps: float
    K: np.ndarray
    color_K: np.ndarray = field(default_factory=lambda: np.eye(3))
    depth_to_color: np.ndarray = field(default_factory=lambda: np.eye(4))
    source: str = ""
    device: str = ""
    depth_mode: str = ""
    extra: dict = field(default_factory=dict)
    created: str = ""
    toolkit_version: str = ""
    schema_version: int = RECORDING_SCHEMA_VERSION
    camera: Optional[dict] = None
    color_camera: Optional[dict] = None
    k4a_calibration: str = ""


@dataclass
class RecordedFrame:
    """One frame as stored.

    index, timestamp_us: frame index (gaps = dropped frames) and device timestamp in microseconds.
    color: (H, W, 3) uint8 RGB registered to depth. depth_mm: (H, W) uint16, 0 = no measurement.
    ground_truth: None, or a dict with the GT_ARRAYS names (numpy arrays; 'reference_pose' may be
    absent) and the GT_STRINGS names (str). 'gt_faces' is carried over from earlier frames.
    """

    index: int
    timestamp_us: int
    color: np.ndarray
    depth_mm: np.ndarray
    ground_truth: Optional[dict] = None


# --------------------------------------------------------------------------------------------
# record encoding (pure functions on bytes)

def _encode_payload(meta: dict, arrays: dict[str, np.ndarray], codec: str, level: int) -> bytes:
    """JSON + concatenated array blobs; the JSON lists each array's place in the blobs."""
    blobs, entries, offset = [], [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        raw = a.tobytes()
        data = zlib.compress(raw, level) if codec == "zlib" else raw
        entries.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "codec": codec,
                        "offset": offset, "nbytes": len(data)})
        blobs.append(data)
        offset += len(data)
    text = json.dumps({**meta, "arrays": entries}, separators=(",", ":")).encode("utf-8")
    return _JSON_LEN.pack(len(text)) + text + b"".join(blobs)


def _decode_payload(payload: bytes, path, what: str) -> tuple[dict, dict[str, np.ndarray]]:
    (n,) = _JSON_LEN.unpack_from(payload, 0)
    try:
        meta = json.loads(payload[4:4 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SchemaError(path, what, f"unreadable JSON ({e})") from None
    base = 4 + n
    arrays = {}
    for e in meta.pop("arrays", []):
        data = payload[base + e["offset"]: base + e["offset"] + e["nbytes"]]
        if e["codec"] == "zlib":
            data = zlib.decompress(data)
        elif e["codec"] != "raw":
            raise SchemaError(path, what, f"array '{e['name']}' has unknown codec '{e['codec']}'")
        arrays[e["name"]] = np.frombuffer(data, dtype=np.dtype(e["dtype"])).reshape(e["shape"]).copy()
    return meta, arrays


def _record_bytes(tag: bytes, payload: bytes) -> bytes:
    head = _RECORD_HEAD.pack(tag, len(payload))
    return head + payload + _CRC.pack(zlib.crc32(payload, zlib.crc32(head)))


# --------------------------------------------------------------------------------------------
# writer

class RecordingWriter:
    """Write a recording frame by frame; ``close()`` (or the ``with`` block) writes the END record.

    Frames are flushed to the OS as they are added, so whatever happens later (a fault, a kill)
    every added frame stays readable. ``close(fault=...)`` records the fault that ended the stream.
    """

    def __init__(self, path: str | os.PathLike, header: RecordingHeader, *, overwrite: bool = False,
                 codec: str = "zlib", level: int = 1, fsync_every: int = 0):
        self.path = Path(path)
        if codec not in CODECS:
            raise InputError(self.path, f"codec '{codec}' unknown; use one of {', '.join(CODECS)}")
        if self.path.exists() and not overwrite:
            raise InputError(self.path, "exists already; choose another path or overwrite it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.header = header
        self.codec, self.level, self.fsync_every = codec, level, fsync_every
        self.frame_count = 0
        self._first = self._last = None
        self._ts_first = self._ts_last = None
        self._dropped = 0
        self._last_faces: Optional[np.ndarray] = None
        self._f = open(self.path, "wb")
        self._f.write(MAGIC)
        self._write(TAG_HEAD, self._header_payload(header))
        self._f.flush()

    def _header_payload(self, h: RecordingHeader) -> bytes:
        import datetime
        meta = {"schema": RECORDING_SCHEMA, "schema_version": RECORDING_SCHEMA_VERSION,
                "toolkit_version": TOOLKIT_VERSION,
                "created": h.created or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "source": h.source, "device": h.device, "width": int(h.width), "height": int(h.height),
                "fps": float(h.fps), "depth_mode": h.depth_mode, "color_registered_to_depth": True,
                "codec": self.codec, "extra": h.extra, "camera": h.camera, "color_camera": h.color_camera,
                "k4a_calibration": h.k4a_calibration or ""}
        arrays = {"K": np.asarray(h.K, np.float64), "color_K": np.asarray(h.color_K, np.float64),
                  "depth_to_color": np.asarray(h.depth_to_color, np.float64)}
        return _encode_payload(meta, arrays, "raw", 0)

    def _write(self, tag: bytes, payload: bytes) -> None:
        self._f.write(_record_bytes(tag, payload))

    def add(self, frame: RecordedFrame) -> None:
        """Append one frame. color (H, W, 3) uint8, depth_mm (H, W) uint16 at the header's size."""
        if self._f is None:
            raise InputError(self.path, "recording is closed; cannot add frames")
        h, w = self.header.height, self.header.width
        color, depth = np.asarray(frame.color), np.asarray(frame.depth_mm)
        if color.shape != (h, w, 3) or color.dtype != np.uint8:
            raise InputError(self.path, f"frame {frame.index}: color must be ({h}, {w}, 3) uint8, "
                                        f"got {color.shape} {color.dtype}")
        if depth.shape != (h, w) or depth.dtype != np.uint16:
            raise InputError(self.path, f"frame {frame.index}: depth_mm must be ({h}, {w}) uint16, "
                                        f"got {depth.shape} {depth.dtype}")
        if self._last is not None and frame.index <= self._last:
            raise InputError(self.path, f"frame index {frame.index} does not follow {self._last}")
        meta, arrays = {}, {"color": color, "depth_mm": depth}
        gt = frame.ground_truth
        if gt is not None:
            for name, dtype in GT_ARRAYS.items():
                if name == "gt_faces":
                    faces = np.asarray(gt["gt_faces"], np.int32)
                    # Faces rarely change within a recording: store them only when they do.
                    if self._last_faces is None or not np.array_equal(faces, self._last_faces):
                        arrays[name] = faces
                        self._last_faces = faces
                elif gt.get(name) is not None:
                    arrays[name] = np.asarray(gt[name], dtype)
            meta["ground_truth"] = {k: str(gt.get(k, "")) for k in GT_STRINGS}
        payload = (_FRAME_PREFIX.pack(int(frame.index), int(frame.timestamp_us))
                   + _encode_payload(meta, arrays, self.codec, self.level))
        self._write(TAG_FRAME, payload)
        self._f.flush()
        self.frame_count += 1
        if self.fsync_every and self.frame_count % self.fsync_every == 0:
            os.fsync(self._f.fileno())
        if self._last is not None:
            self._dropped += frame.index - self._last - 1
        if self._first is None:
            self._first, self._ts_first = int(frame.index), int(frame.timestamp_us)
        self._last, self._ts_last = int(frame.index), int(frame.timestamp_us)

    def close(self, fault: Optional[SourceFault | str] = None) -> None:
        """Write the fault (if any) and the END record, fsync, close. Safe to call twice."""
        if self._f is None:
            return
        if fault is not None:
            index = getattr(fault, "frame_index", None)
            message = str(fault)
            suffix = f" at frame {index}"
            if index is not None and message.endswith(suffix):  # SourceFault appends it; keep it once
                message = message[: -len(suffix)]
            self._write(TAG_FAULT, _encode_payload({"message": message, "frame_index": index}, {}, "raw", 0))
        summary = {"frame_count": self.frame_count, "first_index": self._first, "last_index": self._last,
                   "dropped": self._dropped, "timestamp_first_us": self._ts_first,
                   "timestamp_last_us": self._ts_last}
        self._write(TAG_END, _encode_payload(summary, {}, "raw", 0))
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        self._f = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(fault=exc if isinstance(exc, SourceFault) else None)
        return False


# --------------------------------------------------------------------------------------------
# reader

@dataclass
class _FrameEntry:
    offset: int          # of the record's tag
    length: int          # payload length
    index: int
    timestamp_us: int


class Recording:
    """A recording opened for reading (see :func:`open_recording`).

    header:        RecordingHeader.
    frame_count:   number of good frames; ``indices`` / ``timestamps_us``: (N,) int64 of them.
    truncated:     None for a closed file, else why it is incomplete; ``last_good_index`` then
                   names the last frame that can be read.
    fault:         {'message', 'frame_index'} recorded when the stream that was recorded broke, or None.
    summary:       the END record's fields, or None when truncated.
    """

    def __init__(self, path: Path, f, header: RecordingHeader, entries: list[_FrameEntry],
                 truncated: Optional[str], fault: Optional[dict], summary: Optional[dict]):
        self.path, self._f, self.header = path, f, header
        self._entries, self.truncated, self.fault, self.summary = entries, truncated, fault, summary
        self._faces_cache: dict[int, np.ndarray] = {}

    @property
    def frame_count(self) -> int:
        return len(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def indices(self) -> np.ndarray:
        return np.array([e.index for e in self._entries], dtype=np.int64)

    @property
    def timestamps_us(self) -> np.ndarray:
        return np.array([e.timestamp_us for e in self._entries], dtype=np.int64)

    @property
    def last_good_index(self) -> Optional[int]:
        return self._entries[-1].index if self._entries else None

    def truncation_message(self) -> str:
        """One line naming the file, what is wrong and the last good frame (for errors)."""
        last = self.last_good_index
        good = "no frame is readable" if last is None else f"the last good frame is {last} ({len(self)} frames readable)"
        return f"{self.path}: recording is truncated ({self.truncated}); {good}"

    def frame(self, i: int) -> RecordedFrame:
        """The i-th good frame (0-based position in the file, not the frame index)."""
        e = self._entries[i]
        payload = self._read_record(e, f"frame {e.index}")
        meta, arrays = _decode_payload(payload[_FRAME_PREFIX.size:], self.path, f"frame {e.index}")
        gt = None
        if "ground_truth" in meta:
            gt = {k: v for k, v in arrays.items() if k in GT_ARRAYS}
            gt.update(meta["ground_truth"])
            if "gt_faces" not in arrays:
                gt["gt_faces"] = self._faces_before(i)
            self._faces_cache[i] = gt["gt_faces"]
        return RecordedFrame(index=e.index, timestamp_us=e.timestamp_us, color=arrays["color"],
                             depth_mm=arrays["depth_mm"], ground_truth=gt)

    def _faces_before(self, i: int) -> np.ndarray:
        # Faces are stored only when they change: walk back to the last frame that has them.
        for j in range(i - 1, -1, -1):
            if j in self._faces_cache:
                return self._faces_cache[j]
            e = self._entries[j]
            _, arrays = _decode_payload(self._read_record(e, f"frame {e.index}")[_FRAME_PREFIX.size:],
                                        self.path, f"frame {e.index}")
            if "gt_faces" in arrays:
                self._faces_cache[j] = arrays["gt_faces"]
                return arrays["gt_faces"]
        raise SchemaError(self.path, f"frame {self._entries[i].index}", "ground truth without faces")

    def _read_record(self, e: _FrameEntry, what: str) -> bytes:
        self._f.seek(e.offset)
        data = self._f.read(_RECORD_HEAD.size + e.length + _CRC.size)
        head, payload = data[:_RECORD_HEAD.size], data[_RECORD_HEAD.size:_RECORD_HEAD.size + e.length]
        (crc,) = _CRC.unpack_from(data, _RECORD_HEAD.size + e.length)
        if zlib.crc32(payload, zlib.crc32(head)) != crc:
            pos = self._entries.index(e)
            prev = self._entries[pos - 1].index if pos else None
            raise SourceFault(f"{self.path}: {what} is corrupt (CRC mismatch); the last good frame is {prev}",
                              frame_index=e.index)
        return payload

    def __iter__(self) -> Iterator[RecordedFrame]:
        for i in range(len(self._entries)):
            yield self.frame(i)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def open_recording(path: str | os.PathLike, *, allow_truncated: bool = False) -> Recording:
    """Open a recording: check magic and schema, index every complete frame record.

    A file without its END record (a crash, a copy cut short) is *truncated*: with
    ``allow_truncated=False`` that is an InputError naming the last good frame; with True the
    good frames are readable and ``Recording.truncated`` says what is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such recording file")
    f = open(path, "rb")
    try:
        size = os.fstat(f.fileno()).st_size
        if f.read(len(MAGIC)) != MAGIC:
            raise SchemaError(path, f"not a thuman recording (expected the magic bytes {MAGIC!r}); "
                                    "Azure Kinect .mkv files play through --source playback with pyk4a")
        header = _read_header(path, f, size)
        entries, fault, summary, truncated = [], None, None, None
        pos = f.tell()
        while True:
            if pos == size:
                truncated = "the file ends without its END record: the writer did not close it"
                break
            if pos + _RECORD_HEAD.size > size:
                truncated = f"a record header is cut off at byte {pos} of {size}"
                break
            f.seek(pos)
            tag, length = _RECORD_HEAD.unpack(f.read(_RECORD_HEAD.size))
            end = pos + _RECORD_HEAD.size + length + _CRC.size
            if end > size:
                truncated = f"the record at byte {pos} needs {end - size} more bytes than the file has"
                break
            if tag == TAG_FRAME:
                index, ts = _FRAME_PREFIX.unpack(f.read(_FRAME_PREFIX.size))
                entries.append(_FrameEntry(pos, length, index, ts))
            elif tag in (TAG_FAULT, TAG_END):
                meta, _ = _decode_payload(f.read(length), path, tag.decode().strip())
                if tag == TAG_FAULT:
                    fault = meta
                else:
                    summary = meta
                    break
            pos = end
        rec = Recording(path, f, header, entries, truncated, fault, summary)
        if truncated and entries:
            # The last complete record of a cut file may itself be damaged: check its CRC now.
            try:
                rec._read_record(entries[-1], f"frame {entries[-1].index}")
            except SourceFault:
                entries.pop()
        if truncated and not allow_truncated:
            raise InputError(None, rec.truncation_message()
                             + "; read the good frames with allow_truncated=True (playback does)")
        return rec
    except BaseException:
        f.close()
        raise


def _read_header(path: Path, f, size: int) -> RecordingHeader:
    raw = f.read(_RECORD_HEAD.size)
    if len(raw) < _RECORD_HEAD.size:
        raise InputError(path, "recording is truncated inside its header; no frame is readable")
    tag, length = _RECORD_HEAD.unpack(raw)
    if tag != TAG_HEAD:
        raise SchemaError(path, f"first record is {tag!r}, expected {TAG_HEAD!r}")
    payload = f.read(length)
    crc = f.read(_CRC.size)
    if len(payload) < length or len(crc) < _CRC.size:
        raise InputError(path, "recording is truncated inside its header; no frame is readable")
    if zlib.crc32(payload, zlib.crc32(raw)) != _CRC.unpack(crc)[0]:
        raise SchemaError(path, "header record is corrupt (CRC mismatch)")
    meta, arrays = _decode_payload(payload, path, "HEAD")
    if meta.get("schema") != RECORDING_SCHEMA:
        raise SchemaError(path, "HEAD/schema", f"is {meta.get('schema')!r}, expected {RECORDING_SCHEMA!r}")
    version = meta.get("schema_version")
    if not isinstance(version, int) or version > RECORDING_SCHEMA_VERSION or version < 1:
        raise SchemaError(path, "HEAD/schema_version", f"is {version!r}; this toolkit reads versions 1 to "
                                                         f"{RECORDING_SCHEMA_VERSION}: upgrade thuman")
    return RecordingHeader(width=meta["width"], height=meta["height"], fps=meta["fps"], K=arrays["K"],
                           color_K=arrays["color_K"], depth_to_color=arrays["depth_to_color"],
                           source=meta.get("source", ""), device=meta.get("device", ""),
                           depth_mode=meta.get("depth_mode", ""), extra=meta.get("extra", {}),
                           created=meta.get("created", ""), toolkit_version=meta.get("toolkit_version", ""),
                           schema_version=version, camera=meta.get("camera"), color_camera=meta.get("color_camera"),
                           k4a_calibration=meta.get("k4a_calibration", ""))
