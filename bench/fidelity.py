"""Benchmark: does DeepHuman earn its place? The paper's Tables 2-4 in kind, on held-out subjects.

One command builds a corpus from simulated subjects dressed from the 'thuman' wardrobe (garments
that stand off the body, ``capture/sim/outfit.py``): most as simulator ground-truth items for
speed, the first ``--captured`` through the real capture session, so that capture error is in
the loop. It trains DeepHuman at the CPU preset (32x48x32; on CUDA the paper's 128x192x128) with
perturbed body fits as augmentation, and the joint-heat-map ablation (Table 3) for as many steps,
then evaluates on the held-out (test) subjects:

* Table 2 in kind: IoU (z-shift search), Chamfer and P2S (cm) of the oracle body (the corpus's
  ground-truth body voxelised), the perturbed body (that body with a fitting error the size of
  SPIN's on 3DPW, ``synth/body_perturb.py``), DeepHuman given each;
* Table 3: semantic map/volume against joint heat maps/volumes as the body input (oracle body);
* Table 4: normal errors of DeepHuman without refinement (the projection of its occupancy) and
  with it (R).

Prints the split sizes and seeds, the tables, the "Done when" checks of issue 13, and writes
OUT/fidelity.json and OUT/fidelity.png. Every stage resumes (items, shards, checkpoints).

    python bench/fidelity.py [--out fidelity_out] [--subjects 80] [--poses 1] [--captured 2] [--steps 3000]
                             [--budget-min 60] [--seed 0] [--jobs 2]

The split is the corpus's (10 % test, 10 % val by a hash of the subject id): 80 subjects give 64
training, 8 validation and 8 held-out subjects.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

WARDROBE = "thuman"
TABLE2 = ("oracle body", "perturbed body", "DeepHuman, oracle body", "DeepHuman, perturbed body")
JOINTS = "DeepHuman, joint heat maps (oracle body)"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build_dataset(out: Path, a) -> dict:
    """Items of every subject (resumes: complete subjects are skipped)."""
    from thuman.demo_capture import CaptureJob, capture_subjects, complete_subjects, subject_seed

    dataset = out / "dataset"
    done = complete_subjects(dataset, a.poses)
    jobs = []
    for i in range(a.subjects):
        sid = f"f{i:03d}"
        if sid in done:
            continue
        mode = "session" if i < a.captured else "ground-truth"
        jobs.append(CaptureJob(str(dataset), sid, subject_seed(a.seed, i), a.poses, mode, a.interval_s,
                               wardrobe=WARDROBE))
    t0 = time.perf_counter()
    # session captures first, each in its own process; ground truth after
    for mode, workers in (("session", a.jobs), ("ground-truth", a.jobs)):
        todo = [j for j in jobs if j.mode == mode]
        for k, (job, res, seconds, error) in enumerate(capture_subjects(todo, workers), 1):
            if error is not None:
                raise SystemExit(f"capture of {job.subject} (seed {job.seed}, {mode}) failed: {error}")
            extra = ""
            if res.errors:
                extra = ", surface error " + ", ".join(f"{e['surface_mean_mm']:.1f} mm" for e in res.errors)
            log(f"  [{mode} {k}/{len(todo)}] {job.subject} (simulator seed {job.seed}): {len(res.items)} items "
                f"in {seconds:.1f} s{extra}")
    return {"subjects": a.subjects, "captured by the session": min(a.captured, a.subjects),
            "seconds": round(time.perf_counter() - t0, 1)}


def build_corpus(out: Path, a, grid) -> dict:
    from thuman.synth.pipeline import SynthConfig
    from thuman.synth.run import run_synthesis

    t0 = time.perf_counter()
    report = run_synthesis(out / "dataset", out / "corpus", SynthConfig(grid=grid, views=a.views, seed=a.seed),
                           jobs=a.jobs, preview=False, resume=True,
                           on_outcome=lambda o: log(f"  synth {o.item}: {o.status}"))
    if report.failed:
        raise SystemExit("synthesis failed: " + "; ".join(o.error for o in report.failed))
    return {"items": len(report.outcomes), "seconds": round(time.perf_counter() - t0, 1)}


def train_run(out: Path, name: str, a, representation: str, perturb_prob: float) -> dict:
    from thuman.model.checkpoint import CHECKPOINT_NAME, read_checkpoint
    from thuman.model.config import small_config
    from thuman.model.train import resume_config, train

    run = out / name
    cfg = small_config(stage1_steps=int(math.ceil(a.steps * 2 / 3)), stage2_steps=a.steps - int(math.ceil(a.steps * 2 / 3)),
                       seed=a.seed, batch_size=4, num_workers=0, threads=1, log_every=20,
                       checkpoint_every=max(1, a.steps // 10), val_every=max(1, a.steps // 10), val_samples=16,
                       perturb_prob=perturb_prob, lr=a.lr)
    cfg.net.representation = representation
    resume = (run / CHECKPOINT_NAME).exists()
    start = 0
    if resume:
        start = int(read_checkpoint(run / CHECKPOINT_NAME)["step"])
        if start >= cfg.total_steps and (run / "train_summary.json").exists():
            return json.loads((run / "train_summary.json").read_text())
        cfg = resume_config(run)
    t0 = time.perf_counter()
    result = train(cfg, out / "corpus", run, resume=resume, show_progress=False,
                   status=lambda line: log(f"  [{name}] {line}"))
    summary = {"steps": result.step, "seconds": round(time.perf_counter() - t0, 1),
               "seconds_per_step": round(result.seconds / max(1, result.step - start), 3), "representation": representation,
               "perturb_prob": perturb_prob, "final_loss": result.last_losses.get("loss/total")}
    (run / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def perturbed_joint_errors(out: Path, seed: int) -> dict:
    """MPJPE / PA-MPJPE (mm) of the held-out samples' perturbed bodies (the draws eval uses)."""
    import numpy as np

    from thuman.model.evaluate import PERTURB_SEED
    from thuman.model.perturbed_inputs import PerturbedBodyDataset
    from thuman.model.train import make_dataset
    from thuman.model.config import RunConfig
    from thuman.synth.body_perturb import DEFAULT_LEVELS, joint_errors_mm, perturbed_body
    from thuman.synth.body_prior import pose_params
    from thuman_io.item import SMPLParams

    cfg = RunConfig()
    cfg.train.seed = seed
    ds = PerturbedBodyDataset(make_dataset(out / "corpus", cfg, "test"), DEFAULT_LEVELS, PERTURB_SEED, mode="test")
    rows = []
    for j in range(len(ds)):
        index = ds.base.indices[j]
        raw = ds.corpus.read_raw(index, ["smpl_full_pose", "smpl_betas", "smpl_transl"])
        pose = np.asarray(raw["smpl_full_pose"], np.float32)
        smpl = SMPLParams(raw["smpl_betas"], pose[:3], pose[3:], raw["smpl_transl"],
                          model=str(ds.corpus.meta(index).get("body_model", "open")))
        rows.append(joint_errors_mm(pose_params(smpl).joints, perturbed_body(smpl, ds.draw(index, 0)).joints))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def figure(path: Path, methods: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(methods)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), dpi=100)
    for ax, key, label in zip(axes, ("iou", "chamfer_cm", "p2s_cm"), ("3D IoU (higher is better)",
                                                                      "Chamfer, cm (lower is better)",
                                                                      "P2S, cm (lower is better)")):
        values = [methods[n].get(key, float("nan")) for n in names]
        ax.barh(range(len(names)), values, color=["#999", "#c96", "#36c", "#39c", "#6a4"][:len(names)])
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names if ax is axes[0] else [""] * len(names), fontsize=8)
        ax.set_title(label, fontsize=10)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.3f}" if key == "iou" else f" {v:.2f}", va="center", fontsize=8)
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    import torch

    from thuman.model.evaluate import evaluate, evaluate_methods
    from thuman_io.corpus import open_corpus
    from thuman_io.grid import PAPER_GRID, SMALL_GRID

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="fidelity_out")
    p.add_argument("--subjects", type=int, default=80, help="simulated subjects (80: 64 train, 8 val, 8 test)")
    p.add_argument("--captured", type=int, default=2, help="of them, captured by the real capture session")
    p.add_argument("--poses", type=int, default=1, help="items per subject")
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--steps", type=int, default=3000, help="training steps of each network (2/3 stage 1)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--perturb-prob", type=float, default=0.5, help="share of training samples with a perturbed body")
    p.add_argument("--budget-min", type=float, default=60.0, help="stated training budget (reported against)")
    p.add_argument("--interval", dest="interval_s", type=float, default=3.0)
    p.add_argument("--grid", choices=("auto", "small", "paper"), default="auto", help="auto: paper on CUDA")
    p.add_argument("--no-joints", action="store_true", help="skip the Table 3 ablation run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    grid = PAPER_GRID if a.grid == "paper" or (a.grid == "auto" and cuda) else SMALL_GRID
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}

    log(f"[1/5 dataset] {a.subjects} subjects ({a.captured} by the capture session), wardrobe {WARDROBE!r}")
    timings["dataset"] = build_dataset(out, a)
    log(f"[2/5 corpus] {a.views} views per item on the {'x'.join(map(str, grid.shape))} grid")
    timings["corpus"] = build_corpus(out, a, grid)
    split = open_corpus(out / "corpus").split_subjects(a.seed)
    sizes = {k: len(v) for k, v in split.items()}
    log(f"    split (seed {a.seed}): {sizes}; held-out subjects {', '.join(split['test'])}")
    log(f"[3/5 train] DeepHuman (semantic, perturbed bodies p={a.perturb_prob}) for {a.steps} steps")
    timings["train semantic"] = train_run(out, "run-semantic", a, "semantic", a.perturb_prob)
    if not a.no_joints:
        log(f"[4/5 train] joint heat maps (Table 3) for {a.steps} steps")
        timings["train joints"] = train_run(out, "run-joints", a, "joints", 0.0)
    log("[5/5 eval] held-out subjects")
    t0 = time.perf_counter()
    reports = evaluate_methods(out / "run-semantic", out / "corpus", "test", out / "eval", seed=a.seed)
    methods = {name: r["metrics"] for name, r in reports.items()}
    if not a.no_joints:
        methods[JOINTS] = evaluate(out / "run-joints", out / "corpus", "test", out / "eval" / "joints",
                                   seed=a.seed)["metrics"]
    timings["eval"] = {"seconds": round(time.perf_counter() - t0, 1)}
    n_test = next(iter(reports.values()))["num_samples"]
    joint_err = perturbed_joint_errors(out, a.seed)
    train_s = sum(v.get("seconds", 0.0) for k, v in timings.items() if k.startswith("train"))

    def row(name, keys, fmts):
        m = methods.get(name, {})
        return f"  {name:<42}" + "".join(f"{fmt.format(m.get(k, float('nan'))):>12}" for k, fmt in zip(keys, fmts))

    print(f"\nDeepHuman fidelity on held-out subjects: grid {'x'.join(map(str, grid.shape))}, corpus seed {a.seed}, "
          f"split {sizes['train']} train / {sizes['val']} val / {sizes['test']} test subjects "
          f"({n_test} held-out samples: {a.poses} pose(s) x {a.views} views), {a.captured} subject(s) captured by the "
          f"session, the rest simulator ground truth; wardrobe {WARDROBE!r}; {a.steps} training steps per network.")
    if joint_err:
        print(f"perturbed bodies (held-out): MPJPE {joint_err['mpjpe_mm']:.1f} mm, PA-MPJPE {joint_err['pa_mpjpe_mm']:.1f} mm "
              "(SPIN on 3DPW: 96.9 / 59.2 mm)")
    print("\nTable 2 in kind (body given to the method)          IoU  Chamfer cm      P2S cm")
    for name in TABLE2:
        print(row(name, ("iou", "chamfer_cm", "p2s_cm"), ("{:.3f}", "{:.2f}", "{:.2f}")))
    if JOINTS in methods:
        print("\nTable 3 in kind (input representation)             IoU  Chamfer cm      P2S cm")
        print(row("DeepHuman, oracle body", ("iou", "chamfer_cm", "p2s_cm"), ("{:.3f}", "{:.2f}", "{:.2f}")))
        print(row(JOINTS, ("iou", "chamfer_cm", "p2s_cm"), ("{:.3f}", "{:.2f}", "{:.2f}")))
    print("\nTable 4 in kind (DeepHuman, oracle body)      cosine dist.     L2 error")
    m = methods["DeepHuman, oracle body"]
    for label, key in (("without refinement (projection)", "normal_without_refinement"),
                       ("with refinement (R)", "normal_with_refinement")):
        print(f"  {label:<42}{m.get(key + '/cosine_distance', float('nan')):>12.4f}{m.get(key + '/l2', float('nan')):>12.4f}")
    print(f"\ntraining: {train_s / 60:.1f} min for all networks against a stated budget of {a.budget_min:g} min "
          f"({'within' if train_s <= a.budget_min * 60 else 'OVER'}); "
          + ", ".join(f"{k} {v.get('seconds_per_step', float('nan'))} s/step" for k, v in timings.items()
                      if k.startswith("train")))

    o, pb = methods["oracle body"], methods["perturbed body"]
    dh, dhp = methods["DeepHuman, oracle body"], methods["DeepHuman, perturbed body"]
    checks = {
        "DeepHuman IoU >= oracle body IoU + 0.05": dh["iou"] >= o["iou"] + 0.05,
        "DeepHuman Chamfer < oracle body Chamfer": dh["chamfer_cm"] < o["chamfer_cm"],
        "DeepHuman (perturbed) IoU >= perturbed body IoU + 0.10": dhp["iou"] >= pb["iou"] + 0.10,
        "refined normal error < projected": (dh.get("normal_with_refinement/cosine_distance", math.inf)
                                             < dh.get("normal_without_refinement/cosine_distance", -math.inf)),
    }
    if JOINTS in methods:
        checks["semantic IoU > joint heat maps IoU"] = dh["iou"] > methods[JOINTS]["iou"]
    checks[f"training within {a.budget_min:g} min"] = train_s <= a.budget_min * 60
    print("\nDone-when checks (issue 13):")
    for k, ok in checks.items():
        print(f"  [{'pass' if ok else 'FAIL'}] {k}")
    result = {"grid": list(grid.shape), "seed": a.seed, "split_sizes": sizes, "held_out_subjects": split["test"],
              "held_out_samples": n_test, "captured_subjects": a.captured, "wardrobe": WARDROBE,
              "steps": a.steps, "perturb_prob": a.perturb_prob, "device": "cuda" if cuda else "cpu",
              "perturbed_body_joint_errors_mm": joint_err, "methods": methods, "timings": timings,
              "checks": checks, "command": " ".join(sys.argv)}
    (out / "fidelity.json").write_text(json.dumps(result, indent=2, default=float))
    figure(out / "fidelity.png", {k: v for k, v in methods.items()})
    print(f"\nwrote {out / 'fidelity.json'} and {out / 'fidelity.png'}")


if __name__ == "__main__":
    main()
