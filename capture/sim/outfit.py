"""What a simulated subject wears and how it is drawn from a seed: the garment set, colours,
patterns and looseness (:func:`sample_outfit`), and the body shape (:func:`sample_betas`).

Two wardrobes. 'basic' (the default, what every capture test and figure was measured with):
fitted shirts, trousers or shorts, skirts and dresses, short or long hair. 'thuman': what the
THuman scans show, garments that stand off the body: short and long skirts and dresses, open and
closed jackets and coats, hoodies, wide trousers, loose shirts, hair short, long or tied, shoes;
prints, stripes and checks; the same skin tones. Both are deterministic per seed (one Generator,
a fixed sequence of draws); :func:`garment_class` names the garment that stands off the body most.
"""
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
    hair: 'short', 'long' or 'tied'. pattern: 'stripes', 'checks', 'print' or 'plain'.
    outer: None, 'jacket' (to the hips), 'coat' (to the knees, flared below the hips) or 'hoodie'
    (to the hips, with a hood lying on the back), with long sleeves; outer_open: the front hangs
    open (jackets and coats); outer_loose: its offset from the body (metres).
    trousers_wide: extra offset of the trousers growing from the hips to the hem (metres).
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
    outer: Optional[str] = None
    outer_open: bool = False
    outer_loose: float = 0.04
    outer_color: np.ndarray = field(default_factory=lambda: np.array([90, 80, 70], np.uint8))
    outer_pattern: str = "plain"
    trousers_wide: float = 0.0

    def garments(self) -> list[str]:
        g = ["dress" if self.dress else ("loose shirt" if self.shirt_loose > LOOSE_SHIRT_M else "shirt")]
        if self.trousers:
            g.append("shorts" if self.trousers == "shorts" else
                     ("wide trousers" if self.trousers_wide > WIDE_TROUSERS_M else "trousers"))
        if self.skirt_length is not None and not self.dress:
            g.append("skirt")
        if self.outer is not None:
            g.append(self.outer if self.outer == "hoodie" else f"{'open' if self.outer_open else 'closed'} {self.outer}")
        return g + [f"{self.hair} hair", "shoes"]


#: A shirt looser than this at the hem (metres) is a loose shirt; trousers wider, wide trousers.
LOOSE_SHIRT_M = 0.06
WIDE_TROUSERS_M = 0.03
WARDROBES = ("basic", "thuman")
#: Garment classes of :func:`garment_class`, from the one standing off the body most.
GARMENT_CLASSES = ("long dress or skirt", "coat", "short dress or skirt", "jacket", "hoodie", "wide trousers",
                   "loose shirt", "fitted")


def garment_class(o: Outfit) -> str:
    """The outfit's garment that stands off the body most (one of :data:`GARMENT_CLASSES`)."""
    if o.skirt_length is not None and o.skirt_length >= 0.5:
        return "long dress or skirt"
    if o.outer == "coat":
        return "coat"
    if o.skirt_length is not None:
        return "short dress or skirt"
    if o.outer in ("jacket", "hoodie"):
        return o.outer
    if o.trousers == "long" and o.trousers_wide > WIDE_TROUSERS_M:
        return "wide trousers"
    if o.shirt_loose > LOOSE_SHIRT_M:
        return "loose shirt"
    return "fitted"


_SKIN_TONES = [(241, 194, 160), (224, 172, 140), (198, 134, 96), (160, 106, 72), (110, 72, 50)]
_HAIR_COLORS = [(25, 20, 18), (60, 40, 25), (110, 75, 40), (170, 130, 80), (120, 120, 118)]
_CLOTH = [(40, 90, 160), (200, 60, 50), (60, 130, 70), (230, 200, 80), (240, 240, 235), (120, 70, 140),
          (50, 55, 70), (180, 120, 60), (90, 150, 170), (150, 40, 60), (30, 30, 35), (200, 200, 190)]


def sample_betas(rng: np.random.Generator, num_betas: int = 10, scale: float = 0.8) -> np.ndarray:
    """Shape coefficients of a plausible adult: N(0, scale^2) clipped to +-2."""
    return np.clip(rng.normal(0.0, scale, num_betas), -2.0, 2.0).astype(np.float32)


def sample_outfit(rng: np.random.Generator, wardrobe: str = "basic") -> Outfit:
    """A random outfit from ``wardrobe`` (module doc): 'basic' draws shirt + trousers, shirt +
    shorts, shirt + skirt or a dress, hair and colours exactly as it always did; 'thuman' adds
    the loose garments."""
    if wardrobe == "thuman":
        return _sample_thuman_outfit(rng)
    if wardrobe != "basic":
        raise ValueError(f"wardrobe {wardrobe!r}: use one of {', '.join(WARDROBES)}")
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


def _sample_thuman_outfit(rng: np.random.Generator) -> Outfit:
    """The 'thuman' wardrobe: every draw is made whatever the outcome, so the sequence is fixed."""
    kind = str(rng.choice(["trousers", "wide trousers", "shorts", "skirt", "dress"], p=[0.3, 0.2, 0.1, 0.2, 0.2]))
    outer = rng.choice(["none", "jacket", "coat", "hoodie"], p=[0.35, 0.25, 0.2, 0.2])
    cols = rng.choice(len(_CLOTH), 4, replace=False)
    patterns = ["plain", "stripes", "checks", "print"]
    loose_shirt = rng.uniform() < 0.4
    o = Outfit(sleeve=float(rng.choice([0.0, 0.35, 0.5, 1.0])),
               shirt_loose=float(rng.uniform(0.07, 0.10) if loose_shirt else rng.uniform(0.01, 0.05)),
               shirt_color=np.array(_CLOTH[cols[0]], np.uint8), shirt_pattern=str(rng.choice(patterns)),
               trousers_color=np.array(_CLOTH[cols[1]], np.uint8), skirt_color=np.array(_CLOTH[cols[2]], np.uint8),
               skirt_pattern=str(rng.choice(patterns)), skirt_flare=float(rng.uniform(0.2, 0.6)),
               hair=str(rng.choice(["short", "long", "tied"])),
               hair_color=np.array(_HAIR_COLORS[rng.integers(len(_HAIR_COLORS))], np.uint8),
               skin_color=np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], np.uint8),
               outer_color=np.array(_CLOTH[cols[3]], np.uint8), outer_pattern=str(rng.choice(patterns)),
               outer_open=bool(rng.uniform() < 0.5), outer_loose=float(rng.uniform(0.03, 0.06)))
    wide = float(rng.uniform(0.04, 0.08))
    length = float(rng.uniform(0.15, 0.95))       # short (above the knee) to long (to the ankle)
    o.trousers = {"trousers": "long", "wide trousers": "long", "shorts": "shorts"}.get(kind)
    o.trousers_wide = wide if kind == "wide trousers" else 0.0
    if kind in ("skirt", "dress"):
        o.skirt_length = length
    if kind == "dress":
        o.dress, o.skirt_color, o.skirt_pattern = True, o.shirt_color, o.shirt_pattern
    o.outer = None if outer == "none" or (kind == "dress" and outer == "hoodie") else str(outer)
    if o.outer == "hoodie":
        o.outer_open = False
    return o
