"""Body model forward pass on CPU: smplx (the toolkit's path) against a naive numpy LBS.

    python bench/body.py [--batch 64] [--repeats 10] [--threads N]

Prints the median time of a forward pass (vertices and joints) for a batch of random shapes and
poses with the open model, for: ``bm.forward`` (numpy in/out through smplx, no gradients),
``bm.forward_torch`` with gradients and a backward pass, and ``numpy_lbs.forward`` (float64
numpy, einsum over all 24 transforms per vertex) measured in the same run; and their ratio.
Never asserts.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timeit(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, first-call overheads)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)

    import torch

    from thuman_io.body import load_body_model, numpy_lbs
    from thuman_io.body.model_files import OPEN_MODEL_FILE

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    bm = load_body_model("open")
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    b = args.batch
    betas = rng.normal(size=(b, 10)).astype(np.float32)
    pose = rng.normal(scale=0.3, size=(b, 72)).astype(np.float32)
    transl = rng.normal(size=(b, 3)).astype(np.float32)
    with np.load(OPEN_MODEL_FILE) as z:
        arrays = {k: z[k].astype(np.float64) for k in ("v_template", "shapedirs", "J_regressor", "weights")}
        parents = z["parents"].astype(np.int64)

    def smplx_numpy():
        return bm.forward(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:], transl=transl)

    tb, tp = torch.from_numpy(betas), torch.from_numpy(pose)

    def smplx_grad():
        bb, pp = tb.clone().requires_grad_(True), tp.clone().requires_grad_(True)
        out = bm.forward_torch(betas=bb, global_orient=pp[:, :3], body_pose=pp[:, 3:])
        out.vertices.sum().backward()

    def naive():
        return numpy_lbs.forward(arrays["v_template"], arrays["shapedirs"], arrays["J_regressor"],
                                 arrays["weights"], parents, betas, pose, transl)

    t_single = timeit(lambda: bm.forward(betas=betas[:1], global_orient=pose[:1, :3],
                                         body_pose=pose[:1, 3:]), args.repeats)
    t_smplx = timeit(smplx_numpy, args.repeats)
    t_grad = timeit(smplx_grad, args.repeats)
    t_naive = timeit(naive, max(2, args.repeats // 3))
    err = np.abs(smplx_numpy().vertices - naive()[0]).max()
    print(f"open body model: {bm.num_vertices} vertices, {len(bm.faces)} faces; "
          f"torch threads {torch.get_num_threads()}; batch {b}")
    print(f"load_body_model('open')             {load_s * 1e3:8.1f} ms (cold start of this process)")
    print(f"bm.forward (smplx, no grad)         {t_smplx * 1e3:8.1f} ms  ({t_smplx / b * 1e3:.2f} ms per body)")
    print(f"bm.forward, batch 1                 {t_single * 1e3:8.1f} ms")
    print(f"bm.forward_torch + backward         {t_grad * 1e3:8.1f} ms")
    print(f"naive numpy LBS (float64)           {t_naive * 1e3:8.1f} ms")
    print(f"ratio naive numpy / smplx           {t_naive / t_smplx:8.2f} x")
    print(f"max |smplx - numpy| vertex diff     {err * 1e6:8.2f} um")
    return 0


if __name__ == "__main__":
    sys.exit(main())
