#!/usr/bin/env bash
# Set up (if needed), lint (ruff; import-linter's layer contracts in pyproject.toml), type-check
# (mypy: no error in the core or the app) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
.venv/bin/ruff check --quiet .
.venv/bin/lint-imports --no-cache
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
