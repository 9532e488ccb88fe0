"""A PyTorch map-style dataset over THuman items (torch is imported when an item is fetched).

Usable with ``torch.utils.data.DataLoader(ds, num_workers=N, collate_fn=collate_items)``: the
dataset holds only paths, and each ``__getitem__`` opens its item file, reads it and closes it,
so no HDF5 handle is ever shared across a fork (h5py handles must not cross processes).
Meshes differ in size, so :func:`collate_items` stacks the fixed-size fields and keeps the
meshes as lists.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thuman_io.dataset import open_dataset
from thuman_io.storage import read_item

#: Fields with the same shape in every item (stacked by collate_items).
FIXED_FIELDS = ("betas", "global_orient", "body_pose", "transl", "index")


class TorchItemDataset:
    """Items of a dataset directory (optionally one split or one subject) as dicts of tensors.

    Each item is a dict of
      'vertices'      (V, 3) float32 metres, item frame
      'faces'         (F, 3) int64
      'vertex_colors' (V, 3) float32 in [0, 1] (0.5 grey when the item has none)
      'betas' (10,), 'global_orient' (3,), 'body_pose' (69,), 'transl' (3,) float32
      'index'         int64 scalar, position in this dataset
      'item_id'       str '<subject>/<pose:04d>'
    and with ``frame=True`` (items without a frame raise InputError):
      'color'         (3, Hc, Wc) float32 in [0, 1]
      'depth_m'       (1, Hd, Wd) float32 metres, 0 = no measurement
    """

    def __init__(self, dataset_dir: str | os.PathLike, split: str | None = None, seed: int = 0,
                 subject: str | None = None, frame: bool = False):
        ds = open_dataset(dataset_dir)
        refs = ds.split(split, seed=seed) if split is not None else list(ds.items(subject=subject))
        if split is not None and subject is not None:
            refs = [r for r in refs if r.subject == subject]
        self.paths: list[Path] = [r.path for r in refs]
        self.item_ids: list[str] = [r.item_id for r in refs]
        self.frame = frame

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        import torch

        item = read_item(self.paths[index], frame=self.frame)
        m, s = item.mesh, item.smpl
        colors = (m.vertex_colors.astype(np.float32) / 255.0 if m.vertex_colors is not None
                  else np.full(m.vertices.shape, 0.5, np.float32))
        out = {
            "vertices": torch.from_numpy(np.ascontiguousarray(m.vertices, np.float32)),
            "faces": torch.from_numpy(m.faces.astype(np.int64)),
            "vertex_colors": torch.from_numpy(colors),
            "betas": torch.from_numpy(s.betas.astype(np.float32)),
            "global_orient": torch.from_numpy(s.global_orient.astype(np.float32)),
            "body_pose": torch.from_numpy(s.body_pose.astype(np.float32)),
            "transl": torch.from_numpy(s.transl.astype(np.float32)),
            "index": torch.tensor(index, dtype=torch.int64),
            "item_id": self.item_ids[index],
        }
        if self.frame:
            if item.frame is None:
                from thuman_io.errors import InputError

                raise InputError(self.paths[index], "field 'frame'", "item has no RGB-D frame; use frame=False")
            out["color"] = torch.from_numpy(item.frame.color.astype(np.float32) / 255.0).permute(2, 0, 1)
            out["depth_m"] = torch.from_numpy(item.frame.depth_mm.astype(np.float32) / 1000.0)[None]
        return out


def collate_items(batch: list[dict]) -> dict:
    """DataLoader collate: stack :data:`FIXED_FIELDS` (and frames when all have one size); keep
    meshes and ids as lists."""
    import torch

    out = {}
    for key in batch[0]:
        values = [b[key] for b in batch]
        same = all(isinstance(v, torch.Tensor) for v in values) and len({tuple(v.shape) for v in values}) == 1
        out[key] = torch.stack(values) if (key in FIXED_FIELDS or key in ("color", "depth_m")) and same else values
    return out
