#!/usr/bin/env python3
"""Type-check core/ and tui/ with mypy, as the packages they install as.

core/ and tui/ import each other relatively (`from ..core import x`) because
they install as diskwright.core and diskwright.tui; mypy reading the folders
in place would see two unrelated top-level packages. So this links them into a
throw-away `diskwright/` folder, runs mypy on those packages (settings from
pyproject.toml's [tool.mypy]) and prints paths as they are in the repository.

    python3 scripts/typecheck.py [extra mypy args]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "tui")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="diskwright-typecheck-") as tmp:
        pkg = Path(tmp) / "diskwright"
        pkg.mkdir()
        for name in PACKAGES:
            (pkg / name).symlink_to(REPO / name, target_is_directory=True)
        cmd = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(REPO / ".mypy_cache"),
            *[a for name in PACKAGES for a in ("-p", f"diskwright.{name}")],
            *argv,
        ]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    for name in PACKAGES:
        out = out.replace(f"diskwright{os.sep}{name}{os.sep}", f"{name}{os.sep}")
    sys.stdout.write(out)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
