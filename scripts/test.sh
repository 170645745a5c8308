#!/usr/bin/env bash
# Set up a fresh virtual environment in .venv and run the whole test suite:
# unit, property and statistical tests, then every notebook executed under nbval.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/python -m pytest --nbval-lax tests notebooks "$@"
