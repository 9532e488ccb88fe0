"""``thuman synth``: synthesize the DeepHuman training corpus from a THuman dataset (thin CLI)."""
from __future__ import annotations

import sys

import click


@click.command("synth")
@click.option("--input", "input_dir", required=True, type=click.Path(file_okay=False),
              help="THuman dataset folder (DATASET/<subject>/<pose>.h5).")
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Corpus folder; shards go to CORPUS/shards/.")
@click.option("--views", default=4, show_default=True, type=click.IntRange(1, 360),
              help="Views per item, evenly spaced in yaw.")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 256), help="Worker processes.")
@click.option("--seed", default=0, show_default=True, help="Run seed (same seed: identical shards).")
@click.option("--shard", "shard_text", default=None, metavar="K/N",
              help="Take items K, K+N, K+2N, ... of the sorted item list (K = 0..N-1).")
@click.option("--preview", is_flag=True, help="Also write CORPUS/preview/<item>.png grids.")
@click.option("--backgrounds", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of background images (default: procedural backgrounds).")
@click.option("--grid", "grid_name", type=click.Choice(["paper", "small"]), default="paper",
              show_default=True, help="paper: 128x192x128; small: 32x48x32 (CPU runs).")
@click.option("--pitch-range", default=0.3, show_default=True, help="Random pitch in [-r, r] rad.")
@click.option("--roll-range", default=0.3, show_default=True, help="Random roll in [-r, r] rad.")
@click.option("--no-resume", is_flag=True, help="Synthesize items again even if their shard exists.")
def synth(input_dir, output_dir, views, jobs, seed, shard_text, preview, backgrounds, grid_name,
          pitch_range, roll_range, no_resume):
    """Synthesize VIEWS views per item: RGB, semantic map, normal map, silhouette, occupancy and
    semantic volume (DeepHuman sec. 5). Interrupted runs resume; failures are listed at the end
    and make the exit status 1."""
    from thuman.cli.common import progress, warn
    from thuman.synth.pipeline import SynthConfig, background_files
    from thuman.synth.run import check_synthesis_paths, parse_shard, run_synthesis, select_items
    from thuman_io.grid import PAPER_GRID, SMALL_GRID

    shard = parse_shard(shard_text)
    check_synthesis_paths(input_dir, output_dir)
    config = SynthConfig(grid=PAPER_GRID if grid_name == "paper" else SMALL_GRID, views=views,
                         seed=seed, pitch_range=pitch_range, roll_range=roll_range,
                         backgrounds=background_files(backgrounds))
    items = select_items(input_dir, shard)
    if not items:
        warn(f"no items in {input_dir} for shard {shard[0]}/{shard[1]}")
    bar = progress(total=len(items), desc="synth", unit="item")

    def on_outcome(outcome):
        bar.update(1)
        for w in outcome.warnings:
            bar.write(f"thuman: warning: {w}", file=sys.stderr)

    try:
        report = run_synthesis(input_dir, output_dir, config, jobs=jobs, shard=shard, preview=preview,
                               resume=not no_resume, on_outcome=on_outcome, items=items)
    finally:
        bar.close()
    n_samples = sum(o.samples for o in report.done)
    click.echo(f"synth: {len(report.done)} items done ({n_samples} samples), "
               f"{len(report.skipped)} skipped (already done), {len(report.failed)} failed -> {output_dir}")
    if report.failed:
        click.echo("failed items (nothing written for them):", err=True)
        for o in report.failed:
            click.echo(f"  {o.error}", err=True)
        sys.exit(1)
