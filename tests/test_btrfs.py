"""btrfs, added as one module and one registry line: build images with the real
mkfs.btrfs, check them with `btrfs check`, read the files back with `btrfs restore`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from imagecheck import blkid, manifest, run
from testkit import leftovers, run_cli

from diskwright.core.fs import REGISTRY
from diskwright.core.layout import resolve
from diskwright.core.profile import load_profile

pytestmark = pytest.mark.skipif(shutil.which("mkfs.btrfs") is None, reason="no btrfs-progs")

PROFILE = """\
version = 1
name = "btrfs-data"
[source]
path = "root"
[reproducible]
source_date_epoch = 1
seed = "btrfs-data"
[[disks]]
name = "data"
table = "none"
[disks.output]
path = "data.btrfs"
[[disks.partitions]]
role = "data"
filesystem = "btrfs"
contents = "/etc"
mount_point = "/data"
label = "{label}"
{size}
[disks.partitions.btrfs]
metadata = "{metadata}"
"""


def _profile(folder: Path, example_root: Path, **kw: str) -> Path:
    (folder / "root").symlink_to(example_root)
    p = folder / "btrfs.toml"
    p.write_text(PROFILE.format(**{"label": "data", "size": "", "metadata": "single", **kw}))
    return p


def _restore(image: Path, dest: Path) -> Path:
    dest.mkdir()
    run("btrfs", "restore", "-S", "-x", image, dest)  # -S symlinks, -x xattrs
    return dest


@pytest.mark.parametrize("metadata", ["single", "dup"])
def test_btrfs_auto(tmp_path: Path, example_root: Path, metadata: str) -> None:
    toml = _profile(tmp_path, example_root, metadata=metadata)
    r = run_cli("build", toml)
    assert r.returncode == 0, r.stderr
    img = tmp_path / "data.btrfs"
    run("btrfs", "check", "--readonly", img)
    b = blkid(img)
    info = resolve(load_profile(toml))[0]
    assert (b["TYPE"], b["LABEL"], b["UUID"]) == ("btrfs", "data", info.fs_uuid)
    got = manifest(_restore(img, tmp_path / "out"))
    assert got == manifest(example_root / "etc")
    assert leftovers(tmp_path) == []


def test_btrfs_fixed_size(tmp_path: Path, example_root: Path) -> None:
    toml = _profile(tmp_path, example_root, size='size = "64MiB"')
    r = run_cli("build", toml)
    assert r.returncode == 0, r.stderr
    img = tmp_path / "data.btrfs"
    assert img.stat().st_size == 64 << 20
    run("btrfs", "check", "--readonly", img)


def test_btrfs_label_too_long(tmp_path: Path, example_root: Path) -> None:
    toml = _profile(tmp_path, example_root, label="x" * 256)
    r = run_cli("validate", toml)
    assert r.returncode == 2
    assert "label" in r.stderr and "Traceback" not in r.stderr


def test_btrfs_headroom_refused(tmp_path: Path, example_root: Path) -> None:
    toml = _profile(tmp_path, example_root, size='headroom = "20%"')
    r = run_cli("validate", toml)
    assert r.returncode == 2
    assert "headroom" in r.stderr and "Traceback" not in r.stderr


def test_btrfs_declared() -> None:
    spec = REGISTRY["btrfs"]
    assert spec.rules.label_bytes == 255 and not spec.rules.byte_reproducible
    assert {t.command for t in spec.tools} == {"mkfs.btrfs", "btrfs"}
    assert set(spec.fields) == {"metadata", "checksum"}
