"""Joint heat maps and heat volumes: the input of the Table 3 ablation (BodyNet's representation).

Each of the 24 SMPL joints becomes one channel holding a Gaussian with fixed std (in voxels)
centred at the joint: in 3D over the grid's voxel centres (heat volume) and in 2D over the pixel
centres of the 2x image (heat map, the orthographic projection along z). Built in torch on the
training device from the joints' grid indices (:func:`heat_volumes`, :func:`heat_maps`). Joints come from the
sample's body-model parameters posed by ``thuman_io.body`` and mapped by ``item_to_view``.
"""
from __future__ import annotations

import numpy as np
import torch

from thuman_io.grid import VolumeGrid


def _gauss(coords: torch.Tensor, centres: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """(B, J, N) exp(-(c - mu)^2 / 2 sigma^2): coords (N,), centres (B, J), sigma (B,)."""
    s = sigma.reshape(-1, 1, 1)
    return torch.exp(-((coords[None, None, :] - centres[..., None]) ** 2) / (2.0 * s * s))


def heat_volumes(joint_index: torch.Tensor, shape, sigma_voxels: torch.Tensor) -> torch.Tensor:
    """joint_index (B, J, 3) continuous (k, row, col) grid indices (``VolumeGrid.view_to_index``),
    shape (D, H, W), sigma_voxels (B,) -> (B, J, D, H, W) heat volumes on joint_index's device."""
    d, h, w = (int(x) for x in shape)
    dev, dt = joint_index.device, joint_index.dtype
    sigma = sigma_voxels.to(dev, dt)
    gk = _gauss(torch.arange(d, device=dev, dtype=dt) + 0.5, joint_index[..., 0], sigma)
    gr = _gauss(torch.arange(h, device=dev, dtype=dt) + 0.5, joint_index[..., 1], sigma)
    gc = _gauss(torch.arange(w, device=dev, dtype=dt) + 0.5, joint_index[..., 2], sigma)
    return gk[..., :, None, None] * gr[..., None, :, None] * gc[..., None, None, :]


def heat_maps(joint_index: torch.Tensor, image_shape, sigma_voxels: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """joint_index (B, J, 3) grid indices, image_shape (H, W) of the grid -> (B, J, sH, sW) heat
    maps at ``scale`` x the grid image (the orthographic projection along depth)."""
    h, w = (int(x) for x in image_shape)
    dev, dt = joint_index.device, joint_index.dtype
    sigma = sigma_voxels.to(dev, dt) * scale
    gr = _gauss(torch.arange(h * scale, device=dev, dtype=dt) + 0.5, joint_index[..., 1] * scale, sigma)
    gc = _gauss(torch.arange(w * scale, device=dev, dtype=dt) + 0.5, joint_index[..., 2] * scale, sigma)
    return gr[..., :, None] * gc[..., None, :]


def joint_heat_volume(joints_view: np.ndarray, grid: VolumeGrid, sigma_voxels: float = 2.0) -> np.ndarray:
    """joints_view (J, 3) view frame, normalised units -> (J, D, H, W) float32 in [0, 1]."""
    idx = torch.from_numpy(grid.view_to_index(joints_view)[None].astype(np.float32))
    return heat_volumes(idx, grid.shape, torch.tensor([sigma_voxels]))[0].numpy()


def joint_heat_map(joints_view: np.ndarray, grid: VolumeGrid, sigma_voxels: float = 2.0, scale: int = 2) -> np.ndarray:
    """joints_view (J, 3) -> (J, sH, sW) float32 heat maps at ``scale`` x the grid image."""
    idx = torch.from_numpy(grid.view_to_index(joints_view)[None].astype(np.float32))
    return heat_maps(idx, grid.image_shape, torch.tensor([sigma_voxels]), scale)[0].numpy()


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
    """Wraps a TorchCorpusDataset, adding 'joint_index' (24, 3) float32 grid indices of the joints
    and 'joint_sigma' (the Gaussians' std in voxels) to every item (``net.representation =
    'joints'``). The heat maps and volumes themselves are built on the training device from
    these (``data.prior_inputs``): at the paper's grid a sample's 24 heat volumes are 302 MB of
    float32, which the loader would otherwise build and copy per item."""

    def __init__(self, base, sigma_voxels: float = 2.0):
        self.base = base
        self.grid = base.grid
        self.sigma = sigma_voxels

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, j: int) -> dict:
        item = self.base[j]
        joints = sample_joints_view(self.base.corpus, int(item["index"]))
        item["joint_index"] = torch.from_numpy(self.grid.view_to_index(joints).astype(np.float32))
        item["joint_sigma"] = torch.tensor(float(self.sigma))
        return item
