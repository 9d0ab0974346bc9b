"""The example-tree makers start by deleting their destination, so they must never be
pointed at a folder a user has by accident (`make_root.py ~` would have emptied it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MAKERS = ["make_root.py", "make_nix_store.py", "make_boot_root.py"]


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", MAKERS)
def test_an_existing_folder_is_kept_unless_forced(script: str, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work\n")
    r = run(script, str(mine), cwd=tmp_path)
    assert r.returncode != 0
    assert "exists and would be deleted first" in r.stderr and "--force" in r.stderr
    assert (mine / "thesis.txt").read_text() == "years of work\n"


@pytest.mark.parametrize("script", MAKERS)
def test_help_is_help_not_a_folder(script: str, tmp_path: Path) -> None:
    r = run(script, "--help", cwd=tmp_path)
    assert r.returncode == 0 and "--force" in r.stdout
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_the_folder_with_the_tree(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    dest.mkdir()
    (dest / "old").write_text("x")
    r = run("make_root.py", str(dest), "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (dest / "old").exists()
    assert (dest / "boot").is_dir() and (dest / "nix" / "store").is_dir()


def test_a_new_folder_needs_no_force(tmp_path: Path) -> None:
    r = run("make_root.py", str(tmp_path / "new"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "new" / "boot").is_dir()
