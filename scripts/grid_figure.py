"""Draw docs/grid.png: the volume box, the view-frame axes, the camera and the image/voxel
correspondence, from the numbers in thuman_io.grid (so the figure cannot drift from the code).

    python scripts/grid_figure.py [docs/grid.png]
"""
from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from thuman_io.atomic import atomic_path  # noqa: E402
from thuman_io.grid import PAPER_GRID  # noqa: E402


def main(out: str = "docs/grid.png") -> None:
    g = PAPER_GRID
    hx, hy, hz = g.half_extent
    fig = plt.figure(figsize=(13, 6.2))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    ax.view_init(elev=20, azim=28, vertical_axis="y")
    corners = np.array([[x, y, z] for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)])
    for i in range(8):
        for j in range(i + 1, 8):
            if np.sum(corners[i] != corners[j]) == 1:
                ax.plot(*corners[[i, j]].T, color="0.4", lw=1)
    # the front face (z = +D/2, depth index 0) shaded
    front = np.array([[-hx, -hy, hz], [hx, -hy, hz], [hx, hy, hz], [-hx, hy, hz], [-hx, -hy, hz]])
    ax.plot(*front.T, color="tab:blue", lw=2)
    # one voxel column: row r, col c, all depth indices
    r, c = 40, 90
    a, b = g.index_to_view(np.array([[0, r + 0.5, c + 0.5], [g.depth, r + 0.5, c + 0.5]]))
    ax.plot(*np.stack([a, b]).T, color="tab:red", lw=3)
    ax.text(*a, f"  k = 0 (front)\n  voxel column (row {r}, col {c})", color="tab:red", fontsize=8)
    ax.text(*b, f"  k = {g.depth - 1} (back)", color="tab:red", fontsize=8)
    o = np.array([-hx, -hy, hz])
    for vec, name, colr in (([0.25, 0, 0], "x (right)", "tab:green"), ([0, 0.25, 0], "y (up)", "tab:purple"),
                            ([0, 0, 0.25], "z (toward camera)", "tab:orange")):
        ax.quiver(*o, *vec, color=colr, lw=2, arrow_length_ratio=0.2)
        ax.text(*(o + np.array(vec) * 1.15), name, color=colr, fontsize=9)
    cam = np.array([0, 0, hz + 0.45])
    ax.scatter(*cam, color="k", s=40)
    ax.quiver(*cam, 0, 0, -0.3, color="k", arrow_length_ratio=0.2)
    ax.text(*cam, "  orthographic camera\n  looks along -z", fontsize=9)
    ax.set_xlim(-0.5, 0.5), ax.set_ylim(-0.55, 0.55), ax.set_zlim(-0.5, 0.8)
    ax.set_xlabel("x"), ax.set_ylabel("y"), ax.set_zlabel("z")
    ax.set_title(f"volume box (D, H, W) = {g.shape}, voxel = 1/{g.height}\n"
                 f"x in [{-hx:.3f}, {hx:.3f}], y in [{-hy:.2f}, {hy:.2f}], z in [{-hz:.3f}, {hz:.3f}]",
                 fontsize=10)

    ax2 = fig.add_subplot(1, 2, 2)
    h, w = g.image_shape
    ax2.add_patch(plt.Rectangle((0, 0), w, h, fill=False, color="tab:blue", lw=2))
    for k in range(0, w + 1, 16):
        ax2.plot([k, k], [0, h], color="0.85", lw=0.5)
    for k in range(0, h + 1, 16):
        ax2.plot([0, w], [k, k], color="0.85", lw=0.5)
    ax2.add_patch(plt.Rectangle((c, r), 1, 1, color="tab:red"))
    ax2.annotate(f"pixel (row {r}, col {c}) = voxel column (:, {r}, {c})\n"
                 f"normal map pixels rows {2 * r}-{2 * r + 1}, cols {2 * c}-{2 * c + 1}",
                 (c + 0.5, r + 0.5), (8, r + 40), color="tab:red", fontsize=9,
                 arrowprops=dict(arrowstyle="->", color="tab:red"))
    ax2.annotate("row 0 = top (y = +1/2)", (0, 0), (4, -6), fontsize=9)
    ax2.annotate("col 0 = left (x = -1/3)", (0, h), (2, h + 10), fontsize=9)
    ax2.set_xlim(-10, w + 10), ax2.set_ylim(h + 16, -16)
    ax2.set_aspect("equal")
    ax2.set_title(f"image {h} x {w} (rgb, semantic map, masks at 2x: {2 * h} x {2 * w})\n"
                  "numpy (H, W, C), torch (B, C, H, W); volume z-slice v[:, :, k] aligns with it",
                  fontsize=10)
    ax2.set_xlabel("col (x right)"), ax2.set_ylabel("row (y down the image)")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


if __name__ == "__main__":
    main(*sys.argv[1:])
