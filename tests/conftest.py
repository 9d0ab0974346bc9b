"""Shared fixtures: the example tree in a temp folder, profiles pointed at it, the CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
sys.path.insert(0, str(EXAMPLES))

from make_root import make_root  # noqa: E402


@pytest.fixture(scope="session")
def example_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("src") / "root")


BOOT_TREES = {"boot-root": "boot-disk: root reached", "zfs-boot-root": "zfs-boot: root reached"}


@pytest.fixture(scope="session")
def boot_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bootable examples' trees (examples/make_boot_root.py), for every example to load.

    Without a kernel package on the machine, a stand-in /boot lets the profiles
    validate and plan; only the boot tests need the real thing (and skip).
    """
    from diskwright.core.boot.demo import make_demo_tree
    from diskwright.core.errors import DiskwrightError

    base = tmp_path_factory.mktemp("boot-trees")
    out: dict[str, Path] = {}
    for name, marker in BOOT_TREES.items():
        dest = base / name
        try:
            make_demo_tree(dest, marker=marker, zfs=name.startswith("zfs"))
        except DiskwrightError:
            try:
                make_demo_tree(dest, marker=marker)
            except DiskwrightError:
                shutil.rmtree(dest, ignore_errors=True)
                (dest / "boot").mkdir(parents=True)
                (dest / "boot/vmlinuz-0-stand-in").write_bytes(b"MZ stand-in kernel")
                (dest / "boot/initrd.img-0-stand-in").write_bytes(b"stand-in initrd")
        out[name] = dest
    return out


def link_example_trees(folder: Path, example_root: Path, boot_trees: dict[str, Path]) -> None:
    (folder / "root").symlink_to(example_root)
    for name, tree in boot_trees.items():
        (folder / name).symlink_to(tree)


@pytest.fixture
def workdir(tmp_path: Path, example_root: Path, boot_trees: dict[str, Path]) -> Path:
    """A folder holding the example profiles with `root` (and the boot trees) beside them."""
    for toml in EXAMPLES.glob("*.toml"):
        shutil.copy(toml, tmp_path / toml.name)
    link_example_trees(tmp_path, example_root, boot_trees)
    return tmp_path


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


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


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


def leftovers(folder: Path, settle: float = 5.0) -> list[str]:
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
