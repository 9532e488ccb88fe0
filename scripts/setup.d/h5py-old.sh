#!/usr/bin/env bash
# A second environment .venv-h5py-old with h5py 3.8 (its wheel carries HDF5 1.12.2) and numpy < 2: the oldest h5py
# pyproject.toml promises. tests/test_io_compat.py reads items and corpus shards with it, so a
# file layout that only new HDF5 libraries read fails CI. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-h5py-old
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup.d/h5py-old: creating $VENV"
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import h5py, sys; sys.exit(h5py.__version__ != '3.8.0')" 2>/dev/null; then
  "$VENV/bin/pip" install -q "numpy<2" "h5py==3.8.0"
fi
echo "setup.d/h5py-old: ready ($VENV)"
