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


def _example(name):
    match = re.search(rf"<!-- readme-example: {name} -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert match, f"README lost its {name} example"
    return match.group(1)


def test_readme_dataloader_examples_run_with_workers(tmp_path):
    from thuman_io import SMALL_GRID
    from thuman_io.corpus import CorpusWriter

    import sys as _sys
    _sys.path.insert(0, str(Path(__file__).parent))
    from test_corpus_damage import valid_sample

    rng = np.random.default_rng(1)
    subjects = [f"{k:03d}" for k in range(6)]
    for subject in subjects:
        for pose in range(2):
            thuman_io.write_item(tmp_path / "data" / "thuman", make_synthetic_item(rng, subject, pose, with_frame=False))
        with CorpusWriter(tmp_path / "corpus", SMALL_GRID, f"{subject}_0000") as w:
            for view in range(2):
                w.add(valid_sample(rng, view=view, subject=subject))
    r = subprocess.run([sys.executable, "-c", _example("dataloader-items")], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert lines and all("torch.Size([" in line for line in lines)
    n_train = len(thuman_io.open_dataset(tmp_path / "data" / "thuman").split("train", seed=0))
    assert sum(line.count("/00") for line in lines) == n_train
    r = subprocess.run([sys.executable, "-c", _example("dataloader-corpus")], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    d, h, w = SMALL_GRID.shape
    assert r.stdout.strip() == (f"torch.Size([4, 3, {2 * h}, {2 * w}]) torch.Size([4, 1, {d}, {h}, {w}]) "
                                f"torch.Size([4, 3, {d}, {h}, {w}])")
