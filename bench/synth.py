"""Benchmark of `thuman synth` at full resolution (128 x 192 x 128 grid, 384 x 256 images).

Prints seconds per sample by stage (render, occupancy, semantic volume, write), Open3D's
``RaycastingScene.compute_occupancy`` on the same meshes and voxel centres with the ratio and the
voxel agreement, the corpus bytes per sample, the read time per sample, and what recomputing
the semantic volume in a loader would cost instead of storing it. Items are generated clothed
bodies (thuman.synth.fixtures). Never asserts.

    python bench/synth.py [--items 3] [--subdivisions 1] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=3)
    ap.add_argument("--subdivisions", type=int, default=1, help="0: 13.8k faces, 1: 55k, 2: 220k")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for Open3D and llvmpipe")
    args = ap.parse_args()
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    os.environ.setdefault("LP_NUM_THREADS", str(args.threads))     # Mesa llvmpipe rasterizer threads
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))    # pykdtree (semantic volume)

    import numpy as np
    import open3d as o3d

    from thuman.synth.fixtures import make_body_item
    from thuman.synth.pipeline import SynthConfig, pose_body, synthesize_item
    from thuman.synth.geometry import apply_transform
    from thuman.synth.occupancy import occupancy
    from thuman.synth.render.renderer import OrthoRenderer
    from thuman.synth.semantic_volume import semantic_volume
    from thuman_io.body import load_body_model
    from thuman_io.corpus import CorpusWriter, open_corpus
    from thuman_io.grid import PAPER_GRID

    bm = load_body_model("open")
    config = SynthConfig(grid=PAPER_GRID, seed=0)
    renderer = OrthoRenderer(PAPER_GRID)
    rng = np.random.default_rng(0)
    items = [make_body_item(rng, f"b{i:02d}", 0, bm, subdivisions=args.subdivisions) for i in range(args.items)]
    synthesize_item(items[0], config, renderer)          # warm up: EGL context, shaders, caches
    tmp = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    stages = {"prepare": 0.0, "render": 0.0, "occupancy": 0.0, "semantic_volume": 0.0, "write": 0.0}
    o3d_time, ours_time, disagree, voxels, n = 0.0, 0.0, 0, 0, 0
    transforms = []
    centres = o3d.core.Tensor(PAPER_GRID.voxel_centres().reshape(-1, 3).astype(np.float32))
    try:
        for item in items:
            result = synthesize_item(item, config, renderer)
            for k, v in result.timings.items():
                stages[k] += v
            t = time.perf_counter()
            with CorpusWriter(tmp, PAPER_GRID, item.meta.subject) as w:
                for s in result.samples:
                    w.add(s)
            stages["write"] += time.perf_counter() - t
            n += len(result.samples)
            transforms.append([s.item_to_view for s in result.samples])
            for s in result.samples:                        # Open3D on the same meshes and centres
                mv = apply_transform(s.item_to_view, item.mesh.vertices).astype(np.float32)
                scene = o3d.t.geometry.RaycastingScene(nthreads=args.threads)
                scene.add_triangles(o3d.core.Tensor(mv), o3d.core.Tensor(item.mesh.faces.astype(np.uint32)))
                t = time.perf_counter()
                ref = scene.compute_occupancy(centres, nthreads=args.threads).numpy().reshape(PAPER_GRID.shape) > 0.5
                o3d_time += time.perf_counter() - t
                t = time.perf_counter()
                ours = occupancy(mv, item.mesh.faces, PAPER_GRID).volume
                ours_time += time.perf_counter() - t
                disagree += int((ours != ref).sum())
                voxels += int(ref.sum())
        faces = len(items[0].mesh.faces)
        total = sum(stages.values())
        print(f"synth benchmark: {len(items)} items x {config.views} views = {n} samples, grid "
              f"{PAPER_GRID.shape}, clothed mesh {faces} faces, body {len(bm.faces)} faces, "
              f"threads {args.threads}")
        for k, v in stages.items():
            print(f"  {k:16s} {v / n:7.3f} s/sample")
        print(f"  {'total':16s} {total / n:7.3f} s/sample   (goal 0.25 s on one core)")
        print(f"occupancy: ours {ours_time / n:.3f} s, Open3D compute_occupancy {o3d_time / n:.3f} s "
              f"per sample -> Open3D / ours = {o3d_time / max(ours_time, 1e-9):.1f}x; voxels differing "
              f"{disagree / max(voxels, 1):.4%} of occupied (Open3D counts crossings by parity, "
              "which hollows self-intersections)")
        corpus = open_corpus(tmp)
        size = sum(p.stat().st_size for p in (tmp / "shards").glob("*.h5"))
        t = time.perf_counter()
        for i in range(len(corpus)):
            corpus.sample(i)
        read = (time.perf_counter() - t) / len(corpus)
        t = time.perf_counter()
        for i in range(len(corpus)):
            corpus.read_raw(i, ["semantic_volume"])
        read_sem = (time.perf_counter() - t) / len(corpus)
        raw = {k: v.nbytes for k, v in corpus.read_raw(0).items()}
        with __import__("h5py").File(corpus.location(0)[0], "r") as f:
            stored = {k: f[k].id.get_storage_size() / f[k].shape[0] for k in raw if k != "semantic_volume"}
        print(f"corpus: {size / n / 1e6:.3f} MB per sample on disk; read + decode {read * 1e3:.1f} ms per sample")
        with __import__("h5py").File(corpus.location(0)[0], "r") as f:
            stored["semantic_volume"] = (f["semantic_codes"].id.get_storage_size() / f["rgb"].shape[0]
                                         + stored["body_occupancy"])
        for k in ("rgb", "normal_map", "semantic_map", "mask", "occupancy", "semantic_volume"):
            print(f"  {k:16s} {stored[k] / 1e3:8.1f} kB stored ({raw[k] / 1e3:8.1f} kB raw)")
        # storing vs recomputing the semantic volume in the loader
        t = time.perf_counter()
        for item, views in zip(items, transforms):
            body = pose_body(item)
            for m in views:
                semantic_volume(apply_transform(m, body.vertices), body.faces, body.codes, PAPER_GRID)
        recompute = (time.perf_counter() - t) / n
        print(f"semantic volume: stored sparse uint8+gzip {stored['semantic_volume'] / 1e3:.0f} kB, read "
              f"{read_sem * 1e3:.1f} ms per sample; recomputing in the loader (pose body + voxelize + "
              f"4-NN) {recompute * 1e3:.0f} ms per sample -> stored ({recompute / max(read_sem, 1e-9):.0f}x faster to read)")
    finally:
        renderer.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
