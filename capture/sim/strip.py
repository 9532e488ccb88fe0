"""A picture of the simulation: colour and depth frames with the ground truth overlaid.

    python -m thuman.capture.sim.strip docs/sim_strip.png [--seed 3] [--frames 6]

Top row: the registered colour frame with the ground-truth skeleton (projected joints). Bottom row:
the measured depth (near = bright, no measurement = black) with the ground-truth clothed mesh's
silhouette outline (white) and the skeleton. Frames are spread over the capture protocol: the turn
(stage 1) and the imitation of prompted poses (stage 2).
"""
from __future__ import annotations

import argparse
from typing import Optional

import numpy as np

from thuman.capture.camera import capture_to_cv, project
from thuman_io.body.joints import PARENTS


def _skeleton(draw, uv: np.ndarray, color, width: int = 2) -> None:
    for j in range(1, len(PARENTS)):
        p = PARENTS[j]
        draw.line([tuple(uv[p]), tuple(uv[j])], fill=color, width=width)
    for u, v in uv:
        draw.ellipse([u - 2.5, v - 2.5, u + 2.5, v + 2.5], fill=(255, 255, 255))


def depth_to_rgb(depth_mm: np.ndarray, near_mm: float, far_mm: float) -> np.ndarray:
    """(H, W) uint16 mm -> (H, W, 3) uint8 colour map: near red, far blue, no measurement black."""
    d = depth_mm.astype(np.float32)
    g = np.clip((d - near_mm) / max(far_mm - near_mm, 1.0), 0, 1)
    # A short piecewise-linear "turbo-like" ramp: red -> yellow -> green -> cyan -> blue.
    stops = np.array([[220, 40, 30], [240, 200, 40], [60, 200, 80], [40, 190, 220], [40, 60, 200]], np.float32)
    x = g * (len(stops) - 1)
    i = np.minimum(x.astype(int), len(stops) - 2)
    f = (x - i)[..., None]
    rgb = stops[i] * (1 - f) + stops[i + 1] * f
    return (rgb * (d > 0)[..., None]).astype(np.uint8)


def silhouette_outline(vertices: np.ndarray, faces: np.ndarray, sensor) -> np.ndarray:
    """(H, W) bool outline of a capture-frame mesh's exact silhouette in the depth camera of the
    SimSensor ``sensor`` (through its lens)."""
    from thuman.capture.sim.sensor import SceneMesh

    _, depth = sensor.render_exact([SceneMesh(vertices, faces, np.full((len(vertices), 3), 128, np.uint8))])
    m = depth > 0
    edge = np.zeros_like(m)
    edge[1:-1, 1:-1] = m[1:-1, 1:-1] & ~(m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:])
    return edge


def render_strip(seed: int = 3, times_s: Optional[list[float]] = None, depth_mode: str = "NFOV_UNBINNED",
                 crop: int = 300) -> np.ndarray:
    """(2H, N*crop, 3) uint8 strip of N simulated frames at ``times_s`` (seconds)."""
    from PIL import Image, ImageDraw

    from thuman.capture.sim.motion import MotionConfig
    from thuman.capture.sim.source import SimSource

    motion = MotionConfig(turn_seconds=12.0)
    times_s = times_s or [0.0, 3.0, 6.0, 9.0, 13.5, 19.5, 25.5]
    fps = 10.0
    wanted = {int(round(t * fps)) for t in times_s}
    drop = frozenset(i for i in range(max(wanted) + 1) if i not in wanted)
    src = SimSource(seed=seed, depth_mode_name=depth_mode, fps=fps, motion=motion, drop_frames=drop,
                    max_frames=len(wanted))
    cols = []
    try:
        for frame in src:
            gt = frame.ground_truth
            K = frame.camera
            uv = project(capture_to_cv(gt.joints), K)
            outline = silhouette_outline(gt.vertices, gt.faces, src.sensor)
            z = -gt.vertices[:, 2]
            depth_rgb = depth_to_rgb(frame.depth_mm, z.min() * 1000 - 20, z.max() * 1000 + 20)
            depth_rgb[outline] = (255, 255, 255)
            images = []
            for arr in (frame.color, depth_rgb):
                im = Image.fromarray(arr)
                d = ImageDraw.Draw(im)
                _skeleton(d, uv, (255, 60, 40))
                images.append(np.asarray(im))
            w = frame.depth_mm.shape[1]
            c0 = int(np.clip(uv[0, 0] - crop / 2, 0, w - crop))
            col = np.concatenate([a[:, c0:c0 + crop] for a in images], axis=0)
            im = Image.fromarray(col)
            ImageDraw.Draw(im).text((6, 6), f"t={frame.timestamp_us / 1e6:.1f}s {gt.stage}", fill=(255, 255, 255))
            cols.append(np.asarray(im))
    finally:
        src.close()
    return np.concatenate(cols, axis=1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args(argv)
    from PIL import Image

    from thuman_io.atomic import atomic_path

    strip = render_strip(seed=args.seed)
    with atomic_path(args.out) as tmp:
        Image.fromarray(strip).save(tmp, format="PNG")
    print(f"wrote {args.out} {strip.shape[1]}x{strip.shape[0]}")


if __name__ == "__main__":
    main()
