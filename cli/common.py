"""Helpers shared by the CLI commands: progress bars and messages. No library logic here."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager

import click


def progress(iterable=None, total=None, desc="", unit="it", disable=None):
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal and CI is set)."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=disable, leave=False)


def warn(message: str) -> None:
    click.echo(f"thuman: warning: {message}", err=True)


@contextmanager
def stage(name: str):
    """Print ``name ...`` then ``name done in X s``."""
    click.echo(f"[{name}] ...", err=True)
    t0 = time.perf_counter()
    yield
    click.echo(f"[{name}] done in {time.perf_counter() - t0:.1f} s", err=True)
