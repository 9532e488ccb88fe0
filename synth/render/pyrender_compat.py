"""The one place that makes pyrender 0.1.45 (last release 2021) work under numpy 2 and headless.

Import this module instead of ``pyrender`` anywhere in the toolkit::

    from thuman.synth.render.pyrender_compat import pyrender

It sets ``PYOPENGL_PLATFORM=egl`` unless the caller chose a platform (offscreen rendering on
Mesa's CPU driver here, and on a GPU), and restores ``np.infty``, which numpy 2 removed and
pyrender uses in ``Mesh.bounds`` and ``Scene.bounds``.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

if not hasattr(np, "infty"):
    np.infty = np.inf  # removed in numpy 2.0; pyrender/mesh.py and scene.py still use it

import pyrender  # noqa: E402



@contextlib.contextmanager
def single_sampled_framebuffers():
    """Within the block, pyrender allocates its main framebuffer with one sample per pixel.

    Wrap ``super()._configure_main_framebuffer()`` in a ``pyrender.renderer.Renderer`` subclass:
    pyrender asks for 4x multisampling, whose depth read-back comes from sample 0 (off the pixel
    centre) and which costs more than 2x2 supersampling on a CPU rasteriser.
    """
    import pyrender.renderer as prr

    original = prr.glRenderbufferStorageMultisample
    prr.glRenderbufferStorageMultisample = lambda target, samples, fmt, w, h: original(target, 0, fmt, w, h)
    try:
        yield
    finally:
        prr.glRenderbufferStorageMultisample = original


__all__ = ["pyrender", "single_sampled_framebuffers"]
