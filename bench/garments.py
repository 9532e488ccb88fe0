"""Benchmark: how far the simulator's garments stand off the body, per garment class.

For each simulator seed: the clothed subject of the wardrobe (``capture/sim/outfit.py``), arms
lowered, and its body underneath, fitted together into the grid's box and voxelised by the
synthesizer's own occupancy (``thuman.synth.standoff``); IoU(body, clothed) is what the
oracle body scores against the clothed target before any network. Prints the distribution
(count, mean, min, median, max) per garment class (``outfit.garment_class``) for the 'thuman'
wardrobe and, as the peer in the same run, the 'basic' one. Asserts nothing.

    python bench/garments.py [--seeds 24] [--grid paper|small] [--wardrobes thuman,basic]

Subjects are built once per seed and cached on disk (about 10 s each on a loaded 2-core machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    from thuman.capture.sim.outfit import GARMENT_CLASSES
    from thuman_io.grid import PAPER_GRID, SMALL_GRID

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=24, help="simulator seeds 0 .. N-1 per wardrobe")
    p.add_argument("--grid", choices=("paper", "small"), default="paper")
    p.add_argument("--wardrobes", default="thuman,basic")
    a = p.parse_args()
    grid = PAPER_GRID if a.grid == "paper" else SMALL_GRID
    summary = {}
    from thuman.capture.sim.outfit import garment_class
    from thuman.capture.sim.subject import make_subject
    from thuman.synth.standoff import body_clothed_iou

    for wardrobe in a.wardrobes.split(","):
        by_class: dict[str, list[float]] = {}
        t0 = time.perf_counter()
        for seed in range(a.seeds):
            subject = make_subject(seed, wardrobe=wardrobe)
            cls, garments = garment_class(subject.outfit), subject.outfit.garments()
            value = body_clothed_iou(subject, grid)
            by_class.setdefault(cls, []).append(value)
            print(f"  {wardrobe} seed {seed:3d}: IoU(body, clothed) {value:.3f}  {cls:<22} {', '.join(garments)}",
                  file=sys.stderr, flush=True)
        every = [v for vs in by_class.values() for v in vs]
        summary[wardrobe] = float(np.mean(every))
        print(f"\nwardrobe '{wardrobe}', {a.seeds} seeds, grid {'x'.join(map(str, grid.shape))} "
              f"({time.perf_counter() - t0:.0f} s):")
        print(f"  {'garment class':<22} {'n':>3} {'mean':>6} {'min':>6} {'median':>6} {'max':>6}")
        for cls in GARMENT_CLASSES:
            if cls in by_class:
                v = np.asarray(by_class[cls])
                print(f"  {cls:<22} {len(v):>3} {v.mean():6.3f} {v.min():6.3f} {np.median(v):6.3f} {v.max():6.3f}")
        print(f"  {'all':<22} {len(every):>3} {np.mean(every):6.3f} {np.min(every):6.3f} {np.median(every):6.3f} "
              f"{np.max(every):6.3f}")
    if "thuman" in summary and "basic" in summary:
        print(f"\nmean IoU(body, clothed): thuman {summary['thuman']:.3f}, basic {summary['basic']:.3f}; "
              f"1 - IoU (what the network can add) thuman / basic: "
              f"{(1 - summary['thuman']) / max(1e-9, 1 - summary['basic']):.2f}x")


if __name__ == "__main__":
    main()
