"""``thuman demo``: the whole pipeline on simulated subjects, ending in OUT/report.html (thin CLI
over :func:`thuman.demo.run_demo`). See docs/demo.md."""
from __future__ import annotations

import time

import click


@click.command("demo")
@click.option("--out", "out_dir", default="demo_out", show_default=True, type=click.Path(file_okay=False),
              help="Run folder: items, corpus, training run, evaluation, reconstruction and report.html.")
@click.option("--subjects", default=5, show_default=True, type=click.IntRange(3, None),
              help="Simulated subjects (at least 3: training, validation and held-out test).")
@click.option("--poses", default=3, show_default=True, type=click.IntRange(1, None),
              help="Prompted poses (items) per subject.")
@click.option("--steps", default=1000, show_default=True, type=click.IntRange(1, None),
              help="Training steps (batch 4; the first 2/3 are stage 1).")
@click.option("--seed", default=0, show_default=True, help="Run seed: subjects, views, training.")
@click.option("--capture", "capture_mode", type=click.Choice(["ground-truth", "session"]), default="ground-truth",
              show_default=True,
              help="session: the capture session (tracking + fusion) on the simulated sensor, slow on a CPU; "
                   "ground-truth: the simulator's meshes as items, the capture session bypassed.")
def demo(out_dir, subjects, poses, steps, seed, capture_mode):
    """Run the whole pipeline on simulated subjects: capture -> THuman items -> 4-view corpus ->
    DeepHuman training -> evaluation on held-out subjects -> one reconstruction -> OUT/report.html.

    Each stage prints what it does and how long it took. Rerunning the same command resumes: finished
    stages are skipped. A failure names the stage, keeps earlier outputs and exits non-zero.
    The defaults (5 subjects x 3 poses, 1000 training steps) took 2.8 minutes on 2 CPU cores
    and 7.5 minutes on 2 busy ones. --capture session is much slower (on 2 cores about 2
    minutes per subject with one pose, under a minute per further pose): try --subjects 3
    --poses 1 with it.
    """
    from thuman.demo import REPORT, DemoSettings, run_demo

    settings = DemoSettings(subjects=subjects, poses=poses, steps=steps, seed=seed, capture=capture_mode)
    t0 = time.perf_counter()
    run_demo(out_dir, settings, echo=lambda line: click.echo(line, err=True))
    click.echo(f"demo finished in {time.perf_counter() - t0:.1f} s; open {out_dir}/{REPORT}", err=True)
    click.echo(f"{out_dir}/{REPORT}")
