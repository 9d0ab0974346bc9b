"""Saving over a commented profile changes only the lines whose values changed (issue 10 item 4)."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

from diskwright.core.profile import load_profile
from diskwright.core.profile_io import edit_profile_text, save_profile_in_place
from diskwright.tui.model import load_draft

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _changed(old: str, new: str) -> list[str]:
    return [ln for ln in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="")
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def test_unchanged_profile_is_byte_identical() -> None:
    for path in sorted(EXAMPLES.glob("*.toml")):
        old = path.read_text()
        assert edit_profile_text(old, load_profile(path), path.parent) == old, path.name


def test_one_label_changes_one_line(tmp_path: Path) -> None:
    path = tmp_path / "vm-disk.toml"
    shutil.copy(EXAMPLES / "vm-disk.toml", path)
    old = path.read_text()
    profile = load_profile(path)
    profile.disks[0].partitions[1].label = "rootfs"
    save_profile_in_place(profile, path)
    new = path.read_text()
    assert _changed(old, new) == ['-label = "nixos"', '+label = "rootfs"']
    assert "# receives the tree's /boot" in new
    assert load_profile(path).disks[0].partitions[1].label == "rootfs"


def test_wizard_save_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "vm-disk.toml"
    shutil.copy(EXAMPLES / "vm-disk.toml", path)
    shutil.copytree(EXAMPLES / "root", tmp_path / "root", symlinks=True)
    old = path.read_text()
    draft = load_draft(path)
    draft.disks[0]["partitions"][1]["label"] = "rootfs"
    draft.save(path)
    assert _changed(old, path.read_text()) == ['-label = "nixos"', '+label = "rootfs"']
