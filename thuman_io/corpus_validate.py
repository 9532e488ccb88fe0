"""Validation of a synthesized corpus (docs/format-corpus.md): what is wrong with each shard and
sample. Never raises for bad content: every problem is one line naming the shard, the sample and
the field."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thuman_io.corpus import check_sample_shapes, shard_paths
from thuman_io.errors import InputError
from thuman_io.grid import VolumeGrid
from thuman_io.sample import CorpusSample
from thuman_io.shard import SAMPLE_NAMES, decode_sample, open_shard_file, read_row, read_shard_header

#: Metadata keys every sample carries (docs/format-corpus.md).
REQUIRED_META = ("item_id", "subject", "pose_index", "view_index", "yaw", "pitch", "roll", "seed", "light")
#: Fields of a decoded sample that hold real numbers (NaN/inf is reported in each).
_NUMBER_FIELDS = ("semantic_map", "normal_map", "semantic_volume", "item_to_view", "smpl_full_pose",
                  "smpl_betas", "smpl_transl")


def sample_problems(sample: CorpusSample, grid: VolumeGrid) -> list[str]:
    """What is wrong with one decoded sample (empty list: valid), as "field 'name': problem"."""
    out = []
    try:
        check_sample_shapes(sample, grid)
    except ValueError as e:
        return [str(e)]
    finite = {}
    for name in _NUMBER_FIELDS:
        a = np.asarray(getattr(sample, name), dtype=np.float64)
        finite[name] = bool(np.isfinite(a).all())
        if not finite[name]:
            out.append(f"field '{name}': {int((~np.isfinite(a)).sum())} values are NaN or inf")
    mask = np.asarray(sample.mask, bool)
    if not mask.any():
        out.append("field 'mask': empty (the person is not in the image)")
    if not np.asarray(sample.occupancy).any():
        out.append("field 'occupancy': empty")
    n = np.asarray(sample.normal_map, np.float32)
    if finite["normal_map"]:
        length = np.linalg.norm(n, axis=-1)
        if mask.any() and np.abs(length[mask] - 1).max() > 0.01:
            out.append(f"field 'normal_map': not unit length inside the mask "
                       f"(max error {np.abs(length[mask] - 1).max():.3f})")
        if np.abs(n[~mask]).max(initial=0) > 0:
            out.append("field 'normal_map': not 0 on the background")
    for name in ("semantic_map", "semantic_volume"):
        a = np.asarray(getattr(sample, name))
        if finite[name] and (a.min() < 0 or a.max() > 1):
            out.append(f"field '{name}': outside [0, 1]")
    if not np.asarray(sample.semantic_volume).any():
        out.append("field 'semantic_volume': empty")
    t = np.asarray(sample.item_to_view, np.float64)
    if finite["item_to_view"] and not np.allclose(t[3], [0, 0, 0, 1]):
        out.append("field 'item_to_view': last row must be (0, 0, 0, 1)")
    missing = [k for k in REQUIRED_META if k not in sample.meta]
    if missing:
        out.append(f"field 'meta_json': lacks {', '.join(missing)}")
    return out


def validate_shard(path: str | os.PathLike, grid: VolumeGrid | None = None) -> list[str]:
    """Problems of one shard file as one-line strings '<shard>: ...' (empty: valid). ``grid``: the
    grid the shard must have (the corpus's), if known."""
    path = Path(path)
    try:
        header = read_shard_header(path)
    except InputError as e:
        return [str(e)]
    if grid is not None and header.grid != grid:
        return [f"{path}: attribute 'grid_shape': {header.grid.shape} differs from the corpus grid {grid.shape}"]
    out = []
    try:
        f = open_shard_file(path)
    except InputError as e:
        return [str(e)]
    with f:
        for r in range(header.num_samples):
            try:
                raw = read_row(f, header, r, SAMPLE_NAMES, check_finite=False)
            except InputError as e:
                out.append(str(e))
                continue
            sample = decode_sample(raw, header.grid, header.meta[r])
            out += [f"{path}: sample {r}: {p}" for p in sample_problems(sample, header.grid)]
    return out


def validate_corpus(corpus_dir: str | os.PathLike) -> list[str]:
    """Problems of every shard and sample of a corpus folder as one-line strings (empty: valid)."""
    from thuman_io.corpus_manifest import manifest_problems

    root = Path(corpus_dir)
    paths = shard_paths(root)
    if not paths:
        return [f"{root}: no corpus shards in shards/; run `thuman synth` first"]
    out = manifest_problems(root)
    grid = None
    for p in paths:
        if grid is None:
            try:
                grid = read_shard_header(p).grid
            except InputError:
                pass
        out += validate_shard(p, grid)
    return list(dict.fromkeys(out))   # a damaged shard also fails the manifest check: say it once
