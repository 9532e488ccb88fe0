"""``thuman capture``: capture a subject into THuman items (DoubleFusion-style session).

Thin: parses options, opens the source and the body model, shows the live status line, and
calls :class:`thuman.capture.session.CaptureSession`. See docs/capture.md.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from thuman.capture.prompt_display import PROMPT_MODES
from thuman.cli.common import warn


@click.command("capture")
@click.option("--subject", required=True, help="Subject id (digits and letters), e.g. 012.")
@click.option("--source", "source_name", type=click.Choice(["k4a", "sim", "playback"]), default="sim",
              show_default=True, help="Frame source; playback reads FILE.")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--poses", default=3, show_default=True, type=click.IntRange(1, None),
              help="Number of prompted poses (items) to capture.")
@click.option("--interval", default=6.0, show_default=True, type=click.FloatRange(0.5, None),
              help="Seconds per reference pose (paper: 6).")
@click.option("--out", "out_dir", default="data/thuman", show_default=True, type=click.Path(file_okay=False),
              help="Dataset folder (items go to OUT/<subject>/<pose>.h5).")
@click.option("--resume", is_flag=True, help="Continue the subject's pose numbering after its last item.")
@click.option("--overwrite", is_flag=True, help="Number from 0 and replace the subject's items.")
@click.option("--coverage", default=0.9, show_default=True, type=click.FloatRange(0.05, 1.0),
              help="Stage 1 ends when this fraction of the body surface was seen.")
@click.option("--max-turn", default=30.0, show_default=True, help="Longest stage 1, seconds of stream time.")
@click.option("--voxel-mm", default=10.0, show_default=True, help="Canonical TSDF voxel size, mm.")
@click.option("--edge-mm", default=10.0, show_default=True, help="Edge length after remeshing, mm.")
@click.option("--fps", type=float, default=None, help="Source frame rate (sim: any; camera: 5/15/30).")
@click.option("--depth-mode", default=None, help="Depth mode (NFOV_UNBINNED, NFOV_2X2BINNED, ...). "
              "Default: NFOV_UNBINNED, for sim NFOV_2X2BINNED (CPU).")
@click.option("--seed", default=0, show_default=True, help="Run seed (sim subject and motion, pose prompts).")
@click.option("--model", "body_model", default="open", show_default=True, help="Body model: 'open' or a SMPL file.")
@click.option("--device", default="cpu", show_default=True, help="torch device for tracking and fusion.")
@click.option("--prompt", "prompt_mode", type=click.Choice(PROMPT_MODES),
              default="auto", show_default=True,
              help="How stage 2 shows each reference pose to the subject: 'window' opens a window (the "
                   "reference beside the live reconstruction, pose k of N, seconds left) and also writes "
                   "OUT/.prompts/<subject>/prompt_<pose>.png; 'images' writes the PNGs only; 'auto' is "
                   "'window' when a display exists ($DISPLAY) and 'images' otherwise; 'none' shows nothing.")
@click.option("--no-prompts", is_flag=True, help="Same as --prompt none.")
@click.option("--live", is_flag=True, help="sim: run the simulated sensor in wall time at --fps, dropping the "
              "oldest queued frames when processing is slower, as a camera does (default: frames on demand).")
@click.option("--fuse", "fuse_mode", type=click.Choice(["auto", "online", "after"]), default="auto",
              show_default=True,
              help="'online' tracks and fuses each frame as it arrives; 'after' records every frame while the "
                   "prompts run on time (stage 1 lasts --record-turn seconds) and fuses afterwards; 'auto' is "
                   "'online' unless a live source outruns processing (measured on the first frames).")
@click.option("--record-turn", default=20.0, show_default=True, type=click.FloatRange(1.0, None),
              help="Stage 1's length in seconds when recording (--fuse after, or auto switching to it).")
def capture(subject, source_name, file, poses, interval, out_dir, resume, overwrite, coverage, max_turn,
            voxel_mm, edge_mm, fps, depth_mode, seed, body_model, device, prompt_mode, no_prompts, live,
            fuse_mode, record_turn):
    """Capture SUBJECT with one depth camera: turn and fuse, then imitate prompted poses.

    Examples:  thuman capture --subject 012 --source sim --poses 3
               thuman capture --subject 012 --source playback rec.threc --resume
    """
    import numpy as np

    from thuman.capture.fusion import FusionConfig
    from thuman.capture.postprocess import PostprocessConfig
    from thuman.capture.prompt_display import open_prompt_display
    from thuman.capture.session import CaptureSession, SessionConfig, next_pose_index
    from thuman.capture.sources import open_source
    from thuman_io.body import load_body_model
    from thuman_io.body.poses import PoseSampler, load_pose_library
    from thuman_io.errors import InputError, SourceFault

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    if source_name == "playback" and not file:
        raise click.UsageError("--source playback needs FILE: thuman capture --subject ID --source playback FILE")
    if source_name != "playback" and file:
        raise click.UsageError(f"FILE is only for --source playback (got {file} with --source {source_name})")
    out = Path(out_dir)
    first = next_pose_index(out, subject)
    if first > 0 and not (resume or overwrite):
        raise InputError(out / subject, f"subject {subject} already has items (up to pose {first - 1:04d})",
                         "pass --resume to continue its numbering or --overwrite to replace them")
    if overwrite:
        first = 0
    if no_prompts:
        if prompt_mode not in ("auto", "none"):
            raise click.UsageError(f"--no-prompts contradicts --prompt {prompt_mode}")
        prompt_mode = "none"
    if live and source_name != "sim":
        raise click.UsageError(f"--live is for --source sim (a camera is always live; got --source {source_name})")
    if depth_mode is None:
        depth_mode = "NFOV_2X2BINNED" if source_name == "sim" else "NFOV_UNBINNED"
    opts = {"seed": seed, "depth_mode": depth_mode}
    if fps is not None:
        opts["fps"] = fps
    elif source_name == "sim":
        opts["fps"] = 5.0  # stream time, not wall time: a low rate keeps CPU runs short
    if live:
        opts["live"] = True
    # The display first: a missing display fails in a second, before the source and model load.
    display = open_prompt_display(prompt_mode, out / ".prompts" / subject if prompt_mode != "none" else None)
    click.echo(f"prompts: {display.description}", err=True)
    line = StatusLine(poses)
    try:
        source = open_source(source_name, file, **opts)
        bm = load_body_model(body_model, device=device)
        sampler = PoseSampler(load_pose_library("builtin"), np.random.default_rng([seed, first, 0x9A5E]))
        chosen: dict = {}

        def reference_pose(k):
            if k not in chosen:
                chosen[k] = sampler.next()
            return chosen[k]

        cfg = SessionConfig(subject=subject, poses=poses, interval_s=interval, coverage_target=coverage,
                            max_turn_s=max_turn, first_pose_index=first, overwrite=overwrite, seed=seed,
                            fuse_mode=fuse_mode, record_turn_s=record_turn,
                            device_label=getattr(source, "device", "") or source_name,
                            fusion=FusionConfig(voxel_size_m=voxel_mm / 1000.0, device=device, seed=seed),
                            postprocess=PostprocessConfig(target_edge_m=edge_mm / 1000.0))
        with source:
            result = CaptureSession(source, bm, out, cfg, reference_pose, on_status=line,
                                    prompt_display=display).run()
    finally:
        display.close()  # also when the source or the model fails to open
        line.close()
    for w in result.warnings:
        warn(w)
    fps_text = ", ".join(f"{k} {v:.2f} fps" for k, v in result.fps.items())
    click.echo(f"{len(result.items)} item(s) written to {out / subject} ({result.stop_reason}; {result.mode}; "
               f"{result.frames} frames; coverage {result.coverage:.2f}; {fps_text})", err=True)
    for path, errs in zip(result.items, result.errors):
        click.echo(f"  {path.name}: surface error mean {errs.surface_mean_mm:.1f} mm, p95 "
                   f"{errs.surface_p95_mm:.1f} mm; joint error {errs.joint_mean_mm:.1f} mm", err=True)
    for path in result.items:
        click.echo(str(path))
    if result.stop_reason == "interrupted":
        sys.exit(130)
    if result.stop_reason.startswith("source fault"):
        raise SourceFault(f"{result.stop_reason[len('source fault: '):]} ({len(result.items)} item(s) saved intact)")
    if len(result.items) < poses:
        warn(f"the stream ended after {len(result.items)} of {poses} poses")


class StatusLine:
    """One status line on stderr, rewritten in place on a terminal, every 2 s otherwise."""

    def __init__(self, poses: int):
        self.poses = poses
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0

    def __call__(self, s) -> None:
        text = (f"[{s.stage}, {s.mode}] t={s.time_s:6.1f}s frame {s.frame_index} {s.fps:5.2f} fps "
                f"coverage {s.coverage:.2f} residual {s.residual_m * 1000:5.1f} mm "
                f"items {s.items_saved}/{self.poses}")
        now = time.monotonic()
        if s.message:
            self._write(text + "  " + s.message, final=True)
        elif self.tty or now - self.last > 2.0:
            self._write(text, final=not self.tty)
            self.last = now

    def _write(self, text: str, final: bool) -> None:
        if self.tty:
            sys.stderr.write("\r" + text.ljust(self.width) + ("\n" if final else ""))
            self.width = 0 if final else len(text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and self.width:
            sys.stderr.write("\n")
            sys.stderr.flush()
