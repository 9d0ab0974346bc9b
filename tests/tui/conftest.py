"""Fixtures for the wizard's tests.

Snapshot tests use one fixed folder (not tmp_path) because the plan preview
shows absolute paths; every other test works in its own tmp_path.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
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


def _tree(root: Path) -> list[tuple[object, ...]]:
    """What a scan of `root` can see: names, modes, sizes, times, links and bytes."""
    out: list[tuple[object, ...]] = []
    for dirpath, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + names):
            p = Path(dirpath) / name
            st = p.lstat()
            body = os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else b""
            out.append((str(p.relative_to(root)), st.st_mode, st.st_size, st.st_mtime_ns,
                        st.st_nlink, body))
    return out


@pytest.fixture(scope="session")
def snap_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fixed folder so that snapshots (which show absolute paths) are stable.

    Every test session on the machine (other worktrees too) uses this folder, so
    its tree is never deleted under another session's scan: a session holds a
    shared lock while it runs and replaces the tree only when it differs, under
    the exclusive lock, which waits for the sessions reading it.
    """
    want = _tree(make_root(tmp_path_factory.mktemp("snap-root") / "root"))
    SNAP_DIR.mkdir(exist_ok=True)
    with open(SNAP_DIR.with_name(SNAP_DIR.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        root = SNAP_DIR / "root"
        if not root.is_dir() or _tree(root) != want:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not root.is_dir() or _tree(root) != want:
                if root.exists():
                    shutil.rmtree(root)
                make_root(root)
            fcntl.flock(lock, fcntl.LOCK_SH)
        for p in SNAP_DIR.iterdir():  # anything else there (an image, a profile) would show
            if p.name != "root":
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        yield SNAP_DIR
