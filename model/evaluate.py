"""``thuman eval``: the paper's evaluation protocol on a held-out split of a corpus.

For each sample of the split: predicted occupancy (threshold 0.5), the mean 3D IoU with the
z-shift search (sec. 6.2.2), Table 4's normal errors without refinement (the projection of the
predicted occupancy, eqs. 3-6) and with it (R's output), and Chamfer / P2S distances in cm
between marching-cubes meshes of the prediction (at its best z-shift) and of the ground truth,
converted to metres by the sample's ``item_to_view`` scale.

Baselines (no network, no refinement; the occupancy is the body's semantic volume thresholded,
code > 0): 'oracle-body', the corpus's own body (the simulator's ground truth: an oracle, better
than any fit), and 'perturbed-body', that body with a fitting error of the size published
estimators make (``thuman.synth.body_perturb``; Table 2's "HMR" row is of this kind). The
network is evaluated with either body as its input (``body='oracle' | 'perturbed'``); the
perturbed body of a sample is one fixed draw shared by the baseline and the network.
:func:`evaluate_methods` runs all four (``thuman eval``).

Writes ``report.json`` and ``sheet.png`` (inputs, predictions and ground truth) atomically.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from thuman.model import metrics, surface
from thuman.model.data import decode_batch, prior_inputs
from thuman.model.projection import project_normals
from thuman_io.atomic import atomic_path, atomic_write_text
from thuman_io.errors import InputError

BASELINES = ("oracle-body", "perturbed-body")
BODIES = ("oracle", "perturbed")
#: Seed of the test-time body perturbations (one fixed draw per sample).
PERTURB_SEED = 0


def _np_image(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor -> (H, W, C) float numpy."""
    return t.detach().float().cpu().permute(1, 2, 0).numpy()


def predict_batch(model, batch: dict, representation: str) -> list[dict]:
    """Network predictions per sample: 'occupancy' (D, H, W) float in [0, 1], 'normal_projected'
    and 'normal_refined' (2H, 2W, 3) or None."""
    prior_map, prior_volume = prior_inputs(batch, representation)
    with torch.no_grad():
        out = model(batch["rgb"], prior_map, prior_volume)
        projected = out.normal_projected if out.normal_projected is not None else project_normals(out.occupancy)
    rows = []
    for b in range(out.occupancy.shape[0]):
        rows.append({"occupancy": out.occupancy[b, 0].float().cpu().numpy(),
                     "normal_projected": _np_image(projected[b]),
                     "normal_refined": None if out.normal_refined is None else _np_image(out.normal_refined[b])})
    return rows


def body_prediction(batch: dict) -> list[dict]:
    """Baseline: occupancy = the body's semantic volume thresholded; normals projected from it."""
    occ = (batch["semantic_volume"].amax(dim=1, keepdim=True) > 0).float()
    projected = project_normals(occ)
    return [{"occupancy": occ[b, 0].cpu().numpy(), "normal_projected": _np_image(projected[b]), "normal_refined": None}
            for b in range(occ.shape[0])]


def method_field(pred: dict, batch: dict, b: int, levels: surface.SurfaceLevels) -> np.ndarray:
    """(D, H, W) float32: the method's surface field of sample ``b`` (model/surface.py: the
    probability at the loss's even odds, a lower threshold inside the sample's input body); a
    baseline's binary body maps to itself."""
    body = surface.body_occupancy(batch["semantic_volume"][b].cpu().numpy(), channel_axis=0)
    return surface.surface_field(pred["occupancy"], body, levels)


def score_sample(pred: dict, batch: dict, b: int, grid, item_to_view: np.ndarray, max_shift: int,
                 levels: surface.SurfaceLevels, with_meshes: bool = True) -> dict:
    """Every metric for sample ``b`` of ``batch``; ``levels``: the thresholds of
    ``surface.surface_field`` (``surface.network_levels`` of the run)."""
    target = batch["occupancy"][b, 0].cpu().numpy() > 0.5
    field = method_field(pred, batch, b, levels)
    occ = field >= surface.FIELD_LEVEL
    best, shift = metrics.iou_z_search(occ, target, max_shift)
    row = {"iou": best, "iou_no_shift": metrics.iou(occ, target), "z_shift_voxels": shift}
    mask = batch["mask"][b, 0].cpu().numpy() > 0.5
    gt_normals = _np_image(batch["normal_map"][b])
    for name, key in (("without_refinement", "normal_projected"), ("with_refinement", "normal_refined")):
        if pred.get(key) is not None:
            for k, v in metrics.normal_errors(pred[key], gt_normals, mask).items():
                row[f"normal_{name}/{k}"] = v
    if with_meshes:
        shifted = metrics.shift_depth(field, shift)
        row.update(metrics.mesh_distances_cm(metrics.occupancy_mesh(shifted, grid),
                                             metrics.occupancy_mesh(target, grid),
                                             metrics.metres_per_unit(item_to_view)))
    return row


def evaluate(checkpoint, corpus_dir, split: str = "test", out_dir=None, baseline: str | None = None,
             max_samples: int | None = None, max_shift: int | None = None, batch_size: int = 2,
             device: str = "cpu", seed: int | None = None, sheet_rows: int = 4, progress=None,
             body: str = "oracle", perturb_scale: float = 1.0, perturb_seed: int = PERTURB_SEED,
             levels: surface.SurfaceLevels | None = None) -> dict:
    """Evaluate a checkpoint (or a ``baseline`` without one) on ``split``; returns the report.

    body: the network's body input, 'oracle' (the stored one) or 'perturbed' (ignored for a
    baseline, whose name says it). perturb_scale multiplies ``body_perturb.DEFAULT_LEVELS``.
    max_shift: z-shift search range in voxels (default D / 8: 16 at 128 deep).
    seed: the corpus split seed (default: the checkpoint's train.seed, else 0).
    progress: optional callable wrapping an iterable (the CLI's progress bar).
    levels: thresholds of the network's probability (``thuman.model.surface``; default
    ``surface.network_levels`` of the checkpoint's config, ``surface.PLAIN`` = the paper's 0.5).
    """
    from thuman.model.train import make_dataset
    from thuman_io.corpus import open_corpus

    if baseline is not None and baseline not in BASELINES:
        raise InputError(None, f"baseline {baseline!r}", f"use one of {', '.join(BASELINES)}")
    if baseline is not None:
        body = baseline.split("-")[0]
    if body not in BODIES:
        raise InputError(None, f"body {body!r}", f"use one of {', '.join(BODIES)}")
    if checkpoint is None and baseline is None:
        raise InputError(None, "evaluate", "give a checkpoint or a baseline")
    model = None
    step = None
    if checkpoint is not None and baseline is None:
        from thuman.model.checkpoint import load_model
        cfg, model, step = load_model(checkpoint, device)
        representation = cfg.net.representation
        seed = cfg.train.seed if seed is None else seed
    else:
        from thuman.model.config import RunConfig
        cfg = RunConfig()
        representation = "semantic"
        seed = 0 if seed is None else seed
    cfg.train.seed = seed
    levels = surface.network_levels(cfg) if levels is None else levels
    dataset = make_dataset(corpus_dir, cfg, split)
    if body == "perturbed":
        if representation != "semantic":
            raise InputError(checkpoint, "perturbed bodies need a network trained on semantic inputs")
        from thuman.model.perturbed_inputs import PerturbedBodyDataset
        from thuman.synth.body_perturb import DEFAULT_LEVELS
        dataset = PerturbedBodyDataset(dataset, DEFAULT_LEVELS.scaled(perturb_scale), perturb_seed, mode="test")
    grid = dataset.grid
    if model is not None and tuple(cfg.net.grid) != tuple(grid.shape):
        raise InputError(corpus_dir, f"corpus grid {grid.shape} differs from the checkpoint's {tuple(cfg.net.grid)}")
    n = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    if n == 0:
        raise InputError(corpus_dir, f"split {split!r} has no samples (split seed {seed}); "
                         "a held-out split needs a corpus with at least 3 subjects")
    max_shift = grid.depth // 8 if max_shift is None else max_shift
    corpus = open_corpus(corpus_dir)
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(n)), batch_size=batch_size)
    rows, sheet = [], []
    iterator = progress(loader) if progress is not None else loader
    for batch in iterator:
        batch = decode_batch(batch, grid, device)
        preds = body_prediction(batch) if model is None else predict_batch(model, batch, representation)
        for b, pred in enumerate(preds):
            index = int(batch["index"][b])
            row = score_sample(pred, batch, b, grid, corpus.read_raw(index, ["item_to_view"])["item_to_view"], max_shift,
                               levels)
            row["index"] = index
            row["item_id"] = corpus.meta(index).get("item_id")
            rows.append(row)
            if len(sheet) < sheet_rows:
                sheet.append(_sheet_row(batch, b, pred, levels))
    report = {
        "checkpoint": None if checkpoint is None else os.fspath(checkpoint), "step": step,
        "baseline": baseline, "body": body, "perturb_scale": perturb_scale if body == "perturbed" else None,
        "corpus": os.fspath(corpus_dir), "split": split, "split_seed": seed,
        "num_samples": len(rows), "grid": list(grid.shape), "z_shift_search_voxels": max_shift,
        "surface": {"level": levels.level, "body_level": levels.body_level},
        "vft": cfg.net.vft if model is not None else None, "representation": representation,
        "metrics": _means(rows), "per_sample": rows,
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        atomic_write_text(out_dir / "report.json", json.dumps(_strict_json(report), indent=2))
        write_sheet(out_dir / "sheet.png", sheet)
    return report


#: The four methods of ``thuman eval``: (name, baseline, body).
METHODS = (("oracle body", "oracle-body", "oracle"), ("perturbed body", "perturbed-body", "perturbed"),
           ("DeepHuman, oracle body", None, "oracle"), ("DeepHuman, perturbed body", None, "perturbed"))


def evaluate_methods(checkpoint, corpus_dir, split: str = "test", out_dir=None, methods=METHODS, **kw) -> dict:
    """The oracle body, the perturbed body and the network with each on the same samples.

    Writes OUT/<method>/report.json and sheet.png, and OUT/report.json {method: report} when
    ``out_dir`` is given. Keyword arguments go to :func:`evaluate`. Returns {method name: report}.
    """
    if checkpoint is not None:
        from thuman.model.checkpoint import read_checkpoint
        saved = read_checkpoint(checkpoint)["config"]
        if kw.get("seed") is None:                            # baselines use the network's split
            kw["seed"] = int(saved["train"]["seed"])
        if saved["net"].get("representation", "semantic") != "semantic":   # no body to perturb
            methods = [m for m in methods if m[1] is not None or m[2] == "oracle"]
    reports = {}
    for name, baseline, body in methods:
        folder = None if out_dir is None else Path(out_dir) / name.replace(", ", "-").replace(" ", "-")
        reports[name] = evaluate(None if baseline else checkpoint, corpus_dir, split, folder,
                                 baseline=baseline, body=body, **kw)
    if out_dir is not None:
        summary = {name: {k: v for k, v in r.items() if k != "per_sample"} for name, r in reports.items()}
        atomic_write_text(Path(out_dir) / "report.json", json.dumps(_strict_json(summary), indent=2))
    return reports


def _strict_json(value):
    """NaN (an empty mesh, no foreground) -> null, so the report is standard JSON."""
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _means(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k not in ("index", "item_id", "z_shift_voxels")]
    out = {}
    for k in keys:
        vals = [r[k] for r in rows if k in r and not (isinstance(r[k], float) and math.isnan(r[k]))]
        out[k] = float(np.mean(vals)) if vals else float("nan")
    return out


def _sheet_row(batch: dict, b: int, pred: dict, levels: surface.SurfaceLevels) -> list[np.ndarray]:
    """Columns: RGB, semantic map, GT normals, projected normals, refined normals, front
    silhouettes (green = ground truth only, red = prediction only, white = both)."""
    def normals(n):
        return np.where(np.linalg.norm(n, axis=-1, keepdims=True) > 0, (n + 1) / 2, 0.0)
    rgb = _np_image(batch["rgb"][b])
    h2, w2 = rgb.shape[:2]
    empty = np.zeros_like(rgb)
    gt_sil = batch["occupancy"][b, 0].cpu().numpy().max(axis=0) > 0.5
    pr_sil = (method_field(pred, batch, b, levels) >= surface.FIELD_LEVEL).max(axis=0)
    sil = np.stack([pr_sil, gt_sil, pr_sil & gt_sil], axis=-1).astype(np.float32)
    sil = np.repeat(np.repeat(sil, h2 // sil.shape[0], 0), w2 // sil.shape[1], 1)
    refined = pred.get("normal_refined")
    if refined is not None:   # R paints the background too; show it where the prediction has a body
        refined = refined * (np.linalg.norm(pred["normal_projected"], axis=-1, keepdims=True) > 0)
    return [rgb, _np_image(batch["semantic_map"][b])[..., :3], normals(_np_image(batch["normal_map"][b])),
            normals(pred["normal_projected"]), empty if refined is None else normals(refined), sil]


def write_sheet(path, rows: list[list[np.ndarray]]) -> None:
    """Tile rows of equal-size (H, W, 3) images in [0, 1] into one PNG, atomically."""
    from PIL import Image

    if not rows:
        return
    grid = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    img = Image.fromarray(np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
