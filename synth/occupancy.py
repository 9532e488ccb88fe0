"""Occupancy of a triangle mesh on a voxel grid, by signed crossings along voxel columns.

For every voxel column (row, col) the column's centre line runs along the depth axis. Each
triangle that the line crosses contributes +1 if it faces the camera (n_z > 0: walking away from
the camera, we enter the solid) and -1 if it faces away. A cumulative sum of the crossings along
depth is the winding number of every voxel centre, and a voxel is occupied where it is > 0.

Why a winding number and not parity: posed body models self-intersect (arms into the torso,
thighs into each other); ray parity hollows the overlap, the winding number (2 there) fills it.
For meshes with holes a column whose crossings do not sum to zero "leaks": we count such columns
(:attr:`Occupancy.leak_columns`) and give a leaking column the majority vote of its non-leaking
neighbour columns (a small hole is surrounded by good columns), so a hole never fills a column
to the back of the box nor punches a tunnel through the body.

Everything is vectorised numpy: triangles are expanded to the pixel centres inside their
bounding boxes, kept by exact edge functions with a top-left rule (a centre on a shared edge is
counted once), and scattered with ``np.bincount``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thuman_io.grid import VolumeGrid


@dataclass
class ColumnCrossings:
    """Where triangles cross voxel column centre lines.

    pixel: (N,) int64 flat column index row * W + col.
    depth: (N,) float64 continuous depth index of the crossing (voxel k spans [k, k+1)).
    sign:  (N,) int8, +1 for a triangle facing the camera, -1 facing away.
    face:  (N,) int64 index of the crossing triangle.
    """

    pixel: np.ndarray
    depth: np.ndarray
    sign: np.ndarray
    face: np.ndarray


@dataclass
class Occupancy:
    """Result of :func:`occupancy`.

    volume:          (D, H, W) bool, inside of the mesh (depth index 0 nearest the camera).
    leak_columns:    number of columns whose crossings do not balance (0 for a closed mesh).
    crossed_columns: number of columns the mesh crosses at all.
    inverted:        True if the mesh was wound inside out (signs flipped to compensate).
    """

    volume: np.ndarray
    leak_columns: int
    crossed_columns: int
    inverted: bool = False

    @property
    def leak_fraction(self) -> float:
        """Leaking columns / crossed columns (0 for a watertight mesh)."""
        return self.leak_columns / max(self.crossed_columns, 1)


def column_crossings(vertices_index: np.ndarray, faces: np.ndarray, height: int, width: int,
                     scale: int = 1) -> ColumnCrossings:
    """Rasterise triangles onto pixel centres and return the crossings.

    vertices_index: (V, 3) float64 continuous (depth index, row, col) of the vertices
                    (``VolumeGrid.view_to_index``).
    faces:          (F, 3) int triangle indices.
    height, width:  the grid's H, W; ``scale`` > 1 samples a ``scale`` x finer pixel lattice
                    (pixel centres at (r + 0.5) / scale), returning pixels of the finer lattice.
    """
    v = np.asarray(vertices_index, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    h, w = height * scale, width * scale
    tri = v[f]                                        # (F, 3, 3) k, row, col
    y = tri[:, :, 1] * scale - 0.5                    # pixel-centre lattice: centre of r is r
    x = tri[:, :, 2] * scale - 0.5
    z = tri[:, :, 0]
    # twice the signed area in (x=col, y=row); row grows downward, so with x right / y up
    # a camera-facing (counter-clockwise) triangle has negative area here.
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    keep = area != 0
    r0 = np.maximum(np.ceil(y.min(axis=1)), 0)
    r1 = np.minimum(np.floor(y.max(axis=1)), h - 1)
    c0 = np.maximum(np.ceil(x.min(axis=1)), 0)
    c1 = np.minimum(np.floor(x.max(axis=1)), w - 1)
    keep &= (r1 >= r0) & (c1 >= c0)
    idx = np.nonzero(keep)[0]
    nr = (r1[idx] - r0[idx] + 1).astype(np.int64)
    nc = (c1[idx] - c0[idx] + 1).astype(np.int64)
    counts = nr * nc
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0)
        return ColumnCrossings(empty.astype(np.int64), empty, empty.astype(np.int8), empty.astype(np.int64))
    t = np.repeat(idx, counts)                        # triangle of each candidate
    start = np.repeat(np.cumsum(counts) - counts, counts)
    local = np.arange(total) - start
    ncr = np.repeat(nc, counts)
    pr = np.repeat(r0[idx], counts) + local // ncr
    pc = np.repeat(c0[idx], counts) + local % ncr

    # orient every triangle the same way (positive area) and remember the facing as the sign
    flip = area[t] < 0
    sign = np.where(flip, 1, -1).astype(np.int8)      # negative area = faces the camera
    xa, ya, za = x[t], y[t], z[t]
    xa[flip] = xa[flip][:, ::-1]
    ya[flip] = ya[flip][:, ::-1]
    za[flip] = za[flip][:, ::-1]
    inside = np.ones(total, dtype=bool)
    bary = np.empty((total, 3))
    for e in range(3):
        a, b = (e + 1) % 3, (e + 2) % 3               # edge opposite vertex e
        dx, dy = xa[:, b] - xa[:, a], ya[:, b] - ya[:, a]
        wgt = dx * (pr - ya[:, a]) - dy * (pc - xa[:, a])
        # top-left rule: a centre exactly on an edge belongs to one of the two triangles sharing it
        owner = (dy < 0) | ((dy == 0) & (dx > 0))
        inside &= (wgt > 0) | ((wgt == 0) & owner)
        bary[:, e] = wgt
    bary = bary[inside]
    bary /= bary.sum(axis=1, keepdims=True)
    depth = (bary * za[inside]).sum(axis=1)
    return ColumnCrossings(pixel=(pr[inside] * w + pc[inside]).astype(np.int64), depth=depth,
                           sign=sign[inside], face=t[inside])


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume of a triangle mesh (positive when faces wind counter-clockwise outside)."""
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def occupancy(vertices_view: np.ndarray, faces: np.ndarray, grid: VolumeGrid) -> Occupancy:
    """Occupancy of a mesh at the voxel centres of ``grid``.

    vertices_view: (V, 3) float, view frame (x right, y up, z toward the camera), normalised units.
    faces:         (F, 3) int, counter-clockwise seen from outside (inside-out meshes are detected
                   by their signed volume and handled).
    Returns an :class:`Occupancy`; ``volume`` is (D, H, W) bool. Exact for closed meshes up to
    floating point: a voxel is occupied iff its centre has a positive winding number.
    """
    d, h, w = grid.shape
    faces = np.asarray(faces, dtype=np.int64)
    inverted = signed_volume(vertices_view, faces) < 0
    cr = column_crossings(grid.view_to_index(vertices_view), faces, h, w)
    sign = -cr.sign if inverted else cr.sign
    # a crossing at depth t changes the winding of every centre k + 0.5 > t, i.e. k >= round(t)
    k = np.clip(np.floor(cr.depth + 0.5), 0, d).astype(np.int64)
    # work on the crossed columns only (compact, contiguous along depth), then scatter back
    cols, col_of = np.unique(cr.pixel, return_inverse=True)
    n = len(cols)
    winding = np.bincount(col_of * (d + 1) + k, weights=sign, minlength=n * (d + 1)).reshape(n, d + 1)
    np.cumsum(winding, axis=1, out=winding)
    inside_c = winding[:, :d] > 0.5
    leaking = np.abs(winding[:, d]) > 0.5             # winding behind the box: 0 when balanced
    volume = np.zeros((d, h * w), dtype=bool)
    volume[:, cols] = inside_c.T
    if leaking.any():
        _fill_leaking(volume, cols[leaking], h, w, _last_crossing(col_of, k, n)[leaking])
    inside = volume.reshape(d, h, w)
    return Occupancy(volume=inside, leak_columns=int(leaking.sum()), crossed_columns=n,
                     inverted=bool(inverted))


def _last_crossing(col_of: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, col_of, k)
    return last


def _fill_leaking(volume: np.ndarray, leaking: np.ndarray, h: int, w: int, last: np.ndarray) -> None:
    """Repair the columns that pass through holes, in place.

    volume: (D, H*W) bool; leaking: flat column indices. A leaking column takes the majority vote
    of its non-leaking 8-neighbours, crossed or empty (a small hole is surrounded by good
    columns); one with no such neighbour keeps its winding but only up to its last crossing, so a hole can
    never fill a column to the back of the box.
    """
    d = volume.shape[0]
    good = np.ones(h * w, dtype=bool)
    good[leaking] = False
    r, c = np.divmod(leaking, w)
    votes = np.zeros((d, len(leaking)))
    count = np.zeros(len(leaking))
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            rr, cc = r + dr, c + dc
            ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            nb = np.where(ok, rr * w + cc, 0)
            ok &= good[nb]
            votes += volume[:, nb] * ok
            count += ok
    has = count > 0
    volume[:, leaking[has]] = votes[:, has] / count[has] > 0.5
    alone = leaking[~has]
    volume[:, alone] &= np.arange(d)[:, None] < last[~has][None, :]
