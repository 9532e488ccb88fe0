"""``thuman demo``: the whole pipeline on simulated subjects, resumable, ending in a report.

Stages (each a function of the run folder OUT; :mod:`thuman.stages` runs them, writes a
done-marker after each and skips finished ones on a rerun):

=============  ==========================================================  ==========================
stage          does                                                        writes
=============  ==========================================================  ==========================
capture        N simulated subjects (different shape, outfit, colours),    OUT/dataset/<s>/<p>.h5
               P prompted poses each, into THuman items (default: the
               first 2 by the capture session, the rest ground truth)
synth          the 4-view DeepHuman corpus on the small grid, previews     OUT/corpus/
train          DeepHuman, CPU preset (32x48x32), S steps (2/3 stage 1)     OUT/run/
eval           held-out (test) subjects: oracle body, perturbed body,      OUT/eval/<method>/
               the network with each
reconstruct    one held-out image -> mesh                                  OUT/reconstruct/
report         the self-contained HTML report                              OUT/report.html
=============  ==========================================================  ==========================

The settings of a run are kept in OUT/demo.json; running again with other settings in the same
folder is refused (the finished stages would not match them).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from thuman.stages import Stage, StageRecord, run_stages
from thuman_io.atomic import atomic_write_text
from thuman_io.errors import InputError, ThumanError

DATASET, CORPUS, RUN, EVAL, RECON = "dataset", "corpus", "run", "eval", "reconstruct"
REPORT = "report.html"
SETTINGS_FILE = "demo.json"
STAGE_NAMES = ("capture", "synth", "train", "eval", "reconstruct", "report")


@dataclass
class DemoSettings:
    """What a demo run does. subjects >= 3 (train, val and test need one subject each);
    poses per subject; steps of training (the first 2/3 are stage 1, as the paper's 20k/10k);
    capture: 'mixed' (the first ``captured`` subjects by the capture session, the rest as the
    simulator's ground truth), 'session' (all by the session) or 'ground-truth' (none);
    wardrobe: the simulator's ('thuman': garments that stand off the body, ``capture.sim.outfit``);
    perturb_prob: share of training samples with a perturbed body fit (augmentation);
    seed: every random choice of the run; interval_s: seconds per prompted pose
    (the demo's 3 s, see ``thuman.demo_capture.DEMO_INTERVAL_S``; ``thuman capture`` keeps the
    paper's 6 s); capture_workers: subjects captured at once (spawned processes)."""

    subjects: int = 24
    poses: int = 1
    steps: int = 1500
    seed: int = 0
    capture: str = "mixed"
    interval_s: float = 3.0
    capture_workers: int = 2
    views: int = 4
    batch_size: int = 4
    captured: int = 2
    wardrobe: str = "thuman"
    perturb_prob: float = 0.5

    def check(self) -> "DemoSettings":
        from thuman.demo_capture import CAPTURE_MODES

        if self.subjects < 3:
            raise InputError(None, f"--subjects {self.subjects}",
                             "the demo needs at least 3 subjects (one each for training, validation and the held-out test)")
        if self.poses < 1 or self.steps < 1 or self.views < 1:
            raise InputError(None, "--poses, --steps and views must be at least 1")
        if self.capture not in CAPTURE_MODES:
            raise InputError(None, f"--capture {self.capture!r}", f"use one of {', '.join(CAPTURE_MODES)}")
        from thuman.capture.sim.outfit import WARDROBES
        if self.wardrobe not in WARDROBES:
            raise InputError(None, f"--wardrobe {self.wardrobe!r}", f"use one of {', '.join(WARDROBES)}")
        return self

    @property
    def stage1_steps(self) -> int:
        return int(math.ceil(self.steps * 2 / 3))


def check_folder(out: Path, settings: DemoSettings) -> None:
    """Record the settings in OUT/demo.json, or refuse if OUT holds a run made with others."""
    path = out / SETTINGS_FILE
    want = asdict(settings)
    if path.exists():
        try:
            have = json.loads(path.read_text())
        except ValueError as e:
            raise InputError(path, f"unreadable ({e})", "delete the folder or use another --out") from e
        diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
        if diff:
            text = ", ".join(f"{k}: {a} there, {b} asked" for k, (a, b) in diff.items())
            raise InputError(path, f"this folder holds a demo run with other settings ({text})",
                             "rerun with the same settings to resume, or use another --out")
        return
    atomic_write_text(path, json.dumps(want, indent=2))


# --- stages ---------------------------------------------------------------------------------
def stage_capture(out: Path, s: DemoSettings, echo: Callable[[str], None]) -> dict:
    from thuman.demo_capture import (BYPASS_NOTE, CaptureJob, capture_subjects, complete_subjects, subject_id,
                                     subject_mode, subject_seed)

    dataset = out / DATASET
    done = complete_subjects(dataset, s.poses)
    if s.capture == "ground-truth":
        echo(f"    NOTE: {BYPASS_NOTE}; --capture session runs the real capture")
    elif s.capture == "mixed":
        echo(f"    the first {min(s.captured, s.subjects)} subject(s) by the capture session on the simulated sensor; "
             f"NOTE: the other {max(0, s.subjects - s.captured)}: {BYPASS_NOTE}")
    else:
        echo(f"    capture session on the simulated sensor (tracking, fusion, post-processing); "
             f"{s.capture_workers} subject(s) at a time, prompt interval {s.interval_s:g} s")
    jobs = []
    for i in range(s.subjects):
        sid, seed = subject_id(i), subject_seed(s.seed, i)
        if sid in done:
            echo(f"    subject {sid}: {s.poses} items already captured, skipped")
            continue
        jobs.append(CaptureJob(str(dataset), sid, seed, s.poses, subject_mode(s.capture, i, s.captured), s.interval_s,
                               wardrobe=s.wardrobe))
    errors, failed = [], []
    workers = 1 if s.capture == "ground-truth" else s.capture_workers
    for job, res, seconds, error in capture_subjects(jobs, workers):
        if error is not None:
            echo(f"    subject {job.subject} (simulator seed {job.seed}): FAILED after {seconds:.1f} s: {error}")
            failed.append(f"{job.subject}: {error}")
            continue
        errors += res.errors
        extra = ""
        if res.errors:
            extra = "; surface error " + ", ".join(f"{e['surface_mean_mm']:.1f} mm" for e in res.errors)
        echo(f"    subject {job.subject} (simulator seed {job.seed}): {len(res.items)} items from {res.frames} frames "
             f"in {seconds:.1f} s{extra}")
        for w in res.warnings:
            echo(f"    warning: {job.subject}: {w}")
    if failed:   # subjects that did finish keep their items; a rerun captures only the others
        raise ThumanError(f"{len(failed)} of {len(jobs)} subject(s) failed: " + "; ".join(failed))
    summary = {"subjects": s.subjects, "items": s.subjects * s.poses, "mode": capture_label(s)}
    if errors:   # session on the simulator: how far the captured surfaces lie from the truth
        summary["surface error mm"] = round(sum(e["surface_mean_mm"] for e in errors) / len(errors), 1)
    return summary


def capture_label(s: DemoSettings) -> str:
    """How the items were made, in words."""
    if s.capture == "session":
        return "capture session"
    if s.capture == "mixed":
        n = min(s.captured, s.subjects)
        return f"{n} subject(s) by the capture session, {s.subjects - n} simulator ground truth (session bypassed)"
    return "simulator ground truth (session bypassed)"


def stage_synth(out: Path, s: DemoSettings, echo: Callable[[str], None]) -> dict:
    from thuman.synth.pipeline import SynthConfig
    from thuman.synth.run import run_synthesis
    from thuman_io.grid import SMALL_GRID

    config = SynthConfig(grid=SMALL_GRID, views=s.views, seed=s.seed)

    def on_outcome(o):
        echo(f"    {o.item}: {o.status}" + (f" ({o.samples} views)" if o.samples else ""))
        for w in o.warnings:   # the synthesizer's warnings name their item
            echo(f"    warning: {w}")

    report = run_synthesis(out / DATASET, out / CORPUS, config, jobs=1, preview=True, resume=True,
                           on_outcome=on_outcome)
    if report.failed:
        raise ThumanError("synthesis failed for " + "; ".join(o.error for o in report.failed))
    return {"items": len(report.outcomes), "samples": len(report.outcomes) * s.views, "grid": "x".join(map(str, SMALL_GRID.shape))}


def train_config(s: DemoSettings):
    """The CPU preset (small grid, Table 1 channels) with the demo's step counts."""
    from thuman.model.config import small_config

    return small_config(stage1_steps=s.stage1_steps, stage2_steps=s.steps - s.stage1_steps, seed=s.seed,
                        batch_size=s.batch_size, num_workers=0, log_every=1,
                        checkpoint_every=max(1, s.steps // 4), device="cpu", threads=1,
                        val_every=max(1, s.steps // 6), val_samples=8, perturb_prob=s.perturb_prob)


def stage_train(out: Path, s: DemoSettings, echo: Callable[[str], None]) -> dict:
    from thuman.model.checkpoint import CHECKPOINT_NAME, read_checkpoint
    from thuman.model.train import train

    run_dir = out / RUN
    cfg = train_config(s)
    resume = (run_dir / CHECKPOINT_NAME).exists()
    if resume:
        step = int(read_checkpoint(run_dir / CHECKPOINT_NAME)["step"])
        if step >= cfg.total_steps:
            # Finished before the marker was written: resuming would only open a new log that
            # purges the last logged step from the curves.
            echo(f"    {run_dir / CHECKPOINT_NAME} is at step {step}: already trained")
            return {"steps": step}
        echo(f"    resuming from {run_dir / CHECKPOINT_NAME} (step {step})")
    result = train(cfg, out / CORPUS, run_dir, resume=resume, show_progress=False,
                   status=lambda line: echo(f"    {line}"))
    loss = result.last_losses.get("loss/total")
    summary = {"steps": result.step}
    if loss is not None:
        summary["final loss"] = round(loss, 4)
    if not resume:   # a resumed run's seconds cover only its own steps
        summary["s/step"] = round(result.seconds / max(1, result.step), 2)
    return summary


def stage_eval(out: Path, s: DemoSettings, echo: Callable[[str], None]) -> dict:
    from thuman.model.evaluate import evaluate_methods

    reports = evaluate_methods(out / RUN, out / CORPUS, "test", out / EVAL, seed=s.seed)
    n = next(iter(reports.values()))["num_samples"]
    echo(f"    {n} test samples:")
    for name, r in reports.items():
        m = r["metrics"]
        echo(f"      {name:<26} IoU {m['iou']:.3f}, Chamfer {m.get('chamfer_cm', float('nan')):.2f} cm")
    net, oracle = reports["DeepHuman, oracle body"]["metrics"], reports["oracle body"]["metrics"]
    return {"samples": n, "IoU": round(net["iou"], 3), "IoU oracle body": round(oracle["iou"], 3),
            "IoU perturbed body": round(reports["perturbed body"]["metrics"]["iou"], 3),
            "IoU DeepHuman with it": round(reports["DeepHuman, perturbed body"]["metrics"]["iou"], 3)}


def stage_reconstruct(out: Path, s: DemoSettings, echo: Callable[[str], None]) -> dict:
    from thuman.demo_outputs import reconstruct_held_out

    rec = reconstruct_held_out(out / CORPUS, out / RUN, out / RECON, s.seed)
    echo(f"    {rec['item_id']} view {rec['view']}: mesh with {rec['vertices']} vertices -> {rec['mesh']}")
    return {"item": rec["item_id"], "vertices": rec["vertices"]}


def stage_report(out: Path, s: DemoSettings, echo: Callable[[str], None]) -> dict:
    from thuman.demo_outputs import collect_report
    from thuman.report import write_report

    data = collect_report(out, s)
    path = write_report(out / REPORT, data)
    return {"report": str(path), "KB": round(path.stat().st_size / 1024)}


_STAGES = (
    ("capture", "simulated subjects -> THuman items", stage_capture),
    ("synth", "items -> 4-view training corpus (small grid) with previews", stage_synth),
    ("train", "train DeepHuman (CPU preset)", stage_train),
    ("eval", "evaluate on held-out subjects: oracle body, perturbed body, the network with each", stage_eval),
    ("reconstruct", "reconstruct one held-out image to a mesh", stage_reconstruct),
    ("report", "write the HTML report", stage_report),
)


def build_stages(settings: DemoSettings, echo: Callable[[str], None]) -> list[Stage]:
    def bind(fn):
        return lambda run_dir: fn(Path(run_dir), settings, echo)

    stages = []
    for name, what, fn in _STAGES:
        if name == "capture":
            what = (f"{settings.subjects} simulated subjects x {settings.poses} poses -> THuman items "
                    f"({capture_label(settings)})")
        elif name == "train":
            what = f"train DeepHuman (CPU preset, 32x48x32) for {settings.steps} steps"
        stages.append(Stage(name, what, bind(fn)))
    return stages


def run_demo(out: str | os.PathLike, settings: DemoSettings, echo: Callable[[str], None] = print) -> list[StageRecord]:
    """Run (or resume) the demo in ``out``; returns the stage records. Raises StageFailed."""
    settings.check()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(out, "--out must be a folder, and this is a file", "choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    check_folder(out, settings)
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    return run_stages(build_stages(settings, echo), out, asdict(settings), echo)
