"""Feeding corpus samples to the network: a deterministic batch stream and device transfer.

Loader workers hand over samples as stored (uint8 images and semantic volume, bit-packed
occupancy, float16 normals: about 10 MB per full-resolution sample instead of 60 MB of float32)
and :func:`decode_batch` turns them into float32 channel-first tensors on the training device.
``bench/train.py`` measured the float32 hand-over as the bottleneck on a GPU.

The order of samples is a function of (seed, step) alone: epoch e is the permutation
``default_rng([seed, e]).permutation(n)``, the epochs are concatenated into one stream, and
global batch s is stream[s B : (s + 1) B]. Process r of N takes every N-th element of each
global batch. Hence (i) ``--resume`` at step s reads exactly the batches an uninterrupted run
would, and (ii) N processes with B / N each see the same global batches as one process with B.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from thuman_io.corpus import TorchCorpusDataset

#: Keys of TorchCorpusDataset items that the network and losses use.
TENSOR_KEYS = ("rgb", "semantic_map", "normal_map", "mask", "occupancy", "semantic_volume")


def stream_indices(n: int, global_batch: int, step: int, seed: int, positions: bool = False) -> np.ndarray:
    """(global_batch,) dataset positions of global batch ``step``; with ``positions`` each is
    ``epoch * n + position`` (for datasets whose items depend on the epoch, e.g. augmentation)."""
    start = step * global_batch
    out = np.empty(global_batch, dtype=np.int64)
    cache: dict[int, np.ndarray] = {}
    for j in range(global_batch):
        p = start + j
        e = p // n
        if e not in cache:
            cache[e] = np.random.default_rng([seed, e]).permutation(n)
        out[j] = cache[e][p % n] + (e * n if positions else 0)
    return out


class StreamSampler(Sampler):
    """Yields this process's share of global batches ``start_step .. end_step - 1``."""

    def __init__(self, n: int, global_batch: int, start_step: int, end_step: int, seed: int,
                 rank: int = 0, world_size: int = 1, positions: bool = False):
        if global_batch % world_size:
            raise ValueError(f"batch size {global_batch} does not divide among {world_size} processes")
        self.n, self.global_batch, self.seed = n, global_batch, seed
        self.start_step, self.end_step = start_step, end_step
        self.rank, self.world_size = rank, world_size
        self.positions = positions

    def __iter__(self):
        for step in range(self.start_step, self.end_step):
            batch = stream_indices(self.n, self.global_batch, step, self.seed, self.positions)
            yield from batch[self.rank::self.world_size].tolist()

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step) * (self.global_batch // self.world_size)


def make_loader(dataset, global_batch: int, start_step: int, end_step: int, seed: int, rank: int = 0,
                world_size: int = 1, num_workers: int = 0, pin_memory: bool = False,
                positions: bool = False) -> DataLoader:
    """A DataLoader that yields (local batch) dicts for steps start_step .. end_step - 1
    (``positions``: the sampler yields epoch * n + position, see :func:`stream_indices`)."""
    local = global_batch // world_size
    sampler = StreamSampler(len(dataset), global_batch, start_step, end_step, seed, rank, world_size, positions)
    return DataLoader(dataset, batch_size=local, sampler=sampler, num_workers=num_workers,
                      drop_last=False, persistent_workers=False, pin_memory=pin_memory,
                      prefetch_factor=2 if num_workers else None)


def to_device(batch: dict, device) -> dict:
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


#: Stored arrays a training item needs (``thuman_io.corpus`` layout).
_RAW_NAMES = ("rgb", "semantic_map", "normal_map", "mask", "occupancy", "semantic_volume")


class CompactCorpusDataset(TorchCorpusDataset):
    """One split of a corpus whose items are the stored arrays as tensors (decode with
    :func:`decode_batch`): 'rgb', 'semantic_map' (2H, 2W, 3) uint8; 'normal_map' (2H, 2W, 3)
    float16; 'mask' (2H, 2W) uint8; 'occupancy' packed bits uint8; 'semantic_volume' (D, H, W, 3)
    uint8; 'index'. Same split and lazy per-worker HDF5 opening as ``TorchCorpusDataset``; the
    float conversion happens on the training device instead of in the workers."""

    def __getitem__(self, j: int) -> dict:
        i = self.indices[j]
        raw = self.corpus.read_raw(i, list(_RAW_NAMES))
        item = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in raw.items()}
        item["index"] = i
        return item


def decode_batch(batch: dict, grid, device) -> dict:
    """Compact batch -> float32 channel-first tensors on ``device``, the TorchCorpusDataset layout:
    'rgb' (B, 3, 2H, 2W) in [0, 1], 'semantic_map' (B, 3, 2H, 2W), 'normal_map' (B, 3, 2H, 2W),
    'mask' (B, 1, 2H, 2W), 'occupancy' (B, 1, D, H, W), 'semantic_volume' (B, 3, D, H, W).

    Codes are stored as round(code * 255) and occupancy by ``np.packbits`` (big-endian bit
    order) in thuman_io.corpus; a test checks this against TorchCorpusDataset.
    """
    if batch["occupancy"].dim() == 5:       # already decoded (e.g. a TorchCorpusDataset batch)
        return to_device(batch, device)
    b = to_device(batch, device)
    d, h, w = grid.shape

    def chan_first(x):
        return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1)).contiguous()
    shifts = torch.arange(7, -1, -1, device=b["occupancy"].device, dtype=torch.uint8)
    bits = (b["occupancy"].unsqueeze(-1) >> shifts) & 1
    occupancy = bits.reshape(bits.shape[0], -1)[:, : d * h * w].reshape(-1, 1, d, h, w).float()
    out = {
        "rgb": chan_first(b["rgb"].float() / 255.0),
        "semantic_map": chan_first(b["semantic_map"].float() / 255.0),
        "normal_map": chan_first(b["normal_map"].float()),
        "mask": b["mask"].float().unsqueeze(1),
        "occupancy": occupancy,
        "semantic_volume": chan_first(b["semantic_volume"].float() / 255.0),
    }
    for k, v in b.items():
        if k not in out:
            out[k] = v
    return out


def prior_inputs(batch: dict, representation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(prior map (B, P, 2H, 2W), prior volume (B, P, D, H, W)) for the configured representation
    (joint heat maps and volumes are built here, on the batch's device)."""
    if representation == "semantic":
        return batch["semantic_map"], batch["semantic_volume"]
    if "joint_index" not in batch:
        raise KeyError("net.representation='joints' needs a JointHeatmapDataset (joint_index)")
    from thuman.model.joint_heatmaps import heat_maps, heat_volumes

    idx, sigma = batch["joint_index"].float(), batch["joint_sigma"].reshape(-1)
    d, h, w = batch["semantic_volume"].shape[-3:]
    return heat_maps(idx, (h, w), sigma), heat_volumes(idx, (d, h, w), sigma)
