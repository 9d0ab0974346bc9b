"""FAT has no links: fat-fill stores a hard-linked or symlinked file once per name, so the
vfat estimate counts every name's bytes (it counted a linked 8 MB file once, and the
`auto` build failed with "the FAT image is full")."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest
import tomli_w
from testkit import estimate_and_build

pytestmark = pytest.mark.integration


def test_vfat_auto_holds_every_linked_copy(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    data = random.Random(5).randbytes(8_000_000)
    (root / "big.bin").write_bytes(data)
    for i in range(4):
        os.link(root / "big.bin", root / f"hard{i}.bin")
    for i in range(3):
        (root / f"soft{i}.bin").symlink_to("big.bin")
    (root / "sub/up.bin").symlink_to("../big.bin")
    (root / "chain.bin").symlink_to("soft0.bin")  # a link to a link: resolved on disk
    profile = {
        "version": 1,
        "name": "links",
        "source": {"path": "root"},
        "reproducible": {"source_date_epoch": 1700000000, "seed": "links"},
        "disks": [{
            "name": "l",
            "table": "none",
            "output": {"path": "out.img", "format": "raw"},
            "partitions": [{"role": "data", "filesystem": "vfat", "mount_point": "/"}],
        }],
    }
    p = tmp_path / "p.toml"
    p.write_text(tomli_w.dumps(profile))
    guess, real = estimate_and_build(p, tmp_path / "out.img")
    assert real > 9 * len(data)  # ten names, ten copies
    assert abs(guess - real) <= real // 20, (guess, real)
    img = tmp_path / "out.img"
    for name in ("big.bin", "hard3.bin", "soft2.bin", "sub/up.bin", "chain.bin"):
        got = subprocess.run(["mtype", "-i", str(img), f"::/{name}"], capture_output=True,
                             check=True).stdout
        assert got == data, name
