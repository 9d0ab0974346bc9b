"""ext4's defaults are the distribution's: e2fsprogs 1.47.2 (Debian 13) turns on orphan_file,
a file of 32+ written blocks in every new filesystem, 1.47.0 (Debian 12) does not. The probe
must say what the installed mkfs.ext4 really makes, and the model count that file (the qcow2
estimate missed it by two clusters on Debian 13). Each assertion names the branch it took."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomli_w
from imagecheck import run
from testkit import run_cli

from diskwright.core.fs.ext4 import e2fsprogs_version, mke2fs_features, orphan_file_blocks

pytestmark = pytest.mark.integration


def test_orphan_file_follows_the_installed_mke2fs(tmp_path: Path, example_root: Path) -> None:
    (tmp_path / "root").symlink_to(example_root)
    prof = {
        "version": 1, "name": "orphan", "source": {"path": "root"},
        "reproducible": {"source_date_epoch": 1700000000, "seed": "orphan"},
        "disks": [{"name": "d", "table": "none", "output": {"path": "out.img"},
                   "partitions": [{"role": "data", "filesystem": "ext4",
                                   "mount_point": "/etc", "contents": "/etc"}]}],
    }  # fmt: skip
    p = tmp_path / "p.toml"
    p.write_text(tomli_w.dumps(prof))
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    head = run("dumpe2fs", "-h", tmp_path / "out.img")
    made = set(re.search(r"^Filesystem features:\s*(.*)$", head, re.M).group(1).split())
    probed = "orphan_file" in mke2fs_features()
    branch = (f"e2fsprogs {'.'.join(map(str, e2fsprogs_version()))}: orphan_file "
              + ("on" if probed else "off"))
    assert ("orphan_file" in made) == probed, branch
    if probed:
        ino = re.search(r"^Orphan file inode:\s*(\d+)", head, re.M)
        assert ino, branch
        stat = run("debugfs", "-R", f"stat <{ino.group(1)}>", tmp_path / "out.img")
        size = int(re.search(r"Size: (\d+)", stat).group(1))
        assert size // 4096 == orphan_file_blocks(1000) == 32, (branch, stat)
    else:
        assert orphan_file_blocks(1000) == 0, branch
