"""Helpers the tests import by name (`from testkit import …`).

They live here, not in conftest.py: tests/ and tests/tui/ each have a conftest, and
`from conftest import` got whichever one Python imported first, so running both
folders in one pytest command failed to collect.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


BOOT_TREES = {"boot-root": "boot-disk: root reached", "zfs-boot-root": "zfs-boot: root reached"}


def link_example_trees(folder: Path, example_root: Path, boot_trees: dict[str, Path]) -> None:
    (folder / "root").symlink_to(example_root)
    for name, tree in boot_trees.items():
        (folder / name).symlink_to(tree)


def run_cli(
    *args: str | Path,
    cwd: Path | None = None,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `diskwright` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "diskwright.tui.cli", *map(str, args)],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def estimate_and_build(profile: Path, output: Path) -> tuple[int, int]:
    """(the estimate's total output bytes, the size of what the build wrote)."""
    import json

    est = run_cli("estimate", "--json", profile)
    assert est.returncode == 0, est.stderr
    built = run_cli("build", profile)
    assert built.returncode == 0, built.stderr
    return json.loads(est.stdout)["total_output"], output.stat().st_size


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry under `folder` with its mode and bytes (or link target)."""
    out: dict[str, tuple[int, bytes | str]] = {str(folder): (folder.lstat().st_mode, "")}
    for dirpath, dirs, names in os.walk(folder):
        for name in dirs + names:
            p = Path(dirpath) / name
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(p)] = (st.st_mode, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[str(p)] = (st.st_mode, p.read_bytes())
            else:
                out[str(p)] = (st.st_mode, "")
    return out


# A wait's limit: so long that only a hang reaches it. Waits end when the thing
# happens; how fast it happens is for bench/ (two cores at load 20 are slow).
PATIENCE = 300.0


def wait_until(predicate: Callable[[], object], what: str, limit: float = PATIENCE) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {limit:.0f} s")
        time.sleep(0.05)


def leftovers(folder: Path, settle: float = 60.0) -> list[str]:
    """Workspace or partial files a build must never leave behind.

    A plan run with plain `sh` leaves its lock to a holder process (core/shlock.py)
    that drops it once it sees the shell gone, a moment after `sh` returns: lock
    files get `settle` seconds to go; anything else must be gone at once.
    """
    def names() -> list[str]:
        return sorted(p.name for p in folder.iterdir() if p.name.startswith(".diskwright"))

    deadline = time.monotonic() + settle
    found = names()
    while found and all(n.endswith(".lock") for n in found) and time.monotonic() < deadline:
        time.sleep(0.05)
        found = names()
    return found


def processes_matching(text: str) -> list[str]:
    """This root's processes whose command line holds `text`, as "PID command" lines.

    Not pgrep: it sees every process of the host, so two test sessions in two chroots
    (whose temporary paths are the same string) saw each other's qemu and failed.
    """
    here = os.stat("/")
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            cmd = raw.replace(b"\0", b" ").decode(errors="replace")
            root = os.stat(f"/proc/{pid}/root")
        except OSError:  # gone meanwhile, or another user's
            continue
        if text in cmd and (root.st_dev, root.st_ino) == (here.st_dev, here.st_ino):
            found.append(f"{pid} {cmd.strip()}")
    return found


def nobody_cannot_run(stderr: str) -> bool:
    """Whether a command run as nobody failed because this installation is out of nobody's
    reach (a checkout under /root, mode 0700): python itself, or its diskwright package."""
    return ("Permission denied" in stderr and "python" in stderr) or (
        "No module named 'diskwright'" in stderr)
