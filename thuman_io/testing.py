"""Generated items for tests and benchmarks (nothing is downloaded).

``make_synthetic_item(rng, "s01", 0)`` returns a valid :class:`Item`: a textured, vertex-coloured
ellipsoid about the size of a person (metres, Y up, feet at y = 0), small random SMPL parameters
and (optionally) an RGB-D frame. Other engineers reuse it; keep its signature stable.
"""
from __future__ import annotations

import math

import numpy as np

from thuman_io.item import Item, ItemMeta, RGBDFrame, SMPLParams, TexturedMesh


def ellipsoid_mesh(n_vertices: int = 2000, radii=(0.25, 0.85, 0.15), center=(0.0, 0.85, 0.0)):
    """A closed latitude/longitude ellipsoid with a UV seam.

    Returns (vertices (V, 3) float32 metres, faces (F, 3) int32 counter-clockwise seen from outside,
    uv (V, 2) float32 in [0, 1]). V is about ``n_vertices`` (the grid is rounded).
    """
    n_lon = max(4, int(round(math.sqrt(2.0 * n_vertices))))
    n_lat = max(2, int(round(n_vertices / (n_lon + 1))) - 1)
    theta = np.linspace(0.0, np.pi, n_lat + 1)              # from the top (y = +r) down
    phi = np.linspace(0.0, 2.0 * np.pi, n_lon + 1)          # last column duplicates the first: UV seam
    t, p = np.meshgrid(theta, phi, indexing="ij")
    unit = np.stack([np.sin(t) * np.sin(p), np.cos(t), np.sin(t) * np.cos(p)], axis=-1)
    vertices = (unit * np.asarray(radii) + np.asarray(center)).reshape(-1, 3).astype(np.float32)
    uv = np.stack([p / (2 * np.pi), 1.0 - t / np.pi], axis=-1).reshape(-1, 2).astype(np.float32)
    idx = np.arange((n_lat + 1) * (n_lon + 1)).reshape(n_lat + 1, n_lon + 1)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    # Rows grow downward and columns grow with phi (counter-clockwise seen from +y), so (a, c, b)
    # and (b, c, d) face outward. The poles give degenerate triangles; they are valid and harmless.
    faces = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)]).astype(np.int32)
    return vertices, faces, uv


def make_synthetic_item(rng: np.random.Generator, subject: str = "s000", pose_index: int = 0,
                        n_vertices: int = 2000, with_frame: bool = True, textured: bool = True,
                        frame_size: tuple = (96, 128), texture_size: int = 64) -> Item:
    """A valid synthetic item; every random value comes from ``rng``.

    frame_size: (rows, cols) of the colour and (registered) depth images.
    """
    radii = (0.25, 0.85, 0.15) * rng.uniform(0.9, 1.1, 3)
    vertices, faces, uv = ellipsoid_mesh(n_vertices, radii=radii, center=(0.0, radii[1], 0.0))
    vertices = vertices + rng.normal(0.0, 0.002, vertices.shape).astype(np.float32)
    colors = rng.integers(0, 256, (len(vertices), 3), dtype=np.uint8)
    texture = rng.integers(0, 256, (texture_size, texture_size, 3), dtype=np.uint8) if textured else None
    mesh = TexturedMesh(vertices=vertices, faces=faces, vertex_colors=colors,
                        uv=uv if textured else None, texture=texture)
    smpl = SMPLParams(betas=rng.normal(0, 0.5, 10).astype(np.float32),
                      global_orient=rng.normal(0, 0.1, 3).astype(np.float32),
                      body_pose=rng.normal(0, 0.1, 69).astype(np.float32),
                      transl=np.array([0.0, 0.9, 0.0], np.float32) + rng.normal(0, 0.01, 3).astype(np.float32),
                      model="open", gender="neutral",
                      fit_residual=np.array([0.012, 0.034], np.float32))  # constant: no draw from rng
    meta = ItemMeta(subject=subject, pose_index=int(pose_index), capture_time="2026-01-01T00:00:00Z",
                    device=f"sim:{int(rng.integers(0, 2**31))}",
                    reference_pose=rng.normal(0, 0.1, 72).astype(np.float32),
                    postprocessing=["poisson", "remesh"], extra={"generator": "thuman_io.testing"})
    frame = None
    if with_frame:
        h, w = frame_size
        k = np.array([[w * 0.9, 0, w / 2], [0, w * 0.9, h / 2], [0, 0, 1]], np.float64)
        to_item = np.eye(4)
        to_item[:3, 3] = (0.0, 0.9, 2.5)
        frame = RGBDFrame(color=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                          depth_mm=rng.integers(1500, 3000, (h, w), dtype=np.uint16),
                          color_intrinsics=k, depth_intrinsics=k.copy(), depth_to_color=np.eye(4),
                          camera_to_item=to_item, depth_registered_to_color=True,
                          timestamp_us=int(rng.integers(0, 10**9)))
    return Item(mesh=mesh, smpl=smpl, meta=meta, frame=frame)
