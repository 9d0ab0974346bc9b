"""Issue 8 item 17: a sparse file in the source is estimated by what it holds on the
filesystems that keep holes (ext4, squashfs), not by its length; vfat, uncompressed
erofs (erofs-utils 1.5) and btrfs (btrfs-progs 6.2 --rootdir) store every byte and keep
the full count."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from test_hostile import profile, tree
from testkit import run_cli

from diskwright.core.scan import hole_bytes, scan_tree

pytestmark = pytest.mark.integration

GiB = 1 << 30
MiB = 1 << 20
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": MiB, "GiB": GiB}


def _sparse(root: Path) -> Path:
    big = root / "big"
    with open(big, "wb") as f:
        f.truncate(4 * GiB)
        f.write(b"start")
        f.seek(4 * GiB - 4)
        f.write(b"end\n")
    return big


def _estimated(p: Path) -> int:
    r = run_cli("estimate", p)
    assert r.returncode == 0, r.stderr
    m = re.search(r"image ([\d.]+) (\w+) \(auto\)", r.stdout)
    assert m, r.stdout
    return int(float(m.group(1)) * UNITS[m.group(2)])


def test_scan_counts_holes(tmp_path: Path) -> None:
    root = tree(tmp_path)
    big = _sparse(root)
    assert hole_bytes(big, 4 * GiB) >= 4 * GiB - 2 * MiB  # the holes, not the two ends
    dense = root / "dense"
    dense.write_bytes(b"x" * 100_000)
    assert hole_bytes(dense, 100_000) == 0
    total = scan_tree(root).total()
    assert total.bytes >= 4 * GiB and total.hole_bytes >= 4 * GiB - 2 * MiB


@pytest.mark.parametrize("fs", ["ext4", "squashfs"])
def test_sparse_file_is_estimated_by_what_it_holds(tmp_path: Path, fs: str) -> None:
    root = tree(tmp_path)
    _sparse(root)
    p = profile(tmp_path, fs=fs)
    est = _estimated(p)
    assert est < 64 * MiB, est  # was 4.7 GiB for ext4
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    img = tmp_path / "out.img"
    assert img.stat().st_size <= est
    if fs == "ext4":
        out = subprocess.run(["debugfs", "-R", "stat /big", str(img)], capture_output=True,
                             text=True, check=True).stdout
        assert re.search(rf"Size: {4 * GiB}\b", out), out
    else:
        out = subprocess.run(["unsquashfs", "-lls", str(img)], capture_output=True,
                             text=True, check=True).stdout
        assert re.search(rf"\b{4 * GiB}\b.*/big$", out, re.M), out


def test_vfat_keeps_the_full_count(tmp_path: Path) -> None:
    """FAT has no holes: the estimate stays honest (about the file's length)."""
    root = tree(tmp_path)
    big = root / "big"
    with open(big, "wb") as f:
        f.truncate(64 * MiB)
    assert os.stat(big).st_blocks == 0
    assert _estimated(profile(tmp_path, fs="vfat", part={"label": "ROOT"})) >= 64 * MiB


@pytest.mark.parametrize("mib", [16, 64])
def test_btrfs_counts_holes_in_full(tmp_path: Path, mib: int) -> None:
    """btrfs-progs' --rootdir writes a sparse file's holes as data (the image is as big as
    for a dense file; measured on 6.2, Debian 12, and 6.14, Debian 13): the estimate keeps
    the full length and covers the image that --shrink leaves (64 MiB gave 87 MiB
    estimated, 109 MiB built before). It runs on every release: one that keeps holes
    fails the upper bound here, which is when the model must count them out."""
    root = tree(tmp_path)
    with open(root / "big", "wb") as f:
        f.truncate(mib * MiB)
        f.write(b"start")
    p = profile(tmp_path, fs="btrfs")
    est = _estimated(p)
    assert est >= mib * MiB, est
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    size = (tmp_path / "out.img").stat().st_size
    assert size <= est <= 2 * size + 16 * MiB, (size, est)
