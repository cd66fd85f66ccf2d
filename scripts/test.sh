#!/usr/bin/env bash
# Set up (if needed), lint (ruff; import-linter's layer contracts in pyproject.toml) and run the
# whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
.venv/bin/ruff check --quiet .
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest -q "$@"
