"""The Khronos glTF validator (npm package gltf-validator, installed by
scripts/setup.d/gltf-validator.sh into .node-tools/) run on a file: its JSON report."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / ".node-tools" / "node_modules"
_SCRIPT = """
const fs = require('fs');
const validator = require('gltf-validator');
const data = new Uint8Array(fs.readFileSync(process.argv[1]));
validator.validateBytes(data, {maxIssues: 100})
  .then((report) => console.log(JSON.stringify(report)))
  .catch((error) => { console.error(String(error)); process.exit(2); });
"""


def validate_gltf(path: Path) -> dict:
    """The validator's report of ``path`` ({'issues': {'numErrors', 'messages', ...}, 'info': ...})."""
    node = shutil.which("node")
    if node is None or not (MODULES / "gltf-validator").is_dir():
        message = "glTF validator missing: run bash scripts/setup.d/gltf-validator.sh"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    out = subprocess.run([node, "-e", _SCRIPT, str(path)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "NODE_PATH": str(MODULES)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
