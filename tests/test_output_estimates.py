"""Issue 10: the estimate of every output kind is within 10% or 64 KiB of the real file,
whichever is larger — built for real from small profiles and compared."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import tomli_w
from testkit import EXAMPLES, estimate_and_build, run_cli

pytestmark = pytest.mark.integration

KINDS: dict[str, dict[str, object]] = {
    "raw": {"format": "raw"},
    "qcow2": {"format": "qcow2"},
    "qcow2-compressed": {"format": "qcow2-compressed"},
    "qcow2-compressed-zstd": {"format": "qcow2-compressed", "compression_type": "zstd"},
    "vdi": {"format": "vdi"},
    "vpc": {"format": "vpc"},
    "vmdk": {"format": "vmdk"},
    "vhdx": {"format": "vhdx"},
    "raw-zstd": {"format": "raw", "compression": "zstd"},
    "raw-xz": {"format": "raw", "compression": "xz"},
}


def _profile(folder: Path, root: Path, example: str, sizes: list[str], out: dict) -> Path:
    base = tomllib.loads((EXAMPLES / example).read_text())
    disk = base["disks"][0]
    disk["output"] = {"path": "out.img", **out}
    for part, size in zip(disk["partitions"], sizes, strict=True):
        part["size"] = size
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "root").symlink_to(root)
    p = folder / "p.toml"
    p.write_text(tomli_w.dumps(base))
    return p


def _check(p: Path) -> None:
    est = run_cli("estimate", "--json", p)
    assert est.returncode == 0, est.stderr
    guess = json.loads(est.stdout)["disks"][0]["output_bytes"]
    built = run_cli("build", p)
    assert built.returncode == 0, built.stderr
    real = (p.parent / "out.img").stat().st_size
    assert abs(guess - real) <= max(real // 10, 64 * 1024), (guess, real)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("example", "sizes"),
    [("vm-disk.toml", ["1MiB", "12MiB"]), ("sd-card.toml", ["32MiB", "40MiB"])],
    ids=["gpt", "mbr"],
)
def test_output_estimate(
    tmp_path: Path, example_root: Path, kind: str, example: str, sizes: list[str]
) -> None:
    _check(_profile(tmp_path, example_root, example, sizes, KINDS[kind]))


@pytest.mark.parametrize("kind", KINDS)
def test_output_estimate_under_1mib(tmp_path: Path, kind: str) -> None:
    """A 512 KiB vfat image with no partition table: the fixed metadata dominates."""
    (tmp_path / "root/boot").mkdir(parents=True)
    (tmp_path / "root/boot/hello.txt").write_text("hello\n")
    profile = {
        "version": 1,
        "name": "tiny",
        "source": {"path": "root"},
        "reproducible": {"source_date_epoch": 1700000000, "seed": "tiny"},
        "disks": [
            {
                "name": "t",
                "table": "none",
                "output": {"path": "out.img", **KINDS[kind]},
                "partitions": [
                    {"role": "data", "filesystem": "vfat", "mount_point": "/boot", "size": "512KiB"}
                ],
            }
        ],
    }
    p = tmp_path / "p.toml"
    p.write_text(tomli_w.dumps(profile))
    _check(p)


@pytest.mark.parametrize("files", [3000, 600])
def test_ext4_estimate_of_many_small_files(tmp_path: Path, files: int) -> None:
    """A tree needing more inodes than data: mkfs starts at the size its inode ratio wants,
    resize2fs -M then keeps only the groups the inodes fill, and the estimate says so
    (it said +23% on 20,000 files of 0-9 KiB before it modelled the shrink)."""
    import random

    rng = random.Random(files)
    root = tmp_path / "tree"
    for i in range(files):
        d = root / f"d{i % 30:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}").write_bytes(rng.randbytes(rng.randint(0, 2048)))
    p = tmp_path / "p.toml"
    p.write_text(tomli_w.dumps({
        "version": 1, "source": {"path": "tree"},
        "reproducible": {"source_date_epoch": 1700000000, "seed": "small-files"},
        "disks": [{"name": "d", "table": "none", "output": {"path": "out.img", "format": "raw"},
                   "partitions": [{"role": "root", "mount_point": "/", "filesystem": "ext4"}]}],
    }))
    guess, real = estimate_and_build(p, tmp_path / "out.img")
    assert abs(guess - real) <= real // 20, (guess, real)  # issue 11: ext4 within 5%
