"""``thuman demo``: the whole pipeline on simulated subjects, ending in OUT/report.html (thin CLI
over :func:`thuman.demo.run_demo`). See docs/demo.md."""
from __future__ import annotations

import time

import click


@click.command("demo")
@click.option("--out", "out_dir", default="demo_out", show_default=True, type=click.Path(file_okay=False),
              help="Run folder: items, corpus, training run, evaluation, reconstruction and report.html.")
@click.option("--subjects", default=24, show_default=True, type=click.IntRange(3, None),
              help="Simulated subjects (at least 3: training, validation and held-out test).")
@click.option("--poses", default=1, show_default=True, type=click.IntRange(1, None),
              help="Prompted poses (items) per subject.")
@click.option("--steps", default=1500, show_default=True, type=click.IntRange(1, None),
              help="Training steps (batch 4; the first 2/3 are stage 1).")
@click.option("--seed", default=0, show_default=True, help="Run seed: subjects, views, training.")
@click.option("--capture", "capture_mode", type=click.Choice(["mixed", "session", "ground-truth"]), default="mixed",
              show_default=True,
              help="session: the real capture session (body tracking, non-rigid fusion, post-processing) on "
                   "the simulated sensor; ground-truth: NOT a capture, the simulator's own meshes written as "
                   "items with the session bypassed (fast, for trying the later stages); mixed: the first "
                   "--captured subjects by the session, the rest ground truth.")
@click.option("--captured", default=2, show_default=True, type=click.IntRange(0, None),
              help="With --capture mixed: subjects captured by the capture session.")
@click.option("--wardrobe", default="thuman", show_default=True, type=click.Choice(["thuman", "basic"]),
              help="The simulator's garments: thuman (skirts, coats, hoodies, wide trousers... standing off the "
                   "body) or basic (fitted).")
@click.option("--interval", "interval_s", default=3.0, show_default=True, type=click.FloatRange(0.5, None),
              help="Seconds per prompted pose (the demo's short interval; thuman capture keeps the paper's 6 s).")
@click.option("--jobs", "capture_workers", default=2, show_default=True, type=click.IntRange(1, None),
              help="Subjects captured at once, each in its own process with one torch thread.")
def demo(out_dir, subjects, poses, steps, seed, capture_mode, captured, wardrobe, interval_s, capture_workers):
    """Run the whole pipeline on simulated subjects: capture -> THuman items -> 4-view corpus ->
    DeepHuman training -> evaluation on held-out subjects -> one reconstruction -> OUT/report.html.

    Each stage prints what it does and how long it took. Rerunning the same command resumes: finished
    stages are skipped. A failure names the stage, keeps earlier outputs and exits non-zero.
    The defaults (24 subjects x 1 pose in the thuman wardrobe, 2 of them captured by the real
    capture session and the rest simulator ground truth, 1500 training steps with perturbed
    bodies) are sized to finish within 15 minutes on 2 idle CPU cores; see docs/demo.md.
    """
    from thuman.demo import REPORT, DemoSettings, run_demo

    settings = DemoSettings(subjects=subjects, poses=poses, steps=steps, seed=seed, capture=capture_mode,
                            interval_s=interval_s, capture_workers=capture_workers, captured=captured,
                            wardrobe=wardrobe)
    t0 = time.perf_counter()
    run_demo(out_dir, settings, echo=lambda line: click.echo(line, err=True))
    click.echo(f"demo finished in {time.perf_counter() - t0:.1f} s; open {out_dir}/{REPORT}", err=True)
    click.echo(f"{out_dir}/{REPORT}")
