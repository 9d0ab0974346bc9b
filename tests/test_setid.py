"""Set-ID files of other users: ext4, erofs and squashfs give every file to root, so
such a file becomes set-ID root. That is what a rootfs unpacked without root wants and a
surprise anywhere else: validate says so (a warning naming the file and the fix), never
silently; root's own set-ID files and set-group-ID folders are not warned of."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_hostile import profile, tree
from testkit import run_cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the source")
NOBODY = 65534


def _source(base: Path) -> Path:
    root = tree(base)
    (root / "usr/bin/tool").chmod(0o4755)  # root's own set-user-ID file: as meant
    os.chown(root / "usr/bin/tool", 0, 0)
    (root / "var/mail").mkdir(parents=True)
    os.chown(root / "var/mail", 0, 8)
    (root / "var/mail").chmod(0o2775)  # a set-group-ID folder: inheritance, not privilege
    return root


@pytest.mark.parametrize("fs", ["ext4", "erofs", "squashfs"])
def test_another_users_setuid_file_is_warned_of(tmp_path: Path, fs: str) -> None:
    root = _source(tmp_path)
    quiet = run_cli("validate", profile(tmp_path, fs=fs))
    assert quiet.returncode == 0 and "warning" not in quiet.stdout, quiet.stdout
    mine = root / "usr/bin/mine"
    mine.write_bytes(b"#!/bin/sh\n")
    os.chown(mine, NOBODY, NOBODY)
    mine.chmod(0o4755)
    r = run_cli("validate", profile(tmp_path, fs=fs))
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stdout.splitlines() if line.startswith("warning:")]
    assert len(said) == 1 and "/usr/bin/mine is set-user/group-ID" in said[0], r.stdout
    assert "becomes set-ID root" in said[0] and "chmod u-s,g-s" in said[0]


def test_the_warning_says_what_the_image_holds(tmp_path: Path) -> None:
    """The ext4 image really has the file as root's, set-user-ID (what the warning says)."""
    root = _source(tmp_path)
    mine = root / "usr/bin/mine"
    mine.write_bytes(b"#!/bin/sh\n")
    os.chown(mine, NOBODY, NOBODY)
    mine.chmod(0o4755)
    r = run_cli("build", profile(tmp_path))
    assert r.returncode == 0, r.stderr
    st = subprocess.run(["debugfs", "-R", "stat /usr/bin/mine", str(tmp_path / "out.img")],
                        capture_output=True, text=True, check=True).stdout
    assert "Mode:  04755" in st and "User:     0" in st, st
