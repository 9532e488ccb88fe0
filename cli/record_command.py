"""``thuman record``: stream frames from a camera, a recording or the simulator into a recording
file (the toolkit's format, docs/format-recording.md). Thin: the work is in
``thuman.capture.sources.recording.record``."""
from __future__ import annotations

import time

import click

from thuman.cli.common import warn

DEPTH_MODES = ["NFOV_2X2BINNED", "NFOV_UNBINNED", "WFOV_2X2BINNED", "WFOV_UNBINNED"]


@click.command("record")
@click.option("--source", "source_name", type=click.Choice(["k4a", "sim", "playback"]), required=True,
              help="k4a: Azure Kinect / Orbbec Femto live; sim: the simulated subject; playback: --file.")
@click.argument("file_arg", metavar="[FILE]", required=False, type=click.Path(dir_okay=False))
@click.option("--file", "file", type=click.Path(dir_okay=False), default=None,
              help="Recording to play back (toolkit recording or Azure Kinect .mkv); or give it as FILE.")
@click.option("--out", required=True, type=click.Path(),
              help="Recording file to write, or an existing folder (a file named after the source and time).")
@click.option("--seconds", type=float, default=None,
              help="Device time to record (default: until the stream ends or Ctrl-C; sim: 10 s).")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulated subject and noise.")
@click.option("--depth-mode", type=click.Choice(DEPTH_MODES), default="NFOV_UNBINNED", show_default=True)
@click.option("--fps", type=float, default=None, help="Frame rate (k4a: 5, 15 or 30; sim: any; default 30).")
@click.option("--device-index", type=int, default=0, show_default=True, help="Which K4A device.")
@click.option("--color-resolution", default="720p", show_default=True, help="K4A colour resolution.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--no-ground-truth", is_flag=True, help="Do not store the simulator's ground truth.")
@click.option("--codec", type=click.Choice(["auto", "zlib", "raw"]), default="auto", show_default=True,
              help="Frame compression. auto: raw for a live camera (zlib writes ~15 frames/s at 640x576, "
                   "too slow for 30 fps), zlib otherwise (2.4x smaller).")
@click.option("--format", "fmt", type=click.Choice(["auto", "threc", "mkv"]), default="auto", show_default=True,
              help="threc: the toolkit's recording (ground truth kept); mkv: an Azure Kinect recording "
                   "(libk4arecord from `pip install thuman[kinect]`; the SDK and k4aviewer play it). "
                   "auto: mkv when --out ends in .mkv.")
@click.option("--unplug-at", type=int, default=None, help="Simulator fault: stop at this frame index.")
@click.option("--drop-every", type=int, default=0, help="Simulator fault: drop every N-th frame.")
def record(source_name, file_arg, file, out, seconds, seed, depth_mode, fps, device_index, color_resolution, overwrite,
           no_ground_truth, codec, fmt, unplug_at, drop_every):
    """Record RGB-D frames into the toolkit's recording format.

    Shows a live line (frames, fps, dropped frames). A fault of the source (unplugged camera,
    truncated recording) keeps every frame recorded before it, says where it happened and exits
    with status 1.
    """
    from thuman.capture.sources import open_source
    from thuman.capture.sources.recording import record as record_frames
    from thuman_io.errors import InputError, SourceFault

    import datetime
    from pathlib import Path

    if file_arg is not None and file is not None and Path(file_arg) != Path(file):
        raise InputError(file_arg, f"two recordings given (FILE and --file {file}); give one")
    file = file if file is not None else file_arg
    if Path(out).is_dir() or out.endswith(("/", "\\")):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = str(Path(out) / f"{source_name}-{stamp}.{'mkv' if fmt == 'mkv' else 'threc'}")
    if fmt == "auto":
        fmt = "mkv" if out.lower().endswith(".mkv") else "threc"
    if file is not None and Path(out).resolve() == Path(file).resolve():
        raise InputError(out, "is the recording being played back; write to another file")
    if source_name != "playback" and file is not None:
        raise InputError(file, "--file is for --source playback only")
    if source_name != "sim" and (unplug_at is not None or drop_every):
        raise InputError(None, "--unplug-at and --drop-every apply to --source sim only")
    sim = {}
    if source_name == "sim":
        sim = dict(unplug_at=unplug_at, drop_every=drop_every)
        if seconds is None:
            seconds = 10.0
    if codec == "auto":
        codec = "raw" if source_name == "k4a" else "zlib"
    source = open_source(source_name, file, seed=seed, depth_mode=depth_mode, fps=fps, device_index=device_index,
                         color_resolution=color_resolution, **sim)
    last = [0.0]
    interactive = click.get_text_stream("stderr").isatty()

    def show(frame, rep):
        now = time.perf_counter()
        if not interactive and rep.frames % 30 and now - last[0] < 5.0:
            return
        last[0] = now
        fps_now = rep.frames / max(rep.wall_s, 1e-9)
        line = (f"recording {rep.frames} frames  {rep.seconds:6.1f} s  {fps_now:5.1f} fps  "
                f"dropped {rep.dropped}")
        click.echo(("\r" + line) if interactive else line, err=True, nl=not interactive)

    try:
        report = record_frames(source, out, seconds=seconds, overwrite=overwrite, ground_truth=not no_ground_truth,
                               codec=codec, on_frame=show, format=fmt)
    finally:
        source.close()
    if interactive:
        click.echo("", err=True)
    for jump in report.timestamp_jumps:
        warn(str(jump))
    summary = (f"{report.frames} frames ({report.seconds:.1f} s of device time) in {report.path}, "
               f"{report.dropped} dropped, {len(report.timestamp_jumps)} timestamp jumps, "
               f"{report.frames / max(report.wall_s, 1e-9):.1f} fps")
    if report.fault is not None:
        f = report.fault
        raise SourceFault(f"{f}; kept {summary}", frame_index=None) from f
    click.echo(f"recorded {summary}", err=True)
