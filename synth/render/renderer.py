"""Orthographic, unlit rendering passes that match the voxel grid exactly (pyrender, EGL).

The camera looks along -z of the view frame; its image covers the grid's box, so pixel (row, col)
of an ``s * H`` x ``s * W`` image is the column of voxel (row // s, col // s) (thuman_io.grid).
Every pass is *flat* (no lighting in the shader): colour = vertex colour x texture. Shading is
baked into vertex colours by :mod:`thuman.synth.render.lighting`, so RGB, semantic map and normal
map passes are one code path. A pass is anti-aliased by 2x2 supersampling: it renders
single-sampled at twice the asked size over a transparent background and box-filters the
covered samples; :meth:`OrthoRenderer.flat_pass` divides by the coverage so edge pixels keep
their true colour (a normal stays a unit normal) and returns the coverage as alpha.

Why supersampling and not pyrender's built-in 4x MSAA: on Mesa's CPU rasterizer (llvmpipe) a
4x multisampled 384 x 256 pass of a 55k-face mesh costs 34 ms, a single-sampled 768 x 512 one
19 ms (the same 4 samples per pixel), and pyrender's read-back of the depth buffer, which no
pass uses, is skipped as well (docs/synth.md, Speed). The framebuffer has a second colour
attachment: :meth:`OrthoRenderer.flat_pass_with_normals` draws a mesh's colour and its normals
in one rasterization (the RGB image and the normal map of a sample).
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
            _SHARED_RENDERER._renderer.__class__ = _colour_only_renderer_class()
            _SHARED_RENDERER._renderer._program_cache = _normal_output_cache()
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
        Returns (colour (sH, sW, 3) float32 in [0, 1], the mean colour of the covered samples of
        each pixel; alpha (sH, sW) float32 coverage in {0, 1/4, 1/2, 3/4, 1}).
        """
        rgba, _ = self.supersampled_rgba(vertices_view, faces, colors, uv, texture, scale)
        return resolve(rgba)

    def flat_pass_with_normals(self, vertices_view: np.ndarray, faces: np.ndarray, normals: np.ndarray,
                               colors: np.ndarray | None = None, uv: np.ndarray | None = None,
                               texture: np.ndarray | None = None,
                               scale: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`flat_pass` that also draws the mesh's normals, in the same rasterization.

        normals: (V, 3) float unit vertex normals, view frame. Returns (colour, alpha, normal
        colour): the first two as :meth:`flat_pass`, the third (sH, sW, 3) float32 in [0, 1] is the
        mean over the covered samples of (n + 1) / 2 with n the interpolated normal, exactly what
        ``flat_pass(colors=(normals + 1) / 2)`` gives, for the cost of one pass instead of two.
        """
        rgba, nrgba = self.supersampled_rgba(vertices_view, faces, colors, uv, texture, scale, normals=normals)
        colour, alpha = resolve(rgba)
        ncol, _ = resolve(nrgba)
        return colour, alpha, ncol

    def supersampled_rgba(self, vertices_view: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None,
                          uv: np.ndarray | None = None, texture: np.ndarray | None = None,
                          scale: int = 2, normals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The raw samples of :meth:`flat_pass`: (2sH, 2sW, 4) uint8 RGBA, one sample per pixel
        (alpha 255 where the mesh is, 0 elsewhere), row 0 at the top, and with ``normals``
        ((V, 3) unit, view frame) a second image of the same shape holding (n + 1) / 2 of the
        interpolated normals (a second colour attachment of the same draw; else None).
        :func:`resolve` turns either into the anti-aliased (sH, sW) colour and coverage."""
        from thuman.synth.render.pyrender_compat import pyrender

        h, w = self.grid.height * scale * 2, self.grid.width * scale * 2
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
        if normals is not None:
            kwargs["normals"] = np.ascontiguousarray(normals, dtype=np.float32)
        prim = pyrender.Primitive(positions=v, indices=np.ascontiguousarray(faces, dtype=np.uint32),
                                  material=material, mode=pyrender.constants.GLTF.TRIANGLES, **kwargs)
        scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[0.0, 0.0, 0.0])
        scene.add(pyrender.Mesh(primitives=[prim]))
        cam, pose = self._camera()
        scene.add(cam, pose=pose)
        r = self._get(h, w)
        r._renderer.draw_normals = normals is not None
        flags = pyrender.RenderFlags.FLAT | pyrender.RenderFlags.RGBA | pyrender.RenderFlags.SKIP_CULL_FACES
        return r.render(scene, flags=flags)

    def close(self) -> None:
        # The GL context stays in the process-wide renderer: pyrender's delete() (also run by its
        # __del__) calls eglTerminate on the display that every renderer of the process shares.
        self._renderer = None


def resolve(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 samples per pixel -> (colour, coverage).

    rgba: (2h, 2w, 4) uint8 single-sampled render, alpha 255 on the mesh and 0 (colour 0) off it.
    Returns (colour (h, w, 3) float32 in [0, 1], mean of the covered samples, 0 where none is;
    alpha (h, w) float32 coverage in {0, 1/4, 1/2, 3/4, 1}).
    """
    s = (rgba[0::2, 0::2].astype(np.uint16) + rgba[1::2, 0::2] + rgba[0::2, 1::2] + rgba[1::2, 1::2])
    alpha = s[..., 3].astype(np.float32) * np.float32(1 / 1020)
    # uncovered samples are (0, 0, 0, 0): the sum of the covered ones over their count
    colour = s[..., :3].astype(np.float32) / np.maximum(s[..., 3:4].astype(np.float32), np.float32(1.0))
    return np.minimum(colour, np.float32(1.0)), alpha


def _colour_only_renderer_class():
    """A pyrender Renderer with a single-sampled main framebuffer that reads back only colour.

    pyrender renders into a 4x multisampled framebuffer and always reads and linearises the depth
    buffer too; the synthesizer supersamples instead (faster on llvmpipe) and never uses depth.
    The framebuffer has a second colour attachment, drawn when ``draw_normals`` is set, where
    the fragment shader of :func:`_normal_output_cache` writes the interpolated normals.
    """
    import pyrender.renderer as prr
    from OpenGL import GL

    from thuman.synth.render.pyrender_compat import single_sampled_framebuffers

    class ColourOnlyRenderer(prr.Renderer):
        draw_normals = False
        _normal_rb = None

        def _configure_main_framebuffer(self):
            rebuild = self._main_fb is None or self._main_fb_dims != (self.viewport_width, self.viewport_height)
            with single_sampled_framebuffers():
                super()._configure_main_framebuffer()
            if rebuild:
                self._normal_rb = GL.glGenRenderbuffers(1)
                GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self._normal_rb)
                GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA, self.viewport_width, self.viewport_height)
                GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self._main_fb_ms)
                GL.glFramebufferRenderbuffer(GL.GL_DRAW_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT1,
                                             GL.GL_RENDERBUFFER, self._normal_rb)

        def _delete_main_framebuffer(self):
            if self._normal_rb is not None:
                GL.glDeleteRenderbuffers(1, [self._normal_rb])
                self._normal_rb = None
            super()._delete_main_framebuffer()

        def _configure_forward_pass_viewport(self, flags):
            super()._configure_forward_pass_viewport(flags)      # binds the main framebuffer
            buffers = [GL.GL_COLOR_ATTACHMENT0, GL.GL_COLOR_ATTACHMENT1][:2 if self.draw_normals else 1]
            GL.glDrawBuffers(len(buffers), buffers)

        def _read_main_framebuffer(self, scene, flags):
            width, height = self._main_fb_dims
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._main_fb_ms)   # single-sampled: read it directly
            images = []
            for attachment in [GL.GL_COLOR_ATTACHMENT0, GL.GL_COLOR_ATTACHMENT1][:2 if self.draw_normals else 1]:
                GL.glReadBuffer(attachment)
                buf = GL.glReadPixels(0, 0, width, height, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
                images.append(np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 4)[::-1])
            GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
            return images[0], (images[1] if self.draw_normals else None)

    return ColourOnlyRenderer


def _normal_output_cache():
    """pyrender's shader cache, with its flat fragment shader given a second output.

    Output 1 is ``(n + 1) / 2`` of the interpolated vertex normal (pyrender's flat vertex shader
    passes it on when the primitive has normals) with alpha 1, so one draw yields the RGB and the
    normal map of a mesh. The patch is applied to pyrender's own shader text; if that text ever
    changes, this raises instead of rendering something else.
    """
    import os

    from pyrender.shader_program import ShaderProgram, ShaderProgramCache

    class NormalOutputProgram(ShaderProgram):
        def _load(self, shader_filename):
            text = super()._load(shader_filename)
            if os.path.basename(shader_filename) != "flat.frag":
                return text
            out, final = "out vec4 frag_color;", "frag_color = clamp(base_color, 0.0, 1.0);"
            if text.count(out) != 1 or text.count(final) != 1:
                raise RuntimeError(f"{shader_filename}: pyrender's flat shader changed; "
                                   "thuman.synth.render.renderer cannot add its normal output")
            normal = ("vec4(clamp(frag_normal * 0.5 + 0.5, 0.0, 1.0), 1.0)" if "NORMAL_LOC" in self.defines
                      else "vec4(0.0)")
            text = text.replace(out, "layout(location = 0) out vec4 frag_color;\n"
                                     "layout(location = 1) out vec4 frag_normal_colour;")
            return text.replace(final, f"{final}\n    frag_normal_colour = {normal};")

    class NormalOutputCache(ShaderProgramCache):
        def get_program(self, vertex_shader, fragment_shader, geometry_shader=None, defines=None):
            program = super().get_program(vertex_shader, fragment_shader, geometry_shader, defines)
            if type(program) is ShaderProgram and not program._in_context():
                program.__class__ = NormalOutputProgram       # before it is compiled
            return program

    return NormalOutputCache()


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter an (H, W[, C]) float image by an integer factor: (H/f, W/f[, C])."""
    out = None
    for i in range(factor):          # sum of strided views: faster than a reshape + mean
        for j in range(factor):
            part = image[i::factor, j::factor]
            out = part.astype(np.float32) if out is None else out + part
    return out / (factor * factor)
