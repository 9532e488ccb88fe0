"""A display for the Azure Kinect depth engine on a headless host.

libk4a's depth engine (colour registration: ``transformed_color``, ``color_image_to_depth_camera``)
needs an OpenGL context; without a display it fails with error 204 and pyk4a returns None. When
``$DISPLAY`` is unset, :func:`ensure_display` starts one Xvfb server for the process (Mesa renders
on the CPU) and sets ``$DISPLAY``; the server ends with the process. Xvfb is installed by
scripts/setup.sh (Debian package ``xvfb``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Optional

from thuman_io.errors import DeviceError

_XVFB: Optional[subprocess.Popen] = None
INSTALL_XVFB = "install Xvfb (`apt-get install xvfb`, as scripts/setup.sh does) or run under a display"


def ensure_display(what: str = "the Azure Kinect depth engine", timeout_s: float = 10.0) -> str:
    """$DISPLAY, starting a private Xvfb server first when there is none. Returns the display name.
    Raises DeviceError (one line) when Xvfb is missing or does not start."""
    global _XVFB
    display = os.environ.get("DISPLAY", "")
    if display:
        return display
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise DeviceError(f"no display for {what} (it needs OpenGL): $DISPLAY is unset and Xvfb is not "
                          f"installed; {INSTALL_XVFB}")
    start = 100 + os.getpid() % 800  # spread: a display number just freed can still be held a moment
    number = next(n for n in list(range(start, 1000)) + list(range(99, start))
                  if not os.path.exists(f"/tmp/.X{n}-lock") and not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    read_fd, write_fd = os.pipe()
    try:
        # -displayfd: Xvfb writes the display number to the pipe once it accepts connections.
        proc = subprocess.Popen([xvfb, f":{number}", "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24",
                                 "-nolisten", "tcp"],
                                pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_die_with_parent)
    except OSError as e:
        os.close(read_fd)
        os.close(write_fd)
        raise DeviceError(f"no display for {what}: Xvfb cannot start ({e}); {INSTALL_XVFB}") from None
    os.close(write_fd)
    import select

    ready, _, _ = select.select([read_fd], [], [], timeout_s)
    number = os.read(read_fd, 64).decode().strip() if ready else ""
    os.close(read_fd)
    if not number.isdigit():
        proc.kill()
        proc.wait()
        raise DeviceError(f"no display for {what}: Xvfb did not start within {timeout_s:.0f} s; {INSTALL_XVFB}")
    # No atexit stop: the depth engine keeps its X connection to the end, and Xlib ends the process
    # with a "fatal IO error" when the server goes first. Xvfb ends with this process instead.
    _XVFB = proc
    os.environ["DISPLAY"] = f":{number}"
    return os.environ["DISPLAY"]


def _die_with_parent() -> None:
    """In the Xvfb child: receive SIGTERM when the process that started it ends (Linux prctl)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_display() -> None:
    """Stop the Xvfb server this process started (if any) and unset the $DISPLAY it set."""
    global _XVFB
    if _XVFB is None:
        return
    _XVFB.terminate()
    try:
        _XVFB.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _XVFB.kill()
        _XVFB.wait()
    _XVFB = None
    os.environ.pop("DISPLAY", None)
