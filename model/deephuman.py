"""DeepHuman: G, H, projection and R put together as in Fig. 3 (paper sec. 4.1, Table 1).

    image     = [RGB, semantic map] at (H, W)       (the 2x inputs average-pooled by 2)
    M_f^(k)   = G(image)                            k = 1..K feature pyramid
    V_o       = sigmoid(H(V_s, M_f^(1..K)))         VFT in H's encoder (eq. 2)
    N         = upsample_2(project(V_o))            eqs. 3-6
    N_refined = R([RGB, semantic map, N])           at (2H, 2W)   (+ N with net.refiner_residual)

Inputs and outputs are channel-first float32 tensors laid out as in ``thuman_io.grid``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thuman.model.blocks import levels_for
from thuman.model.config import NetConfig
from thuman.model.image_encoder import ImageEncoder
from thuman.model.normal_refiner import NormalRefiner
from thuman.model.projection import project_normals
from thuman.model.vol2vol import Vol2Vol

#: Body-model joints of the joint heat map/volume baseline (SMPL's 24).
NUM_JOINTS = 24


@dataclass
class DeepHumanOutput:
    """occupancy_logits / occupancy: (B, 1, D, H, W); normal_projected: (B, 3, 2H, 2W) unit
    normals from V_o (0 on the background); normal_refined: (B, 3, 2H, 2W) R's output in
    [-1, 1], or None when the config has no refinement."""

    occupancy_logits: torch.Tensor
    occupancy: torch.Tensor
    normal_projected: torch.Tensor | None
    normal_refined: torch.Tensor | None


class DeepHuman(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        d, h, w = (int(s) for s in cfg.grid)
        levels = levels_for((d, h, w), cfg.levels)
        enc = tuple(cfg.encoder_channels)[:levels]
        self.levels = levels
        prior = 3 if cfg.representation == "semantic" else NUM_JOINTS
        self.G = ImageEncoder(3 + prior, enc, cfg.leaky_slope, cfg.norm, cfg.kernel)
        latent_from = (enc[-1], h // 2 ** levels, w // 2 ** levels)
        self.H = Vol2Vol(prior, enc, cfg.output_channels, cfg.vft, enc, cfg.leaky_slope,
                         latent_from=latent_from, latent_dim=cfg.latent_dim, norm=cfg.norm, kernel=cfg.kernel)
        self.R = None
        if cfg.refine_normals:
            r_levels = levels_for((2 * h, 2 * w), None)
            r_levels = min(r_levels, len(cfg.refiner_encoder_channels))
            # Drop the innermost levels when the image does not divide by 2^5: keep the outer ones.
            r_enc = tuple(cfg.refiner_encoder_channels)[:r_levels]
            r_dec = tuple(cfg.refiner_decoder_channels)[len(cfg.refiner_decoder_channels) - r_levels:]
            self.R = NormalRefiner(3 + prior + 3, r_enc, r_dec, cfg.leaky_slope, cfg.norm)

    # -- the pieces ---------------------------------------------------------------------------
    def occupancy_logits(self, rgb: torch.Tensor, prior_map: torch.Tensor, prior_volume: torch.Tensor,
                         record: list | None = None) -> torch.Tensor:
        """rgb (B, 3, 2H, 2W), prior_map (B, P, 2H, 2W), prior_volume (B, P, D, H, W) -> logits."""
        image = F.avg_pool2d(torch.cat([rgb, prior_map], dim=1), 2)
        maps = self.G(image, record)
        return self.H(prior_volume, maps, record)

    def refine(self, rgb: torch.Tensor, prior_map: torch.Tensor, normals: torch.Tensor,
               record: list | None = None) -> torch.Tensor:
        """R over [RGB, prior map, projected normals], all (B, ., 2H, 2W)."""
        return self.R(torch.cat([rgb, prior_map, normals], dim=1), record)

    def forward(self, rgb: torch.Tensor, prior_map: torch.Tensor, prior_volume: torch.Tensor,
                refiner_normals: torch.Tensor | None = None, record: list | None = None,
                parts: str = "all") -> DeepHumanOutput:
        """The full network.

        refiner_normals: normals to feed R instead of the projection of V_o (stage-1 pre-training
        of R uses the projection of the ground-truth occupancy, sec. 4.3); None = end to end.
        parts: 'all'; 'occupancy' (G and H only: no projection, no R); 'refiner' (G and H without
        gradients, R trained on the projection of their prediction). The last two are the first
        two phases of the authors' schedule (``train.schedule='authors'``).
        """
        if parts not in ("all", "occupancy", "refiner"):
            raise ValueError(f"parts {parts!r}")
        if parts == "refiner":
            with torch.no_grad():
                logits = self.occupancy_logits(rgb, prior_map, prior_volume, record)
        else:
            logits = self.occupancy_logits(rgb, prior_map, prior_volume, record)
        occupancy = torch.sigmoid(logits)
        projected = refined = None
        if self.R is not None and parts != "occupancy":
            projected = project_normals(occupancy)
            if record is not None:
                record.append(("projection", tuple(projected.shape)))
            source = projected if refiner_normals is None else refiner_normals
            refined = self.refine(rgb, prior_map, source, record)
            if self.cfg.refiner_residual:   # the authors' code: R predicts a correction
                refined = refined + source
        return DeepHumanOutput(logits, occupancy, projected, refined)

    def layer_shapes(self, batch_size: int = 1, device="cpu") -> list[tuple[str, tuple]]:
        """(name, output shape) of every layer of Table 1 for a zero input, without gradients."""
        d, h, w = (int(s) for s in self.cfg.grid)
        p = self.G.layers[0][0].in_channels - 3
        record: list = []
        with torch.no_grad():
            self.forward(torch.zeros(batch_size, 3, 2 * h, 2 * w, device=device),
                         torch.zeros(batch_size, p, 2 * h, 2 * w, device=device),
                         torch.zeros(batch_size, p, d, h, w, device=device), record=record)
        return record


def build_model(cfg: NetConfig) -> DeepHuman:
    return DeepHuman(cfg)
