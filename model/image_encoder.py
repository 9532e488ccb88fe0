"""G, the image feature encoder (paper sec. 4.1, Table 1 rows "G").

Input: the RGB image and the semantic map (or joint heat maps) concatenated, (B, C, H, W) at the
grid's image size (192 x 128). Output: the feature pyramid M_f^(k), k = 1..K, where M_f^(k) has
the (H, W) of H's level-k feature volume and the same channel count (8, 16, 32, 64, 128), which
is what VFT (eq. 2) needs.
"""
from __future__ import annotations

import torch
from torch import nn

from thuman.model.blocks import down


class ImageEncoder(nn.Module):
    """G: K x (conv 4 stride 2 + LeakyReLU)."""

    def __init__(self, in_channels: int, channels=(8, 16, 32, 64, 128), slope: float = 0.2,
                 norm: str = "none", kernel: int = 4):
        super().__init__()
        ins = (in_channels,) + tuple(channels[:-1])
        self.layers = nn.ModuleList(down(i, o, 2, slope, norm, kernel) for i, o in zip(ins, channels))

    def forward(self, image: torch.Tensor, record: list | None = None) -> list[torch.Tensor]:
        """image (B, C, H, W) -> [M_f^(1) (B, 8, H/2, W/2), ..., M_f^(K) (B, C_K, H/2^K, W/2^K)].

        record: optional list that receives (name, shape) of every layer's output.
        """
        maps = []
        x = image
        for i, layer in enumerate(self.layers):
            x = layer(x)
            maps.append(x)
            if record is not None:
                record.append((f"G.conv{i + 1}", tuple(x.shape)))
        return maps
