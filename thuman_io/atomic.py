"""Atomic file writes: write to a hidden temporary file in the same folder, fsync, rename.

A crash (even SIGKILL) leaves either the old file or the new one, never half of one. Temporary
names start with ``.tmp-`` so that directory scans (``thuman_io.dataset``) never see them; stale
ones left by killed writers are removed by :func:`remove_stale_temporaries`.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Iterator

TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(final_path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``final_path``; on success, move it over ``final_path``.

    The caller writes the whole file at the yielded path (any library, any format). If the
    block raises, the temporary file is removed and ``final_path`` is untouched.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = final_path.with_name(f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{final_path.name}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final_path)
        _fsync_dir(final_path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(final_path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``final_path`` atomically."""
    with atomic_path(final_path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(final_path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``final_path`` atomically."""
    atomic_write_bytes(final_path, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove ``.tmp-<pid>-...`` files in ``folder`` whose writer process is gone. Returns them."""
    removed = []
    for p in Path(folder).glob(TMP_PREFIX + "*"):
        try:
            pid = int(p.name[len(TMP_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if not _pid_alive(pid):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
