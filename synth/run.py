"""A synthesis run over a dataset: item selection, shard slicing, resume, worker processes, failures.

One corpus shard per item (``CORPUS/shards/<subject>_<pose:04d>.h5``), written atomically, so

* resuming is "skip items whose shard exists" (a killed run leaves only ``.tmp-`` files, which
  the next run removes);
* ``--shard K/N`` (K = 0 .. N-1) takes the items whose position in the sorted item list is
  K mod N: a deterministic slice, so N machines (a SLURM array) split a dataset without talking;
* the same seed gives byte-identical shards whatever the number of jobs or machines, since every
  random draw is seeded by (seed, item id).

Workers are started with the ``spawn`` method: each opens its own HDF5 files and its own EGL
context (neither survives a fork safely).

Refused with one line before anything is written (:func:`check_synthesis_paths`,
``thuman_io.corpus_manifest``, ``thuman_io.lock``): an input that is missing or is a corpus, an
output equal to or inside the input dataset, a resume with another seed, grid, view count or
orientation range than the corpus was made with, and a second run on the same corpus slice while
one runs (a run over the whole corpus excludes every other; ``--shard K/N`` runs of different K
coexist, as a SLURM array needs).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from thuman_io.errors import InputError, ThumanError

PREVIEW_DIR = "preview"


@dataclass
class ItemOutcome:
    """What happened to one item: status 'done' | 'skipped' | 'failed'."""

    item: str
    status: str
    path: str = ""
    warnings: list = field(default_factory=list)
    error: str = ""
    timings: dict = field(default_factory=dict)
    samples: int = 0


@dataclass
class RunReport:
    """Outcomes of a run, in item order."""

    outcomes: list

    @property
    def failed(self) -> list:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def done(self) -> list:
        return [o for o in self.outcomes if o.status == "done"]

    @property
    def skipped(self) -> list:
        return [o for o in self.outcomes if o.status == "skipped"]


def parse_shard(text: str | None) -> tuple[int, int]:
    """'K/N' -> (K, N) with 0 <= K < N; None -> (0, 1)."""
    if text is None:
        return 0, 1
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise InputError(None, f"--shard {text!r}: expected K/N with integers, e.g. 0/4")
    if n < 1 or not 0 <= k < n:
        raise InputError(None, f"--shard {text!r}: need N >= 1 and 0 <= K < N")
    return k, n


def shard_name(subject: str, pose_index: int) -> str:
    """File stem of an item's corpus shard."""
    return f"{subject}_{int(pose_index):04d}"


def check_input_dataset(dataset_dir: str | os.PathLike) -> Path:
    """Raise InputError unless ``dataset_dir`` is an existing folder that is not a corpus."""
    from thuman_io.corpus import SHARD_DIR, is_corpus_dir

    path = Path(dataset_dir)
    if not path.is_dir():
        raise InputError(path, "input dataset folder not found", "pass an existing THuman dataset as --input")
    if is_corpus_dir(path):
        raise InputError(path, f"is a synthesized corpus ({SHARD_DIR}/), not a THuman dataset",
                         "pass the dataset it was made from as --input")
    return path


def check_synthesis_paths(dataset_dir: str | os.PathLike, output_dir: str | os.PathLike) -> None:
    """Raise InputError when the input is not a dataset or the output would land inside it."""
    source = check_input_dataset(dataset_dir).resolve()
    target = Path(output_dir).resolve()
    if target == source or source in target.parents:
        raise InputError(output_dir, f"the output corpus is {'the' if target == source else 'inside the'} input "
                         f"dataset {dataset_dir}", "choose an --output outside the dataset")


def select_items(dataset_dir: str | os.PathLike, shard: tuple[int, int] = (0, 1)) -> list:
    """(subject, pose_index, path) of the items in this shard slice, sorted."""
    from thuman_io.dataset import open_dataset

    check_input_dataset(dataset_dir)
    refs = sorted(open_dataset(dataset_dir).items(), key=lambda r: (str(r.subject), int(r.pose_index)))
    k, n = shard
    return [(str(r.subject), int(r.pose_index), str(r.path)) for i, r in enumerate(refs) if i % n == k]


# --- worker side ----------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(config, output: str, preview: bool, threads: int | None) -> None:
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    from thuman.synth.render.renderer import OrthoRenderer

    _WORKER.update(config=config, output=Path(output), preview=preview, renderer=OrthoRenderer(config.grid))


def process_item(task: tuple) -> ItemOutcome:
    """Synthesize one item and write its shard (and preview). Never raises: failures are returned."""
    subject, pose_index, path = task
    ident = f"{subject}/{int(pose_index):04d}"
    config, output = _WORKER["config"], _WORKER["output"]
    try:
        import time

        from thuman.synth.pipeline import synthesize_item
        from thuman_io.corpus import CorpusWriter
        from thuman_io.storage import read_item

        item = read_item(path, frame=False)
        result = synthesize_item(item, config, _WORKER["renderer"])
        t = time.perf_counter()
        with CorpusWriter(output, config.grid, shard_name(subject, pose_index)) as writer:
            for s in result.samples:
                writer.add(s)
        result.timings["write"] = time.perf_counter() - t
        if _WORKER["preview"]:
            from thuman.synth.preview import write_preview

            write_preview(output / PREVIEW_DIR / f"{shard_name(subject, pose_index)}.png", result.samples)
        return ItemOutcome(ident, "done", str(writer.path), result.warnings, timings=result.timings,
                           samples=len(result.samples))
    except ThumanError as e:
        return ItemOutcome(ident, "failed", error=str(e))
    except Exception as e:  # noqa: BLE001 - one bad item must not stop the run; the trace is kept
        last = traceback.format_exc(limit=-2).strip().splitlines()
        return ItemOutcome(ident, "failed", error=f"{ident}: {type(e).__name__}: {e} ({last[-3] if len(last) > 2 else ''})")


def run_synthesis(dataset_dir: str | os.PathLike, output_dir: str | os.PathLike, config,
                  jobs: int = 1, shard: tuple[int, int] = (0, 1), preview: bool = False,
                  resume: bool = True, on_outcome: Callable[[ItemOutcome], None] | None = None,
                  items: Iterable | None = None) -> RunReport:
    """Synthesize every selected item of ``dataset_dir`` into ``output_dir``.

    Items whose shard exists are skipped when ``resume``. ``on_outcome`` is called once per item
    as it finishes (for a progress bar). Returns the :class:`RunReport`; never raises for a bad
    item (see ``RunReport.failed``).
    """
    import contextlib

    from thuman_io.corpus_manifest import check_recipe
    from thuman_io.lock import exclusive_lock

    check_synthesis_paths(dataset_dir, output_dir)
    output = Path(output_dir)
    k, n = shard
    with contextlib.ExitStack() as locks:
        # the whole corpus: exclusive; a K/N slice: shared with other slices, exclusive per slice
        locks.enter_context(exclusive_lock(output, "corpus", "the corpus", shared=n > 1))
        if n > 1:
            locks.enter_context(exclusive_lock(output, f"shard-{k}-of-{n}", f"the corpus slice {k}/{n}"))
        with exclusive_lock(output, "manifest", "the corpus manifest", wait=True):
            check_recipe(output, synthesis_recipe(config))
        return _run_locked(dataset_dir, output, config, jobs, shard, preview, resume, on_outcome, items)


def synthesis_recipe(config) -> dict:
    """The settings a corpus must keep across runs (``thuman_io.corpus_manifest.RECIPE_KEYS``)."""
    return {"grid_shape": list(config.grid.shape), "seed": int(config.seed), "views": int(config.views),
            "pitch_range": float(config.pitch_range), "roll_range": float(config.roll_range)}


def _run_locked(dataset_dir, output: Path, config, jobs, shard, preview, resume, on_outcome, items) -> RunReport:
    from thuman_io.atomic import remove_stale_temporaries
    from thuman_io.corpus import SHARD_DIR

    (output / SHARD_DIR).mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(output / SHARD_DIR)
    tasks = list(items) if items is not None else select_items(dataset_dir, shard)
    outcomes: dict[str, ItemOutcome] = {}
    todo = []
    for subject, pose, path in tasks:
        ident = f"{subject}/{int(pose):04d}"
        target = output / SHARD_DIR / f"{shard_name(subject, pose)}.h5"
        if resume and target.exists():
            outcomes[ident] = ItemOutcome(ident, "skipped", str(target))
            if on_outcome:
                on_outcome(outcomes[ident])
        else:
            todo.append((subject, pose, path))
    threads = 1 if jobs > 1 else None
    if jobs <= 1:
        _init_worker(config, str(output), preview, None)
        results = map(process_item, todo)
        pool = None
    else:
        pool = mp.get_context("spawn").Pool(jobs, initializer=_init_worker,
                                            initargs=(config, str(output), preview, threads))
        results = pool.imap_unordered(process_item, todo)
    try:
        for outcome in results:
            outcomes[outcome.item] = outcome
            if on_outcome:
                on_outcome(outcome)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        else:
            renderer = _WORKER.pop("renderer", None)
            if renderer is not None:
                renderer.close()
    order = [f"{s}/{int(p):04d}" for s, p, _ in tasks]
    return RunReport([outcomes[i] for i in order if i in outcomes])
