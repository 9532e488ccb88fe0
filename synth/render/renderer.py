"""Orthographic, unlit rendering passes that match the voxel grid exactly (pyrender, EGL).

The camera looks along -z of the view frame; its image covers the grid's box, so pixel (row, col)
of an ``s * H`` x ``s * W`` image is the column of voxel (row // s, col // s) (thuman_io.grid).
Every pass is *flat* (no lighting in the shader): colour = vertex colour x texture. Shading is
baked into vertex colours by :mod:`thuman.synth.render.lighting`, so RGB, semantic map and normal
map passes are one code path. Passes render with pyrender's 4x multisampling and a transparent
background; :meth:`OrthoRenderer.flat_pass` divides by the coverage so edge pixels keep their
true colour (a normal stays a unit normal) and returns the coverage as alpha.
"""
from __future__ import annotations

import numpy as np

from thuman_io.grid import VolumeGrid


#: The process-wide offscreen renderer of every OrthoRenderer (resized per pass, never deleted).
_SHARED_RENDERER = None


class OrthoRenderer:
    """Offscreen orthographic renderer for one grid. Create one per process and reuse it.

    The EGL context is created on the first pass, so an instance can be built before a fork.
    """

    def __init__(self, grid: VolumeGrid):
        self.grid = grid
        self._renderer = None

    def _get(self, h: int, w: int):
        global _SHARED_RENDERER
        from thuman.synth.render.pyrender_compat import pyrender

        if _SHARED_RENDERER is None:
            _SHARED_RENDERER = pyrender.OffscreenRenderer(w, h)
        r = _SHARED_RENDERER
        if (r.viewport_height, r.viewport_width) != (h, w):
            r.viewport_width, r.viewport_height = w, h
        self._renderer = r
        return r

    def _camera(self):
        from thuman.synth.render.pyrender_compat import pyrender

        hx, hy, hz = self.grid.half_extent
        # near/far planes well outside the box so nothing inside it is clipped
        cam = pyrender.OrthographicCamera(xmag=hx, ymag=hy, znear=0.05, zfar=4 * hz + 1.0)
        pose = np.eye(4)
        pose[2, 3] = 2 * hz + 0.5
        return cam, pose

    def flat_pass(self, vertices_view: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None,
                  uv: np.ndarray | None = None, texture: np.ndarray | None = None,
                  scale: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Render a mesh unlit.

        vertices_view: (V, 3) float, view frame, normalised units.
        faces:         (F, 3) int.
        colors:        (V, 3) float in [0, 1] per-vertex colour (multiplies the texture), or None.
        uv, texture:   (V, 2) float [0, 1] (origin bottom-left) and (Ht, Wt, 3) uint8, or None.
        scale:         image size is scale * (H, W) of the grid.
        Returns (colour (sH, sW, 3) float32 in [0, 1], divided by coverage; alpha (sH, sW) float32
        coverage in [0, 1]).
        """
        from thuman.synth.render.pyrender_compat import pyrender

        h, w = self.grid.height * scale, self.grid.width * scale
        v = np.ascontiguousarray(vertices_view, dtype=np.float32)
        kwargs = {}
        if colors is not None:
            c = np.ones((len(v), 4), dtype=np.float32)
            c[:, :3] = np.clip(colors, 0.0, 1.0)
            kwargs["color_0"] = c
        material = pyrender.MetallicRoughnessMaterial(baseColorFactor=[1.0, 1.0, 1.0, 1.0],
                                                      doubleSided=True)
        if texture is not None and uv is not None:
            material.baseColorTexture = pyrender.Texture(source=np.ascontiguousarray(texture, np.uint8),
                                                         source_channels="RGB")
            kwargs["texcoord_0"] = np.ascontiguousarray(uv, dtype=np.float32)
        prim = pyrender.Primitive(positions=v, indices=np.ascontiguousarray(faces, dtype=np.uint32),
                                  material=material, mode=pyrender.constants.GLTF.TRIANGLES, **kwargs)
        scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[0.0, 0.0, 0.0])
        scene.add(pyrender.Mesh(primitives=[prim]))
        cam, pose = self._camera()
        scene.add(cam, pose=pose)
        r = self._get(h, w)
        flags = pyrender.RenderFlags.FLAT | pyrender.RenderFlags.RGBA | pyrender.RenderFlags.SKIP_CULL_FACES
        rgba, _ = r.render(scene, flags=flags)
        rgba = rgba.astype(np.float32) / 255.0
        alpha = rgba[..., 3]
        colour = rgba[..., :3] / np.maximum(alpha, 1e-6)[..., None]
        colour[alpha <= 0] = 0.0
        return np.clip(colour, 0.0, 1.0), alpha

    def close(self) -> None:
        # The GL context stays in the process-wide renderer: pyrender's delete() (also run by its
        # __del__) calls eglTerminate on the display that every renderer of the process shares.
        self._renderer = None


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter an (H, W[, C]) float image by an integer factor: (H/f, W/f[, C])."""
    out = None
    for i in range(factor):          # sum of strided views: faster than a reshape + mean
        for j in range(factor):
            part = image[i::factor, j::factor]
            out = part.astype(np.float32) if out is None else out + part
    return out / (factor * factor)
