"""What a corpus was made with: ``CORPUS/corpus.json``, written by the first synthesis run.

A corpus holds one grid and one seed: a run that resumes into a corpus with another seed, grid,
number of views or orientation ranges would leave a mix that no later run could tell apart, so
:func:`check_recipe` refuses it with one line. The file is JSON (written atomically)::

    {"schema": "thuman.corpus", "schema_version": 1, "grid_shape": [D, H, W], "seed": 0,
     "views": 4, "pitch_range": 0.3, "roll_range": 0.3, "toolkit_version": "..."}

Corpora made before this file existed are checked against their shards (grid and the seed each
sample records) and get the file on the next run.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from thuman_io.atomic import atomic_write_text
from thuman_io.errors import InputError, SchemaError
from thuman_io.version import CORPUS_SCHEMA, CORPUS_SCHEMA_VERSION, TOOLKIT_VERSION

MANIFEST = "corpus.json"
#: Keys that must agree between the corpus and a run that adds to it.
RECIPE_KEYS = ("grid_shape", "seed", "views", "pitch_range", "roll_range")


def read_manifest(corpus_dir: str | os.PathLike) -> dict | None:
    """The corpus's recipe, or None when it has no manifest. SchemaError when it is damaged."""
    path = Path(corpus_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SchemaError(path, f"not readable JSON ({' '.join(str(e).split())[:120]})",
                          "restore it, or delete it to let the next synthesis run rewrite it") from None
    if not isinstance(data, dict) or data.get("schema") != CORPUS_SCHEMA:
        raise SchemaError(path, "field 'schema'", f"expected {CORPUS_SCHEMA!r}: not a corpus manifest")
    missing = [k for k in RECIPE_KEYS if k not in data]
    if missing:
        raise SchemaError(path, f"field '{missing[0]}'", "missing")
    return data


def recipe_from_shards(corpus_dir: str | os.PathLike) -> dict | None:
    """grid_shape and seed as the shards record them (a corpus without a manifest), or None when
    there are no shards. Raises on a damaged shard or on shards that disagree."""
    from thuman_io.corpus import shard_paths
    from thuman_io.shard import read_shard_header

    found: dict = {}
    for p in shard_paths(corpus_dir):
        h = read_shard_header(p)
        for key, value in [("grid_shape", list(h.grid.shape))] + [("seed", m.get("seed")) for m in h.meta]:
            if found.setdefault(key, value) != value:
                raise SchemaError(p, f"'{key}'", f"{value} differs from other shards' {found[key]}: "
                                  "the corpus mixes runs; synthesize it again into an empty folder")
    return found or None


def check_recipe(corpus_dir: str | os.PathLike, recipe: dict) -> None:
    """Refuse (InputError, one line) a run whose recipe differs from the corpus's; write the
    manifest when the corpus has none. ``recipe`` holds :data:`RECIPE_KEYS`."""
    root = Path(corpus_dir)
    want = {k: _norm(recipe[k]) for k in RECIPE_KEYS}
    have = read_manifest(root)
    if have is None:
        have = recipe_from_shards(root) or {}
    for key in RECIPE_KEYS:
        if key in have and _norm(have[key]) != want[key]:
            flag = {"grid_shape": "--grid", "seed": "--seed", "views": "--views",
                    "pitch_range": "--pitch-range", "roll_range": "--roll-range"}[key]
            raise InputError(root, f"the corpus was made with {key} {_norm(have[key])}, this run asks "
                             f"{want[key]}", f"resume with the same {flag}, or write to another --output")
    if not (root / MANIFEST).is_file():
        data = {"schema": CORPUS_SCHEMA, "schema_version": CORPUS_SCHEMA_VERSION, **want,
                "toolkit_version": TOOLKIT_VERSION}
        atomic_write_text(root / MANIFEST, json.dumps(data, indent=1, sort_keys=True) + "\n")


def manifest_problems(corpus_dir: str | os.PathLike) -> list[str]:
    """One-line problems of the manifest and of shards that disagree with it or with each other."""
    root = Path(corpus_dir)
    try:
        have = read_manifest(root)
        shards = recipe_from_shards(root) or {}
    except InputError as e:
        return [str(e)]
    if have is None:
        return []
    return [f"{root / MANIFEST}: field '{k}': {_norm(have[k])}, but the shards hold {_norm(shards[k])}"
            for k in ("grid_shape", "seed") if k in shards and _norm(have[k]) != _norm(shards[k])]


def _norm(value):
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value
