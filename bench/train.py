"""Benchmark: DeepHuman training speed at the paper's grid and the small preset.

For each grid: seconds per training step (forward + eq. 10 + backward + Adam) on a batch already
in memory, the model's samples/s, the data loader's samples/s over the same corpus (HDF5 read +
decode + collate, the configured workers), their ratio (> 1: the loader keeps up), and the peak
memory of the process (CPU: max RSS; CUDA: max allocated). Each grid runs in its own process so
the peaks do not mix. Prints figures; asserts nothing.

    python bench/train.py [--grids full,small] [--device cpu|cuda] [--steps N] [--workers N]
                          [--threads 1,2]

``--threads 1,2`` runs every grid once per torch thread count (each in its own process with
OMP_NUM_THREADS set) and prints the ratio of seconds per step: how ``train.threads`` was chosen.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def run_one(grid_name: str, device: str, steps: int, workers: int, batch: int, stage: int, amp: str) -> dict:
    import torch

    from thuman.model.config import small_config
    from thuman.model.data import decode_batch, make_loader
    from thuman.model.testing_data import write_analytic_corpus
    from thuman.model.train import _amp_dtype, make_dataset, set_determinism, training_step_loss
    from thuman.model.deephuman import DeepHuman
    from thuman_io.grid import PAPER_GRID, SMALL_GRID

    grid = {"full": PAPER_GRID, "small": SMALL_GRID}[grid_name]
    tmp = tempfile.mkdtemp(prefix="bench-train-")
    t = time.perf_counter()
    corpus = write_analytic_corpus(os.path.join(tmp, "corpus"), grid, 2 * batch, samples_per_subject=2 * batch)
    gen_s = time.perf_counter() - t
    cfg = small_config(batch_size=batch, num_workers=workers, amp=amp, device=device)
    cfg.net.grid = grid.shape
    set_determinism(0)
    torch.use_deterministic_algorithms(False)      # speed, not bitwise reproducibility, here
    dataset = make_dataset(corpus, cfg)

    # Loader alone: samples/s over several passes.
    loader_batches = max(8, steps + 1)
    loader = make_loader(dataset, batch, 0, loader_batches, 0, num_workers=workers,
                         pin_memory=device == "cuda")
    first, t = None, 0.0
    for b in loader:
        decode_batch(b, grid, device)           # the loader's share includes the decode
        if first is None:                       # timing starts after the workers are up
            first, t = b, time.perf_counter()
    if device == "cuda":
        torch.cuda.synchronize()
    loader_sps = (loader_batches - 1) * batch / (time.perf_counter() - t)

    dev = torch.device(device)
    model = DeepHuman(cfg.net).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    amp_dtype = _amp_dtype(cfg, dev)
    batch_t = decode_batch(first, grid, dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def step():
        ctx = torch.autocast(dev.type, dtype=amp_dtype) if amp_dtype is not None else _null()
        with ctx:
            loss = training_step_loss(model, batch_t, cfg, stage).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    step()                                         # warm-up (allocations, kernels)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sec = (time.perf_counter() - t) / steps
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    model_sps = batch / sec
    return {"grid": "x".join(map(str, grid.shape)), "device": device, "amp": str(amp_dtype), "batch": batch,
            "stage": stage, "threads": torch.get_num_threads(), "loader_workers": workers,
            "seconds_per_step": round(sec, 4), "model_samples_per_s": round(model_sps, 3),
            "loader_samples_per_s": round(loader_sps, 3), "loader_over_model": round(loader_sps / model_sps, 2),
            "peak_memory_mib": round(peak, 1), "parameters": sum(p.numel() for p in model.parameters()),
            "corpus_generation_s": round(gen_s, 2)}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--grids", default="small,full")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=0, help="timed steps (default 10 small, 2 full on CPU)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--stage", type=int, default=2, choices=(1, 2))
    p.add_argument("--amp", default="off", choices=("off", "on", "auto"))
    p.add_argument("--threads", default="", help="comma-separated torch thread counts to compare (e.g. 1,2)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        steps = a.steps or (10 if a.one == "small" or a.device == "cuda" else 2)
        print(json.dumps(run_one(a.one, a.device, steps, a.workers, a.batch, a.stage, a.amp)))
        return
    rows = []
    threads = [int(t) for t in a.threads.split(",") if t] or [None]
    for g in a.grids.split(","):
        for t in threads:
            cmd = [sys.executable, __file__, "--one", g, "--device", a.device, "--steps", str(a.steps),
                   "--workers", str(a.workers), "--batch", str(a.batch), "--stage", str(a.stage), "--amp", a.amp]
            env = dict(os.environ) if t is None else {**os.environ, "OMP_NUM_THREADS": str(t), "MKL_NUM_THREADS": str(t)}
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode:
                print(out.stderr[-2000:], file=sys.stderr)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = ["grid", "device", "amp", "batch", "seconds_per_step", "model_samples_per_s", "loader_samples_per_s",
            "loader_over_model", "peak_memory_mib", "threads", "loader_workers"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    if len(threads) > 1:
        for g in {r["grid"] for r in rows}:
            by = {r["threads"]: r["seconds_per_step"] for r in rows if r["grid"] == g}
            base = by.get(threads[0])
            if base:
                print(f"{g}: seconds per step relative to {threads[0]} thread(s): "
                      + ", ".join(f"{t} threads {by[t] / base:.2f}x" for t in threads if t in by))
    elif len(rows) == 2:
        print(f"full / small seconds per step: {rows[1]['seconds_per_step'] / rows[0]['seconds_per_step']:.1f}x")


if __name__ == "__main__":
    main()
