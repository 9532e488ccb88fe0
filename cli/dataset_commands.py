"""``thuman info | validate | export | import``: thin wrappers over thuman_io.

Errors from the library (ThumanError) reach ``thuman.cli.main``, which prints one line and exits 1.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from thuman.cli.common import progress


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--no-bbox", is_flag=True, help="Skip bounding boxes (they read every vertex array).")
@click.option("--body", is_flag=True, help="Also measure how far each body lies outside its mesh (poses every body).")
def info(path: Path, no_bbox: bool, body: bool):
    """Summarise an item file, a subject folder, a dataset folder, a corpus shard, a corpus or a
    recording: counts, shapes, bounding boxes, body model (with --body, for items: the distribution
    of body-outside-mesh distances)."""
    from thuman_io.dataset import is_subject_dir, open_dataset, read_header
    from thuman_io.errors import InputError
    from thuman_io.kinds import describe, path_kind

    if path.exists() and path_kind(path) in ("shard", "corpus", "recording"):
        for label, text in describe(path):
            click.echo(f"{label:9s} {text}")
        return
    if body:
        _info_body(path)

    if path.is_file():
        h = read_header(path, bbox=not no_bbox)
        click.echo(f"item      {h.path}")
        click.echo(f"subject   {h.subject}   pose {h.pose_index}")
        click.echo(f"mesh      {h.n_vertices} vertices, {h.n_faces} faces, "
                   f"{'texture' if h.has_texture else 'no texture'}, "
                   f"{'vertex colours' if h.has_vertex_colors else 'no vertex colours'}")
        if h.bbox_m is not None:
            click.echo(f"bbox (m)  min {_fmt(h.bbox_m[0])}  max {_fmt(h.bbox_m[1])}  "
                       f"size {_fmt(h.bbox_m[1] - h.bbox_m[0])}")
        click.echo(f"body      {h.body_model} ({h.gender})")
        click.echo(f"frame     {'x'.join(map(str, h.frame_shape)) if h.frame_shape else 'none'}")
        click.echo(f"device    {h.device or '-'}   captured {h.capture_time or '-'}   schema v{h.schema_version}")
        return
    if not path.is_dir():
        raise InputError(path, "no such file or directory")
    if is_subject_dir(path):
        summary = open_dataset(path.parent).summary(subject=path.name, bbox=not no_bbox)
        kind = "subject"
    else:
        summary = open_dataset(path).summary(bbox=not no_bbox)
        kind = "dataset"
    click.echo(f"{kind:9s} {path}")
    click.echo(f"items     {summary.n_items} in {len(summary.items_per_subject)} subjects")
    for subject, n in sorted(summary.items_per_subject.items()):
        click.echo(f"  {subject}: {n}")
    if summary.n_items:
        click.echo(f"vertices  {summary.vertices_range[0]} - {summary.vertices_range[1]}")
        click.echo(f"faces     {summary.faces_range[0]} - {summary.faces_range[1]}")
        click.echo(f"textured  {summary.n_textured}   with RGB-D frame {summary.n_frames}")
        click.echo("body      " + ", ".join(f"{k}: {v}" for k, v in sorted(summary.body_models.items())))
    if summary.bbox_m is not None:
        click.echo(f"bbox (m)  min {_fmt(summary.bbox_m[0])}  max {_fmt(summary.bbox_m[1])}")


def _info_body(path: Path) -> None:
    """``thuman info --body``: the alignment of one item, or its distribution over a folder."""
    from thuman_io.body.alignment import alignment_distribution, item_body_alignment
    from thuman_io.dataset import is_subject_dir, open_dataset
    from thuman_io.storage import read_item

    if path.is_file():
        item = read_item(path, frame=False)
        click.echo(item_body_alignment(item).describe())
        if item.smpl.fit_residual is not None:
            r = item.smpl.fit_residual
            click.echo(f"body fit residual: mean {r[0] * 100:.1f} cm, p95 {r[1] * 100:.1f} cm")
        return
    if path.is_dir():
        ds = open_dataset(path.parent if is_subject_dir(path) else path)
        refs = list(ds.items(subject=path.name if is_subject_dir(path) else None))
        found = [item_body_alignment(read_item(r.path, frame=False))
                 for r in progress(refs, desc="body alignment", unit="item")]
        for line in alignment_distribution(found):
            click.echo(line)


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:.3f}" for x in v) + ")"


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--body", is_flag=True,
              help="Also flag bodies that lie outside their mesh (tolerance in docs/body.md; poses every body).")
def validate(path: Path, body: bool):
    """Check an item, a subject folder, a dataset, a corpus shard, a corpus or a recording against
    its schema (NaN/inf included; with --body, items whose body lies outside their mesh). Exit 0
    when valid; otherwise print one line per problem (file and field) and exit 1."""
    from thuman_io.kinds import validate_any

    kind, problems, n = validate_any(path, body=body)
    for line in problems:
        click.echo(line)
    if problems:
        sys.exit(1)
    if kind == "item":
        click.echo(f"{path}: valid")
    elif kind in ("shard", "recording"):
        click.echo(f"{path}: valid {kind}")
    elif kind == "corpus":
        click.echo(f"{path}: corpus of {n} shards valid")
    else:
        click.echo(f"{path}: {n} items valid")


@click.command()
@click.argument("item", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["obj", "ply", "glb"]), default=None,
              help="Output format (default: from the --out suffix).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output mesh file.")
@click.option("--smpl", is_flag=True, help="Also write the posed body model as <stem>_smpl.<fmt>.")
@click.option("--body-model", default=None,
              help="Body model for --smpl: 'open' or a path to an SMPL .pkl/.npz (default: the item's).")
def export(item: Path, fmt, out: Path, smpl: bool, body_model):
    """Write an item's textured mesh (and with --smpl its body model) as OBJ, PLY or GLB."""
    from thuman_io.exchange import export_item

    from thuman_io.errors import InputError

    if fmt and not out.suffix:
        out = out.with_suffix(f".{fmt}")
    elif fmt and out.suffix.lower() != f".{fmt}":
        raise InputError(out, f"suffix '{out.suffix}' does not match --format {fmt}", "make them agree")
    for p in export_item(item, out, fmt=fmt, smpl=smpl, body_model=body_model):
        click.echo(f"wrote {p}")


@click.command(name="import")
@click.argument("mesh", required=False, type=click.Path(path_type=Path))
@click.option("--smpl", "params", type=click.Path(path_type=Path),
              help="SMPL or SMPL-X parameters of MESH (.json, .npz or .pkl); without it a body is fitted to MESH.")
@click.option("--dataset", required=True, type=click.Path(path_type=Path), help="Dataset folder to add to.")
@click.option("--subject", help="Subject id for MESH.")
@click.option("--pose", type=int, help="Pose index for MESH.")
@click.option("--thuman-release", "release", type=click.Path(path_type=Path),
              help="Import a whole THuman (2019) release folder instead of one MESH.")
@click.option("--thuman2", "thuman2", type=click.Path(path_type=Path),
              help="Import a THuman2.0/2.1 folder (<id>/<id>.obj + texture, <id>/smplx_param.pkl).")
@click.option("--scans", "scans", type=click.Path(path_type=Path),
              help="Import a folder of textured scans: <subject>/<pose>.obj|ply|glb + <pose>.json|npz|pkl.")
@click.option("--body-model", default=None,
              help="--thuman-release: 'open' (default) or the SMPL .pkl/.npz the release was fitted with; "
                   "--thuman2: 'smplx' (default, as released) or 'open' (no licensed model files needed); "
                   "MESH without --smpl: the model fitted (default 'open').")
@click.option("--model", default=None, help="Body model the parameters refer to (open|smpl|smplx).")
@click.option("--gender", default=None, help="neutral|male|female (default: from the file or neutral).")
@click.option("--no-frames", is_flag=True, help="With --thuman-release: skip color/depth images.")
@click.option("--overwrite", is_flag=True, help="Replace items that exist.")
@click.option("--fit/--no-fit", "fit", default=None,
              help="With --thuman-release: fit the body to smpl.obj (or mesh.obj) from the release's "
                   "parameters (default: with the open model only).")
def import_(mesh, params, dataset: Path, subject, pose, release, thuman2, scans, body_model, model, gender,
            no_frames, overwrite, fit):
    """Build THuman items from MESH + --smpl PARAMS (--subject, --pose), MESH alone (a body is
    fitted to it), the THuman release (--thuman-release DIR), THuman2.0/2.1 (--thuman2 DIR) or a
    folder of scans (--scans DIR)."""
    from thuman_io.errors import InputError

    folders = [(n, v) for n, v in (("--thuman-release", release), ("--thuman2", thuman2), ("--scans", scans))
               if v is not None]
    if len(folders) > 1 or (folders and mesh is not None):
        given = [n for n, _ in folders] + (["MESH"] if mesh is not None else [])
        raise InputError(None, f"thuman import: {' and '.join(given)}", "give either one of them, not both")
    bar = lambda it: progress(it, desc="import", unit="item")  # noqa: E731
    if release is not None:
        from thuman_io.exchange import import_thuman_release

        written = import_thuman_release(release, dataset, body_model=body_model or "open", overwrite=overwrite,
                                        frames=not no_frames, fit=fit, progress=bar)
    elif thuman2 is not None:
        from thuman_io.exchange.thuman2 import import_thuman2

        written = import_thuman2(thuman2, dataset, body_model=body_model or "smplx", overwrite=overwrite,
                                 progress=bar)
    elif scans is not None:
        from thuman_io.exchange.thuman2 import import_scan_folder

        written = import_scan_folder(scans, dataset, model=model, gender=gender, overwrite=overwrite, progress=bar)
    else:
        written = None
    if written is not None:
        click.echo(f"imported {len(written)} items into {dataset}")
        return
    missing = [name for name, v in (("MESH", mesh), ("--subject", subject), ("--pose", pose)) if v is None]
    if missing:
        raise InputError(None, f"thuman import: missing {', '.join(missing)}",
                         "usage: thuman import MESH [--smpl PARAMS] --dataset DIR --subject S --pose P")
    from thuman_io.exchange import import_mesh_item

    body_model = body_model or "open"
    if params is None:
        click.echo(f"fitting a {body_model} body to {mesh} (no --smpl; minutes on a CPU; a limb can end up "
                   f"wrong in unusual poses: check with 'thuman export ITEM --smpl', docs/body.md) ...", err=True)
    path = import_mesh_item(mesh, params, dataset, subject, pose, overwrite=overwrite, model=model, gender=gender,
                            body_model=body_model)
    click.echo(f"wrote {path}")


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
def migrate(path: Path):
    """Rewrite items of older schema versions (an item, a subject folder or a dataset) in the
    current one, which HDF5 1.10 tools and older h5py read. Items already current are left alone.
    Exit 1 if an item could not be migrated (it is left as it was)."""
    from thuman_io.migrate import migrate_path

    report = migrate_path(path, progress=lambda it: progress(it, desc="migrate", unit="item"))
    for line in report.failed:
        click.echo(line, err=True)
    click.echo(f"migrate: {len(report.migrated)} items rewritten, {len(report.current)} already current, "
               f"{len(report.failed)} failed")
    if report.failed:
        sys.exit(1)
