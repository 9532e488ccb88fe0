"""Mesh geometry every part of the toolkit shares: area-weighted vertex normals.

One function for numpy arrays and torch tensors (the synthesizer, the simulated sensor, capture's
tracking, fusion, session and coverage all call it). torch is never imported here: a tensor
brings its own module, so ``thuman_io`` keeps importing with numpy alone.
"""
from __future__ import annotations

import numpy as np


def vertex_normals(vertices, faces):
    """Area-weighted unit vertex normals (each face adds its area vector to its three vertices).

    vertices: (V, 3) float, any unit; faces: (F, 3) int, counter-clockwise seen from outside.
    numpy in: computed in float64, returns (V, 3) float32. torch in: computed and returned in the
    vertices' dtype and device (differentiable). A vertex used by no non-degenerate face gets
    (0, 0, 0).
    """
    if type(vertices).__module__.startswith("torch"):
        import torch

        f = faces.to(device=vertices.device, dtype=torch.long)
        v0, v1, v2 = vertices[f[:, 0]], vertices[f[:, 1]], vertices[f[:, 2]]
        fn = torch.cross(v1 - v0, v2 - v0, dim=-1)                       # length = 2 * area
        n = torch.zeros_like(vertices)
        for k in range(3):
            n = n.index_add(0, f[:, k], fn)
        return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    e1, e2 = v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]
    # cross product by components (np.cross is several times slower on large arrays)
    fn = np.stack([e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1], e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2],
                   e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]], axis=1)
    ids = f.T.reshape(-1)
    n = np.stack([np.bincount(ids, weights=np.tile(fn[:, c], 3), minlength=len(v)) for c in range(3)], axis=1)
    return (n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)).astype(np.float32)
