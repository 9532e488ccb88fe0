"""Fixtures shared by tests/test_model_*.py (imported by name; pytest's rootdir-relative import)."""
import contextlib

import pytest
import torch


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block (e.g. a module-scoped fixture) with ``n`` torch threads, then restore."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Model tests run torch on one thread and restore the count: on the shared 2-core machine two
    OpenMP threads ran a small training step 10x slower than one (docs/model.md)."""
    with torch_threads(1):
        yield
