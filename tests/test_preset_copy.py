"""A profile started from a preset is a portable copy that never names the install folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from diskwright.core.presets import EXAMPLES, Preset, new_profile_name, presets
from diskwright.core.profile import load_profile


@pytest.mark.parametrize("p", presets(), ids=lambda p: p.name)
def test_copy_names_no_install_folder(p: Preset, tmp_path: Path) -> None:
    target = p.copy_to(tmp_path, with_demo=True)
    assert target.name == f"my-{p.name}.toml"
    text = target.read_text()
    assert str(EXAMPLES) not in text and str(EXAMPLES.resolve()) not in text
    assert text == p.path.read_text()  # comments and layout as the example wrote them
    for rel in p.demo_paths():
        assert (tmp_path / rel).exists() or (tmp_path / rel).is_symlink()
    src = tomllib.loads(text).get("source", {})
    for key in ("path", "store", "registration_file"):
        assert not Path(str(src.get(key, "x"))).is_absolute()
    if p.demo_paths():
        load_profile(target)  # valid where it now lives


def test_copy_without_demo_and_no_clobber(tmp_path: Path) -> None:
    p = next(x for x in presets() if x.name == "vm-disk")
    first = p.copy_to(tmp_path, with_demo=False)
    assert not (tmp_path / "root").exists()
    assert new_profile_name(tmp_path, "vm-disk") == "my-vm-disk-2.toml"
    with pytest.raises(FileExistsError):
        p.copy_to(tmp_path, with_demo=False, name=first.name)


def test_draft_from_copy_saves_relative(tmp_path: Path) -> None:
    from diskwright.tui.model import draft_from_preset_copy

    draft = draft_from_preset_copy("vm-disk", tmp_path, with_demo=True)
    assert draft.path == (tmp_path / "my-vm-disk.toml").resolve()
    draft.disks[0]["partitions"][1]["label"] = "mine"
    draft.save(draft.path)
    text = draft.path.read_text()
    assert str(EXAMPLES.resolve()) not in text and 'path = "root"' in text
    assert 'label = "mine"' in text and "# receives the tree's /boot" in text


def test_copy_builds_the_examples_bytes(tmp_path: Path) -> None:
    """The demo tree is copied as `cp -a` would (hard links stay links), so the image of
    the copy is the example's, byte for byte (the README's sha256 is the same)."""
    import hashlib
    import os
    import shutil
    import subprocess
    import sys

    p = next(x for x in presets() if x.name == "vm-disk")
    mine = p.copy_to(tmp_path / "mine", with_demo=True)
    links = [f for f in (EXAMPLES / "root").rglob("*") if f.is_file() and not f.is_symlink()
             and os.lstat(f).st_nlink > 1]
    assert links  # the demo tree has hard links (libdemo.so.1, .so.1.0)
    for f in links:
        rel = f.relative_to(EXAMPLES)
        twins = [g for g in links if os.path.samefile(f, g)]
        assert all(os.path.samefile(tmp_path / "mine" / rel, tmp_path / "mine" /
                                    g.relative_to(EXAMPLES)) for g in twins)
    theirs = tmp_path / "ex"
    theirs.mkdir()
    shutil.copy(p.path, theirs / "vm-disk.toml")
    subprocess.run(["cp", "-a", str(EXAMPLES / "root"), str(theirs / "root")], check=True)
    shas = []
    for profile in (mine, theirs / "vm-disk.toml"):
        exe = Path(sys.executable).parent / "diskwright"
        subprocess.run([str(exe), "build", str(profile)], check=True, capture_output=True)
        out = profile.parent / "vm-disk.qcow2"
        shas.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert shas[0] == shas[1]
