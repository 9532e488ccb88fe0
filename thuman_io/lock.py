"""One writer at a time on a corpus or a subject: an advisory ``flock`` on a hidden lock file.

The kernel drops a ``flock`` when its process exits, however it exits (SIGKILL included), so a
killed writer never leaves a stale lock: the lock file may stay, but it is then unlocked and the
next writer takes it. Lock files start with '.', so dataset and corpus scans never list them.
Local file systems only (``flock`` over NFS depends on the server).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from thuman_io.errors import InputError

LOCK_PREFIX = ".lock-"


@contextlib.contextmanager
def exclusive_lock(folder: str | os.PathLike, name: str, what: str, shared: bool = False,
                   wait: bool = False) -> Iterator[Path]:
    """Hold ``folder/.lock-<name>`` for the block, or raise InputError at once when another
    process holds it. ``what`` names the thing locked in the message ('corpus', 'subject s01').

    ``shared``: many shared holders may coexist, but none with an exclusive one. ``wait``: block
    until the lock is free instead of refusing (for short critical sections)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{LOCK_PREFIX}{name}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = _holder(fd)
            raise InputError(folder, f"{what} is being written by another process{holder}",
                             "wait for it to finish, or write somewhere else") from None
        if not shared:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)   # closing the descriptor releases the lock


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip() or "0")
        if pid:
            return f" (pid {pid})"
    return ""
