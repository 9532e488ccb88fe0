"""The demo's building blocks: the stage runner (markers, resume, failures), the report's HTML,
and its pictures (real pyrender, real matplotlib, real TensorBoard logs)."""
import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from thuman.report import Evaluation, Figure, ReportData, StageLine, build_html, png_bytes, write_report
from thuman.stages import Stage, StageFailed, marker_path, read_marker, run_stages


# --- stage runner ---------------------------------------------------------------------------
def _writer(name, calls, fail=None):
    def run(run_dir):
        calls.append(name)
        if fail is not None and fail["on"] == name:
            raise RuntimeError(f"{name} broke")
        (run_dir / f"{name}.txt").write_text(name)
        return {"wrote": f"{name}.txt"}
    return run


def test_stages_write_markers_and_skip_finished_ones_on_rerun(tmp_path):
    calls, lines = [], []
    stages = [Stage(n, f"make {n}", _writer(n, calls)) for n in ("a", "b", "c")]
    records = run_stages(stages, tmp_path, {"k": 1}, echo=lines.append)
    assert [r.status for r in records] == ["done"] * 3 and calls == ["a", "b", "c"]
    marker = read_marker(tmp_path, "b")
    assert marker["summary"] == {"wrote": "b.txt"} and marker["settings"] == {"k": 1} and marker["seconds"] >= 0
    assert any(line.startswith("[2/3 b] make b") for line in lines)
    assert any(re.match(r"\[2/3 b\] done in \d+\.\d s: wrote b.txt", line) for line in lines)
    records = run_stages(stages, tmp_path, {"k": 1}, echo=lines.append)
    assert [r.status for r in records] == ["skipped"] * 3 and calls == ["a", "b", "c"]


def test_a_failing_stage_is_named_keeps_earlier_outputs_and_the_rerun_resumes(tmp_path):
    calls, lines = [], []
    fail = {"on": "b"}
    stages = [Stage(n, f"make {n}", _writer(n, calls, fail)) for n in ("a", "b", "c")]
    with pytest.raises(StageFailed) as e:
        run_stages(stages, tmp_path, {}, echo=lines.append)
    assert e.value.stage == "b" and "stage 'b' failed: RuntimeError: b broke" in str(e.value)
    assert [r.status for r in e.value.records] == ["done", "failed"]
    assert (tmp_path / "a.txt").exists() and marker_path(tmp_path, "a").exists()
    assert not marker_path(tmp_path, "b").exists() and not (tmp_path / "c.txt").exists()
    assert any("[2/3 b] FAILED" in line for line in lines)
    fail["on"] = None
    records = run_stages(stages, tmp_path, {}, echo=lines.append)
    assert [r.status for r in records] == ["skipped", "done", "done"]
    assert calls == ["a", "b", "b", "c"]


def test_a_huge_error_message_is_shortened(tmp_path):
    def run(run_dir):
        raise ValueError("x" * 10000)
    with pytest.raises(StageFailed) as e:
        run_stages([Stage("big", "fails loudly", run)], tmp_path, {}, echo=lambda s: None)
    assert len(str(e.value)) < 1000 and "..." in str(e.value)


# --- HTML -----------------------------------------------------------------------------------
def _images(html_text):
    return [base64.b64decode(m) for m in re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html_text)]


def test_report_is_self_contained_and_shows_every_section(tmp_path):
    rng = np.random.default_rng(0)
    png = tmp_path / "p.png"
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(png)
    data = ReportData(
        title="demo <run>", settings={"subjects": 3},
        stages=[StageLine("capture", "done", 1.5, "items 6")],
        notices=["fusion bypassed & said so"],
        items=[Figure(rng.random((12, 8, 3)), "s00/0000"), Figure(rng.integers(0, 255, (12, 8, 3), dtype=np.uint8), "s00/0001")],
        corpus_previews=[Figure(png, "s00_0000 (train)")],
        curves=Figure(png_bytes(np.zeros((5, 5, 3))), "losses"),
        evaluation=Evaluation({"oracle body": {"iou": 0.7, "chamfer_cm": 1.5},
                               "perturbed body": {"iou": 0.6, "chamfer_cm": 2.5},
                               "DeepHuman, oracle body": {"iou": 0.8, "chamfer_cm": 2.0, "normal_with_refinement/l2": 0.3}},
                              "test", 8, ["s01"], 20),
        eval_sheet=Figure(png, "sheet", scale=2),
        reconstruction=[Figure(png, "views")])
    path = write_report(tmp_path / "report.html", data)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "demo &lt;run&gt;" in text and "fusion bypassed &amp; said so" in text
    # No external asset of any kind: images are inline, there are no scripts, links or URLs.
    assert not re.search(r"(src|href)=['\"](?!data:)", text) and "<script" not in text and "http" not in text
    images = _images(text)
    assert len(images) == 2 + 1 + 1 + 1 + 1
    for raw in images:
        Image.open(io.BytesIO(raw)).verify()
    assert "style='width:60px'" in text          # the sheet, 30 px wide, shown at 2x
    for heading in ("1. Captured items", "2. Synthesized corpus", "3. Training", "4. Evaluation", "5. Reconstruction"):
        assert heading in text
    # The better value of each metric is marked; metrics the baseline lacks show a dash.
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>([^<]+)</td>.*?</tr>", text)}
    assert "class='num best'>0.800" in rows["3D IoU (z-shift search)"]
    assert "class='num best'>1.50" in rows["Chamfer distance (cm)"]
    assert "&ndash;" in rows["normal L2 error, with refinement"]
    # ... and the report says in words which method wins each metric.
    assert "3D IoU (z-shift search): DeepHuman, oracle body wins with 0.800 (higher is better), ahead of oracle body (0.700)." in text
    assert "Chamfer distance (cm): oracle body wins with 1.50 (lower is better), ahead of DeepHuman, oracle body (2.00)." in text


def test_empty_sections_say_so():
    text = build_html(ReportData(title="t", settings={}))
    for what in ("no captured items", "no corpus preview", "no training curves", "no evaluation", "no reconstruction"):
        assert what in text


# --- pictures -------------------------------------------------------------------------------
def test_item_picture_shows_the_frame_and_the_mesh_from_two_sides(rng):
    from thuman.figures import item_picture
    from thuman_io.testing import make_synthetic_item

    item = make_synthetic_item(rng, "s00", 0, with_frame=True)
    picture = item_picture(item)
    assert picture.shape[0] == 288 and picture.shape[2] == 3 and picture.dtype == np.float32
    # frame + textured + two grey views, separated by 4-pixel gaps; each mesh view is 192 wide.
    assert picture.shape[1] > 3 * 192 + 3 * 4
    mesh_part = picture[:, -192:]
    covered = (mesh_part < 0.99).any(axis=-1)
    assert 0.03 < covered.mean() < 0.7            # the ellipsoid seen from the side, on white


def test_curves_from_a_real_tensorboard_log(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from thuman.figures import curves_png, read_scalars

    w = SummaryWriter(str(tmp_path / "tb"))
    for step in range(1, 11):
        w.add_scalar("loss/total", 1.0 / step, step)
        w.add_scalar("loss/occupancy", 0.5 / step, step)
        w.add_scalar("train/stage", 1 if step <= 7 else 2, step)
        if step % 5 == 0:
            w.add_scalar("val/loss", 1.2 / step, step)
            w.add_scalar("val/iou", 0.1 * step, step)
    w.close()
    series = read_scalars(tmp_path / "tb")
    assert [s for s, _ in series["loss/total"]] == list(range(1, 11))
    assert series["loss/occupancy"][-1][1] == pytest.approx(0.05)
    assert [s for s, _ in series["val/iou"]] == [5, 10]
    image = Image.open(io.BytesIO(curves_png(series, stage1_steps=7)))
    assert image.size == (900, 380)
    a = np.asarray(image.convert("RGB"))
    assert (a < 200).any(axis=-1).mean() > 0.01   # axes, lines and labels were drawn


def test_report_json_roundtrip_of_settings_check(tmp_path):
    from thuman.demo import DemoSettings, check_folder
    from thuman_io.errors import InputError

    s = DemoSettings(subjects=3, poses=1, steps=2)
    check_folder(tmp_path, s)
    assert json.loads((tmp_path / "demo.json").read_text())["steps"] == 2
    check_folder(tmp_path, DemoSettings(subjects=3, poses=1, steps=2))      # same settings: resume
    with pytest.raises(InputError, match="steps: 2 there, 5 asked"):
        check_folder(tmp_path, DemoSettings(subjects=3, poses=1, steps=5))
    with pytest.raises(InputError, match="at least 3 subjects"):
        DemoSettings(subjects=2).check()


def test_mixed_capture_sends_the_first_subjects_to_the_session():
    from thuman.demo import DemoSettings, capture_label
    from thuman.demo_capture import subject_mode

    assert [subject_mode("mixed", i, 2) for i in range(4)] == ["session", "session", "ground-truth", "ground-truth"]
    assert {subject_mode("session", i, 2) for i in range(4)} == {"session"}
    assert {subject_mode("ground-truth", i, 2) for i in range(4)} == {"ground-truth"}
    defaults = DemoSettings().check()
    assert (defaults.capture, defaults.captured, defaults.wardrobe) == ("mixed", 2, "thuman")
    assert capture_label(defaults) == "2 subject(s) by the capture session, 22 simulator ground truth (session bypassed)"
