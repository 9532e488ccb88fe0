"""One sample of a synthesized DeepHuman training corpus (corpus schema v1, docs/format.md).

Layout conventions come from ``thuman_io.grid`` (H x W = 192 x 128 grid images, 2H x 2W =
384 x 256 refiner images, volumes (D, H, W) with depth index 0 nearest the camera).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class CorpusSample:
    """One view of one THuman item.

    rgb:             (2H, 2W, 3) uint8 colour image over the background (G takes it downsampled).
    semantic_map:    (2H, 2W, 3) float32 in [0, 1]: the posed body model's semantic code rendered
                     unlit (``thuman_io.body.semantic``); 0 where no body.
    normal_map:      (2H, 2W, 3) float32 unit normals of the clothed mesh in the view frame;
                     0 on the background.
    mask:            (2H, 2W) bool silhouette of the clothed mesh.
    occupancy:       (D, H, W) bool, inside of the clothed mesh.
    semantic_volume: (D, H, W, 3) float32 in [0, 1], the body model voxelized with the code of its
                     nearest surface points; 0 outside the body.
    item_to_view:    (4, 4) float64 similarity transform, item frame (metres) -> view frame
                     (normalised units); its scale is 1 / (metres per unit).
    smpl_full_pose / smpl_betas / smpl_transl: the item's body-model parameters (item frame).
    meta:            source item id, subject, pose index, view index, yaw/pitch/roll (rad),
                     light parameters, seed, body model name.
    """

    rgb: np.ndarray
    semantic_map: np.ndarray
    normal_map: np.ndarray
    mask: np.ndarray
    occupancy: np.ndarray
    semantic_volume: np.ndarray
    item_to_view: np.ndarray
    smpl_full_pose: np.ndarray
    smpl_betas: np.ndarray
    smpl_transl: np.ndarray
    meta: dict = field(default_factory=dict)
