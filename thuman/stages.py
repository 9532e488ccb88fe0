"""A resumable sequence of named stages, each with its outputs on disk under one folder.

Like Open3D's reconstruction system: every stage is a function of the run folder; after it
succeeds a done-marker ``RUN/.stages/<name>.done`` (JSON: seconds taken, the stage's summary, the
settings it ran with) is written atomically. Running again skips stages whose marker exists, so
an interrupted or failed run resumes at the first unfinished stage and never redoes (or deletes)
finished work. A stage that fails raises :class:`StageFailed`, naming the stage; earlier outputs
stay where they are.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from thuman_io.atomic import atomic_write_text
from thuman_io.errors import ThumanError

MARKER_DIR = ".stages"
#: Longest error text echoed (characters); --debug shows the full traceback.
MAX_MESSAGE = 600


class StageFailed(ThumanError):
    """A stage raised; ``stage`` is its name and ``__cause__`` the original error."""

    def __init__(self, stage: str, message: str):
        self.stage = stage
        super().__init__(f"stage '{stage}' failed: {message}")


@dataclass
class Stage:
    """One step of a run.

    name:        short word, printed and used for the marker file.
    description: what it does, one line (printed before it runs).
    run:         ``run(run_dir) -> dict`` does the work and returns a JSON-able summary (shown
                 after it and kept in the marker).
    """

    name: str
    description: str
    run: Callable[[Path], dict]


@dataclass
class StageRecord:
    """What happened to a stage in this invocation: status 'done' | 'skipped' | 'failed'."""

    name: str
    status: str
    seconds: float
    summary: dict = field(default_factory=dict)


def marker_path(run_dir: str | os.PathLike, name: str) -> Path:
    return Path(run_dir) / MARKER_DIR / f"{name}.done"


def read_marker(run_dir: str | os.PathLike, name: str) -> Optional[dict]:
    """The marker's content, or None when the stage has not finished. An unreadable marker
    (only possible if edited by hand: markers are written atomically) counts as not finished."""
    path = marker_path(run_dir, name)
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def write_marker(run_dir: str | os.PathLike, name: str, seconds: float, summary: dict, settings: dict) -> None:
    atomic_write_text(marker_path(run_dir, name), json.dumps(
        {"stage": name, "seconds": round(seconds, 3), "summary": summary, "settings": settings,
         "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2, default=str))


def run_stages(stages: list[Stage], run_dir: str | os.PathLike, settings: dict,
               echo: Callable[[str], None] = print) -> list[StageRecord]:
    """Run ``stages`` in order under ``run_dir``, skipping finished ones.

    echo: where progress lines go (the CLI passes stderr). Raises :class:`StageFailed` on the
    first failure (after echoing it); the records of the stages before it are on the exception
    as ``records``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    records: list[StageRecord] = []
    for i, stage in enumerate(stages, 1):
        head = f"[{i}/{len(stages)} {stage.name}]"
        done = read_marker(run_dir, stage.name)
        if done is not None:
            echo(f"{head} already done ({done.get('seconds', 0):.1f} s in an earlier run), skipped")
            records.append(StageRecord(stage.name, "skipped", float(done.get("seconds", 0.0)),
                                       done.get("summary", {})))
            continue
        echo(f"{head} {stage.description}")
        t0 = time.perf_counter()
        try:
            summary = stage.run(run_dir) or {}
        except KeyboardInterrupt:
            echo(f"{head} interrupted after {time.perf_counter() - t0:.1f} s; rerun to resume")
            raise
        except Exception as e:  # noqa: BLE001 - every failure is reported with the stage's name
            seconds = time.perf_counter() - t0
            message = str(e) if isinstance(e, ThumanError) else f"{type(e).__name__}: {e}"
            if len(message) > MAX_MESSAGE:    # a repr of a large array must not flood the terminal
                message = message[:MAX_MESSAGE] + " ..."
            echo(f"{head} FAILED after {seconds:.1f} s: {message}")
            err = StageFailed(stage.name, f"{message} (outputs of earlier stages are kept in {run_dir}; "
                                          "fix the cause and run the same command again to resume)")
            err.records = records + [StageRecord(stage.name, "failed", seconds)]
            raise err from e
        seconds = time.perf_counter() - t0
        write_marker(run_dir, stage.name, seconds, summary, settings)
        records.append(StageRecord(stage.name, "done", seconds, summary))
        text = ", ".join(f"{k} {v}" for k, v in summary.items() if not isinstance(v, (dict, list)))
        echo(f"{head} done in {seconds:.1f} s" + (f": {text}" if text else ""))
    return records
