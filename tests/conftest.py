"""Shared fixtures: the example tree in a temp folder, profiles pointed at it, the CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
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


@pytest.fixture
def workdir(tmp_path: Path, example_root: Path) -> Path:
    """A folder holding the example profiles with `root` linked beside them."""
    for toml in EXAMPLES.glob("*.toml"):
        shutil.copy(toml, tmp_path / toml.name)
    (tmp_path / "root").symlink_to(example_root)
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


def leftovers(folder: Path) -> list[str]:
    """Workspace or partial files a build must never leave behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".diskwright"))
