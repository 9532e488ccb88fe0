"""Backgrounds behind the rendered person: procedural by default, or images from a folder.

SURREAL and DeepHuman composited renders over LSUN photographs; ``--backgrounds DIR`` does that
with any folder of images. The procedural default (gradient, low-frequency colour noise and a few
rectangles) needs no data. Pure functions of a numpy Generator.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thuman_io.errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def procedural_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(height, width, 3) float32 in [0, 1]: a random gradient + smooth colour noise + rectangles."""
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    a, b = rng.uniform(0, 1, (2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.float32(np.cos(angle)) * xx + np.float32(np.sin(angle)) * yy
    t = ((t - t.min()) / max(float(np.ptp(t)), 1e-9))[..., None]
    img = a * (1 - t) + b * t
    coarse = rng.normal(0, 0.12, (6, 4, 3))
    # smooth low-frequency colour noise: separable linear interpolation of a 6 x 4 lattice
    img += np.einsum("hbc,wb->hwc", np.tensordot(_hat(height, 6), coarse, 1), _hat(width, 4)).astype(np.float32)
    for _ in range(rng.integers(2, 6)):
        r0, c0 = rng.integers(0, height), rng.integers(0, width)
        r1, c1 = r0 + rng.integers(height // 10, height // 2), c0 + rng.integers(width // 10, width // 2)
        img[r0:r1, c0:c1] = 0.5 * img[r0:r1, c0:c1] + 0.5 * rng.uniform(0, 1, 3)
    return np.clip(img, 0, 1, out=img)


def list_backgrounds(folder: str | os.PathLike) -> list[Path]:
    """Sorted image files of a folder; InputError if none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "--backgrounds must be a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(folder, f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in the backgrounds folder")
    return files


def image_background(rng: np.random.Generator, files: list[Path], height: int, width: int) -> np.ndarray:
    """A random crop of a random image, resized to (height, width, 3) float32 in [0, 1]."""
    from PIL import Image

    path = files[int(rng.integers(len(files)))]
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w0, h0 = im.size
            aspect = width / height
            ch = int(min(h0, w0 / aspect) * rng.uniform(0.5, 1.0))
            cw = int(ch * aspect)
            top, left = int(rng.integers(0, h0 - ch + 1)), int(rng.integers(0, w0 - cw + 1))
            im = im.crop((left, top, left + cw, top + ch)).resize((width, height), Image.BILINEAR)
            return np.asarray(im, dtype=np.float32) / 255.0
    except OSError as e:
        raise InputError(path, f"cannot read background image ({e})")


def _hat(n: int, m: int) -> np.ndarray:
    """(n, m) linear-interpolation weights from m lattice points to n samples spanning them."""
    t = np.linspace(0, m - 1, n)[:, None]
    return np.maximum(0.0, 1.0 - np.abs(t - np.arange(m)[None, :]))
