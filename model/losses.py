"""Losses of paper sec. 4.2 (eqs. 7-10).

Every term is a per-sample mean, then a mean over the batch, so that N processes with batch B/N
each (DistributedDataParallel averages their gradients) train exactly like one process with B.

Eq. 7's 1/|V_o| is read as the number of voxels (BodyNet's and Brock et al.'s weighted BCE are
means); eq. 8 prints ``S log S`` for its first term, the usual typo for ``S^ log S``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from thuman.model.config import LossConfig


def weighted_bce_logits(logits: torch.Tensor, target: torch.Tensor, gamma: float) -> torch.Tensor:
    """Eq. 7 per element: -(gamma t log s + (1 - gamma)(1 - t) log(1 - s)), s = sigmoid(logits)."""
    return -(gamma * target * F.logsigmoid(logits) + (1.0 - gamma) * (1.0 - target) * F.logsigmoid(-logits))


def _per_sample_mean(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).mean(dim=1)


def occupancy_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 0.7) -> torch.Tensor:
    """L_V (eq. 7). logits, target (B, 1, D, H, W) -> (B,)."""
    return _per_sample_mean(weighted_bce_logits(logits, target, gamma))


def silhouette_loss(logits: torch.Tensor, target_occupancy: torch.Tensor, view: str) -> torch.Tensor:
    """L_FS / L_SS (eq. 8): BCE between the silhouette re-projection of V_o and the ground truth.

    S = max over the viewing axis of V_o (orthographic projection, [64]); max commutes with the
    sigmoid, so it is taken on the logits. view 'front' projects along depth (axis D -> (H, W)),
    'side' along x (axis W -> (D, H)). The ground truth is the same projection of the target.
    Returns (B,).
    """
    axis = {"front": 2, "side": 4}[view]
    s_logits = logits.amax(dim=axis)
    s_target = target_occupancy.amax(dim=axis)
    return _per_sample_mean(F.binary_cross_entropy_with_logits(s_logits, s_target, reduction="none"))


def normal_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """L_N (eq. 9): mean over foreground pixels of 1 - cos(N, N^).

    pred, target (B, 3, 2H, 2W); mask (B, 1, 2H, 2W) in {0, 1}: the ground-truth silhouette (the
    background has no normal). Returns (B,); a sample without foreground contributes 0.
    """
    cos = (pred * target).sum(dim=1, keepdim=True) / (pred.norm(dim=1, keepdim=True) * target.norm(dim=1, keepdim=True) + eps)
    return ((1.0 - cos) * mask).flatten(1).sum(dim=1) / mask.flatten(1).sum(dim=1).clamp_min(1.0)


@dataclass
class LossTerms:
    """Batch means of each term and the combined loss of eq. 10 (scalars)."""

    total: torch.Tensor
    occupancy: torch.Tensor
    front_silhouette: torch.Tensor
    side_silhouette: torch.Tensor
    normal: torch.Tensor | None

    def as_floats(self) -> dict[str, float]:
        out = {"loss/total": self.total, "loss/occupancy": self.occupancy,
               "loss/front_silhouette": self.front_silhouette, "loss/side_silhouette": self.side_silhouette}
        if self.normal is not None:
            out["loss/normal"] = self.normal
        return {k: float(v.detach()) for k, v in out.items()}


def deephuman_loss(output, occupancy: torch.Tensor, normal_map: torch.Tensor, mask: torch.Tensor,
                   cfg: LossConfig) -> LossTerms:
    """Eq. 10: L = L_V + lambda_FS L_FS + lambda_SS L_SS + lambda_N L_N.

    output: DeepHumanOutput; occupancy (B, 1, D, H, W), normal_map (B, 3, 2H, 2W), mask (B, 1, 2H, 2W).
    """
    logits = output.occupancy_logits.float()
    lv = occupancy_loss(logits, occupancy, cfg.gamma).mean()
    lfs = silhouette_loss(logits, occupancy, "front").mean()
    lss = silhouette_loss(logits, occupancy, "side").mean()
    total = lv + cfg.lambda_fs * lfs + cfg.lambda_ss * lss
    ln = None
    if output.normal_refined is not None:
        ln = normal_loss(output.normal_refined.float(), normal_map, mask).mean()
        total = total + cfg.lambda_n * ln
    return LossTerms(total, lv, lfs, lss, ln)
