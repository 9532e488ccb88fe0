"""Validation of a synthesized corpus (docs/format-corpus.md): what is wrong with each sample."""
from __future__ import annotations

import os

import numpy as np

from thuman_io.corpus import check_sample_shapes, open_corpus
from thuman_io.errors import InputError
from thuman_io.grid import VolumeGrid
from thuman_io.sample import CorpusSample

#: Metadata keys every sample carries (docs/format-corpus.md).
REQUIRED_META = ("item_id", "subject", "pose_index", "view_index", "yaw", "pitch", "roll", "seed", "light")


def sample_problems(sample: CorpusSample, grid: VolumeGrid) -> list[str]:
    """What is wrong with one decoded sample (empty list: valid)."""
    out = []
    try:
        check_sample_shapes(sample, grid)
    except ValueError as e:
        return [str(e)]
    mask = np.asarray(sample.mask, bool)
    if not mask.any():
        out.append("mask is empty (the person is not in the image)")
    if not np.asarray(sample.occupancy).any():
        out.append("occupancy is empty")
    n = np.asarray(sample.normal_map, np.float32)
    length = np.linalg.norm(n, axis=-1)
    if mask.any() and np.abs(length[mask] - 1).max() > 0.01:
        out.append(f"normal_map is not unit length inside the mask (max error {np.abs(length[mask] - 1).max():.3f})")
    if np.abs(n[~mask]).max(initial=0) > 0:
        out.append("normal_map is not 0 on the background")
    for name in ("semantic_map", "semantic_volume"):
        a = np.asarray(getattr(sample, name))
        if a.min() < 0 or a.max() > 1:
            out.append(f"{name} outside [0, 1]")
    if not np.asarray(sample.semantic_volume).any():
        out.append("semantic_volume is empty")
    missing = [k for k in REQUIRED_META if k not in sample.meta]
    if missing:
        out.append(f"meta lacks {', '.join(missing)}")
    return out


def validate_corpus(corpus_dir: str | os.PathLike) -> list[str]:
    """Problems of every sample of a corpus as 'shard: sample r: problem' lines (empty: valid)."""
    try:
        corpus = open_corpus(corpus_dir)
    except InputError as e:
        return [str(e)]
    out = []
    for i in range(len(corpus)):
        path, row = corpus.location(i)
        out += [f"{path}: sample {row}: {p}" for p in sample_problems(corpus.sample(i), corpus.grid)]
    corpus.close()
    return out
