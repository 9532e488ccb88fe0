#!/usr/bin/env bash
# Installs everything thuman needs on a fresh Debian/Ubuntu machine: system packages (when run as
# root or with sudo), then a virtual environment in .venv with CPU torch and the project.
# Idempotent: a second run only checks. Set THUMAN_VENV to put the environment elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${THUMAN_VENV:-.venv}
PY=${PYTHON:-python3}

# libusb for open3d; EGL + Mesa for headless pyrender (PYOPENGL_PLATFORM=egl); libgomp for torch;
# chromium to render the demo report headless in its test; xvfb for the capture prompt window's test.
# hdf5-tools: Debian's h5dump 1.10, which tests/test_io_compat.py reads items and shards with.
APT_PACKAGES="libusb-1.0-0 libegl1 libgl1 libgles2 libegl-mesa0 libgl1-mesa-dri libgomp1 chromium xvfb hdf5-tools"
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.thuman-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  "$VENV/bin/pip" install -q --upgrade pip
  # The CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
  "$VENV/bin/pip" install -q torch==2.13.0
  "$VENV/bin/pip" install -q -e ".[all,test]"
  touch "$stamp"
fi
echo "setup: ready ($VENV)"

# Second environments that some tests need (an SDK that wants numpy < 2, an older h5py): each
# scripts/setup.d/NAME.sh creates .venv-NAME (idempotent) and installs its own Debian packages.
# tests/second_envs.py finds them; under CI a missing one fails its tests instead of skipping.
for extra in scripts/setup.d/*.sh; do
  [ -e "$extra" ] || continue
  bash "$extra"
done
