#!/usr/bin/env bash
# Installs what diskwright needs and opens the wizard on the built-in VM-disk example.
#   scripts/start.sh [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 examples/make_root.py >/dev/null
python3 examples/make_nix_store.py >/dev/null
exec diskwright wizard "${1:-examples/vm-disk.toml}"
