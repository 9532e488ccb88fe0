"""Cut the subject out of a depth point cloud: remove the room's large planes (floor, walls).

The camera is static during a session, so the planes are found once (on the first frame, RANSAC
with Open3D) and removed from every later frame; what is left near the body is the subject.
"""
from __future__ import annotations

import numpy as np


def find_planes(points: np.ndarray, max_planes: int = 3, tolerance_m: float = 0.02,
                min_extent_m: float = 1.0, min_fraction: float = 0.05, seed: int = 0,
                cell_m: float = 0.1, min_fill: float = 0.6) -> list:
    """Large planes in a point cloud (P, 3) metres.

    A plane counts when it holds at least ``min_fraction`` of the points and its inliers form a
    dense sheet (:func:`is_sheet`). Returns a list of (normal (3,), offset) with
    normal . p + offset = 0.
    """
    import open3d as o3d

    o3d.utility.random.seed(int(seed))
    pts = np.asarray(points, dtype=np.float64)
    planes = []
    for _ in range(max_planes):
        if len(pts) < 100:
            break
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
        model, inliers = pc.segment_plane(distance_threshold=tolerance_m, ransac_n=3, num_iterations=300)
        inliers = np.asarray(inliers)
        if len(inliers) < min_fraction * len(points):
            break
        if not is_sheet(pts[inliers], min_extent_m, cell_m, min_fill):
            break
        n = np.asarray(model[:3], dtype=np.float64)
        planes.append((n / np.linalg.norm(n), float(model[3]) / np.linalg.norm(n)))
        pts = np.delete(pts, inliers, axis=0)
    return planes


def is_sheet(inliers: np.ndarray, min_extent_m: float = 1.0, cell_m: float = 0.1,
             min_fill: float = 0.6) -> bool:
    """Whether a plane's inliers (P, 3) metres are a wall or floor, not a slice through the subject.

    The inliers are binned on a ``cell_m`` grid in the plane; the largest 8-connected patch of
    occupied cells must span ``min_extent_m`` along both in-plane directions and fill at least
    ``min_fill`` of its bounding rectangle. Why: with no room behind the subject, RANSAC's best
    "plane" is the 2 cm slab through a subject facing the camera, whose scattered inliers (arms,
    legs, torso) span over 1 m x 1.7 m; a bare extent test took it for a wall and removed the
    subject (simulator seed 2 lost all but 59 points). Such slabs fill 20-57 % of their rectangle
    and break into patches; a floor or wall, even behind the subject, fills 75-95 %.
    """
    from scipy import ndimage

    c = inliers - inliers.mean(0)
    axes = np.linalg.svd(c[:: max(1, len(c) // 5000)], full_matrices=False)[2]
    uv = c @ axes[:2].T  # in-plane coordinates, metres
    ij = np.floor((uv - uv.min(0)) / cell_m).astype(np.int64)
    grid = np.zeros(ij.max(0) + 1, dtype=bool)
    grid[tuple(ij.T)] = True
    labels, n = ndimage.label(grid, structure=np.ones((3, 3)))
    if n == 0:
        return False
    counts = np.bincount(labels.ravel())
    counts[0] = 0
    patch = labels == np.argmax(counts)
    rows, cols = np.flatnonzero(patch.any(1)), np.flatnonzero(patch.any(0))
    size = np.array([rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1])
    fill = patch.sum() / float(size.prod())
    return bool(size.min() * cell_m >= min_extent_m and fill >= min_fill)


def remove_planes(points: np.ndarray, planes: list, tolerance_m: float = 0.03) -> np.ndarray:
    """Points (P, 3) not within ``tolerance_m`` of any plane, nor behind one (seen from the camera
    at the origin: a wall hides everything past it)."""
    keep = np.ones(len(points), dtype=bool)
    for n, d in planes:
        s = points @ n + d
        cam_side = np.sign(d) if d != 0 else 1.0  # sign of the camera (origin) side
        keep &= (s * cam_side) > tolerance_m
    return points[keep]


def largest_cluster(points: np.ndarray, cell_m: float = 0.05) -> np.ndarray:
    """The biggest connected group of points (P, 3), cells of ``cell_m`` touching by faces or
    corners count as connected (scipy.ndimage.label on an occupancy grid)."""
    from scipy import ndimage

    if len(points) == 0:
        return points
    ijk = np.floor((points - points.min(0)) / cell_m).astype(np.int64)
    grid = np.zeros(ijk.max(0) + 1, dtype=bool)
    grid[tuple(ijk.T)] = True
    labels, n = ndimage.label(grid, structure=np.ones((3, 3, 3)))
    if n <= 1:
        return points
    lab = labels[tuple(ijk.T)]
    counts = np.bincount(lab, minlength=n + 1)
    counts[0] = 0
    return points[lab == np.argmax(counts)]
