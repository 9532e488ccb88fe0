"""Where tests find the second Python environments made by ``scripts/setup.d/NAME.sh``.

Some checks need a package that cannot share the main environment (the Azure Kinect SDK's
``pyk4a-bundle`` needs numpy < 2; an older h5py reads what older HDF5 libraries read). Each lives
in its own virtual environment ``.venv-NAME`` at the repository root (``THUMAN_VENV_NAME``
overrides the path). Tests run code there in a subprocess through :func:`second_env_python`.

Outside CI a missing environment skips the test with the command that creates it; under CI
(``CI=true``, as ``.ci/run`` runs) it fails, so a broken set-up cannot pass as skipped tests.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def second_env_python(name: str) -> Path:
    """The python executable of ``.venv-NAME``, or skip (fail under CI) when it is missing."""
    override = os.environ.get(f"THUMAN_VENV_{name.upper().replace('-', '_')}")
    venv = Path(override) if override else ROOT / f".venv-{name}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    message = f"second environment {venv} missing: run bash scripts/setup.d/{name}.sh"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)
