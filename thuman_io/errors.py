"""The toolkit's exceptions. Every message names the file, field or device and what to do.

The CLI prints ``str(error)`` on one line and exits non-zero; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import os


class ThumanError(Exception):
    """Base of every error the toolkit raises on purpose."""


class InputError(ThumanError):
    """Bad input: a file or value that cannot be used as it is.

    ``InputError(path, "field 'mesh/vertices'", "contains NaN")`` reads
    ``path: field 'mesh/vertices': contains NaN``.
    """

    def __init__(self, path: str | os.PathLike | None, *parts: str):
        self.path = None if path is None else os.fspath(path)
        self.parts = parts
        head = [] if self.path is None else [self.path]
        super().__init__(": ".join(head + [p for p in parts if p]))


class SchemaError(InputError):
    """A file that is readable but does not follow its schema (version, field, shape, dtype, value)."""


class BodyModelError(ThumanError):
    """A body model file that is missing or malformed."""


class DeviceError(ThumanError):
    """A capture device that is absent, unplugged, or whose SDK cannot be loaded."""


class SourceFault(ThumanError):
    """A frame source that stopped or misbehaved mid-stream (carries the frame index)."""

    def __init__(self, message: str, frame_index: int | None = None):
        self.frame_index = frame_index
        where = "" if frame_index is None else f" at frame {frame_index}"
        super().__init__(f"{message}{where}")


class TrainingError(ThumanError):
    """Training cannot go on (a NaN/inf loss, a checkpoint that does not fit the configuration)."""


class TrackingLost(ThumanError):
    """Capture lost the subject mid-session: too few of the frame's depth points lie on it."""

    def __init__(self, message: str, frame_index: int | None = None, subject: str | None = None):
        self.frame_index = frame_index
        self.subject = subject
        self.detail = message
        who = "" if subject is None else f"subject {subject}: "
        where = "" if frame_index is None else f"frame {frame_index}: "
        super().__init__(f"{who}{where}{message}")
