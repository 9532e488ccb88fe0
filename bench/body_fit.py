"""Body registration: fit time and accuracy per mesh size (CPU, and CUDA when there is one).

    python bench/body_fit.py [--seeds 300-302] [--voxels 0.02,0.01,0.007] [--device cpu|cuda|all]

For every seed a clothed simulated subject (``thuman.capture.sim``) is posed by a held-out pose
(``random_pose``: a perturbed key-pose variant, any yaw) and meshed at each voxel size (the mesh
size column); ``fit_body`` fits the open model to it from nothing (coarse search). Printed per
fit: mesh vertices, seconds, mean vertex and joint error against the true body, the fit residual;
then the mean per voxel size and device, and the CUDA/CPU time ratio measured in the same run.
Never asserts.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _range(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="300-302", help="simulated subject seeds, A-B (default 300-302)")
    ap.add_argument("--voxels", default="0.02,0.01,0.007", help="mesh voxel sizes in metres (mesh size)")
    ap.add_argument("--device", default="all", help="cpu, cuda or all (cuda only when available)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    from thuman.capture.sim.posed import posed_subject, random_pose
    from thuman_io.body import load_body_model
    from thuman_io.body.registration import fit_body

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.device != "all":
        devices = [d for d in devices if d == args.device]
    voxels = [float(v) for v in args.voxels.split(",")]
    rows = []
    print(f"{'device':6s} {'seed':>5s} {'voxel':>6s} {'verts':>7s} {'seconds':>8s} {'vert cm':>8s} "
          f"{'joint cm':>8s} {'resid cm':>8s}", flush=True)
    for device in devices:
        bm = load_body_model("open", device=device)
        for seed in _range(args.seeds):
            pose, transl = random_pose(seed)
            for voxel in voxels:
                s = posed_subject(seed, pose, transl, voxel_m=voxel)
                t0 = time.perf_counter()
                fit = fit_body(bm, s.vertices, s.faces)
                sec = time.perf_counter() - t0
                ev = float(np.linalg.norm(fit.vertices - s.body_vertices, axis=1).mean())
                ej = float(np.linalg.norm(fit.joints - s.body_joints, axis=1).mean())
                rows.append((device, voxel, len(s.vertices), sec, ev, ej))
                print(f"{device:6s} {seed:5d} {voxel:6.3f} {len(s.vertices):7d} {sec:8.1f} {ev * 100:8.2f} "
                      f"{ej * 100:8.2f} {fit.residual_m[0] * 100:8.2f}", flush=True)
    print("\nmean per mesh size:")
    for device in devices:
        for voxel in voxels:
            r = [x for x in rows if x[0] == device and x[1] == voxel]
            print(f"  {device:4s} voxel {voxel:.3f}: {np.mean([x[2] for x in r]):7.0f} vertices, "
                  f"{np.mean([x[3] for x in r]):6.1f} s, vertex error {np.mean([x[4] for x in r]) * 100:.2f} cm, "
                  f"joint error {np.mean([x[5] for x in r]) * 100:.2f} cm")
    if len(devices) == 2:
        cpu = np.mean([x[3] for x in rows if x[0] == "cpu"])
        gpu = np.mean([x[3] for x in rows if x[0] == "cuda"])
        print(f"cuda / cpu fit time: {gpu / cpu:.2f}")


if __name__ == "__main__":
    main()
