"""The ten-line ``thuman_io`` example of docs/demo.md runs as written, on a dataset laid out where
the demo puts it (README.md's example is run by tests/test_readme.py)."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MARK = "<!-- example: thuman_io -->"


def example(path: Path):
    text = path.read_text()
    if MARK not in text:
        return None
    block = re.search(r"```python\n(.*?)```", text[text.index(MARK):], re.S)
    return block.group(1)


def _dataset(root: Path):
    import thuman_io
    from thuman_io.testing import make_synthetic_item

    rng = np.random.default_rng(0)
    for subject in ("s00", "s01", "s02"):
        for pose in range(2):
            thuman_io.write_item(root, make_synthetic_item(rng, subject, pose, n_vertices=300))


def test_the_thuman_io_example_runs(tmp_path):
    doc = "docs/demo.md"
    code = example(ROOT / doc)
    assert code is not None, f"{doc} lost its marked example"
    assert len(code.strip().splitlines()) <= 12
    _dataset(tmp_path / "demo_out" / "dataset")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 7 and lines[0].startswith("s00 0 (") and lines[-1].endswith("held-out items")
