"""What a path holds (an item, a subject folder, a dataset, a corpus shard, a corpus, a recording)
and the checks and summaries of each: what ``thuman validate PATH`` and ``thuman info PATH`` call.

Files are recognised by content (the recording's magic bytes, an HDF5 file's ``schema``
attribute), falling back on their place (a file in ``shards/`` is a shard) when the content is
too damaged to say; folders by their layout (``shards/`` or ``corpus.json`` make a corpus).
"""
from __future__ import annotations

import os
from pathlib import Path

import h5py

from thuman_io.errors import InputError

KINDS = ("item", "subject", "dataset", "shard", "corpus", "recording")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def path_kind(path: str | os.PathLike) -> str:
    """One of :data:`KINDS`; InputError when the path does not exist."""
    from thuman_io.corpus import SHARD_DIR, is_corpus_dir
    from thuman_io.dataset import is_subject_dir
    from thuman_io.recording import MAGIC
    from thuman_io.version import CORPUS_SCHEMA, ITEM_SCHEMA

    p = Path(path)
    if p.is_dir():
        if is_corpus_dir(p):
            return "corpus"
        return "subject" if is_subject_dir(p) else "dataset"
    if not p.is_file():
        raise InputError(p, "no such file or directory")
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise InputError(p, f"cannot read ({e.strerror})") from None
    if head == MAGIC:
        return "recording"
    if head == _HDF5_SIGNATURE:
        try:
            with h5py.File(p, "r") as f:
                schema = f.attrs.get("schema")
            schema = schema.decode("utf-8") if isinstance(schema, bytes) else schema
            if schema == CORPUS_SCHEMA:
                return "shard"
            if schema == ITEM_SCHEMA:
                return "item"
        except Exception:  # noqa: BLE001 - too damaged to tell by content: go by place below
            pass
    if p.parent.name == SHARD_DIR:
        return "shard"
    return "recording" if p.suffix == ".threc" else "item"


def validate_any(path: str | os.PathLike, body: bool = False) -> tuple[str, list[str], int]:
    """(kind, one-line problems, number of things checked) for any path :func:`path_kind` knows
    (``body``: items also get the body-alignment check, see ``thuman_io.validate.validate_item``)."""
    from thuman_io.corpus import shard_paths
    from thuman_io.corpus_validate import validate_corpus, validate_shard
    from thuman_io.dataset import open_dataset
    from thuman_io.validate import validate_path

    p = Path(path)
    kind = path_kind(p)
    if kind == "corpus":
        return kind, validate_corpus(p), len(shard_paths(p))
    if kind == "shard":
        return kind, validate_shard(p), 1
    if kind == "recording":
        return kind, recording_problems(p), 1
    problems = validate_path(p, body=body)
    if kind == "item":
        return kind, problems, 1
    ds = open_dataset(p.parent if kind == "subject" else p)
    return kind, problems, len(list(ds.items(subject=p.name if kind == "subject" else None)))


def recording_problems(path: str | os.PathLike) -> list[str]:
    """One-line problems of a recording: truncation, CRC mismatches, NaN/inf in stored numbers."""
    import numpy as np

    from thuman_io.errors import SourceFault, ThumanError
    from thuman_io.recording import open_recording

    try:
        rec = open_recording(path, allow_truncated=True)
    except ThumanError as e:
        return [str(e)]
    out = []
    with rec:
        if rec.truncated:
            out.append(rec.truncation_message())
        h = rec.header
        for name in ("K", "color_K", "depth_to_color"):
            if not np.isfinite(np.asarray(getattr(h, name), np.float64)).all():
                out.append(f"{path}: field 'HEAD/{name}': contains NaN or inf")
        for i in range(len(rec)):
            try:
                fr = rec.frame(i)
            except (SourceFault, InputError) as e:
                out.append(str(e))
                continue
            for name, value in (fr.ground_truth or {}).items():
                a = np.asarray(value)
                if a.dtype.kind == "f" and not np.isfinite(a).all():
                    out.append(f"{path}: frame {fr.index}: field '{name}': contains NaN or inf")
    return out


def describe(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(label, text) rows summarising a corpus, a shard or a recording (``thuman info``)."""
    from thuman_io.corpus import shard_paths
    from thuman_io.corpus_manifest import read_manifest
    from thuman_io.recording import open_recording
    from thuman_io.shard import read_shard_header

    p = Path(path)
    kind = path_kind(p)
    if kind == "recording":
        with open_recording(p, allow_truncated=True) as rec:
            h = rec.header
            rows = [("recording", str(p)), ("frames", f"{len(rec)} ({h.width}x{h.height} at {h.fps:g} fps)"),
                    ("source", f"{h.source or '-'}   device {h.device or '-'}   mode {h.depth_mode or '-'}"),
                    ("state", rec.truncated and f"truncated: {rec.truncated}" or "closed"),
                    ("schema", f"v{h.schema_version}, written by {h.toolkit_version or '?'}")]
        return rows
    if kind == "shard":
        h = read_shard_header(p)
        subjects = sorted({str(m.get("subject", "")) for m in h.meta})
        return [("shard", str(p)), ("samples", str(h.num_samples)), ("grid", "x".join(map(str, h.grid.shape))),
                ("subjects", ", ".join(subjects) or "-"), ("seed", _seeds(h.meta))]
    if kind != "corpus":
        raise InputError(p, f"is a {kind}", "thuman info describes items and datasets itself")
    paths = shard_paths(p)
    headers = [read_shard_header(s) for s in paths]
    meta = [m for h in headers for m in h.meta]
    grids = sorted({"x".join(map(str, h.grid.shape)) for h in headers})
    manifest = read_manifest(p)
    rows = [("corpus", str(p)), ("shards", str(len(paths))), ("samples", str(len(meta))),
            ("grid", ", ".join(grids) or "-"),
            ("subjects", str(len({str(m.get('subject', '')) for m in meta}))), ("seed", _seeds(meta))]
    if manifest is not None:
        rows.append(("recipe", f"views {manifest['views']}, pitch {manifest['pitch_range']}, "
                               f"roll {manifest['roll_range']} (corpus.json)"))
    return rows


def _seeds(meta: list) -> str:
    seeds = sorted({str(m.get("seed")) for m in meta if "seed" in m})
    return ", ".join(seeds) if seeds else "-"
