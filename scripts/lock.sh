#!/usr/bin/env bash
# Refreshes requirements/test.lock: every package the tests and CI install,
# exact versions with their hashes, for Python 3.11 (Debian 12) through 3.13
# (Debian 13). scripts/setup.sh installs from it with --require-hashes, so a new
# upstream release can never change a snapshot or a result until this is rerun
# (then run scripts/test.sh and commit the lock with whatever it changed).
#   scripts/lock.sh                 refresh within pyproject's ranges (newest allowed)
#   scripts/lock.sh --upgrade-package textual   move one package only
set -euo pipefail
cd "$(dirname "$0")/.."

# uv comes from PyPI into a throwaway venv made from the system Python; it is
# not a dependency of diskwright and is not left behind.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/diskwright-lock.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check 'uv>=0.5'

# No arguments: every package moves to the newest release the ranges allow.
# With arguments (e.g. --upgrade-package X) the current pins are kept otherwise.
[ "$#" -gt 0 ] || set -- --upgrade
[ -f requirements/test.lock ] && cp requirements/test.lock "$tmp/test.lock"
UV_CACHE_DIR="$tmp/cache" "$tmp/venv/bin/uv" pip compile \
  pyproject.toml requirements/build.in \
  --extra test \
  --constraint requirements/constraints.txt \
  --universal --python-version 3.11 \
  --generate-hashes --no-strip-extras \
  --custom-compile-command scripts/lock.sh \
  --quiet \
  "$@" \
  --output-file "$tmp/test.lock"
mv "$tmp/test.lock" requirements/test.lock
echo "lock.sh: wrote requirements/test.lock ($(grep -c '^[a-z0-9]' requirements/test.lock) packages)"
