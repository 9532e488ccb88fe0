"""Benchmark of the simulated RGB-D source and the recording format. Prints figures, never asserts.

    python bench/sources.py [--frames 40] [--mode NFOV_UNBINNED]

Figures: simulated frames per second at the Kinect NFOV unbinned resolution (640 x 576) with the
time per stage (posing by LBS, rendering, noise model); the peer measured in the same run is
pyrender's default path for the same clothed mesh (lit PBR shading, 4x multisampling, the full
frame), which the simulator replaces with Gouraud colours, one sample per pixel and a viewport cropped
to the subject. Also: building a clothed subject, and writing / reading recordings (zlib and raw).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np


def _timeit(fn, n):
    fn()  # warm up (GL context, caches)
    t = time.perf_counter()
    for i in range(n):
        fn(i) if fn.__code__.co_argcount else fn()
    return (time.perf_counter() - t) / n


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--mode", default="NFOV_UNBINNED")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args(argv)

    from thuman.capture.sim import subject as subject_mod
    from thuman.capture.sim.sensor import SceneMesh, apply_depth_noise
    from thuman.capture.sim.source import SimSource
    from thuman.capture.sources.recording import frame_to_recorded
    from thuman_io.recording import RecordingHeader, RecordingWriter, open_recording

    t = time.perf_counter()
    subject = subject_mod.make_subject(args.seed)
    build_s = time.perf_counter() - t
    print(f"clothed subject (seed {args.seed}): {len(subject.vertices)} vertices, {len(subject.faces)} faces, "
          f"{', '.join(subject.outfit.garments())}; built in {build_s:.1f} s (cached per process)")

    src = SimSource(seed=args.seed, depth_mode_name=args.mode, fps=30.0, subject=subject)
    mode = src.mode
    it = iter(src)
    next(it)
    n = args.frames
    t = time.perf_counter()
    frames = [next(it) for _ in range(n)]
    total = (time.perf_counter() - t) / n
    print(f"\nsimulated source, {mode.name} {mode.width}x{mode.height}, retail K4A lens: {1 / total:.1f} frames/s "
          f"({total * 1e3:.0f} ms/frame, {n} frames, colour + depth + ground truth)")
    # Peer in the same run: the ideal pinhole lens (no resampling, a smaller render).
    pin = SimSource(seed=args.seed, depth_mode_name=args.mode, fps=30.0, subject=subject, lens="pinhole")
    pit = iter(pin)
    next(pit)
    t = time.perf_counter()
    for _ in range(n):
        next(pit)
    total_pin = (time.perf_counter() - t) / n
    pin.close()
    print(f"  peer: pinhole lens {1 / total_pin:.1f} frames/s ({total_pin * 1e3:.0f} ms/frame); "
          f"ratio lens / pinhole time per frame {total / total_pin:.2f}")

    # Per stage, on the same frames.
    t_pose = _timeit(lambda i=0: src.pose_at(i + 1), n)
    posed = src.pose_at(1)
    mesh = SceneMesh(posed.vertices, subject.faces, subject.colors)
    renderer = src.sensor._renderer
    t_render = _timeit(lambda: renderer.render([mesh]), n)
    rc, rd = renderer.render([mesh])
    resampler = src.sensor._resampler
    t_lens = _timeit(lambda: resampler.resample(rc, rd, renderer.last_viewport), n)
    color, exact = src.sensor.render_exact([mesh])
    rng = np.random.default_rng(0)
    t_noise = _timeit(lambda: apply_depth_noise(exact, color, src.sensor.camera, src.noise, rng, mode.min_depth_m,
                                                mode.max_depth_m), n)
    print(f"  pose (LBS of the clothed mesh)  {t_pose * 1e3:6.1f} ms")
    print(f"  render (pyrender, cropped)      {t_render * 1e3:6.1f} ms  ({renderer.mode.width}x{renderer.mode.height} "
          "pinhole render camera)")
    print(f"  lens resampling                 {t_lens * 1e3:6.1f} ms")
    print(f"  depth noise model               {t_noise * 1e3:6.1f} ms")

    # Peer: pyrender's default path on the same mesh and camera.
    from thuman.synth.render.pyrender_compat import pyrender
    import trimesh

    scene = pyrender.Scene(ambient_light=np.full(3, 0.4))
    cam = pyrender.IntrinsicsCamera(mode.fx, mode.fy, mode.cx + 0.5, mode.cy + 0.5, znear=0.05, zfar=20.0)
    scene.add(cam, pose=np.eye(4))
    scene.add(pyrender.DirectionalLight(intensity=2.5), pose=np.eye(4))
    tm = trimesh.Trimesh(posed.vertices, subject.faces, vertex_colors=subject.colors, process=False)
    peer = pyrender.OffscreenRenderer(mode.width, mode.height)

    def peer_render():
        node = scene.add(pyrender.Mesh.from_trimesh(tm))
        peer.render(scene)
        scene.remove_node(node)

    t_peer = _timeit(peer_render, n)
    print(f"  peer: pyrender default (lit, MSAA, full frame, mesh re-added)  {t_peer * 1e3:6.1f} ms"
          f"  -> simulator render is {t_peer / t_render:.1f}x faster")
    # (never delete() the peer renderer: it would terminate the EGL display of the simulator's too)

    # Recording format.
    header = RecordingHeader(width=mode.width, height=mode.height, fps=30.0, K=mode.K, source="sim")
    with tempfile.TemporaryDirectory() as tmp:
        for codec in ("zlib", "raw"):
            path = os.path.join(tmp, f"b-{codec}.threc")
            recs = [frame_to_recorded(f) for f in frames]
            t = time.perf_counter()
            with RecordingWriter(path, header, codec=codec) as w:
                for r in recs:
                    w.add(r)
            t_write = (time.perf_counter() - t) / n
            size = os.path.getsize(path) / n / 1e6
            t = time.perf_counter()
            rec = open_recording(path)
            for i in range(len(rec)):
                rec.frame(i)
            t_read = (time.perf_counter() - t) / n
            rec.close()
            print(f"\nrecording ({codec}, with ground truth): write {1 / t_write:6.1f} frames/s, "
                  f"read {1 / t_read:6.1f} frames/s, {size:.2f} MB/frame")
    print(f"\nratio simulated fps / 30 fps real time: {1 / total / 30:.2f}")


if __name__ == "__main__":
    sys.exit(main())
