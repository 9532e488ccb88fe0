"""What a simulated subject wears and how it is drawn from a seed: the garment set, colours,
patterns and looseness (:func:`sample_outfit`), and the body shape (:func:`sample_betas`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class Outfit:
    """What a subject wears. Lengths in metres; colours (3,) uint8 RGB.

    sleeve: 0 = sleeveless ... 1 = to the wrist. shirt_loose: extra offset at the hem.
    trousers: None, 'long' or 'shorts'. skirt_length: None or the hem's drop below the hips as a
    fraction of the hip-to-ankle length (dress: a skirt whose top is the shirt, same colour).
    hair: 'short' or 'long'. pattern: 'stripes', 'checks' or 'plain' (shirt and skirt).
    """

    sleeve: float = 0.5
    shirt_loose: float = 0.04
    shirt_color: np.ndarray = field(default_factory=lambda: np.array([40, 90, 160], np.uint8))
    shirt_pattern: str = "stripes"
    trousers: Optional[str] = "long"
    trousers_color: np.ndarray = field(default_factory=lambda: np.array([50, 55, 70], np.uint8))
    skirt_length: Optional[float] = None
    skirt_flare: float = 0.25
    skirt_color: np.ndarray = field(default_factory=lambda: np.array([150, 40, 60], np.uint8))
    skirt_pattern: str = "plain"
    dress: bool = False
    hair: str = "short"
    hair_color: np.ndarray = field(default_factory=lambda: np.array([60, 40, 25], np.uint8))
    skin_color: np.ndarray = field(default_factory=lambda: np.array([224, 172, 140], np.uint8))
    shoes_color: np.ndarray = field(default_factory=lambda: np.array([30, 30, 30], np.uint8))

    def garments(self) -> list[str]:
        g = ["dress" if self.dress else "shirt"]
        if self.trousers:
            g.append("shorts" if self.trousers == "shorts" else "trousers")
        if self.skirt_length is not None and not self.dress:
            g.append("skirt")
        return g + [f"{self.hair} hair", "shoes"]


_SKIN_TONES = [(241, 194, 160), (224, 172, 140), (198, 134, 96), (160, 106, 72), (110, 72, 50)]
_HAIR_COLORS = [(25, 20, 18), (60, 40, 25), (110, 75, 40), (170, 130, 80), (120, 120, 118)]
_CLOTH = [(40, 90, 160), (200, 60, 50), (60, 130, 70), (230, 200, 80), (240, 240, 235), (120, 70, 140),
          (50, 55, 70), (180, 120, 60), (90, 150, 170), (150, 40, 60), (30, 30, 35), (200, 200, 190)]


def sample_betas(rng: np.random.Generator, num_betas: int = 10, scale: float = 0.8) -> np.ndarray:
    """Shape coefficients of a plausible adult: N(0, scale^2) clipped to +-2."""
    return np.clip(rng.normal(0.0, scale, num_betas), -2.0, 2.0).astype(np.float32)


def sample_outfit(rng: np.random.Generator) -> Outfit:
    """A random outfit: shirt + trousers, shirt + shorts, shirt + skirt, or a dress; hair; colours."""
    kind = rng.choice(["trousers", "shorts", "skirt", "dress"], p=[0.4, 0.15, 0.2, 0.25])
    cols = rng.choice(len(_CLOTH), 3, replace=False)
    o = Outfit(sleeve=float(rng.choice([0.0, 0.35, 0.5, 1.0])), shirt_loose=float(rng.uniform(0.01, 0.06)),
               shirt_color=np.array(_CLOTH[cols[0]], np.uint8), shirt_pattern=str(rng.choice(["stripes", "plain", "checks"])),
               trousers_color=np.array(_CLOTH[cols[1]], np.uint8), skirt_color=np.array(_CLOTH[cols[2]], np.uint8),
               skirt_pattern=str(rng.choice(["plain", "checks", "stripes"])), skirt_flare=float(rng.uniform(0.15, 0.45)),
               hair=str(rng.choice(["short", "long"])),
               hair_color=np.array(_HAIR_COLORS[rng.integers(len(_HAIR_COLORS))], np.uint8),
               skin_color=np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], np.uint8))
    o.trousers = {"trousers": "long", "shorts": "shorts"}.get(kind)
    if kind in ("skirt", "dress"):
        o.skirt_length = float(rng.uniform(0.3, 0.7))
    if kind == "dress":
        o.dress, o.skirt_color, o.skirt_pattern = True, o.shirt_color, o.shirt_pattern
    return o
