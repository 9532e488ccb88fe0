"""Draw docs/body_poses.png: the open body model in its rest pose and in library poses.

    python scripts/render_body_poses.py [--out docs/body_poses.png] [--poses 0,7,...]

Top row: front views (camera on +Z looking at the subject's face), shaded grey. Bottom row: the
same bodies from the side (camera on the subject's left, +X) coloured by the semantic code.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def render(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None, view: str,
           size: tuple[int, int] = (360, 240)) -> np.ndarray:
    """(H, W, 3) uint8 orthographic render of one mesh, 2.1 m tall field of view."""
    from thuman.synth.render.pyrender_compat import pyrender
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, vertex_colors=colors, process=False)
    scene = pyrender.Scene(bg_color=[1.0, 1.0, 1.0, 1.0], ambient_light=[0.35, 0.35, 0.35])
    scene.add(pyrender.Mesh.from_trimesh(mesh, smooth=True))
    center = (vertices.max(axis=0) + vertices.min(axis=0)) / 2
    pose = np.eye(4)
    if view == "front":
        pose[:3, 3] = [center[0], center[1], 5.0]
    else:  # from the subject's left (+X), looking along -X
        pose[:3, :3] = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
        pose[:3, 3] = [5.0, center[1], center[2]]
    h, w = size
    cam = pyrender.OrthographicCamera(xmag=1.05 * w / h, ymag=1.05, znear=0.1, zfar=20.0)
    scene.add(cam, pose=pose)
    scene.add(pyrender.DirectionalLight(intensity=3.0), pose=pose)
    r = pyrender.OffscreenRenderer(w, h)
    try:
        color, _ = r.render(scene)
    finally:
        r.delete()
    return color


def main(argv=None) -> int:
    from PIL import Image, ImageDraw

    from thuman_io.body import load_body_model
    from thuman_io.body.poses import load_pose_library

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "docs" / "body_poses.png")
    p.add_argument("--poses", default="", help="library indices (default: five key poses)")
    args = p.parse_args(argv)
    bm = load_body_model("open")
    lib = load_pose_library("builtin")
    if args.poses:
        picks = [int(i) for i in args.poses.split(",")]
    else:
        wanted = ["walk", "arms_up", "squat", "wave", "kick"]
        picks = [lib.names.index(n) for n in wanted if n in lib.names][:5]
    poses = [np.zeros(72, np.float32)] + [lib.poses[i] for i in picks]
    labels = ["rest (T-pose)"] + [lib.names[i] for i in picks]
    colors = (np.concatenate([bm.semantic_code, np.ones((bm.num_vertices, 1))], axis=1) * 255).astype(np.uint8)
    tiles = []
    for pose in poses:
        v, f = bm.posed_mesh(pose72=pose)
        tiles.append((render(v, f, None, "front"), render(v, f, colors, "side")))
    h, w = tiles[0][0].shape[:2]
    sheet = Image.new("RGB", (w * len(tiles), 2 * h + 48), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (front, side) in enumerate(tiles):
        sheet.paste(Image.fromarray(front), (i * w, 24))
        sheet.paste(Image.fromarray(side), (i * w, 48 + h))
        draw.text((i * w + 8, 6), labels[i] + (" - front" if i == 0 else ""), fill="black")
    draw.text((8, 30 + h), "from the subject's left, coloured by the semantic code (x, y, z) -> (R, G, B)",
              fill="black")
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    from thuman_io.atomic import atomic_write_bytes

    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
