"""Volumetric feature transformation (paper sec. 4.1.1, eq. 2).

SFT (eq. 1) modulates a feature map F as alpha * F + beta with (alpha, beta) predicted from a
prior. VFT applies the same 2D modulation to every z-slice of a feature volume:

    VFT(V_f^(k)(z_i)) = alpha_k * V_f^(k)(z_i) + beta_k,  i = 1..Z          (eq. 2)

In torch layout a volume is (B, C, D, H, W) and a map (B, C, H, W), so "every z-slice" is a
broadcast over D.
"""
from __future__ import annotations

import torch
from torch import nn


def volumetric_feature_transform(volume: torch.Tensor, alpha: torch.Tensor,
                                 beta: torch.Tensor) -> torch.Tensor:
    """Eq. 2. volume (B, C, D, H, W); alpha, beta (B, C, H, W) -> (B, C, D, H, W)."""
    if alpha.shape[-2:] != volume.shape[-2:] or alpha.shape[:2] != volume.shape[:2]:
        raise ValueError(f"VFT needs maps (B, C, H, W) matching the volume's (B, C, ., H, W): "
                         f"volume {tuple(volume.shape)}, alpha {tuple(alpha.shape)}")
    return alpha.unsqueeze(2) * volume + beta.unsqueeze(2)


class VFTLayer(nn.Module):
    """Maps G's level-k feature map to (alpha_k, beta_k) "through convolution + activation".

    Following SFT-GAN (the paper's ref. [68]) each of alpha and beta comes from conv 1x1 +
    LeakyReLU + conv 1x1, and alpha is predicted as 1 + scale so that an untrained layer starts
    near the identity and the semantic volume passes through unchanged.
    """

    def __init__(self, map_channels: int, volume_channels: int, slope: float = 0.2):
        super().__init__()

        def branch():
            return nn.Sequential(nn.Conv2d(map_channels, volume_channels, 1),
                                 nn.LeakyReLU(slope, inplace=True),
                                 nn.Conv2d(volume_channels, volume_channels, 1))
        self.scale = branch()
        self.shift = branch()

    def forward(self, volume: torch.Tensor, feature_map: torch.Tensor) -> torch.Tensor:
        """volume (B, C, D, H, W), feature_map (B, Cm, H, W) -> (B, C, D, H, W)."""
        return volumetric_feature_transform(volume, 1.0 + self.scale(feature_map), self.shift(feature_map))
