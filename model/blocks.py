"""The two layer types of Table 1, in 2D (G, R) and 3D (H).

Every "conv+lrelu" of Table 1 has kernel 4, stride 2 and halves each spatial size (padding 1);
every "transconv+lrelu" doubles it. The authors' released code switches (``net.norm='batch'``,
``net.kernel=7``) add BatchNorm and widen the kernels while keeping the sizes. The tables's last layers (H: conv 3 + sigmoid, R: conv 3 +
tanh) are built where they are used.
"""
from __future__ import annotations

import torch
from torch import nn


def _norm(channels: int, dims: int, norm: str) -> list:
    """[] for 'none' (Table 1), [BatchNorm] for 'batch' (the authors' code)."""
    if norm == "none":
        return []
    return [(nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d)(channels)]


def down(in_channels: int, out_channels: int, dims: int, slope: float, norm: str = "none",
         kernel: int = 4) -> nn.Sequential:
    """conv(kernel 4 (or 7), stride 2, padding 1 (3)) [+ BatchNorm] + LeakyReLU:
    (B, Cin, S...) -> (B, Cout, S/2...) for even S."""
    conv = (nn.Conv2d if dims == 2 else nn.Conv3d)(in_channels, out_channels, kernel, 2, (kernel - 1) // 2)
    return nn.Sequential(conv, *_norm(out_channels, dims, norm), nn.LeakyReLU(slope, inplace=True))


def up(in_channels: int, out_channels: int, dims: int, slope: float, norm: str = "none",
       kernel: int = 4) -> nn.Sequential:
    """transconv(kernel 4 (or 7), stride 2, padding 1 (3, output padding 1)) [+ BatchNorm] +
    LeakyReLU: (B, Cin, S...) -> (B, Cout, 2S...)."""
    cls = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
    conv = cls(in_channels, out_channels, kernel, 2, (kernel - 1) // 2, output_padding=kernel % 2)
    return nn.Sequential(conv, *_norm(out_channels, dims, norm), nn.LeakyReLU(slope, inplace=True))


def levels_for(shape, wanted: int | None, maximum: int = 5) -> int:
    """Number of stride-2 levels for spatial ``shape``.

    ``wanted`` None means Table 1's 5 levels, reduced to the most levels every size divides by
    (32 x 48 x 32 -> 4 levels, bottleneck 2 x 3 x 2), so that the U-Net's skips line up without
    padding. An explicit ``wanted`` that does not divide is an error.
    """
    def divides(n):
        return all(s % (2 ** n) == 0 for s in shape)
    if wanted is not None:
        if wanted < 1 or not divides(wanted):
            raise ValueError(f"{wanted} levels do not divide the grid {tuple(shape)}; "
                             f"choose levels <= {levels_for(shape, None, 8)}")
        return wanted
    n = maximum
    while n > 1 and not divides(n):
        n -= 1
    if not divides(n):
        raise ValueError(f"grid {tuple(shape)} is not divisible by 2; use even sizes")
    return n


def decode_with_skips(decoder: nn.ModuleList, x: torch.Tensor, skips: list, record: list | None,
                      name: str) -> torch.Tensor:
    """The U-Net decoder of H and R (Table 1): each transposed-conv level after the first takes
    the previous output concatenated with the encoder output of the same resolution.

    x: the bottleneck (B, C, ...); skips: encoder outputs, finest first. ``record`` collects
    (f"{name}.transconv{k}", shape) per level for the Table 1 shape test.
    """
    for i, layer in enumerate(decoder):
        if i > 0:
            x = torch.cat([x, skips[-1 - i]], dim=1)
        x = layer(x)
        if record is not None:
            record.append((f"{name}.transconv{i + 1}", tuple(x.shape)))
    return x
