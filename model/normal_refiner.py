"""R, the normal refinement U-Net (paper sec. 4.1, Table 1 rows "R").

Input at (2H, 2W) = 384 x 256: RGB image, semantic map (or joint heat maps) and the projected
normal map upsampled by 2, concatenated. Encoder 5 x (conv 4 stride 2 + LeakyReLU) with channels
16, 32, 32, 32, 32; decoder 5 x (transconv 4 stride 2 + LeakyReLU) with 32, 32, 32, 16, 8, each
after the first fed with the encoder map of the same size concatenated (U-Net skips); last conv 3
+ tanh -> 3 channels, the refined normal map (normalised where it is used).
"""
from __future__ import annotations

import torch
from torch import nn

from thuman.model.blocks import decode_with_skips, down, up


class NormalRefiner(nn.Module):
    def __init__(self, in_channels: int, encoder_channels=(16, 32, 32, 32, 32),
                 decoder_channels=(32, 32, 32, 16, 8), slope: float = 0.2, norm: str = "none"):
        super().__init__()
        enc, dec = tuple(encoder_channels), tuple(decoder_channels)
        if len(enc) != len(dec):
            raise ValueError("R needs as many decoder as encoder levels")
        self.encoder = nn.ModuleList(down(i, o, 2, slope, norm) for i, o in zip((in_channels,) + enc[:-1], enc))
        skips = tuple(reversed(enc[:-1]))
        ins = (enc[-1],) + tuple(d + s for d, s in zip(dec[:-1], skips))
        self.decoder = nn.ModuleList(up(i, o, 2, slope, norm) for i, o in zip(ins, dec))
        self.head = nn.Sequential(nn.Conv2d(dec[-1], 3, 3, 1, 1), nn.Tanh())

    def forward(self, x: torch.Tensor, record: list | None = None) -> torch.Tensor:
        """x (B, Cin, 2H, 2W) -> refined normals (B, 3, 2H, 2W) in [-1, 1] (not unit length).

        record: optional list that receives (name, shape) of every Table 1 layer's output.
        """
        skips = []
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            skips.append(x)
            if record is not None:
                record.append((f"R.conv{i + 1}", tuple(x.shape)))
        x = decode_with_skips(self.decoder, x, skips, record, "R")
        x = self.head(x)
        if record is not None:
            record.append(("R.conv_tanh", tuple(x.shape)))
        return x
