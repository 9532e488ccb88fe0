"""Joint heat maps and heat volumes: the input of the Table 3 ablation (BodyNet's representation).

Each of the 24 SMPL joints becomes one channel holding a Gaussian with fixed std (in voxels)
centred at the joint: in 3D over the grid's voxel centres (heat volume) and in 2D over the pixel
centres of the 2x image (heat map, the orthographic projection along z). Joints come from the
sample's body-model parameters posed by ``thuman_io.body`` and mapped by ``item_to_view``.
"""
from __future__ import annotations

import numpy as np
import torch

from thuman_io.grid import VolumeGrid


def _gauss(coords: np.ndarray, centres: np.ndarray, sigma: float) -> np.ndarray:
    """(J, N) separable Gaussian factor exp(-(c - mu)^2 / 2 sigma^2)."""
    return np.exp(-((coords[None, :] - centres[:, None]) ** 2) / (2.0 * sigma * sigma))


def joint_heat_volume(joints_view: np.ndarray, grid: VolumeGrid, sigma_voxels: float = 2.0) -> np.ndarray:
    """joints_view (J, 3) view frame, normalised units -> (J, D, H, W) float32 in [0, 1]."""
    idx = grid.view_to_index(joints_view)              # (J, 3) continuous (k, row, col)
    d, h, w = grid.shape
    gk = _gauss(np.arange(d) + 0.5, idx[:, 0], sigma_voxels)
    gr = _gauss(np.arange(h) + 0.5, idx[:, 1], sigma_voxels)
    gc = _gauss(np.arange(w) + 0.5, idx[:, 2], sigma_voxels)
    return np.einsum("jd,jh,jw->jdhw", gk, gr, gc).astype(np.float32)


def joint_heat_map(joints_view: np.ndarray, grid: VolumeGrid, sigma_voxels: float = 2.0, scale: int = 2) -> np.ndarray:
    """joints_view (J, 3) -> (J, sH, sW) float32 heat maps at ``scale`` x the grid image."""
    idx = grid.view_to_index(joints_view) * scale
    s = sigma_voxels * scale
    gr = _gauss(np.arange(grid.height * scale) + 0.5, idx[:, 1], s)
    gc = _gauss(np.arange(grid.width * scale) + 0.5, idx[:, 2], s)
    return np.einsum("jh,jw->jhw", gr, gc).astype(np.float32)


def sample_joints_view(corpus, index: int) -> np.ndarray:
    """(24, 3) joints of corpus sample ``index`` in its view frame (normalised units)."""
    from thuman_io.body import cached_body_model

    raw = corpus.read_raw(index, ["smpl_full_pose", "smpl_betas", "smpl_transl", "item_to_view"])
    name = str(corpus.meta(index).get("body_model", "open"))
    out = cached_body_model(name).pose_one(raw["smpl_betas"], raw["smpl_full_pose"], raw["smpl_transl"])
    j = np.asarray(out.joints[0], np.float64)
    m = raw["item_to_view"]
    return j @ m[:3, :3].T + m[:3, 3]


class JointHeatmapDataset:
    """Wraps a TorchCorpusDataset, adding 'joint_heat_map' (24, 2H, 2W) and 'joint_heat_volume'
    (24, D, H, W) to every item (``net.representation = 'joints'``)."""

    def __init__(self, base, sigma_voxels: float = 2.0):
        self.base = base
        self.grid = base.grid
        self.sigma = sigma_voxels

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, j: int) -> dict:
        item = self.base[j]
        joints = sample_joints_view(self.base.corpus, int(item["index"]))
        item["joint_heat_map"] = torch.from_numpy(joint_heat_map(joints, self.grid, self.sigma))
        item["joint_heat_volume"] = torch.from_numpy(joint_heat_volume(joints, self.grid, self.sigma))
        return item
