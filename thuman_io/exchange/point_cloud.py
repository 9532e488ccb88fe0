"""Coloured point clouds as binary PLY (MeshLab, CloudCompare and Open3D read it). Atomic write."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from thuman_io.atomic import atomic_write_bytes
from thuman_io.errors import InputError


def write_point_cloud_ply(path: str | os.PathLike, points: np.ndarray, colors: np.ndarray | None = None,
                          comment: str = "") -> Path:
    """Write (N, 3) points (float32 on disk; units are the caller's, say them in ``comment``) and
    optional (N, 3) uint8 RGB colours as a binary little-endian PLY. Returns the path."""
    path = Path(path)
    p = np.asarray(points, np.float32)
    if p.ndim != 2 or p.shape[1] != 3:
        raise InputError(path, f"points must be (N, 3), got {p.shape}")
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    props = ["property float x", "property float y", "property float z"]
    if colors is not None:
        c = np.asarray(colors, np.uint8)
        if c.shape != p.shape:
            raise InputError(path, f"colours must be (N, 3) like the points, got {c.shape}")
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        props += ["property uchar red", "property uchar green", "property uchar blue"]
    rows = np.empty(len(p), dtype=fields)
    rows["x"], rows["y"], rows["z"] = p[:, 0], p[:, 1], p[:, 2]
    if colors is not None:
        rows["red"], rows["green"], rows["blue"] = c[:, 0], c[:, 1], c[:, 2]
    lines = ["ply", "format binary_little_endian 1.0"] + [f"comment {ln}" for ln in comment.splitlines() if ln]
    lines += [f"element vertex {len(p)}"] + props + ["end_header"]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("ascii") + rows.tobytes())
    return path
