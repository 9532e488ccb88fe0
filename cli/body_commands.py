"""``thuman body export | poses``: a posed body mesh, and the pose library's contents.

Thin: the body model and pose library live in ``thuman_io.body``; the mesh goes out through
trimesh and ``thuman_io.atomic``.
"""
from __future__ import annotations

from pathlib import Path

import click


@click.group()
def body():
    """Body models: export a posed body, list the pose library."""


def _parse_betas(text: str | None):
    import numpy as np

    from thuman_io.errors import InputError

    if not text:
        return None
    try:
        values = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise InputError(None, f"--betas {text!r}: expected comma-separated numbers, e.g. 1.5,-0.5") from None
    if len(values) > 10:
        raise InputError(None, f"--betas: {len(values)} values given, the body models use at most 10")
    return np.array(values, dtype=np.float32)


def _pose_from(spec: str | None, fps: float | None):
    """'LIBRARY:INDEX' (LIBRARY = builtin | a .json | an AMASS .npz; INDEX = number or name)."""
    from thuman_io.body.poses import load_pose_library
    from thuman_io.errors import InputError

    if not spec:
        return None, "rest"
    library, sep, key = spec.rpartition(":")
    if not sep or not library or not key:
        raise InputError(None, f"--pose-from {spec!r}: expected LIBRARY:INDEX, e.g. builtin:walk or builtin:12")
    lib = load_pose_library(library, fps=fps)
    try:
        i = lib.index(key)
    except (KeyError, IndexError) as e:
        raise InputError(None, f"--pose-from {spec!r}: {e.args[0]}") from None
    return lib.poses[i], lib.names[i]


@body.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Mesh file to write; the format follows the extension (.obj, .ply, .glb, .stl).")
@click.option("--betas", default=None, help="Shape coefficients, comma-separated (up to 10, rest 0).")
@click.option("--pose-from", "pose_from", default=None, metavar="LIBRARY:INDEX",
              help="Pose from a library: builtin:walk, builtin:12, motion.npz:300 (AMASS frame).")
@click.option("--model", "model", default="open", show_default=True,
              help="Body model: 'open', 'smpl' or 'smplx' ($THUMAN_SMPL_DIR), or a path to an SMPL/SMPL-X .pkl/.npz or folder.")
@click.option("--gender", type=click.Choice(["neutral", "male", "female"]), default="neutral",
              show_default=True, help="Which SMPL file to take from a folder.")
@click.option("--colour", "colour", type=click.Choice(["none", "semantic"]), default="semantic",
              show_default=True, help="Vertex colours: the semantic code (paper sec. 3) or none.")
def export(out: Path, betas, pose_from, model, gender, colour):
    """Write a posed body mesh (metres, Y up, facing +Z)."""
    import numpy as np
    import trimesh

    from thuman_io.atomic import atomic_write_bytes
    from thuman_io.body import load_body_model
    from thuman_io.errors import InputError

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("obj", "ply", "glb", "stl"):
        raise InputError(out, "unknown mesh format: use .obj, .ply, .glb or .stl")
    b = _parse_betas(betas)
    pose, pose_name = _pose_from(pose_from, fps=None)
    bm = load_body_model(model, gender=gender)
    vertices, faces = bm.posed_mesh(betas=b, pose72=pose)
    colors = None
    if colour == "semantic":
        colors = np.concatenate([bm.semantic_code, np.ones((bm.num_vertices, 1), np.float32)], axis=1)
        colors = (colors * 255).round().astype(np.uint8)
    mesh = trimesh.Trimesh(vertices, faces, vertex_colors=colors, process=False)
    data = mesh.export(file_type=fmt)  # text formats (OBJ) come back as str
    atomic_write_bytes(out, data.encode("utf-8") if isinstance(data, str) else data)
    height = float(vertices[:, 1].max() - vertices[:, 1].min())
    click.echo(f"wrote {out}: {bm.name} body, {len(vertices)} vertices, pose {pose_name}, "
               f"height {height:.3f} m")


@body.command()
@click.option("--library", default="builtin", show_default=True,
              help="'builtin', a key-pose .json, or an AMASS/MoSh .npz file.")
@click.option("--variants", default=9, show_default=True, help="Perturbed copies per key pose (builtin/.json).")
@click.option("--seed", default=0, show_default=True, help="Seed of the perturbations (builtin/.json).")
@click.option("--fps", type=float, default=None, help="Resample an AMASS file to this frame rate.")
@click.option("--keys-only", is_flag=True, help="List only the key poses, not their variants.")
def poses(library, variants, seed, fps, keys_only):
    """List the poses of a pose library (index and name)."""
    from thuman_io.body.poses import load_pose_library

    lib = load_pose_library(library, variants=variants, seed=seed, fps=fps)
    click.echo(f"# {lib.source}: {len(lib)} poses" + (f" at {lib.fps:g} fps" if lib.fps else ""))
    for i, name in enumerate(lib.names):
        if keys_only and "~" in name:
            continue
        click.echo(f"{i:5d}  {name}")
