"""README's thuman_io example runs as printed, on a dataset the test writes."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

import thuman_io
from thuman_io.testing import make_synthetic_item

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path):
    text = README.read_text()
    match = re.search(r"<!-- readme-example: thuman_io -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README lost its thuman_io example"
    rng = np.random.default_rng(0)
    for subject in ("001", "002", "003"):
        for pose in range(2):
            thuman_io.write_item(tmp_path / "data" / "thuman", make_synthetic_item(rng, subject, pose))
    r = subprocess.run([sys.executable, "-c", match.group(1)], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "['001', '002', '003']" in r.stdout
    assert "training items" in r.stdout
