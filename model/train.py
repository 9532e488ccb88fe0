"""The two-stage training loop of paper sec. 4.3, in plain PyTorch.

Stage 1 (steps 0 .. stage1_steps-1) pre-trains H (with G) on L_V + l_FS L_FS + l_SS L_SS and R
on l_N L_N with R's input normals projected from the *ground-truth* occupancy, so the two nets
learn independently. Stage 2 fine-tunes everything jointly with the combined loss (eq. 10), R
now fed by the projection of H's prediction, so L_N also reaches H through eqs. 3-6. Adam with
default betas, fixed lr 2e-4, batch 4.

``train.schedule='authors'`` runs the released code's three phases instead (G + H alone; R alone
on normals projected from H's prediction; everything at lr * lr_drop). Every ``val_every`` steps
the validation split's loss and IoU go to TensorBoard and ``RUN_DIR/validation.json``; with
``perturb_prob`` > 0 that share of training samples gets body inputs from a perturbed body fit
(``thuman.model.perturbed_inputs``). Progress is a bar on a terminal and status lines otherwise.

One process: ``train(cfg, corpus, run_dir)``. Several: ``torchrun --nproc_per_node N -m
thuman.model.train CORPUS RUN_DIR ...`` (DistributedDataParallel, gloo on CPU, NCCL on CUDA);
each process takes batch / N samples of the same global batch (``thuman.model.data``).
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from thuman.model.checkpoint import CHECKPOINT_NAME, read_checkpoint, save_checkpoint, set_rng_state
from thuman.model.config import RunConfig, from_dict, load_config, save_config
from thuman.model.data import CompactCorpusDataset, decode_batch, make_loader, prior_inputs
from thuman.model.deephuman import DeepHuman
from thuman.model.losses import deephuman_loss
from thuman.model.projection import project_normals
from thuman_io.atomic import atomic_write_text
from thuman_io.errors import InputError, TrainingError

VALIDATION_NAME = "validation.json"
#: Seconds between two status lines when stderr is not a terminal.
STATUS_EVERY_S = 15.0


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    last_losses: dict
    seconds: float


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (1 process without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _pick_device(cfg: RunConfig, local_rank: int) -> torch.device:
    want = cfg.train.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda":
        if not torch.cuda.is_available():
            raise InputError(None, "config train.device=cuda", "no CUDA device is visible; use train.device=cpu")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _amp_dtype(cfg: RunConfig, device: torch.device):
    """Autocast dtype or None. 'on': bfloat16 where supported (no loss scaling needed), else
    float16 with a GradScaler; 'auto': the same on CUDA, off on CPU."""
    if cfg.train.amp == "off" or (cfg.train.amp == "auto" and device.type != "cuda"):
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16


def set_determinism(seed: int) -> None:
    """Same seed, same data, same device -> same weights (sec. 'Determinism' of docs/model.md)."""
    import random

    import numpy as np
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def make_dataset(corpus_dir, cfg: RunConfig, split: str | None = None):
    """The split's CompactCorpusDataset (wrapped with joint heat maps for representation='joints')."""
    ds = CompactCorpusDataset(corpus_dir, split or cfg.train.split, seed=cfg.train.seed)
    if cfg.net.representation == "joints":
        from thuman.model.joint_heatmaps import JointHeatmapDataset
        ds = JointHeatmapDataset(ds, cfg.net.joint_sigma_voxels)
    return ds


def training_dataset(corpus_dir, cfg: RunConfig):
    """(dataset, positions): the training split, wrapped with perturbed body fits when
    ``train.perturb_prob`` > 0 (its loader then yields stream positions, ``data.stream_indices``)."""
    ds = make_dataset(corpus_dir, cfg)
    t = cfg.train
    if t.perturb_prob > 0 and t.perturb_scale > 0 and len(ds):
        if cfg.net.representation != "semantic":
            raise InputError(None, "config train.perturb_prob", "perturbed bodies need net.representation=semantic")
        from thuman.model.perturbed_inputs import PerturbedBodyDataset
        from thuman.synth.body_perturb import DEFAULT_LEVELS
        return PerturbedBodyDataset(ds, DEFAULT_LEVELS.scaled(t.perturb_scale), t.seed, t.perturb_prob), True
    return ds, False


@dataclass
class Phase:
    """What step s trains: ``stage`` (1 or 2: where R's input comes from, sec. 4.3), ``parts``
    ('all', 'occupancy' or 'refiner', see ``DeepHuman.forward``) and the learning rate."""

    number: int
    stage: int
    parts: str
    lr: float


def phase_at(step: int, cfg: RunConfig) -> Phase:
    """The phase of (0-based) ``step`` under ``train.schedule``."""
    t = cfg.train
    if t.schedule == "paper":
        return Phase(1, 1, "all", t.lr) if step < t.stage1_steps else Phase(2, 2, "all", t.lr)
    if step < t.stage1_steps:
        return Phase(1, 2, "occupancy", t.lr)
    if step < t.stage1_steps + t.stage2_steps:
        return Phase(2, 2, "refiner", t.lr)
    return Phase(3, 2, "all", t.lr * t.lr_drop)


def training_step_loss(model, batch: dict, cfg: RunConfig, stage: int, parts: str = "all"):
    """Forward + eq. 10 for one batch. Stage 1 feeds R the ground-truth projection."""
    prior_map, prior_volume = prior_inputs(batch, cfg.net.representation)
    refiner_normals = None
    if stage == 1 and cfg.net.refine_normals and parts == "all":
        with torch.no_grad():
            refiner_normals = project_normals(batch["occupancy"])
    out = model(batch["rgb"], prior_map, prior_volume, refiner_normals, parts=parts)
    return deephuman_loss(out, batch["occupancy"], batch["normal_map"], batch["mask"], cfg.loss)


def resume_config(run_dir, config_path=None, overrides=()) -> RunConfig:
    """The config to resume ``run_dir`` with: the saved one, changed only by the keys of
    ``config_path`` and ``overrides`` (``thuman train --resume``)."""
    state = read_checkpoint(Path(run_dir) / CHECKPOINT_NAME)
    return load_config(config_path, overrides, base=state["config"])


def validation_scores(model, dataset, cfg: RunConfig, device, max_samples: int, batch_size: int = 4) -> dict:
    """Mean end-to-end loss (eq. 10, R fed by H's prediction) and IoU (the method's surface,
    ``surface.network_levels(cfg)``, no z-shift) over the first ``max_samples`` of ``dataset``;
    the model is left in training mode."""
    from thuman.model import metrics, surface

    levels = surface.network_levels(cfg)

    n = min(len(dataset), max_samples)
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(n)), batch_size=batch_size)
    losses, ious = [], []
    model.eval()
    try:
        with torch.no_grad():
            for batch in loader:
                batch = decode_batch(batch, dataset.grid, device)
                prior_map, prior_volume = prior_inputs(batch, cfg.net.representation)
                out = model(batch["rgb"], prior_map, prior_volume)
                terms = deephuman_loss(out, batch["occupancy"], batch["normal_map"], batch["mask"], cfg.loss)
                losses.append(float(terms.total) * len(batch["rgb"]))
                prob = out.occupancy[:, 0].float().cpu().numpy()
                bodies = surface.body_occupancy(batch["semantic_volume"].cpu().numpy(), channel_axis=1)
                target = (batch["occupancy"][:, 0] > 0.5).cpu().numpy()
                ious += [metrics.iou(surface.surface_occupancy(p, body, levels), t)
                         for p, body, t in zip(prob, bodies, target)]
    finally:
        model.train()
    return {"val/loss": sum(losses) / max(1, n), "val/iou": float(sum(ious) / max(1, len(ious)))}


def read_validation(run_dir) -> list[dict]:
    """The rows of RUN_DIR/validation.json ([] when absent)."""
    path = Path(run_dir) / VALIDATION_NAME
    if not path.is_file():
        return []
    try:
        return list(json.loads(path.read_text())["rows"])
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(path, f"unreadable validation log ({e})", "delete it to start the log again") from e


class StatusLines:
    """Progress as plain lines (``status(line)``) at most every ``every_s`` seconds: for logs,
    pipes and the demo, where a progress bar draws nothing."""

    def __init__(self, status: Callable[[str], None], start: int, end: int, every_s: float = STATUS_EVERY_S):
        self.status, self.start, self.end, self.every_s = status, start, end, every_s
        self.t0 = self.last = time.perf_counter()

    def step(self, step: int, phase: Phase, losses: dict, force: bool = False, extra: str = "") -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every_s:
            return
        self.last = now
        rate = (now - self.t0) / max(1, step - self.start)
        eta = rate * (self.end - step)
        self.status(f"train: step {step}/{self.end} (phase {phase.number}) loss {losses.get('loss/total', float('nan')):.4f}, "
                    f"{rate:.2f} s/step, {eta / 60:.1f} min left{extra}")


def train(cfg: RunConfig, corpus_dir, run_dir, resume: bool = False, show_progress: bool = True,
          max_steps: int | None = None, status: Callable[[str], None] | None = None) -> TrainResult:
    """Train (or continue) a run. ``max_steps`` stops early after that global step (for tests
    and interrupted runs: the checkpoint then resumes exactly). ``cfg`` is not modified; to
    resume a run as saved, pass :func:`resume_config`'s. ``status`` receives plain status lines
    (default with ``show_progress``: a bar on a terminal, lines on stderr otherwise)."""
    cfg = copy.deepcopy(cfg)
    rank, world, local_rank = _dist_env()
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT_NAME
    start_step = 0
    state = None
    if resume:
        # The network and loss of a resumed run are the checkpoint's; the train section may change
        # (e.g. more steps). Data order depends on (seed, step) only, so the stream continues.
        state = read_checkpoint(ckpt_path)
        saved = from_dict(state["config"], ckpt_path)
        cfg.net, cfg.loss = saved.net, saved.loss
        if cfg.train.seed != saved.train.seed or cfg.train.batch_size != saved.train.batch_size:
            raise TrainingError(f"{ckpt_path}: resume with the run's seed ({saved.train.seed}) and batch size "
                                f"({saved.train.batch_size}), or start a new run folder")
        start_step = int(state["step"])
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    set_determinism(cfg.train.seed)

    dataset, positions = training_dataset(corpus_dir, cfg)
    if len(dataset) == 0:
        raise InputError(corpus_dir, f"split {cfg.train.split!r} has no samples; use a corpus with more subjects")
    cfg.net.grid = tuple(dataset.grid.shape)  # the corpus decides the resolution
    cfg.validate()

    device = _pick_device(cfg, local_rank)
    if world > 1:
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    torch.manual_seed(cfg.train.seed)      # identical initial weights in every process
    model = DeepHuman(cfg.net).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, betas=tuple(cfg.train.adam_betas))
    amp_dtype = _amp_dtype(cfg, device)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                      find_unused_parameters=cfg.train.schedule == "authors")
    val_set = None
    if rank == 0 and cfg.train.val_every > 0:
        val_set = make_dataset(corpus_dir, cfg, "val")
        if len(val_set) == 0:
            val_set = None
    val_rows = [r for r in read_validation(run_dir) if r["step"] <= start_step] if rank == 0 else []

    end_step = cfg.total_steps if max_steps is None else min(cfg.total_steps, max_steps)
    writer = None
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start_step)

    loader = make_loader(dataset, cfg.train.batch_size, start_step, end_step, cfg.train.seed, rank, world,
                         cfg.train.num_workers, pin_memory=device.type == "cuda", positions=positions)
    bar = lines = None
    if rank == 0:
        if status is None and show_progress and not sys.stderr.isatty():
            def status(line):
                print(line, file=sys.stderr, flush=True)
        if status is not None:
            lines = StatusLines(status, start_step, end_step)
            status(f"train: {run_dir}: steps {start_step}..{end_step}, {len(dataset)} training samples, "
                   f"validation {'off' if val_set is None else f'{min(len(val_set), cfg.train.val_samples)} samples every {cfg.train.val_every} steps'}, "
                   f"{torch.get_num_threads()} thread(s) on {device}")
        elif show_progress:
            from tqdm import tqdm
            bar = tqdm(total=end_step, initial=start_step, desc="train", unit="step", dynamic_ncols=True, leave=False)

    t0 = time.perf_counter()
    step = start_step
    last_good = start_step
    losses: dict = {}
    model.train()
    try:
        for batch in loader:
            phase = phase_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = phase.lr
            batch = decode_batch(batch, dataset.grid, device)
            autocast = (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None
                        else contextlib.nullcontext())
            with autocast:
                terms = training_step_loss(net, batch, cfg, phase.stage, phase.parts)
            _check_finite(terms.total, step, phase.number, ckpt_path, last_good, world)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(terms.total).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                terms.total.backward()
                optimizer.step()
            step += 1
            losses = terms.as_floats()
            if rank == 0:
                if step % cfg.train.log_every == 0 or step == end_step:
                    for k, v in losses.items():
                        writer.add_scalar(k, v, step)
                    writer.add_scalar("train/stage", phase.number, step)
                    writer.add_scalar("train/lr", phase.lr, step)
                extra = ""
                if val_set is not None and (step % cfg.train.val_every == 0 or step == end_step):
                    scores = validation_scores(model, val_set, cfg, device, cfg.train.val_samples)
                    for k, v in scores.items():
                        writer.add_scalar(k, v, step)
                    val_rows = [r for r in val_rows if r["step"] != step]
                    val_rows.append({"step": step, **scores, "train/loss": losses["loss/total"]})
                    atomic_write_text(run_dir / VALIDATION_NAME, json.dumps(
                        {"split": "val", "samples": min(len(val_set), cfg.train.val_samples), "rows": val_rows}, indent=1))
                    extra = f"; validation loss {scores['val/loss']:.4f}, IoU {scores['val/iou']:.3f}"
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(stage=phase.number, loss=f"{losses['loss/total']:.4f}")
                if lines is not None:
                    lines.step(step, phase, losses, force=bool(extra) or step == end_step, extra=extra)
                if step % cfg.train.checkpoint_every == 0 or step == end_step:
                    save_checkpoint(ckpt_path, cfg, model, optimizer, step, scaler, {"losses": losses})
            if step % cfg.train.checkpoint_every == 0 or step == end_step:
                last_good = step
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
    return TrainResult(run_dir, step, losses, time.perf_counter() - t0)


def _check_finite(loss: torch.Tensor, step: int, stage: int, ckpt_path: Path, last_good: int, world: int) -> None:
    """Stop every process on a NaN/inf loss, before the optimizer touches the weights."""
    bad = torch.tensor([0.0 if torch.isfinite(loss.detach()).item() else 1.0])
    if world > 1:
        import torch.distributed as dist
        if loss.device.type == "cuda":
            bad = bad.to(loss.device)
        dist.all_reduce(bad)
    if bad.item() > 0:
        local = loss.detach().float().item()
        value = local if not math.isfinite(local) else "non-finite in another process"
        where = (f"the last good checkpoint {ckpt_path} (step {last_good}) is intact; resume from it with a "
                 "lower train.lr or check the corpus" if ckpt_path.exists() else "no checkpoint was written yet")
        raise TrainingError(f"loss became {value} at step {step + 1} (stage {stage}); training stopped: {where}")


def main(argv=None) -> None:
    """Entry point for torchrun: ``python -m thuman.model.train CORPUS RUN_DIR [--config F] [k=v ...]``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m thuman.model.train")
    p.add_argument("corpus")
    p.add_argument("run_dir")
    p.add_argument("--config")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("overrides", nargs="*")
    a = p.parse_intermixed_args(argv)
    cfg = resume_config(a.run_dir, a.config, a.overrides) if a.resume else load_config(a.config, a.overrides)
    train(cfg, a.corpus, a.run_dir, resume=a.resume, show_progress=not a.no_progress, max_steps=a.max_steps)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
