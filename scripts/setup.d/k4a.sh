#!/usr/bin/env bash
# The Azure Kinect SDK's environment .venv-k4a: the real libk4a / libk4arecord 1.4.2 and the depth
# engine through the pyk4a-bundle wheel, with numpy < 2 (its extension was built against numpy 1 and
# fails to import under numpy 2), plus this project installed without its dependencies and the few
# packages the camera, recording and .mkv code need. Idempotent. THUMAN_VENV_K4A puts it elsewhere.
# Colour registration runs the depth engine, which needs an OpenGL context: Xvfb + Mesa.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${THUMAN_VENV_K4A:-.venv-k4a}
PY=${PYTHON:-python3}

# Its Debian packages (xvfb, Mesa's GL) are in scripts/setup.sh's list, which runs first.
command -v Xvfb >/dev/null || echo "setup.d/k4a: warning: Xvfb missing (apt-get install xvfb): headless colour registration needs it" >&2

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup.d/k4a: creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.thuman-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$0" -nt "$stamp" ]; then
  "$VENV/bin/pip" install -q --upgrade pip
  # The same pins as the `kinect` extra of pyproject.toml (numpy < 2 for the bundle's extension).
  "$VENV/bin/pip" install -q "numpy>=1.24,<2" "pyk4a-bundle==1.5.0" "h5py>=3.8" "click>=8.1" \
      "tqdm>=4.60" "pillow>=9" "pyyaml>=6" "pytest>=7"
  "$VENV/bin/pip" install -q --no-deps -e .
  touch "$stamp"
fi
"$VENV/bin/python" -c "import pyk4a, numpy; assert int(numpy.__version__.split('.')[0]) < 2"
echo "setup.d/k4a: ready ($VENV)"
