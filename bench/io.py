"""Benchmark: random-access read throughput of THuman items (mesh only and full item).

Generates N synthetic items (thuman_io.testing), writes them with thuman_io.write_item and, as a
peer measured in the same run, writes the same arrays as uncompressed .npz files (numpy's own
format, read lazily per array). Then reads every item once in a random order and prints items/s
and the ratio to the peer. The files were just written, so reads come from the OS page cache:
this measures decoding (checksums, gzip), not the disk. Prints figures; asserts nothing.

    python bench/io.py [--items 200] [--vertices 30000] [--frame 576x640] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import thuman_io
from thuman_io.testing import make_synthetic_item

MESH_KEYS = ("vertices", "faces", "vertex_colors", "uv", "texture")
FRAME_KEYS = ("color", "depth_mm", "color_intrinsics", "depth_intrinsics", "depth_to_color", "camera_to_item")


def write_npz(path: Path, item) -> None:
    arrays = {f"mesh_{k}": getattr(item.mesh, k) for k in MESH_KEYS}
    arrays.update({f"smpl_{k}": getattr(item.smpl, k) for k in ("betas", "global_orient", "body_pose", "transl")})
    arrays.update({f"frame_{k}": getattr(item.frame, k) for k in FRAME_KEYS})
    np.savez(path, **arrays)


def read_npz(path: Path, frame: bool) -> int:
    with np.load(path) as z:
        keys = [k for k in z.files if frame or not k.startswith("frame_")]
        return sum(z[k].nbytes for k in keys)


def read_item(path: Path, frame: bool) -> int:
    item = thuman_io.read_item(path, frame=frame)
    n = item.mesh.vertices.nbytes + item.mesh.faces.nbytes
    return n + (item.frame.color.nbytes if item.frame is not None else 0)


def rate(fn, paths, frame, repeats, rng) -> float:
    best = 0.0
    for _ in range(repeats):
        order = rng.permutation(len(paths))
        t0 = time.perf_counter()
        for i in order:
            fn(paths[i], frame)
        best = max(best, len(paths) / (time.perf_counter() - t0))
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--vertices", type=int, default=30000)
    ap.add_argument("--frame", default="576x640", help="rows x cols of the colour/depth images")
    ap.add_argument("--repeats", type=int, default=2, help="passes per measurement (best is kept)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    rows, cols = (int(x) for x in args.frame.lower().split("x"))
    work = Path(args.dir or tempfile.mkdtemp(prefix="thuman-bench-io-"))
    ds_dir, npz_dir = work / "items", work / "npz"
    npz_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    try:
        t_write = t_npz = 0.0
        paths, npz_paths = [], []
        for i in range(args.items):
            item = make_synthetic_item(np.random.default_rng(i), f"s{i // 10:03d}", i % 10,
                                       n_vertices=args.vertices, frame_size=(rows, cols))
            t0 = time.perf_counter()
            paths.append(thuman_io.write_item(ds_dir, item, overwrite=True))
            t1 = time.perf_counter()
            npz_paths.append(npz_dir / f"{i:05d}.npz")
            write_npz(npz_paths[-1], item)
            t_write += t1 - t0
            t_npz += time.perf_counter() - t1
        size = sum(p.stat().st_size for p in paths) / len(paths)
        size_npz = sum(p.stat().st_size for p in npz_paths) / len(npz_paths)
        v, f = len(item.mesh.vertices), len(item.mesh.faces)
        print(f"bench/io.py: {args.items} items, {v} vertices, {f} faces, frame {rows}x{cols}, "
              f"{os.cpu_count()} CPUs, page cache warm")
        print(f"  file size            item {size / 1e6:7.2f} MB   npz {size_npz / 1e6:7.2f} MB   "
              f"ratio {size / size_npz:.2f}")
        print(f"  write                item {args.items / t_write:7.1f} /s   npz {args.items / t_npz:7.1f} /s   "
              f"ratio {t_npz / t_write:.2f}")
        for label, frame in (("read mesh only", False), ("read full item", True)):
            a = rate(read_item, paths, frame, args.repeats, rng)
            b = rate(read_npz, npz_paths, frame, args.repeats, rng)
            print(f"  {label:20s} item {a:7.1f} /s   npz {b:7.1f} /s   ratio {a / b:.2f}")
        t0 = time.perf_counter()
        problems = thuman_io.validate_dataset(ds_dir)
        dt = time.perf_counter() - t0
        print(f"  validate dataset     {args.items / dt:7.1f} items/s ({len(problems)} problems)")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
