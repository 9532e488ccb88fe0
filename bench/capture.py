"""Benchmark: tracking and fusion frames per second on CPU, per stage of the capture session, and
Open3D's rigid TSDF integration of the same frames in the same run.

    python bench/capture.py [--turn-frames 30] [--imitate-frames 20] [--voxel-mm 10] [--threads 1]

Frames come from the simulator (NFOV 2x2 binned, 320x288, 5 fps) and are rendered before timing.
Stage 1 ('turn'): body tracking + node-graph fit + non-rigid integration into the canonical TSDF.
Stage 2 ('imitate'): tracking only (fusion stops). Per step: subject segmentation, body (inner
layer), nodes (outer layer), fusion. Peers: Open3D ``UniformTSDFVolume`` (rigid,
dense cube of the same voxel size) and this toolkit's own dense rigid integration, on the stage-1
frames. Prints figures and ratios; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turn-frames", type=int, default=30)
    ap.add_argument("--imitate-frames", type=int, default=20)
    ap.add_argument("--voxel-mm", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from thuman.capture.camera import depth_mm_to_m
    from thuman.capture.fusion import DoubleFusion, FusionConfig
    from thuman.capture.sources import open_source
    from thuman.capture.tsdf import TSDFVolume, integrate
    from thuman_io.body import load_body_model
    from thuman_io.body.poses import PoseSampler, load_pose_library

    src = open_source("sim", seed=args.seed, depth_mode="NFOV_2X2BINNED", fps=5.0)
    it = iter(src)
    turn = [next(it) for _ in range(args.turn_frames)]
    pose = PoseSampler(load_pose_library("builtin"), np.random.default_rng(args.seed)).next()
    src.show_prompt(pose, turn[-1].timestamp_us * 1e-6)
    imitate = [next(it) for _ in range(args.imitate_frames)]
    h, w = turn[0].depth_mm.shape
    print(f"frames: {len(turn)} turn + {len(imitate)} imitate, {w}x{h} depth, voxel {args.voxel_mm:.0f} mm, "
          f"torch threads {args.threads}")

    bm = load_body_model("open")
    fusion = DoubleFusion(bm, FusionConfig(voxel_size_m=args.voxel_mm / 1000.0, seed=args.seed))
    t0 = time.perf_counter()
    fusion.process(turn[0])
    first_s = time.perf_counter() - t0
    reports = [fusion.process(f, fuse=True) for f in turn[1:]]
    track1 = sum(r.track_s for r in reports)
    fuse1 = sum(r.fuse_s for r in reports)
    reports2 = [fusion.process(f, fuse=False, update_color=False) for f in imitate]
    track2 = sum(r.track_s for r in reports2)
    n1, n2 = len(reports), len(reports2)
    vol = fusion.volume
    band = len(fusion._band.ids)
    print(f"first frame (initial fit, volume, node graph): {first_s:.2f} s")
    print(f"stage 1 turn    : {n1 / (track1 + fuse1):6.2f} fps overall | tracking {n1 / track1:6.2f} fps "
          f"| fusion {n1 / fuse1:6.2f} fps ({band} band voxels of {vol.num_voxels}, "
          f"{fusion.graph.num_nodes} nodes)")
    print(f"stage 2 imitate : {n2 / track2:6.2f} fps (tracking only)")
    for label, reps in (("stage 1", reports), ("stage 2", reports2)):
        steps = {"segment": sum(r.segment_s for r in reps), "body": sum(r.body_s for r in reps),
                 "nodes": sum(r.nodes_s for r in reps)}
        if label == "stage 1":
            steps["fuse"] = sum(r.fuse_s for r in reps)
        print(f"  {label} per step: " + ", ".join(f"{k} {len(reps) / v:6.1f} fps ({1000 * v / len(reps):5.0f} ms)"
                                                  for k, v in steps.items()))

    # Peers on the same stage-1 frames: rigid integration, no tracking.
    import open3d as o3d

    length = float(max(vol.dims) * vol.voxel_size_m)
    res = int(max(vol.dims))
    o3 = o3d.pipelines.integration.UniformTSDFVolume(
        length=length, resolution=res, sdf_trunc=vol.trunc_m,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8, origin=vol.origin.reshape(3, 1))
    K = turn[0].K
    intr = o3d.camera.PinholeCameraIntrinsic(w, h, K[0, 0], K[1, 1], K[0, 2], K[1, 2])
    extrinsic = np.diag([1.0, -1.0, -1.0, 1.0])
    images = [o3d.geometry.RGBDImage.create_from_color_and_depth(
        o3d.geometry.Image(np.ascontiguousarray(f.color)), o3d.geometry.Image(f.depth_mm), depth_scale=1000.0,
        depth_trunc=4.0, convert_rgb_to_intensity=False) for f in turn[1:]]
    t0 = time.perf_counter()
    for rgbd in images:
        o3.integrate(rgbd, intr, extrinsic)
    o3d_s = time.perf_counter() - t0
    dense = TSDFVolume.create(vol.origin, np.array(vol.dims) * vol.voxel_size_m, vol.voxel_size_m)
    depths = [(torch.as_tensor(depth_mm_to_m(f.depth_mm)), torch.as_tensor(f.color)) for f in turn[1:]]
    centres = dense.voxel_centres()  # computed once, as fusion caches its band's centres
    ids = torch.arange(dense.num_voxels)
    t0 = time.perf_counter()
    for d, c in depths:
        integrate(dense, d, turn[0].camera, c, live_centres=centres, ids=ids)  # through the lens
    ours_rigid_s = time.perf_counter() - t0
    print(f"Open3D UniformTSDFVolume rigid ({res}^3 = {res ** 3} voxels): {n1 / o3d_s:7.2f} fps")
    print(f"thuman rigid dense integrate ({dense.num_voxels} voxels): {n1 / ours_rigid_s:7.2f} fps")
    print(f"ratio non-rigid fusion step / Open3D rigid integration (time per frame): "
          f"{(fuse1 / n1) / (o3d_s / n1):.2f}x")
    print(f"ratio whole stage-1 frame (tracking + fusion) / Open3D rigid integration: "
          f"{((track1 + fuse1) / n1) / (o3d_s / n1):.2f}x")
    print(f"ratio thuman dense rigid / Open3D rigid: {ours_rigid_s / o3d_s:.2f}x")
    src.close()


if __name__ == "__main__":
    main()
