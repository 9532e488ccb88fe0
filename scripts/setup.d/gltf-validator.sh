#!/usr/bin/env bash
# The Khronos glTF validator (npm package gltf-validator) in .node-tools/, for the test that
# checks the GLB `thuman export` writes (tests/test_io_export_texture.py). Installs node and npm
# from Debian when they are missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=.node-tools
VERSION=2.0.0-dev.3.10
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup.d/gltf-validator: installing Debian packages nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f "$DEST/node_modules/gltf-validator/package.json" ] || \
   ! grep -q "\"version\": \"$VERSION\"" "$DEST/node_modules/gltf-validator/package.json"; then
  mkdir -p "$DEST"
  npm install --silent --no-audit --no-fund --prefix "$DEST" "gltf-validator@$VERSION" >/dev/null
fi
echo "setup.d/gltf-validator: ready ($DEST)"
