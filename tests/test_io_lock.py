"""One writer at a time (thuman_io.lock): a second capture of a subject is refused before it
captures a frame, and a killed writer leaves no lock behind."""
import signal
import subprocess
import sys

import numpy as np
import pytest

from thuman_io.errors import InputError
from thuman_io.lock import exclusive_lock

_HOLD = """
import sys, time
from thuman_io.lock import exclusive_lock
with exclusive_lock(sys.argv[1], sys.argv[2], "x"):
    print("held", flush=True)
    time.sleep(60)
"""


def _hold(folder, name):
    p = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder), name], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_lock_refuses_a_second_holder_and_survives_sigkill(tmp_path):
    holder = _hold(tmp_path, "corpus")
    with pytest.raises(InputError, match=f"the corpus is being written by another process \\(pid {holder.pid}\\)"):
        with exclusive_lock(tmp_path, "corpus", "the corpus"):
            pass
    with exclusive_lock(tmp_path, "other", "another thing"):    # other names are independent
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with exclusive_lock(tmp_path, "corpus", "the corpus"):     # the killed holder's lock is gone
        with pytest.raises(InputError):
            with exclusive_lock(tmp_path, "corpus", "the corpus", shared=True):
                pass


def test_second_capture_of_a_subject_is_refused_before_capturing(tmp_path):
    from capture_fixtures import TurningBodySource, session_config
    from thuman.capture.session import CaptureSession
    from thuman_io.body import load_body_model

    bm = load_body_model("open")
    holder = _hold(tmp_path, "subject-012")                      # a capture of subject 012 running
    try:
        src = TurningBodySource(bm, fps=3, turn_s=3.0, total_s=12.0, turn_rad=np.pi)
        session = CaptureSession(src, bm, tmp_path, session_config("012"), lambda k: np.zeros(72, np.float32))
        with pytest.raises(InputError, match="subject 012 is being written by another process"):
            session.run()
        assert src.i == 0 and not (tmp_path / "012").exists()   # no frame read, nothing written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
