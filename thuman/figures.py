"""Pictures for the demo report: a captured item, the training curves, a mesh seen from the front.

Arrays in, arrays out: images are (H, W, 3) float32 in [0, 1]. Meshes are drawn with the
synthesizer's orthographic renderer (pyrender on EGL) so no other renderer is needed; curves with
matplotlib's Agg backend (no display).
"""
from __future__ import annotations

import io
import os

import numpy as np

from thuman_io.grid import VolumeGrid

#: Grid of the item pictures: 288 x 192 pixels at scale 2, the grid's 2:3 portrait box.
PICTURE_GRID = VolumeGrid.from_shape((96, 144, 96))
#: Light direction (view frame: x right, y up, z toward the camera), from the upper left front.
LIGHT = np.array([-0.35, 0.45, 0.82]) / np.linalg.norm([-0.35, 0.45, 0.82])


def yaw_matrix(angle: float) -> np.ndarray:
    """(3, 3) rotation about +y by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def shade(vertices_view: np.ndarray, faces: np.ndarray, albedo: np.ndarray | None) -> np.ndarray:
    """(V, 3) per-vertex colours: albedo (V, 3) in [0, 1] (None: light grey) x (ambient + Lambert).

    Shading is baked into vertex colours because the renderer's passes are unlit."""
    import trimesh

    n = trimesh.Trimesh(vertices_view, faces, process=False).vertex_normals
    lambert = np.clip(n @ LIGHT, 0.0, 1.0)[:, None]
    base = np.full((len(vertices_view), 3), 0.78) if albedo is None else np.asarray(albedo, np.float64)
    return np.clip(base * (0.35 + 0.65 * lambert), 0.0, 1.0)


def mesh_views(vertices: np.ndarray, faces: np.ndarray, yaws=(0.0,), albedo: np.ndarray | None = None,
               renderer=None, background=1.0, fit_points: np.ndarray | None = None,
               margin: float = 1.1) -> list[np.ndarray]:
    """Shaded orthographic pictures of a mesh, one per yaw (radians; 0 = seen along -z).

    vertices (V, 3) metres (or any unit), y up, front facing +z; faces (F, 3); albedo (V, 3) in
    [0, 1] or None. All views share one scale: ``fit_points`` (N, 3) (default: the vertices)
    fill 1/margin of the picture's box, so meshes drawn with the same fit_points share a frame.
    Returns (2 * 144, 2 * 96, 3) float32 images over a ``background`` grey level.
    """
    from thuman.synth.normalize import fit_views
    from thuman.synth.render.renderer import OrthoRenderer

    rotations = [yaw_matrix(a) for a in yaws]
    fit = np.asarray(vertices if fit_points is None else fit_points, np.float64)
    transforms, _ = fit_views(fit, rotations, PICTURE_GRID, margin)
    own = renderer is None
    renderer = renderer or OrthoRenderer(PICTURE_GRID)
    out = []
    try:
        for m in transforms:
            v = np.asarray(vertices, np.float64) @ m[:3, :3].T + m[:3, 3]
            colour, alpha = renderer.flat_pass(v, faces, colors=shade(v, faces, albedo), scale=2)
            out.append((colour * alpha[..., None] + background * (1.0 - alpha[..., None])).astype(np.float32))
    finally:
        if own:
            renderer.close()
    return out


def box_corners(grid: VolumeGrid) -> np.ndarray:
    """(8, 3) corners of a grid's box in its view frame (fit points that frame a picture like the grid)."""
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)
    return signs * grid.half_extent


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """Resize an (H, W, 3) uint8 or float image to ``height`` rows, keeping its aspect (bilinear)."""
    from PIL import Image

    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
    w = max(1, int(round(a.shape[1] * height / a.shape[0])))
    return np.asarray(Image.fromarray(a).resize((w, height), Image.BILINEAR), np.float32) / 255.0


def hstack(images: list[np.ndarray], gap: int = 4, background: float = 1.0) -> np.ndarray:
    """Images of equal height side by side with ``gap`` pixels between them."""
    h = images[0].shape[0]
    sep = np.full((h, gap, 3), background, np.float32)
    parts = []
    for i, im in enumerate(images):
        parts += ([sep] if i else []) + [np.asarray(im, np.float32)]
    return np.concatenate(parts, axis=1)


def item_picture(item, renderer=None) -> np.ndarray:
    """A captured item at a glance: its RGB frame (when stored), the vertex-coloured mesh from the
    camera, and the bare geometry from the camera and from the side. (288, W, 3) float32."""
    mesh = item.mesh
    v, f = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    albedo = None if mesh.vertex_colors is None else np.asarray(mesh.vertex_colors, np.float64) / 255.0
    coloured = mesh_views(v, f, (0.0,), albedo=albedo, renderer=renderer)
    grey = mesh_views(v, f, (0.0, np.pi / 2), renderer=renderer)
    panels = coloured + grey
    if item.frame is not None:
        color = crop_to_depth(item.frame.color, item.frame.depth_mm) if item.frame.depth_registered_to_color \
            else item.frame.color
        panels.insert(0, fit_height(color, panels[0].shape[0]))
    return hstack(panels)


def crop_to_depth(color: np.ndarray, depth_mm: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """The part of a registered colour image (H, W, 3) where depth (H, W) was measured, with a
    ``margin`` (fraction of the box) around it; the whole image when depth covers most of it."""
    rows, cols = np.nonzero(depth_mm > 0)
    if len(rows) == 0 or len(rows) > 0.6 * depth_mm.size:
        return color
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    dr, dc = int((r1 - r0) * margin) + 2, int((c1 - c0) * margin) + 2
    h, w = depth_mm.shape
    return color[max(0, r0 - dr):min(h, r1 + dr), max(0, c0 - dc):min(w, c1 + dc)]


def read_scalars(tensorboard_dir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Scalar series of a TensorBoard log folder: tag -> [(step, value), ...] sorted by step.
    A later run that resumed rewrites steps (purge_step), so the last value of a step wins."""
    import logging

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(os.fspath(tensorboard_dir), size_guidance={"scalars": 0})
    # A resumed run's purge is expected; TensorBoard warns about it on stderr ("out of order").
    tb_logger = logging.getLogger("tensorboard")
    level = tb_logger.level
    tb_logger.setLevel(logging.ERROR)
    try:
        acc.Reload()
    finally:
        tb_logger.setLevel(level)
    out = {}
    for tag in acc.Tags().get("scalars", []):
        by_step = {int(e.step): float(e.value) for e in acc.Scalars(tag)}
        out[tag] = sorted(by_step.items())
    return out


def curves_png(series: dict[str, list[tuple[int, float]]], stage1_steps: int | None = None,
               title: str = "training losses") -> bytes:
    """PNG of the loss curves (log scale): one line per 'loss/...' tag, the stage boundary dashed;
    beside them the validation split's loss ('val/loss', dots on the same axis) and IoU
    ('val/iou', right axis) when the run logged them."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    losses = {k: v for k, v in series.items() if k.startswith("loss/") and v}
    fig, ax = plt.subplots(figsize=(9.0, 3.8), dpi=100)
    styles = ["-", "--", "-.", ":"]
    try:
        for i, (tag, points) in enumerate(sorted(losses.items(), key=lambda kv: kv[0] != "loss/total")):
            steps, values = zip(*points)
            # Distinct dash patterns: the two silhouette losses often lie on top of each other.
            ax.plot(steps, values, label=tag.split("/", 1)[1], linewidth=2.4 if tag == "loss/total" else 1.4,
                    linestyle=styles[i % len(styles)], marker="o" if len(steps) < 30 else None, markersize=3)
        val_loss, val_iou = series.get("val/loss") or [], series.get("val/iou") or []
        if val_loss:
            steps, values = zip(*val_loss)
            ax.plot(steps, values, label="validation total", color="black", linestyle="none", marker="s", markersize=5)
        if val_iou:
            right = ax.twinx()
            steps, values = zip(*val_iou)
            right.plot(steps, values, color="tab:green", marker="^", linewidth=1.2, label="validation IoU")
            right.set_ylabel("validation IoU", color="tab:green")
            right.set_ylim(0.0, 1.0)
            right.legend(fontsize=9, loc="lower left", bbox_to_anchor=(1.08, 0.0), frameon=False)
        if stage1_steps and losses and max(s for v in losses.values() for s, _ in v) > stage1_steps:
            ax.axvline(stage1_steps + 0.5, color="grey", linestyle="--", linewidth=1)
            ax.text(stage1_steps + 0.5, 0.02, " stage 2 (joint)", transform=ax.get_xaxis_transform(),
                    va="bottom", ha="left", fontsize=9, color="grey")
        if losses and min(v for p in list(losses.values()) + [val_loss] for _, v in p) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        if losses:
            ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()
