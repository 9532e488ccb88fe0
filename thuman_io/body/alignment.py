"""Does an item's body lie inside its mesh? The measure ``thuman validate --body`` and
``thuman info --body`` report (docs/body.md, "Body alignment").

A body under clothing lies on or inside the clothed surface; a misplaced one pokes out. The
measure is the distance of each posed body vertex *outside* the mesh (0 for vertices inside),
its mean and 95th percentile over all body vertices. Distances are exact point-to-triangle
distances (Open3D); a vertex is outside when it lies on the outer side of its closest triangle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Tolerances (metres): a body is misaligned when either figure exceeds its bound. Measured on
#: six simulated clothed subjects (seeds 220-225) with their true body (mean outside 0.06-0.24 cm,
#: p95 0.24-0.86 cm) and with it moved 10 cm along x, y or z (mean 2.1-3.9 cm, p95 7.2-9.2 cm):
#: docs/body.md, "Body alignment".
TOLERANCE_MEAN_M = 0.01
TOLERANCE_P95_M = 0.03


@dataclass
class BodyAlignment:
    """How far a body lies outside a mesh. Metres; fraction_outside in [0, 1]."""

    mean_outside_m: float
    p95_outside_m: float
    max_outside_m: float
    fraction_outside: float

    @property
    def aligned(self) -> bool:
        return self.mean_outside_m <= TOLERANCE_MEAN_M and self.p95_outside_m <= TOLERANCE_P95_M

    def describe(self) -> str:
        return (f"body outside the mesh: mean {self.mean_outside_m * 100:.1f} cm, p95 "
                f"{self.p95_outside_m * 100:.1f} cm, max {self.max_outside_m * 100:.1f} cm, "
                f"{self.fraction_outside * 100:.0f}% of vertices")


def body_alignment(body_vertices: np.ndarray, mesh_vertices: np.ndarray, mesh_faces: np.ndarray) -> BodyAlignment:
    """Outside distances of body_vertices (V, 3) to the mesh (N, 3) / (F, 3), metres."""
    from thuman_io.body.registration.surface import SurfaceQuery

    sd = SurfaceQuery(mesh_vertices, mesh_faces).signed_distance(np.asarray(body_vertices, np.float32))
    out = np.maximum(sd, 0.0).astype(np.float64)
    return BodyAlignment(mean_outside_m=float(out.mean()), p95_outside_m=float(np.percentile(out, 95)),
                         max_outside_m=float(out.max()), fraction_outside=float((out > 0).mean()))


def item_body_alignment(item, body_model=None) -> BodyAlignment:
    """The alignment of an :class:`~thuman_io.item.Item`'s body (posed by its own model, or by
    ``body_model``) with its mesh. Raises BodyModelError when the model cannot be loaded."""
    from thuman_io.body.model import cached_body_model

    s = item.smpl
    if body_model is None:
        bm = cached_body_model(s.model, s.gender if s.model != "open" else "neutral")
    else:
        bm = body_model
    body, _ = bm.posed_mesh(s.betas, s.full_pose, s.transl)
    return body_alignment(body, item.mesh.vertices, item.mesh.faces)


def alignment_problem(a: BodyAlignment) -> str | None:
    """The one-line problem for a misaligned body, or None."""
    if a.aligned:
        return None
    return (f"{a.describe()} (tolerance: mean {TOLERANCE_MEAN_M * 100:.0f} cm, p95 "
            f"{TOLERANCE_P95_M * 100:.0f} cm); refit the body (thuman import without --smpl)")


def item_alignment_problems(path, item) -> list[str]:
    """``validate_item``'s body check: one-line problems naming the file (empty when aligned)."""
    from thuman_io.errors import BodyModelError

    try:
        problem = alignment_problem(item_body_alignment(item))
    except BodyModelError as e:
        return [f"{path}: body alignment not checked: {e}"]
    return [] if problem is None else [f"{path}: field 'smpl': {problem}"]


def alignment_distribution(alignments: list[BodyAlignment]) -> list[str]:
    """Lines describing alignments of many items: percentiles (0, 50, 90, 100) of their mean and
    p95 outside distances, in cm, and how many are beyond the tolerance."""
    if not alignments:
        return ["body alignment: no items"]
    lines = []
    for name, values in (("mean", [a.mean_outside_m for a in alignments]),
                         ("p95", [a.p95_outside_m for a in alignments])):
        q = np.percentile(np.asarray(values) * 100, [0, 50, 90, 100])
        lines.append(f"body {name} outside (cm): min {q[0]:.1f}  median {q[1]:.1f}  p90 {q[2]:.1f}  max {q[3]:.1f}")
    bad = sum(not a.aligned for a in alignments)
    lines.append(f"body misaligned: {bad} of {len(alignments)} items (tolerance mean {TOLERANCE_MEAN_M * 100:.0f} cm, "
                 f"p95 {TOLERANCE_P95_M * 100:.0f} cm)")
    return lines
