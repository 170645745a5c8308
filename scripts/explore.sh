#!/usr/bin/env bash
# Set up a fresh virtual environment in .venv and open the explorer notebook in JupyterLab.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
extra=()
if [ "$(id -u)" -eq 0 ]; then extra+=(--allow-root); fi
exec .venv/bin/jupyter lab --ip=127.0.0.1 "${extra[@]}" notebooks/01_explorer.ipynb "$@"
