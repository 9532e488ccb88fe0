"""The simulated sensor's lens: render a pinhole image, resample it through a real K4A lens.

A rasterizer draws pinhole images only. The distorted camera's pixel (u, v) looks along the ray
(x, y, 1) of its ray table (capture/camera.py); a pinhole *render camera* with the same focal
lengths, wide enough for every ray, sees that ray at (fx x + cx_r, fy y + cy_r). Each sensor pixel
takes the render image there: depth by bilinear interpolation of *inverse* depth (exact on planes,
since 1/Z is affine in x/z and y/z on a plane) where the four render pixels lie on one smooth
surface (see CONTINUITY_REL), the nearest render pixel elsewhere (silhouettes, depth jumps), and colour likewise.
Pixels the lens has no ray for (the WFOV corners) get no depth and black.

The factory calibration used by default is a retail device's (``data/k4a_retail_calibration.json``,
MIT, from pyk4a's test assets).
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import numpy as np

from thuman.capture.camera import CameraModel

#: A retail Azure Kinect's factory calibration (raw JSON, as the device and every .mkv carry it).
FACTORY_CALIBRATION = Path(__file__).resolve().parent / "data" / "k4a_retail_calibration.json"

#: Four render pixels are one surface when their depths differ by less than this fraction and their
#: inverse depths are affine to within AFFINE_REL (exact on a plane: 1/z00 + 1/z11 = 1/z01 + 1/z10;
#: a depth step across one corner breaks it, a steep plane does not).
CONTINUITY_REL = 0.05
AFFINE_REL = 0.002


@lru_cache(maxsize=1)
def factory_calibration_text() -> str:
    return FACTORY_CALIBRATION.read_text()


def factory_camera(depth_mode: str) -> CameraModel:
    """The retail device's depth camera in ``depth_mode`` (e.g. 'NFOV_UNBINNED')."""
    from thuman.capture.sources.k4a_calibration import depth_camera

    return depth_camera(factory_calibration_text(), depth_mode, FACTORY_CALIBRATION)


class LensResampler:
    """Precomputed resampling from a pinhole render camera to ``camera``'s distorted pixels.

    render_mode: the sim DepthMode to render with (size and intrinsics of the pinhole image).
    """

    def __init__(self, camera: CameraModel, mode):
        self.camera = camera
        rays = camera.ray_table()
        self.valid = np.isfinite(rays[..., 0]).reshape(-1)
        x, y = rays[..., 0].reshape(-1)[self.valid], rays[..., 1].reshape(-1)[self.valid]
        fx, fy = camera.fx, camera.fy
        # One pixel of margin on each side so every ray has its four neighbours.
        cx, cy = 1.0 - fx * x.min(), 1.0 - fy * y.min()
        w = int(np.ceil(fx * x.max() + cx)) + 2
        h = int(np.ceil(fy * y.max() + cy)) + 2
        self.render_mode = dataclasses.replace(mode, name=f"{mode.name}-render", width=w, height=h, fx=fx, fy=fy,
                                               cx=cx, cy=cy)
        ur, vr = fx * x + cx, fy * y + cy
        i0, j0 = np.floor(ur).astype(np.int64), np.floor(vr).astype(np.int64)
        a, b = ur - i0, vr - j0
        self._row, self._col = j0, i0                                                     # (N,)
        base = j0 * w + i0
        self._idx = np.stack([base, base + 1, base + w, base + w + 1])                  # (4, N)
        self._wts = np.stack([(1 - a) * (1 - b), a * (1 - b), (1 - a) * b, a * b]).astype(np.float32)
        self._nearest = self._idx[np.argmax(self._wts, axis=0), np.arange(self._idx.shape[1])]
        self._out = np.flatnonzero(self.valid)                                           # (N,) output pixel
        self._subsets: dict = {}
        self._no_ray = np.flatnonzero(~self.valid)

    def _subset(self, region):
        """(idx, wts, nearest, out) of the sensor pixels that look into ``region`` of the render
        image, cached per region (the renderer's viewports are few: sizes in steps of 64 px)."""
        hit = self._subsets.get(region)
        if hit is None:
            if region is None:
                sel = slice(None)
            else:
                r0, c0, h, w = region
                sel = np.flatnonzero((self._row >= r0 - 1) & (self._row < r0 + h)
                                     & (self._col >= c0 - 1) & (self._col < c0 + w))
            hit = (self._idx[:, sel], self._wts[:, sel], self._nearest[sel], self._out[sel])
            if len(self._subsets) > 64:
                self._subsets.clear()
            self._subsets[region] = hit
        return hit

    def resample(self, color: np.ndarray, depth: np.ndarray, region=None) -> tuple[np.ndarray, np.ndarray]:
        """Render-camera colour (Hr, Wr, 3) uint8 and depth (Hr, Wr) float32 metres (0 = none) ->
        the lens's colour (H, W, 3) uint8 and exact depth (H, W) float32 metres.

        region: (row0, col0, height, width) of the render image that holds anything (the rest is
        background): only the sensor pixels that look there are interpolated. Colour is taken from
        the nearest render pixel (interpolating it costs more than the rest together).
        """
        H, W = self.camera.height, self.camera.width
        # Colours move as 3-byte records (one gather per pixel instead of three).
        c = np.ascontiguousarray(color).reshape(-1, 3).view("V3").reshape(-1)
        out_z = np.zeros(H * W, np.float32)
        out_c = np.zeros((H * W, 3), np.uint8)
        oc = out_c.view("V3").reshape(-1)
        if region is not None:
            oc[:] = c[0]                 # pixels looking outside the region see the render's background
            oc[self._no_ray] = np.zeros(1, np.uint8).repeat(3).view("V3")[0]
        idx, wts, nearest, out = self._subset(None if region is None else tuple(int(r) for r in region))
        zr = depth.reshape(-1)
        z0, z1, z2, z3 = zr[idx[0]], zr[idx[1]], zr[idx[2]], zr[idx[3]]
        zmin = np.minimum(np.minimum(z0, z1), np.minimum(z2, z3))
        zmax = np.maximum(np.maximum(z0, z1), np.maximum(z2, z3))
        with np.errstate(divide="ignore", invalid="ignore"):
            i0, i1, i2, i3 = 1.0 / z0, 1.0 / z1, 1.0 / z2, 1.0 / z3                     # inf where no depth
            inv = wts[0] * i0 + wts[1] * i1 + wts[2] * i2 + wts[3] * i3
            smooth = ((zmin > 0) & (zmax <= zmin * np.float32(1 + CONTINUITY_REL))
                      & (np.abs(i0 + i3 - i1 - i2) <= np.float32(AFFINE_REL) * inv))
        z = zr[nearest]
        z[smooth] = np.float32(1.0) / inv[smooth]
        out_z[out] = z
        oc[out] = c[nearest]
        return out_c.reshape(H, W, 3), out_z.reshape(H, W)
