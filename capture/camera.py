"""Camera conventions of capture. This module owns them; sources, tracking and fusion import it.

Depth images live in the depth camera's *OpenCV frame*: x right, y down, z forward, metres.
Every toolkit source registers colour to depth (like K4A's ``transformed_color``), so one
camera model serves both images of a :class:`~thuman.capture.frames.Frame`.

:class:`CameraModel` is the lens: pinhole intrinsics plus the Azure Kinect SDK's distortion model
exactly as libk4a defines it (``src/transformation/intrinsic_transformation.c``): Brown-Conrady with
radial k1..k6 (rational: (1 + k1 r^2 + k2 r^4 + k3 r^6) / (1 + k4 r^2 + k5 r^4 + k6 r^6)), tangential
p1, p2, a centre of distortion (codx, cody, normalised units) and a metric radius beyond which a ray
has no pixel. The older Rational 6KT model differs only by a factor 1/2 on the tangential cross
terms (``tangential_cross`` = 1 instead of 2). A pinhole camera is the model with every coefficient
zero. Pixel centres are at integer coordinates (OpenCV; the SDK's "pixelized zero-centred").

Every place that projects or back-projects capture points calls :func:`project`,
:func:`project_torch` or :func:`backproject`; each takes a CameraModel or a bare (3, 3) K
(read as a pinhole camera).

The *capture frame* (also the THuman item frame) is the same camera rotated by 180 degrees about
x: x right, y up, z toward the camera (OpenGL), metres. A subject facing the camera faces +z,
as SMPL does in its own frame, and stands at negative z.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, replace
from typing import Optional, Union

import numpy as np

from thuman_io.errors import SchemaError

#: (4, 4) OpenCV camera frame -> capture frame (flip y and z).
CV_TO_CAPTURE = np.diag([1.0, -1.0, -1.0, 1.0])

#: The lens models a CameraModel can hold (names as stored in recordings and items).
LENS_MODELS = ("pinhole", "brown_conrady", "rational_6kt")

#: libk4a's default metric radius (normalised units) where a calibration stores 0 (colour cameras).
DEFAULT_METRIC_RADIUS = 1.7


@dataclass(frozen=True)
class CameraModel:
    """A camera: image size, intrinsics and the K4A lens distortion.

    width, height:   image size in pixels.
    fx, fy, cx, cy:  focal lengths and principal point in pixels (pixel centres at integers).
    k:               (k1, ..., k6) radial coefficients of the rational model.
    p1, p2:          tangential coefficients (OpenCV's p1, p2; K4A's raw files store p2 before p1).
    codx, cody:      centre of distortion, normalised image units (0 for Brown-Conrady).
    metric_radius:   largest undistorted radius sqrt(x^2 + y^2) (x = X/Z) with a valid pixel; 0 = none.
    model:           one of LENS_MODELS.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    k: tuple = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    p1: float = 0.0
    p2: float = 0.0
    codx: float = 0.0
    cody: float = 0.0
    metric_radius: float = 0.0
    model: str = "pinhole"

    def __post_init__(self):
        object.__setattr__(self, "k", tuple(float(x) for x in self.k))
        if len(self.k) != 6:
            raise SchemaError(None, "camera.k", f"needs 6 radial coefficients, got {len(self.k)}")
        if self.model not in LENS_MODELS:
            raise SchemaError(None, "camera.model", f"'{self.model}' unknown; use one of {', '.join(LENS_MODELS)}")
        if not (self.fx > 0 and self.fy > 0):
            raise SchemaError(None, "camera", f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")

    # ---- construction and storage -------------------------------------------------------------
    @classmethod
    def pinhole(cls, K: np.ndarray, width: int, height: int) -> "CameraModel":
        """A distortion-free camera from a (3, 3) K."""
        K = np.asarray(K, np.float64)
        return cls(int(width), int(height), float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))

    @property
    def K(self) -> np.ndarray:
        """(3, 3) float64 pinhole part (the intrinsics matrix alone; not enough for a distorted lens)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def distortion(self) -> np.ndarray:
        """(8,) OpenCV order (k1, k2, p1, p2, k3, k4, k5, k6), as pyk4a's get_distortion_coefficients."""
        k1, k2, k3, k4, k5, k6 = self.k
        return np.array([k1, k2, self.p1, self.p2, k3, k4, k5, k6])

    @property
    def is_pinhole(self) -> bool:
        return self.model == "pinhole" or (not any(self.k) and self.p1 == 0 and self.p2 == 0
                                           and self.metric_radius == 0)

    @property
    def tangential_cross(self) -> float:
        """Factor on the tangential cross terms x*y*p: 2 (Brown-Conrady, OpenCV), 1 (Rational 6KT)."""
        return 1.0 if self.model == "rational_6kt" else 2.0

    def to_dict(self) -> dict:
        """JSON-serialisable fields (what recordings and items store)."""
        d = asdict(self)
        d["k"] = list(self.k)
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "camera") -> "CameraModel":
        try:
            return cls(**{**d, "k": tuple(d.get("k", (0.0,) * 6))})
        except TypeError as e:
            raise SchemaError(None, where, f"is not a camera model ({e})") from None

    def with_size(self, width: int, height: int, dx: float = 0.0, dy: float = 0.0) -> "CameraModel":
        """The same lens cropped: image (width, height) whose pixel (0, 0) is this one's (dx, dy)."""
        return replace(self, width=int(width), height=int(height), cx=self.cx - dx, cy=self.cy - dy)

    # ---- the lens on normalised coordinates (pure, numpy or torch) ------------------------------
    def distort(self, x, y):
        """Undistorted normalised (x = X/Z, y = Y/Z) -> distorted normalised; arrays of one shape.
        Works on numpy arrays and torch tensors alike (libk4a's transformation_project_internal)."""
        k1, k2, k3, k4, k5, k6 = self.k
        xp, yp = x - self.codx, y - self.cody
        xp2, yp2, xyp = xp * xp, yp * yp, xp * yp
        rs = xp2 + yp2
        a = 1 + rs * (k1 + rs * (k2 + rs * k3))
        b = 1 + rs * (k4 + rs * (k5 + rs * k6))
        d = a / b
        c = self.tangential_cross
        xd = xp * d + (rs + 2 * xp2) * self.p2 + c * xyp * self.p1
        yd = yp * d + (rs + 2 * yp2) * self.p1 + c * xyp * self.p2
        return xd + self.codx, yd + self.cody

    def _jacobian(self, x, y):
        """d(distorted x, y) / d(x, y) as four arrays (numpy), for Newton's method."""
        k1, k2, k3, k4, k5, k6 = self.k
        xp, yp = x - self.codx, y - self.cody
        rs = xp * xp + yp * yp
        a = 1 + rs * (k1 + rs * (k2 + rs * k3))
        b = 1 + rs * (k4 + rs * (k5 + rs * k6))
        da = k1 + rs * (2 * k2 + 3 * k3 * rs)
        db = k4 + rs * (2 * k5 + 3 * k6 * rs)
        d = a / b
        dd = 2 * (da * b - a * db) / (b * b)  # d(d)/d(rs) times 2 (rs' = 2 xp)
        c = self.tangential_cross
        j00 = d + xp * xp * dd + 6 * xp * self.p2 + c * yp * self.p1
        j01 = xp * yp * dd + 2 * yp * self.p2 + c * xp * self.p1
        j10 = xp * yp * dd + 2 * xp * self.p1 + c * yp * self.p2
        j11 = d + yp * yp * dd + 6 * yp * self.p1 + c * xp * self.p2
        return j00, j01, j10, j11

    def undistort(self, xd: np.ndarray, yd: np.ndarray, iterations: int = 20):
        """Distorted normalised -> (x, y, valid) undistorted normalised, by Newton's method from the
        radial inverse (libk4a's transformation_unproject_internal). Invalid: no convergence to
        1e-3 px or outside the metric radius."""
        xd, yd = np.asarray(xd, np.float64), np.asarray(yd, np.float64)
        if self.is_pinhole:
            return xd.copy(), yd.copy(), np.ones(xd.shape, bool)
        k1, k2, k3, k4, k5, k6 = self.k
        xp, yp = xd - self.codx, yd - self.cody
        rs = xp * xp + yp * yp
        a = 1 + rs * (k1 + rs * (k2 + rs * k3))
        b = 1 + rs * (k4 + rs * (k5 + rs * k6))
        x, y = xp * b / np.where(a != 0, a, 1.0) + self.codx, yp * b / np.where(a != 0, a, 1.0) + self.cody
        best = np.full(x.shape, np.inf)
        for _ in range(iterations):
            u, v = self.distort(x, y)
            ex, ey = (xd - u) * self.fx, (yd - v) * self.fy  # residual in pixels
            err = ex * ex + ey * ey
            improved = err < best
            best = np.where(improved, err, best)
            j00, j01, j10, j11 = self._jacobian(x, y)
            det = j00 * j11 - j01 * j10
            det = np.where(np.abs(det) > 1e-12, det, 1e-12)
            dx = (j11 * (xd - u) - j01 * (yd - v)) / det
            dy = (-j10 * (xd - u) + j00 * (yd - v)) / det
            x = np.where(improved, x + dx, x)
            y = np.where(improved, y + dy, y)
        u, v = self.distort(x, y)
        err = ((xd - u) * self.fx) ** 2 + ((yd - v) * self.fy) ** 2
        valid = np.isfinite(err) & (err < 1e-6) & self._inside(x, y)
        return x, y, valid

    def _inside(self, x, y):
        r = self.metric_radius if self.metric_radius > 0 else None
        if r is None or self.model == "pinhole":
            return np.ones(np.shape(x), bool) if isinstance(x, np.ndarray) else (x == x)
        return (x - self.codx) ** 2 + (y - self.cody) ** 2 <= r * r

    # ---- pixels ----------------------------------------------------------------------------------
    def ray_table(self) -> np.ndarray:
        """(H, W, 2) float64 (X/Z, Y/Z) of every pixel centre's ray; NaN where the lens has no ray.
        Computed once per model (cached)."""
        return _ray_table(self)


@functools.lru_cache(maxsize=16)
def _ray_table(cam: CameraModel) -> np.ndarray:
    u, v = np.meshgrid(np.arange(cam.width, dtype=np.float64), np.arange(cam.height, dtype=np.float64))
    x, y, valid = cam.undistort((u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy)
    table = np.stack([x, y], axis=-1)
    table[~valid] = np.nan
    table.setflags(write=False)
    return table


CameraLike = Union[CameraModel, np.ndarray]


def as_camera(camera: CameraLike, shape: Optional[tuple[int, int]] = None) -> CameraModel:
    """A CameraModel from a CameraModel, or a pinhole one from a (3, 3) K and the (H, W) ``shape``."""
    if isinstance(camera, CameraModel):
        return camera
    K = np.asarray(camera, np.float64)
    h, w = shape if shape is not None else (int(round(2 * K[1, 2] + 1)), int(round(2 * K[0, 2] + 1)))
    return CameraModel.pinhole(K, w, h)


def backproject(depth_m: np.ndarray, camera: CameraLike) -> np.ndarray:
    """Pixels to 3D points in the OpenCV camera frame, along each pixel's ray through the lens.

    depth_m: (H, W) float, metres along the optical axis (Z), 0 or NaN = invalid.
    camera: CameraModel of that image size, or a (3, 3) pinhole K.
    Returns (H, W, 3) float32 points; invalid pixels (and pixels the lens has no ray for) give 0.
    """
    cam = as_camera(camera, np.shape(depth_m))
    z = np.nan_to_num(np.asarray(depth_m, dtype=np.float64))
    if cam.is_pinhole:
        h, w = z.shape
        u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        x, y = (u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy
    else:
        if z.shape != (cam.height, cam.width):
            raise ValueError(f"depth image {z.shape} does not match the camera ({cam.height}, {cam.width})")
        rays = cam.ray_table()
        ok = np.isfinite(rays[..., 0])
        z = np.where(ok, z, 0.0)
        x, y = np.nan_to_num(rays[..., 0]), np.nan_to_num(rays[..., 1])
    return np.stack([x * z, y * z, z], axis=-1).astype(np.float32)


def project(points_cv: np.ndarray, camera: CameraLike, with_valid: bool = False):
    """3D points in the OpenCV camera frame to pixel coordinates through the lens.

    points_cv: (..., 3) metres. Returns (..., 2) float64 (u, v) pixels; with ``with_valid`` also
    (...,) bool: z > 0 and inside the lens's metric radius (other points' pixels are meaningless).
    """
    cam = as_camera(camera)
    p = np.asarray(points_cv, dtype=np.float64)
    z = p[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = p[..., 0] / z, p[..., 1] / z
    valid = (z > 0) & cam._inside(x, y)
    if not cam.is_pinhole:
        x, y = cam.distort(x, y)
    uv = np.stack([cam.fx * x + cam.cx, cam.fy * y + cam.cy], axis=-1)
    return (uv, valid) if with_valid else uv


def project_torch(points_cv, camera: CameraLike):
    """torch version of :func:`project`: (N, 3) tensor, OpenCV frame, metres, z > 0 assumed
    (callers clamp it) -> ((N, 2) float (u, v) pixels, (N,) bool inside the metric radius)."""
    cam = as_camera(camera)
    z = points_cv[:, 2]
    x, y = points_cv[:, 0] / z, points_cv[:, 1] / z
    valid = z > 0
    if not cam.is_pinhole:
        if cam.metric_radius > 0:
            valid = valid & ((x - cam.codx) ** 2 + (y - cam.cody) ** 2 <= cam.metric_radius ** 2)
        x, y = cam.distort(x, y)
    import torch

    return torch.stack([cam.fx * x + cam.cx, cam.fy * y + cam.cy], dim=-1), valid


def depth_mm_to_m(depth_mm: np.ndarray) -> np.ndarray:
    """(H, W) uint16 millimetres -> (H, W) float32 metres (0 stays 0 = invalid)."""
    return np.asarray(depth_mm, dtype=np.float32) * 1e-3


def cv_to_capture(points_cv: np.ndarray) -> np.ndarray:
    """(..., 3) OpenCV camera frame -> capture frame (y and z negated)."""
    p = np.array(points_cv, dtype=np.float32, copy=True)
    p[..., 1:] *= -1
    return p


def capture_to_cv(points: np.ndarray) -> np.ndarray:
    """(..., 3) capture frame -> OpenCV camera frame (its own inverse)."""
    return cv_to_capture(points)


def register_color(color: np.ndarray, depth_m: np.ndarray, camera: CameraModel, color_camera: CameraModel,
                   depth_to_color: np.ndarray) -> np.ndarray:
    """Colour resampled into the depth camera (what K4A's ``color_image_to_depth_camera`` does): each
    depth pixel's point, moved into the colour camera and projected through its lens, takes the
    colour there (nearest pixel).

    color: (Hc, Wc, C) uint8 native colour image. depth_m: (H, W) metres, 0 = none.
    depth_to_color: (4, 4) metres. Returns (H, W, C) uint8; 0 where there is no depth or the
    point falls outside the colour image. No occlusion test (neither has the SDK's).
    """
    pts = backproject(depth_m, camera).reshape(-1, 3).astype(np.float64)
    T = np.asarray(depth_to_color, np.float64)
    q = pts @ T[:3, :3].T + T[:3, 3]
    uv, ok = project(q, color_camera, with_valid=True)
    u, v = np.round(uv[:, 0]), np.round(uv[:, 1])
    hc, wc = color.shape[:2]
    ok &= (pts[:, 2] > 0) & (u >= 0) & (u < wc) & (v >= 0) & (v < hc)
    out = np.zeros((pts.shape[0],) + color.shape[2:], np.uint8)
    out[ok] = color[v[ok].astype(np.int64), u[ok].astype(np.int64)]
    return out.reshape(depth_m.shape + color.shape[2:])


def color_from_registered(registered: np.ndarray, depth_m: np.ndarray, camera: CameraModel,
                          color_camera: CameraModel, depth_to_color: np.ndarray) -> np.ndarray:
    """The native colour image a registered one came from, as far as the depth pixels saw it (the
    inverse of :func:`register_color`): each depth pixel's colour is splatted over the 2x2
    colour pixels around its projection, nearer points last so they win. Where no depth pixel
    lands the image is 0.

    registered: (H, W, C) uint8 colour on the depth pixels. Returns (color_camera.height, .width, C).
    """
    pts = backproject(depth_m, camera).reshape(-1, 3).astype(np.float64)
    T = np.asarray(depth_to_color, np.float64)
    q = pts @ T[:3, :3].T + T[:3, 3]
    uv, ok = project(q, color_camera, with_valid=True)
    ok &= pts[:, 2] > 0
    src = np.asarray(registered).reshape((-1,) + registered.shape[2:])
    order = np.flatnonzero(ok)[np.argsort(-q[ok, 2], kind="stable")]  # far first
    hc, wc = color_camera.height, color_camera.width
    out = np.zeros((hc * wc,) + registered.shape[2:], np.uint8)
    u0, v0 = np.floor(uv[order, 0]).astype(np.int64), np.floor(uv[order, 1]).astype(np.int64)
    for du in (0, 1):
        for dv in (0, 1):
            u, v = u0 + du, v0 + dv
            inside = (u >= 0) & (u < wc) & (v >= 0) & (v < hc)
            out[v[inside] * wc + u[inside]] = src[order[inside]]  # later (nearer) writes win
    return out.reshape((hc, wc) + registered.shape[2:])
