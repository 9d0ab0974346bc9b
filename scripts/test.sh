#!/usr/bin/env bash
# Installs everything (tools, ZFS helper-VM packages, Python deps) and runs the
# whole test suite: lint, unit, integration with the real tools, wizard, ZFS VM.
#   scripts/test.sh [pytest args…]     e.g. scripts/test.sh -m "not zfs"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 examples/make_root.py >/dev/null
python3 examples/make_nix_store.py >/dev/null
python3 -m ruff check .
exec python3 -m pytest -q -rs "$@"
