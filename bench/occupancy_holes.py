"""Benchmark of the occupancy of open meshes (thuman.synth.occupancy) against its peer, libigl's
``fast_winding_number`` evaluated at every voxel centre (the generalised winding number > 1/2).

A UV sphere (radius 0.2, 9.2k triangles) with its N triangles facing most toward +-x, +-y or +-z
removed, at the paper grid (128 x 192 x 128): prints, per hole, the IoU against the peer, the time
of each and the ratio, and the closed sphere's time for scale. Never asserts.

    python bench/occupancy_holes.py [--removed 28 174 600]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--removed", type=int, nargs="+", default=[28, 174, 600])
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import igl
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_synth_occupancy import uv_sphere
    from thuman.synth.occupancy import occupancy
    from thuman_io.grid import PAPER_GRID

    grid = PAPER_GRID
    centre = np.array([0.01, 0.02, 0.0])
    v, f = uv_sphere(0.2, centre, 48, 96)
    t = time.perf_counter()
    occupancy(v, f, grid)
    print(f"closed sphere ({len(f)} triangles): {time.perf_counter() - t:.3f} s")
    points = grid.voxel_centres().reshape(-1, 3).astype(np.float64)
    n = v[f].mean(axis=1) - centre
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    print("hole      removed   IoU vs libigl   ours (s)   libigl (s)   libigl/ours")
    for axis, name in enumerate("xyz"):
        for sign in (1, -1):
            toward = np.zeros(3)
            toward[axis] = sign
            for k in args.removed:
                faces = f[np.argsort(-(n @ toward))[k:]]
                t = time.perf_counter()
                ours = occupancy(v, faces, grid).volume
                t_ours = time.perf_counter() - t
                t = time.perf_counter()
                ref = (igl.fast_winding_number(v, faces.astype(np.int64), points) > 0.5).reshape(grid.shape)
                t_ref = time.perf_counter() - t
                iou = (ours & ref).sum() / (ours | ref).sum()
                print(f"{'+' if sign > 0 else '-'}{name}{' (camera)' if axis == 2 and sign > 0 else '         '}"
                      f"{k:7d}   {iou:.5f}        {t_ours:8.3f}   {t_ref:9.3f}   {t_ref / t_ours:9.1f}x")


if __name__ == "__main__":
    main()
