"""Shared fixtures: the example tree in a temp folder, profiles pointed at it, the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from testkit import BOOT_TREES, EXAMPLES, link_example_trees, run_cli

sys.path.insert(0, str(EXAMPLES))

from make_root import make_root


@pytest.fixture(scope="session")
def example_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("src") / "root")


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


@pytest.fixture
def workdir(tmp_path: Path, example_root: Path, boot_trees: dict[str, Path]) -> Path:
    """A folder holding the example profiles with `root` (and the boot trees) beside them."""
    for toml in EXAMPLES.glob("*.toml"):
        shutil.copy(toml, tmp_path / toml.name)
    link_example_trees(tmp_path, example_root, boot_trees)
    return tmp_path


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli
