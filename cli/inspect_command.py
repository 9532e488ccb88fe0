"""``thuman inspect``: a recording's camera model, frames, gaps, timestamps and depth mode, and one
frame as a coloured point cloud (PLY, metres, depth camera frame). Thin: the work is in
``thuman.capture.sources.inspect``."""
from __future__ import annotations

import click


@click.command("inspect")
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option("--frame", "frame_pos", type=int, default=0, show_default=True,
              help="Which frame (position in the stream, 0 = first) to write as a point cloud.")
@click.option("--ply", type=click.Path(dir_okay=False), default=None,
              help="Write that frame as a coloured point cloud PLY: metres, the depth camera's OpenCV frame "
                   "(x right, y down, z forward), back-projected through the lens. Open it in MeshLab.")
def inspect(recording, frame_pos, ply):
    """Print the camera model, frame count, gaps, timestamps and depth mode of RECORDING (a toolkit
    recording or an Azure Kinect .mkv)."""
    from thuman.capture.sources.inspect import frame_point_cloud, inspect_recording
    from thuman_io.errors import InputError

    summary = inspect_recording(recording, frame_index=frame_pos if ply else None)
    for line in summary.lines():
        click.echo(line)
    if ply:
        if summary.frame is None:
            raise InputError(recording, f"has {summary.frames} frames, no frame at position {frame_pos}")
        from thuman_io.exchange.point_cloud import write_point_cloud_ply

        pts, cols = frame_point_cloud(summary.frame)
        write_point_cloud_ply(ply, pts, cols, comment=f"thuman inspect {recording} frame {summary.frame.index}\n"
                                                      "metres, depth camera frame (OpenCV: x right, y down, z forward)")
        click.echo(f"point cloud:   {len(pts)} points of frame {summary.frame.index} in {ply}")
