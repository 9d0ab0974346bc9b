#!/usr/bin/env bash
# Installs what diskwright needs (scripts/setup.sh: tools + the project .venv)
# and opens the wizard on the built-in VM-disk example.
#   scripts/start.sh [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/diskwright wizard "${1:-examples/vm-disk.toml}"
