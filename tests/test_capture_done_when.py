"""Issue 7's done-when measurement: ``thuman capture --subject 012 --source sim --poses 3`` writes
3 items that validate; each item's surface error (mean, 95th percentile, mm) against the
simulator's ground truth and its SMPL joint error (mm) are printed. Slow (minutes on CPU)."""
import numpy as np
import pytest
from click.testing import CliRunner


@pytest.mark.slow
def test_capture_sim_three_poses(tmp_path, capsys):
    import thuman_io
    from thuman.cli.main import cli

    r = CliRunner().invoke(cli, ["capture", "--subject", "012", "--source", "sim", "--poses", "3",
                                 "--seed", "0", "--out", str(tmp_path)])
    assert r.exit_code == 0, (r.output, r.exception)
    paths = sorted((tmp_path / "012").glob("*.h5"))
    assert [p.name for p in paths] == ["0000.h5", "0001.h5", "0002.h5"]
    figures = []
    for p in paths:
        assert thuman_io.validate_item(p) == []
        item = thuman_io.read_item(p, frame=False)
        e = item.meta.extra["ground_truth_errors"]
        figures.append((e["surface_mean_mm"], e["surface_p95_mm"], e["joint_mean_mm"]))
    with capsys.disabled():
        for p, (m, q, j) in zip(paths, figures):
            print(f"\n{p.name}: surface error mean {m:.1f} mm, p95 {q:.1f} mm; SMPL joint error {j:.1f} mm")
    f = np.array(figures)
    # Loose bounds: they catch a broken pipeline (items far off), not a change of a few mm.
    assert np.median(f[:, 0]) < 30 and np.median(f[:, 2]) < 80, f
