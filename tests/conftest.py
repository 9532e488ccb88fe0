"""Shared fixtures. Everything a test needs is generated here, nothing is downloaded."""
import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)
