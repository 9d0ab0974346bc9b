#!/usr/bin/env bash
# Installs everything (scripts/setup.sh: tools, ZFS helper-VM packages, the
# project .venv from the lock) and runs the whole test suite: lint, unit,
# integration with the real tools, wizard, ZFS VM.
#   scripts/test.sh [pytest args…]     e.g. scripts/test.sh -m "not zfs"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m ruff check .
.venv/bin/python scripts/typecheck.py
exec .venv/bin/python -m pytest -q -rs "$@"
