"""Checkpoints: one torch file holding the model, optimizer, step, RNG states and the config.

Written through ``thuman_io.atomic`` (temporary file, fsync, rename), so a crash or a NaN stop
leaves the previous checkpoint whole.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from thuman.model.config import RunConfig, from_dict, to_dict
from thuman_io.atomic import atomic_path
from thuman_io.errors import InputError, TrainingError

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "thuman.deephuman.checkpoint"
FORMAT_VERSION = 1


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, cfg: RunConfig, model: torch.nn.Module, optimizer, step: int,
                    scaler=None, extra: dict | None = None) -> Path:
    """Atomically write the training state after ``step`` optimizer steps."""
    state = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "step": int(step), "config": to_dict(cfg),
        "model": model.state_dict(), "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None, "rng": rng_state(),
        "extra": extra or {},
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load and check a checkpoint file; InputError naming the file if it is not one."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise InputError(path, "checkpoint not found; give a run folder or its checkpoint.pt")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise InputError(path, f"not a readable checkpoint ({e})") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(path, f"not a DeepHuman checkpoint (format {state.get('format') if isinstance(state, dict) else None!r})")
    state["path"] = str(path)
    return state


def load_model(path: str | os.PathLike, device="cpu"):
    """(RunConfig, DeepHuman in eval mode, step) from a checkpoint file or run folder."""
    from thuman.model.deephuman import DeepHuman

    state = read_checkpoint(path, map_location=device)
    cfg = from_dict(state["config"], state["path"])
    model = DeepHuman(cfg.net).to(device)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise TrainingError(f"{state['path']}: weights do not fit the saved config ({e})") from e
    model.eval()
    return cfg, model, int(state["step"])
