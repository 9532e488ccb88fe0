"""pyrender vs moderngl for one synthesizer pass (flat, orthographic), same meshes.

The synthesizer renders with pyrender (``thuman.synth.render.renderer.OrthoRenderer``, 2x2
supersampling). This script draws the same passes with a minimal moderngl renderer (below, same
projection and coverage division, 4x MSAA) and prints seconds per pass and the largest pixel
difference; the anti-aliasing differs, so edge pixels differ. Never asserts.

    python bench/synth_renderers.py [--repeat 10]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from thuman_io.grid import VolumeGrid

_VERTEX = """
#version 330
in vec3 in_pos;
in vec3 in_col;
in vec2 in_uv;
uniform vec3 scale;
out vec3 v_col;
out vec2 v_uv;
void main() {
    // view frame -> clip space: the box's front face fills the viewport; nearer = smaller depth
    gl_Position = vec4(in_pos.x * scale.x, in_pos.y * scale.y, -in_pos.z * scale.z, 1.0);
    v_col = in_col;
    v_uv = in_uv;
}
"""

_FRAGMENT = """
#version 330
in vec3 v_col;
in vec2 v_uv;
uniform sampler2D tex;
uniform bool use_tex;
out vec4 colour;
void main() {
    vec3 c = v_col;
    if (use_tex) c *= texture(tex, v_uv).rgb;
    colour = vec4(clamp(c, 0.0, 1.0), 1.0);
}
"""


class MglRenderer:
    """Offscreen orthographic renderer for one grid using moderngl; one per process, reused.

    The EGL context is created on the first pass, so an instance can be built before a fork.
    """

    def __init__(self, grid: VolumeGrid):
        self.grid = grid
        self._ctx = None
        self._prog = None
        self._fbos: dict = {}

    def _setup(self):
        import moderngl

        self._ctx = moderngl.create_standalone_context(backend="egl")
        self._prog = self._ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        hx, hy, hz = self.grid.half_extent
        # depth range: 4x the box's half depth on either side, like the pyrender camera's planes
        self._prog["scale"].value = (1.0 / hx, 1.0 / hy, 1.0 / (4 * hz + 1.0))

    def _framebuffers(self, h: int, w: int):
        if (h, w) not in self._fbos:
            ctx = self._ctx
            ms = ctx.framebuffer(color_attachments=[ctx.renderbuffer((w, h), 4, samples=4)],
                                 depth_attachment=ctx.depth_renderbuffer((w, h), samples=4))
            out = ctx.framebuffer(color_attachments=[ctx.renderbuffer((w, h), 4)])
            self._fbos[(h, w)] = (ms, out)
        return self._fbos[(h, w)]

    def flat_pass(self, vertices_view: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None,
                  uv: np.ndarray | None = None, texture: np.ndarray | None = None,
                  scale: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Render a mesh unlit; same arguments and results as ``OrthoRenderer.flat_pass``."""
        import moderngl

        if self._ctx is None:
            self._setup()
        ctx = self._ctx
        h, w = self.grid.height * scale, self.grid.width * scale
        n = len(vertices_view)
        col = np.ones((n, 3), np.float32) if colors is None else np.clip(colors, 0, 1).astype(np.float32)
        use_tex = texture is not None and uv is not None
        tex_uv = np.asarray(uv, np.float32) if use_tex else np.zeros((n, 2), np.float32)
        data = np.concatenate([np.asarray(vertices_view, np.float32), col, tex_uv], axis=1)
        vbo = ctx.buffer(np.ascontiguousarray(data).tobytes())
        ibo = ctx.buffer(np.ascontiguousarray(faces, dtype=np.int32).tobytes())
        vao = ctx.vertex_array(self._prog, [(vbo, "3f 3f 2f", "in_pos", "in_col", "in_uv")], ibo)
        tex = None
        try:
            self._prog["use_tex"].value = use_tex
            if use_tex:
                img = np.ascontiguousarray(np.flipud(np.asarray(texture, np.uint8)))  # GL: row 0 = v 0
                tex = ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes(), alignment=1)
                tex.build_mipmaps()
                tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                tex.use(0)
                self._prog["tex"].value = 0
            ms, out = self._framebuffers(h, w)
            ms.use()
            ms.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            ctx.enable(moderngl.DEPTH_TEST)
            ctx.disable(moderngl.CULL_FACE)
            vao.render(moderngl.TRIANGLES)
            ctx.copy_framebuffer(out, ms)                  # resolves the 4 samples
            rgba = np.frombuffer(out.read(components=4), np.uint8).reshape(h, w, 4)[::-1]
        finally:
            vao.release()
            vbo.release()
            ibo.release()
            if tex is not None:
                tex.release()
        rgba = rgba.astype(np.float32) / 255.0
        alpha = rgba[..., 3]
        colour = rgba[..., :3] / np.maximum(alpha, 1e-6)[..., None]
        colour[alpha <= 0] = 0.0
        return np.clip(colour, 0.0, 1.0), alpha

    def close(self) -> None:
        if self._ctx is not None:
            for ms, out in self._fbos.values():
                ms.release()
                out.release()
            self._fbos = {}
            self._ctx.release()
            self._ctx = None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from thuman.synth.fixtures import make_body_item
    from thuman.synth.geometry import vertex_normals
    from thuman.synth.render.renderer import OrthoRenderer
    from thuman_io.grid import PAPER_GRID

    item = make_body_item(np.random.default_rng(1), "s", 0, subdivisions=1, textured=True)
    v = item.mesh.vertices.astype(np.float64)
    v = (v - (v.min(0) + v.max(0)) / 2) / (np.ptp(v, axis=0).max() * 1.1)
    f = item.mesh.faces
    col = (vertex_normals(v, f) + 1) / 2
    passes = {"normal pass 2H x 2W": dict(colors=col, scale=2),
              "rgb pass 4H x 4W": dict(colors=col, scale=4),
              "textured 2H x 2W": dict(colors=col * 0 + 0.8, uv=item.mesh.uv, texture=item.mesh.texture, scale=2)}
    # one renderer after the other: pyrender does not make its EGL context current again once
    # another library has made its own current in the same process
    times, images = {}, {}
    for rname, make in (("pyrender", OrthoRenderer), ("moderngl", MglRenderer)):
        r = make(PAPER_GRID)
        for name, kw in passes.items():
            r.flat_pass(v, f, **kw)
            t = time.perf_counter()
            for _ in range(args.repeat):
                images[rname, name] = r.flat_pass(v, f, **kw)
            times[rname, name] = (time.perf_counter() - t) / args.repeat
        r.close()
    print(f"one flat pass of a {len(f)}-face mesh, grid {PAPER_GRID.shape}, mean of {args.repeat}")
    for name in passes:
        (c1, a1), (c2, a2) = images["pyrender", name], images["moderngl", name]
        diff = max(float(np.abs(c1 - c2).max()), float(np.abs(a1 - a2).max()))
        tp, tm = times["pyrender", name], times["moderngl", name]
        print(f"  {name:22s} pyrender {tp * 1e3:6.1f} ms  moderngl {tm * 1e3:6.1f} ms"
              f"  pyrender / moderngl {tp / tm:.2f}  max pixel difference {diff:.4f}")


if __name__ == "__main__":
    main()
