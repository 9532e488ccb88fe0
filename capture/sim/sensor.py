"""The simulated depth camera: Azure Kinect depth modes seen through a real factory calibration's
lens (``lens.py``; a pinhole option for unit tests), pyrender rendering of colour and exact depth
from the depth camera's viewpoint (colour registered to depth), measured through the noise model
of ``noise.py``.

Colour is rendered from the depth camera's viewpoint (as K4A's ``transformed_color`` gives it, but
without the occlusion holes the real resampling leaves), shaded (Gouraud) by a light at the camera
plus ambient, with Gaussian pixel noise ``color_noise``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from thuman.capture.camera import CameraModel, capture_to_cv, project
from thuman.capture.sim.noise import DepthNoise, apply_depth_noise  # noqa: F401 (re-exported)
from thuman_io.errors import InputError
from thuman_io.geometry import vertex_normals


@dataclass(frozen=True)
class DepthMode:
    """An Azure Kinect depth mode: image size, pinhole intrinsics (pixels, OpenCV: pixel centres at
    integers), operating range (metres) and the highest frame rate. Intrinsics are typical factory
    values (fx = fy = 504.2 px unbinned); they serve the sensor's ``lens='pinhole'`` option, the
    default lens is a real factory calibration's (``lens.py``)."""

    name: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    min_depth_m: float
    max_depth_m: float
    max_fps: int

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    @property
    def camera(self) -> CameraModel:
        """The mode's ideal pinhole as a :class:`~thuman.capture.camera.CameraModel`."""
        return CameraModel.pinhole(self.K, self.width, self.height)


def _mode(name, w, h, f, near, far, fps):
    return DepthMode(name, w, h, f, f, (w - 1) / 2.0, (h - 1) / 2.0, near, far, fps)


#: Depth modes of the Azure Kinect (ranges from Microsoft's hardware specification).
DEPTH_MODES = {
    "NFOV_2X2BINNED": _mode("NFOV_2X2BINNED", 320, 288, 252.1, 0.50, 5.46, 30),
    "NFOV_UNBINNED": _mode("NFOV_UNBINNED", 640, 576, 504.2, 0.50, 3.86, 30),
    "WFOV_2X2BINNED": _mode("WFOV_2X2BINNED", 512, 512, 252.1, 0.25, 2.88, 30),
    "WFOV_UNBINNED": _mode("WFOV_UNBINNED", 1024, 1024, 504.2, 0.25, 2.21, 15),
}

#: The native colour camera (720p) and its pose relative to the depth camera: about 32 mm to the
#: side and tilted 6 degrees, as on the device. Recorded in every frame; the simulator renders colour
#: directly in the depth camera, so these only describe the (virtual) native colour camera.
COLOR_K_720P = np.array([[605.0, 0, 639.5], [0, 605.0, 359.5], [0, 0, 1.0]])


def _depth_to_color() -> np.ndarray:
    a = math.radians(6.0)
    T = np.eye(4)
    T[:3, :3] = [[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]]
    T[:3, 3] = [-0.032, -0.002, 0.004]
    return T


DEPTH_TO_COLOR = _depth_to_color()

#: The simulated sensor's lenses: a real factory calibration's, or the ideal pinhole of the mode.
LENSES = ("k4a", "pinhole")


def depth_mode(name: str) -> DepthMode:
    try:
        return DEPTH_MODES[name.upper()]
    except KeyError:
        raise InputError(None, f"depth mode '{name}' unknown; use one of {', '.join(DEPTH_MODES)}") from None


@dataclass
class SceneMesh:
    """A mesh to render: vertices (V, 3) float32 metres in the capture frame, faces (F, 3) int,
    colors (V, 3) uint8 RGB."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray


def room_meshes(floor_y: float = -1.0, wall_z: float = -3.4, half_width: float = 2.5) -> list[SceneMesh]:
    """A floor and a back wall (grey, a faint tile pattern in colour) for a realistic background."""
    def quad(corners, color):
        v = np.asarray(corners, np.float32)
        return SceneMesh(v, np.array([[0, 1, 2], [0, 2, 3]]), np.tile(np.asarray(color, np.uint8), (4, 1)))

    top = floor_y + 3.0
    return [quad([[-half_width, floor_y, 0.2], [half_width, floor_y, 0.2], [half_width, floor_y, wall_z],
                  [-half_width, floor_y, wall_z]], [120, 110, 100]),
            quad([[-half_width, floor_y, wall_z], [half_width, floor_y, wall_z], [half_width, top, wall_z],
                  [-half_width, top, wall_z]], [170, 170, 160])]


class Renderer:
    """pyrender offscreen renderer of colour + exact depth from the depth camera (capture frame =
    OpenGL camera frame, so the camera pose is the identity). GL contexts come from a per-process
    pool (one per image size)."""

    def __init__(self, mode: DepthMode, background_color: Sequence[int] = (60, 60, 68),
                 static: Sequence[SceneMesh] = ()):
        from thuman.synth.render.pyrender_compat import pyrender

        self._pyrender = pyrender
        self.mode = mode
        self.background_color = np.asarray(background_color, np.uint8)
        bg = np.append(self.background_color / 255.0, 1.0)
        self.ambient, self.diffuse = 0.4, 0.7
        self.scene = pyrender.Scene(bg_color=bg)
        # pyrender's pixel coordinates have pixel centres at +0.5, OpenCV's at integers.
        self.camera = pyrender.IntrinsicsCamera(mode.fx, mode.fy, mode.cx + 0.5, mode.cy + 0.5, znear=0.05, zfar=20.0)
        self.scene.add(self.camera, pose=np.eye(4))
        for m in static:
            self.scene.add(self._mesh(m))
        self.crop = not static  # a background fills the image: nothing to crop
        self._nodes = []
        self.last_viewport = (0, 0, mode.height, mode.width)  # (row0, col0, h, w) the last render drew

    def _viewport(self, meshes: Sequence[SceneMesh]) -> tuple[int, int, int, int]:
        """(row0, col0, height, width) of the image part the meshes can cover, sizes rounded up to
        64 pixels (a few GL contexts serve every frame); the whole image when a mesh reaches
        behind the camera or there is a static background."""
        full = (0, 0, self.mode.height, self.mode.width)
        if not self.crop or not meshes:
            return full
        v = np.concatenate([np.asarray(m.vertices, np.float64) for m in meshes])
        if np.any(v[:, 2] > -0.1):
            return full
        u, r = project(capture_to_cv(v), self.mode.camera).T
        c0, c1 = int(np.floor(u.min())) - 2, int(np.ceil(u.max())) + 3
        r0, r1 = int(np.floor(r.min())) - 2, int(np.ceil(r.max())) + 3
        c0, c1 = max(c0, 0), min(c1, self.mode.width)
        r0, r1 = max(r0, 0), min(r1, self.mode.height)
        if c1 <= c0 or r1 <= r0:
            return (0, 0, 0, 0)
        w = min(-(-(c1 - c0) // 64) * 64, self.mode.width)
        h = min(-(-(r1 - r0) // 64) * 64, self.mode.height)
        return min(r0, self.mode.height - h), min(c0, self.mode.width - w), h, w

    def _mesh(self, m: SceneMesh):
        pr = self._pyrender
        v = np.asarray(m.vertices, np.float32)
        n = vertex_normals(v, np.asarray(m.faces))
        # Gouraud shading by a light at the camera, computed here: pyrender's PBR fragment shader
        # costs three times the whole flat render on a CPU rasterizer.
        to_cam = -v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        lit = self.ambient + self.diffuse * np.clip(np.sum(n * to_cam, axis=1), 0.0, 1.0)
        colors = np.ones((len(v), 4), np.float32)
        colors[:, :3] = np.clip(np.asarray(m.colors, np.float32) * (lit[:, None] / 255.0), 0.0, 1.0)
        prim = pr.Primitive(positions=v, color_0=colors, indices=np.asarray(m.faces, np.uint32), mode=4)
        return pr.Mesh([prim])

    def render(self, meshes: Sequence[SceneMesh]) -> tuple[np.ndarray, np.ndarray]:
        """Render ``meshes`` (plus the static ones). Returns colour (H, W, 3) uint8 and exact depth
        (H, W) float32 metres along the optical axis (0 where nothing is hit).

        Only the part of the image the meshes can cover is rasterized (a subject fills a third of
        the frame; the CPU rasterizer's cost is per pixel), through a camera whose principal point
        is shifted by the crop's corner, then pasted into the full image.
        """
        for node in self._nodes:
            self.scene.remove_node(node)
        self._nodes = [self.scene.add(self._mesh(m)) for m in meshes]
        H, W = self.mode.height, self.mode.width
        color = np.empty((H, W, 3), np.uint8)
        color[:] = self.background_color
        depth = np.zeros((H, W), np.float32)
        r0, c0, h, w = self.last_viewport = self._viewport(meshes)
        if h == 0:
            return color, depth
        self.camera.cx = self.mode.cx + 0.5 - c0
        self.camera.cy = self.mode.cy + 0.5 - r0
        try:
            c, d = _offscreen(w, h).render(self.scene, flags=_FLAT)
        except Exception:
            # Someone deleted a pyrender renderer, which terminates the EGL display under every
            # context of the process: make a fresh one and try once more.
            _OFFSCREEN.pop((w, h), None)
            c, d = _offscreen(w, h).render(self.scene, flags=_FLAT)
        color[r0:r0 + h, c0:c0 + w] = c[..., :3]
        depth[r0:r0 + h, c0:c0 + w] = d
        return color, depth

    def close(self) -> None:
        # The GL context stays in the process-wide pool (see _offscreen); only the scene goes.
        for node in self._nodes:
            self.scene.remove_node(node)
        self._nodes = []


#: One pyrender OffscreenRenderer per image size for the whole process. They are never deleted:
#: pyrender's ``delete()`` calls eglTerminate on the display that every renderer shares, which
#: breaks all other live renderers.
_OFFSCREEN: dict = {}
_FLAT = 4096  # pyrender.RenderFlags.FLAT: vertex colours as given (shaded in Renderer._mesh)


def _offscreen(width: int, height: int):
    key = (width, height)
    if key not in _OFFSCREEN:
        from thuman.synth.render.pyrender_compat import pyrender

        osr = pyrender.OffscreenRenderer(width, height)
        osr._renderer.__class__ = _single_sample_renderer_class()
        _OFFSCREEN[key] = osr
    return _OFFSCREEN[key]


def _single_sample_renderer_class():
    """A pyrender Renderer whose main framebuffer has one sample per pixel.

    pyrender renders into a 4x multisampled framebuffer and copies *sample 0* of the depth out: that
    sample sits 1/8 pixel left and 3/8 pixel above the pixel centre, which shifts depth against the
    pinhole model by up to 3 mm on a slanted surface at 2 m. A sensor pixel measures along its
    centre ray, so the simulator renders single-sampled (samples = 0 gives an ordinary buffer).
    """
    import pyrender.renderer as prr

    from thuman.synth.render.pyrender_compat import single_sampled_framebuffers

    class SingleSampleRenderer(prr.Renderer):
        def _configure_main_framebuffer(self):
            with single_sampled_framebuffers():
                super()._configure_main_framebuffer()

    return SingleSampleRenderer


@dataclass
class SimSensor:
    """A simulated K4A-like sensor: render, then measure through the noise model.

    mode: DepthMode. noise: DepthNoise. background: 'none' (nothing behind the subject) or 'room'
    (floor and back wall). seed: the run seed; each frame's noise draws from a generator seeded by
    (seed, frame index), so a frame can be regenerated alone. lens: 'k4a' (default: the retail
    factory calibration's distorted depth lens, its colour camera and depth-to-colour transform) or
    'pinhole' (the mode's K, an ideal lens; for unit tests).
    """

    mode: DepthMode = field(default_factory=lambda: DEPTH_MODES["NFOV_UNBINNED"])
    noise: DepthNoise = field(default_factory=DepthNoise)
    background: str = "none"
    seed: int = 0
    floor_y: float = -1.0
    lens: str = "k4a"

    def __post_init__(self):
        if self.background not in ("none", "room"):
            raise InputError(None, f"background '{self.background}' unknown; use 'none' or 'room'")
        if self.lens not in LENSES:
            raise InputError(None, f"lens '{self.lens}' unknown; use one of {', '.join(LENSES)}")

        static = room_meshes(self.floor_y) if self.background == "room" else ()
        self._resampler = None
        if self.lens == "k4a":
            from thuman.capture.sim.lens import FACTORY_CALIBRATION, LensResampler, factory_calibration_text
            from thuman.capture.sources import k4a_calibration as kc

            self.k4a_calibration = factory_calibration_text()
            self.camera = kc.depth_camera(self.k4a_calibration, self.mode.name, FACTORY_CALIBRATION)
            self.color_camera = kc.color_camera(self.k4a_calibration, "720p", FACTORY_CALIBRATION)
            self.depth_to_color = kc.depth_to_color(self.k4a_calibration, FACTORY_CALIBRATION)
            self._resampler = LensResampler(self.camera, self.mode)
            render_mode = self._resampler.render_mode
        else:
            self.k4a_calibration = ""
            self.camera = self.mode.camera
            self.color_camera = CameraModel.pinhole(COLOR_K_720P, 1280, 720)
            self.depth_to_color = DEPTH_TO_COLOR.copy()
            render_mode = self.mode
        self._renderer = Renderer(render_mode, static=static)
        self._color_bank: Optional[np.ndarray] = None

    @property
    def K(self) -> np.ndarray:
        """(3, 3) pinhole part of the depth camera (``camera`` is the full lens)."""
        return self.camera.K

    def render_exact(self, meshes: Sequence[SceneMesh]) -> tuple[np.ndarray, np.ndarray]:
        """Colour (H, W, 3) uint8 and exact depth (H, W) float32 metres through the lens, no noise."""
        color, depth = self._renderer.render(meshes)
        if self._resampler is not None:
            color, depth = self._resampler.resample(color, depth, self._renderer.last_viewport)
        return color, depth

    def measure(self, meshes: Sequence[SceneMesh], frame_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Render and measure. Returns colour (H, W, 3) uint8 (registered), depth (H, W) uint16 mm,
        and the exact depth (H, W) float32 metres."""
        rng = np.random.default_rng([int(self.seed), int(frame_index), 0x5E05])
        color, depth = self.render_exact(meshes)
        depth_mm = apply_depth_noise(depth, color, self.camera, self.noise, rng,
                                     self.mode.min_depth_m, self.mode.max_depth_m)
        if self.noise.color_noise > 0:
            # Pixel noise from a bank drawn once, at a per-frame random offset: drawing 1.1 M normals
            # per frame would cost more than the depth noise model.
            if self._color_bank is None:
                bank_rng = np.random.default_rng([int(self.seed), 0xC01])
                self._color_bank = np.round(bank_rng.standard_normal(2 * color.size) * self.noise.color_noise
                                            ).astype(np.int16)
            start = int(rng.integers(0, color.size))
            noisy = color.astype(np.int16) + self._color_bank[start:start + color.size].reshape(color.shape)
            color = np.clip(noisy, 0, 255).astype(np.uint8)
        return color, depth_mm, depth

    def close(self) -> None:
        self._renderer.close()
