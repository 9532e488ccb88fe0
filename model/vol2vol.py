"""H, the image-guided volume-to-volume U-Net (paper sec. 4.1, Table 1 rows "H").

Encoder: K x (conv3d 4 stride 2 + LeakyReLU), each followed by VFT (eq. 2) with G's map of the
same level (all levels: the paper; finest only: baseline A; coarsest only: baseline B). Decoder:
K x (transconv3d 4 stride 2 + LeakyReLU), the input of each after the first being the previous
output concatenated with the encoder volume of the same size (U-Net skips, after VFT, so image
guidance reaches the decoder as sec. 4.1.1 says). Last: conv3d 3 + sigmoid -> occupancy.

Baseline C ('latent') performs no VFT: G's coarsest map becomes a latent vector (linear layer),
tiled over the bottleneck volume and concatenated to its channels before the decoder.

H returns logits; :class:`thuman.model.deephuman.DeepHuman` applies the sigmoid. The losses use
the logits so that log(sigmoid) stays finite (numerically the same eq. 7).
"""
from __future__ import annotations

import torch
from torch import nn

from thuman.model.blocks import decode_with_skips, down, up
from thuman.model.vft import VFTLayer


class Vol2Vol(nn.Module):
    def __init__(self, in_channels: int, encoder_channels=(8, 16, 32, 64, 128), output_channels: int = 4,
                 vft: str = "multi", image_channels=None, slope: float = 0.2,
                 latent_from: tuple | None = None, latent_dim: int = 256, norm: str = "none",
                 kernel: int = 4):
        """in_channels: semantic volume channels (3, or 24 joint heat volumes).
        image_channels: channels of G's maps per level (default: encoder_channels).
        latent_from: (C, H, W) of G's coarsest map, needed by vft='latent'.
        """
        super().__init__()
        enc = tuple(encoder_channels)
        k = len(enc)
        image_channels = tuple(image_channels or enc)
        self.vft_mode = vft
        self.encoder = nn.ModuleList(down(i, o, 3, slope, norm, kernel) for i, o in zip((in_channels,) + enc[:-1], enc))
        active = {"multi": range(k), "finest": [0], "coarsest": [k - 1], "latent": []}[vft]
        self.vft = nn.ModuleDict({str(i): VFTLayer(image_channels[i], enc[i], slope) for i in active})
        bottleneck = enc[-1]
        if vft == "latent":
            c, h, w = latent_from
            self.latent = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, latent_dim),
                                        nn.LeakyReLU(slope, inplace=True))
            bottleneck += latent_dim
        # Decoder outputs: the encoder channels in reverse, then Table 1's 4 output channels.
        outs = tuple(reversed(enc[:-1])) + (output_channels,)
        ins = (bottleneck,) + tuple(2 * c for c in outs[:-1])
        self.decoder = nn.ModuleList(up(i, o, 3, slope, norm, kernel) for i, o in zip(ins, outs))
        self.head = nn.Conv3d(output_channels, 1, 3, 1, 1)

    def forward(self, semantic_volume: torch.Tensor, image_maps: list[torch.Tensor],
                record: list | None = None) -> torch.Tensor:
        """semantic_volume (B, C, D, H, W), image_maps from G -> occupancy logits (B, 1, D, H, W).

        record: optional list that receives (name, shape) of every Table 1 layer's output.
        """
        skips = []
        x = semantic_volume
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            if record is not None:
                record.append((f"H.conv{i + 1}", tuple(x.shape)))
            if str(i) in self.vft:
                x = self.vft[str(i)](x, image_maps[i])
            skips.append(x)
        if self.vft_mode == "latent":
            code = self.latent(image_maps[-1])
            x = torch.cat([x, code[:, :, None, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        x = decode_with_skips(self.decoder, x, skips, record, "H")
        x = self.head(x)
        if record is not None:
            record.append(("H.conv_sigmoid", tuple(x.shape)))
        return x
