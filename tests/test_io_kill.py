"""Atomic writes: a writer killed with SIGKILL mid-write leaves no partial item visible, and a
reader working meanwhile only ever sees whole items."""
import os
import signal
import subprocess
import sys
import time

import numpy as np

import thuman_io
from thuman_io.atomic import TMP_PREFIX, remove_stale_temporaries
from thuman_io.testing import make_synthetic_item

WRITER = """
import sys, numpy as np, thuman_io
from thuman_io.testing import make_synthetic_item
root, start = sys.argv[1], int(sys.argv[2])
for pose in range(start, start + 10000):
    item = make_synthetic_item(np.random.default_rng(pose), "s01", pose, n_vertices=60000,
                               frame_size=(480, 640))
    thuman_io.write_item(root, item)
"""


def _temporaries(folder):
    return [p for p in folder.glob(TMP_PREFIX + "*")] if folder.is_dir() else []


def test_sigkill_mid_write_leaves_no_partial_item(tmp_path):
    ds = tmp_path / "ds"
    seen_tmp_after_kill = 0
    read_while_writing = 0
    start = 0
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(ds), str(start)])
        try:
            deadline = time.monotonic() + 60
            # Wait for a couple of finished items, reading whatever is visible meanwhile.
            while time.monotonic() < deadline:
                refs = list(thuman_io.open_dataset(ds).items()) if ds.is_dir() else []
                for ref in refs:
                    ref.load(frame=True)  # must never see a partial item
                    read_while_writing += 1
                if len(refs) >= start + 2 and _temporaries(ds / "s01"):
                    break
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        seen_tmp_after_kill += bool(_temporaries(ds / "s01"))
        problems = thuman_io.validate_dataset(ds)
        assert problems == [], problems
        refs = list(thuman_io.open_dataset(ds).items())
        assert [r.pose_index for r in refs] == list(range(len(refs)))  # whole items, in order
        for ref in refs:
            item = ref.load(frame=True)
            # The writer seeds each item with its pose index: the stored item is the whole one.
            expected = make_synthetic_item(np.random.default_rng(ref.pose_index), "s01", ref.pose_index,
                                           n_vertices=60000, frame_size=(480, 640))
            np.testing.assert_array_equal(item.mesh.vertices, expected.mesh.vertices)
            np.testing.assert_array_equal(item.frame.depth_mm, expected.frame.depth_mm)
        start = len(refs)
    # The kill did land mid-write at least once (a temporary was left), yet nothing was visible.
    assert seen_tmp_after_kill >= 1
    assert read_while_writing > 0
    # The next write into the folder removes the dead writers' temporaries.
    thuman_io.write_item(ds, make_synthetic_item(np.random.default_rng(9), "s01", 9999, n_vertices=100))
    assert _temporaries(ds / "s01") == []
    assert len(os.listdir(ds / "s01")) == start + 1
    assert remove_stale_temporaries(ds / "s01") == []
