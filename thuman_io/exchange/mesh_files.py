"""Mesh files in and out: OBJ (+ MTL + PNG texture), PLY and GLB.

OBJ is written by this module (so float32 vertices survive the text round trip exactly: ``%.9g``
is enough digits for any float32); PLY and GLB go through trimesh, imported lazily. Reading uses
trimesh with ``process=False, maintain_order=True`` so vertex and face order are kept.
Every output is written atomically (``thuman_io.atomic``).
"""
from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np

from thuman_io.atomic import atomic_write_bytes, atomic_write_text
from thuman_io.errors import InputError
from thuman_io.item import TexturedMesh

FORMATS = ("obj", "ply", "glb")


def export_mesh(mesh: TexturedMesh, out: str | os.PathLike, fmt: str | None = None) -> list[Path]:
    """Write ``mesh`` to ``out`` as OBJ, PLY or GLB (from ``fmt`` or the suffix). Returns the files
    written (an OBJ with a texture also writes ``<stem>.mtl`` and ``<stem>.png`` beside it)."""
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InputError(out, f"format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if fmt == "obj":
        return _write_obj(mesh, out)
    # PLY has no texture images: it gets vertex colours (sampled from the texture if need be).
    tm = to_trimesh(mesh, vertex_colors_only=(fmt == "ply"))
    data = tm.export(file_type=fmt)
    atomic_write_bytes(out, data if isinstance(data, bytes) else data.encode())
    return [out]


def _write_obj(mesh: TexturedMesh, out: Path) -> list[Path]:
    written = []
    lines = ["# THuman item mesh written by thuman_io (metres, Y up)"]
    textured = mesh.texture is not None and mesh.uv is not None
    if textured:
        mtl, png = out.with_suffix(".mtl"), out.with_suffix(".png")
        lines += [f"mtllib {mtl.name}", "usemtl material0"]
        atomic_write_text(mtl, f"newmtl material0\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nmap_Kd {png.name}\n")
        atomic_write_bytes(png, _png_bytes(mesh.texture))
        written += [mtl, png]
    v = np.asarray(mesh.vertices, np.float32)
    if mesh.vertex_colors is not None:
        c = np.asarray(mesh.vertex_colors, np.float64) / 255.0
        lines += [f"v {a:.9g} {b:.9g} {z:.9g} {r:.6f} {g:.6f} {bb:.6f}"
                  for (a, b, z), (r, g, bb) in zip(v.tolist(), c.tolist())]
    else:
        lines += [f"v {a:.9g} {b:.9g} {z:.9g}" for a, b, z in v.tolist()]
    f = np.asarray(mesh.faces, np.int64) + 1
    if textured:
        lines += [f"vt {a:.9g} {b:.9g}" for a, b in np.asarray(mesh.uv, np.float32).tolist()]
        lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in f.tolist()]
    else:
        lines += [f"f {a} {b} {c}" for a, b, c in f.tolist()]
    atomic_write_text(out, "\n".join(lines) + "\n")
    return written + [out]


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def texture_to_vertex_colors(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Nearest-texel colour at each vertex: texture (Ht, Wt, 3) uint8, uv (V, 2) in [0, 1] with the
    origin bottom-left -> (V, 3) uint8."""
    h, w = texture.shape[:2]
    uv = np.clip(np.asarray(uv, np.float64), 0.0, 1.0)
    cols = np.rint(uv[:, 0] * (w - 1)).astype(np.int64)
    rows = np.rint((1.0 - uv[:, 1]) * (h - 1)).astype(np.int64)
    return np.asarray(texture, np.uint8)[rows, cols]


def to_trimesh(mesh: TexturedMesh, vertex_colors_only: bool = False):
    """A ``trimesh.Trimesh`` with the same vertices, faces and colour (texture or vertex colours;
    ``vertex_colors_only`` turns a texture into vertex colours)."""
    import trimesh

    visual = None
    textured = mesh.texture is not None and mesh.uv is not None
    if vertex_colors_only and textured and mesh.vertex_colors is None:
        visual = trimesh.visual.ColorVisuals(vertex_colors=texture_to_vertex_colors(mesh.texture, mesh.uv))
    elif textured and not vertex_colors_only:
        from PIL import Image

        material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(np.asarray(mesh.texture)))
        visual = trimesh.visual.TextureVisuals(uv=np.asarray(mesh.uv), material=material)
    elif mesh.vertex_colors is not None:
        visual = trimesh.visual.ColorVisuals(vertex_colors=np.asarray(mesh.vertex_colors))
    return trimesh.Trimesh(vertices=np.asarray(mesh.vertices, np.float64), faces=np.asarray(mesh.faces),
                           visual=visual, process=False)


def load_mesh(path: str | os.PathLike) -> TexturedMesh:
    """Read an OBJ/PLY/GLB/OFF/STL mesh as a :class:`TexturedMesh` (float32 vertices, int32 faces).

    Raises InputError naming the file when it is missing, unreadable, empty, or names a texture
    file (OBJ ``map_Kd``) that does not exist. Values are not checked here; the caller runs
    ``thuman_io.validate.item_problems`` on the item it builds.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "mesh file not found")
    keep_order = True
    if path.suffix.lower() == ".obj":
        _check_obj_textures(path)
        # Textured scans (THuman2.x among them) give a vertex several uv at texture seams;
        # trimesh keeps the vertex order only by keeping one uv per vertex, which smears the
        # texture across every seam. Such files are split at seams instead (uv per vertex).
        keep_order = not _obj_has_uv_seams(path)
    import trimesh

    try:
        # trimesh warns (nanmedian of an empty slice) on the way to some of the errors below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            loaded = trimesh.load(str(path), process=False, maintain_order=keep_order, force="mesh")
    except IndexError as e:
        raise InputError(path, "faces index out of range", " ".join(str(e).split())[:160]) from None
    except Exception as e:  # trimesh raises many types on bad files
        raise InputError(path, "cannot read mesh", " ".join(str(e).split())[:160] or type(e).__name__) from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.vertices) == 0 or len(loaded.faces) == 0:
        raise InputError(path, "empty mesh (no vertices or no faces)", "export the mesh again")
    vertices = np.asarray(loaded.vertices, np.float32)
    faces = np.asarray(loaded.faces, np.int32)
    colors = uv = texture = None
    visual = loaded.visual
    if visual.kind == "texture" and getattr(visual, "uv", None) is not None and len(visual.uv) == len(vertices):
        uv = np.asarray(visual.uv, np.float32)
        image = getattr(visual.material, "image", None)
        if image is None:
            image = getattr(visual.material, "baseColorTexture", None)
        if image is not None:
            texture = np.asarray(image.convert("RGB"), np.uint8)
        else:
            uv = None
    if visual.kind == "vertex":
        colors = np.asarray(visual.vertex_colors, np.uint8)[:, :3]
    return TexturedMesh(vertices=vertices, faces=faces, vertex_colors=colors, uv=uv, texture=texture)


_FACE_VT = re.compile(rb"(?m)^f\s.*$")
_VERTEX_VT = re.compile(rb"(\d+)/(\d+)")


def _obj_has_uv_seams(obj: Path) -> bool:
    """Whether some face corner of the OBJ names a texture coordinate whose index differs from
    its vertex index (a vertex with several uv)."""
    data = obj.read_bytes()
    if b"\nvt " not in data:
        return False
    pairs = np.array(_VERTEX_VT.findall(b"\n".join(_FACE_VT.findall(data))), dtype=np.int64).reshape(-1, 2)
    return bool(len(pairs)) and bool((pairs[:, 0] != pairs[:, 1]).any())


_MTLLIB = re.compile(r"^\s*mtllib\s+(.+?)\s*$", re.M)
_MAP_KD = re.compile(r"^\s*map_Kd\s+(?:-\S+\s+\S+\s+)*(.+?)\s*$", re.M)


def _check_obj_textures(obj: Path) -> None:
    """Raise InputError if the OBJ's material library or a texture it names is missing."""
    head = obj.read_bytes()[:1 << 20].decode("utf-8", "replace")  # mtllib sits near the top
    for lib in _MTLLIB.findall(head):
        mtl = obj.parent / lib
        if not mtl.is_file():
            raise InputError(obj, f"material library '{lib}' not found beside the mesh",
                             "copy it next to the OBJ or remove the mtllib line")
        for tex in _MAP_KD.findall(mtl.read_text(errors="replace")):
            if not (mtl.parent / tex).is_file():
                raise InputError(obj, f"texture file '{tex}' (named by {mtl.name}) not found",
                                 "copy the texture next to the mesh")
