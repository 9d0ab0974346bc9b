"""Fixtures for the wizard's tests.

Snapshot tests use one fixed folder (not tmp_path) because the plan preview
shows absolute paths; every other test works in its own tmp_path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from wizard_helpers import EXAMPLES, SNAP_DIR, make_root


@pytest.fixture(scope="session")
def tui_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example tree, generated once per session (git cannot store its hard link)."""
    return make_root(tmp_path_factory.mktemp("tui-src") / "root")


@pytest.fixture
def tui_work(tmp_path: Path, tui_tree: Path) -> Path:
    """A folder with the example profiles and `root` beside them, as in examples/."""
    for toml in EXAMPLES.glob("*.toml"):
        shutil.copy(toml, tmp_path / toml.name)
    (tmp_path / "root").symlink_to(tui_tree)
    return tmp_path


@pytest.fixture(scope="session")
def snap_dir() -> Path:
    """A fixed folder so that snapshots (which show absolute paths) are stable."""
    if SNAP_DIR.exists():
        shutil.rmtree(SNAP_DIR)
    SNAP_DIR.mkdir()
    make_root(SNAP_DIR / "root")
    return SNAP_DIR
