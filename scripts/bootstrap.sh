#!/usr/bin/env bash
# Set-up for both README commands: a virtualenv in .venv with the project installed (editable)
# and its demo, onnx and dev extras. Safe to run again: it reinstalls only when pyproject.toml
# changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${LOYALTY_VENV:-.venv}"
STAMP="$VENV/.loyalty-installed"

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi

want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing (first run takes a few minutes)"
  # The CPU build of torch first: a plain "torch" requirement can pull a multi-GB CUDA build,
  # and with 2.13.0 in place the project's torch range installs nothing more.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  echo "$want" > "$STAMP"
fi
