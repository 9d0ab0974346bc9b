"""Fixtures for the wizard's tests.

Snapshot tests use one fixed folder (not tmp_path) because the plan preview
shows absolute paths; every other test works in its own tmp_path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from wizard_helpers import SNAP_DIR, make_root


@pytest.fixture(scope="session")
def tui_tree(example_root: Path) -> Path:
    """The example tree, generated once per session by tests/conftest.py."""
    return example_root


@pytest.fixture
def tui_work(workdir: Path) -> Path:
    """A folder with the example profiles and `root` beside them (tests/conftest.py)."""
    return workdir


@pytest.fixture(scope="session")
def snap_dir() -> Path:
    """A fixed folder so that snapshots (which show absolute paths) are stable."""
    if SNAP_DIR.exists():
        shutil.rmtree(SNAP_DIR)
    SNAP_DIR.mkdir()
    make_root(SNAP_DIR / "root")
    return SNAP_DIR
