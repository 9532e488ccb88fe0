"""The semantic volume (paper sec. 3): the posed body voxelized, each occupied voxel carrying the
semantic code of the body surface near it.

As in DeepHuman's data preparation, a voxel takes the Gaussian-weighted mean of the codes of the
``k = 4`` nearest posed body vertices, weights exp(-d^2 / sigma^2) with sigma = 0.05 in view-frame
units (the box is 1 unit tall, so 0.05 is about 9 voxels at 192 rows and ~8 cm on a 1.7 m body).
The body is voxelized with the same winding-number occupancy as the clothed mesh, so overlapping
limbs are filled.
"""
from __future__ import annotations

import numpy as np

from thuman.synth.occupancy import Occupancy, occupancy
from thuman_io.grid import VolumeGrid

SIGMA = 0.05
NEIGHBOURS = 4


def propagate_codes(points: np.ndarray, vertices: np.ndarray, codes: np.ndarray, k: int = NEIGHBOURS,
                    sigma: float = SIGMA) -> np.ndarray:
    """Codes at ``points`` from their ``k`` nearest vertices.

    points: (N, 3), vertices: (V, 3), same frame and unit as ``sigma``; codes: (V, C).
    Returns (N, C) float32 = sum_j w_j c_j / sum_j w_j with w_j = exp(-d_j^2 / sigma^2).
    """
    if len(points) == 0:
        return np.zeros((0, codes.shape[1]), np.float32)
    d, idx = nearest_vertices(np.asarray(points, dtype=np.float64), np.asarray(vertices, dtype=np.float64), k)
    d, idx = d.reshape(len(points), -1), idx.reshape(len(points), -1)
    d2 = d * d
    # subtract the nearest distance first: deep voxels would otherwise underflow every weight
    w = np.exp(-(d2 - d2[:, :1]) / (sigma * sigma))
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkc->nc", w, np.asarray(codes, dtype=np.float64)[idx]).astype(np.float32)


def semantic_volume(body_vertices_view: np.ndarray, body_faces: np.ndarray, codes: np.ndarray,
                    grid: VolumeGrid, k: int = NEIGHBOURS, sigma: float = SIGMA,
                    body_occupancy: Occupancy | None = None) -> tuple[np.ndarray, Occupancy]:
    """The semantic volume of a posed body.

    body_vertices_view: (V, 3) posed body vertices, view frame, normalised units.
    body_faces: (F, 3) int. codes: (V, 3) float in [0, 1] (``bm.semantic_code``).
    Returns ((D, H, W, 3) float32 volume, 0 outside the body; the body's :class:`Occupancy`).
    """
    occ = body_occupancy if body_occupancy is not None else occupancy(body_vertices_view, body_faces, grid)
    flat = np.flatnonzero(occ.volume)               # C order, as np.argwhere; 7x faster
    idx = np.stack(np.unravel_index(flat, grid.shape), axis=1)
    volume = np.zeros(grid.shape + (codes.shape[1],), np.float32)
    centres = grid.index_to_view(idx + 0.5)
    volume.reshape(-1, codes.shape[1])[flat] = propagate_codes(centres, body_vertices_view, codes, k, sigma)
    return volume, occ


def nearest_vertices(points: np.ndarray, vertices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest of ``vertices`` (V, 3) to every point of ``points`` (N, 3), both float64.

    Returns (distances (N, k) float64 ascending, indices (N, k) int64). Uses pykdtree when it is
    installed (2.4x faster than scipy's cKDTree here, single-threaded: 0.65 vs 1.6 us per query
    of the 4 nearest of 6.9k body vertices) and cKDTree otherwise; both are exact, so they find
    the same neighbours.
    """
    try:
        from pykdtree.kdtree import KDTree
    except ImportError:
        KDTree = None
    if KDTree is not None:
        d, idx = KDTree(vertices).query(points, k=k)
    else:
        from scipy.spatial import cKDTree

        d, idx = cKDTree(vertices).query(points, k=k)
    return np.asarray(d, np.float64).reshape(len(points), k), np.asarray(idx, np.int64).reshape(len(points), k)
