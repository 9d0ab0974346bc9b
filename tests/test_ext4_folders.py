"""ext4 folders: big ones populated without mkfs -d's quadratic search, every multi-block one
htree-indexed (checked with debugfs), contents exact and bytes reproducible."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import tomli_w
from imagecheck import extract, manifest, run
from testkit import run_cli, sha256

pytestmark = pytest.mark.integration
INDEX_FL = 0x1000


def _tree(root: Path) -> Path:
    """A big folder (5,000 entries: files, symlinks, hard links, a sub-folder), a medium one."""
    big = root / "usr/share/man/man1"
    big.mkdir(parents=True)
    for i in range(5000):
        name = f"command-number-{i:05d}.1.gz"
        if i % 50 == 7:
            (big / name).symlink_to(f"command-number-{i - 1:05d}.1.gz")
        elif i % 97 == 3:
            os.link(big / f"command-number-{i - 1:05d}.1.gz", big / name)
        else:
            (big / name).write_bytes(b"x" * (i % 300) + name.encode())
    (big / "sub").mkdir()
    (big / "sub/inner").write_text("inner\n")
    (big / 'odd "quoted" name').write_text("stays in place\n")
    os.chmod(big / "command-number-00010.1.gz", 0o600)
    medium = root / "etc/medium"
    medium.mkdir(parents=True)
    for i in range(300):
        (medium / f"conf-file-{i:04d}").write_text(str(i))
    (root / "etc/small").write_text("small\n")
    return root


def _profile(folder: Path, src: Path, exclude: bool) -> Path:
    part: dict[str, object] = {"role": "root", "filesystem": "ext4", "mount_point": "/"}
    parts = [part]
    if exclude:  # a nested mount point makes the planner stage: the split happens in place
        parts.append({"role": "data", "filesystem": "ext4", "mount_point": "/etc/medium"})
    prof = {
        "version": 1,
        "name": "folders",
        "source": {"path": str(src)},
        "reproducible": {"source_date_epoch": 1700000000, "seed": "folders"},
        "disks": [
            {
                "name": "d",
                "table": "gpt" if exclude else "none",
                "output": {"path": "out.img", "format": "raw"},
                "partitions": parts,
            }
        ],
    }
    p = folder / "p.toml"
    folder.mkdir(parents=True, exist_ok=True)
    p.write_text(tomli_w.dumps(prof))
    return p


def _flags(image: Path, path: str) -> int:
    out = run("debugfs", "-R", f"stat {path}", image)
    return int(re.search(r"Flags: (0x[0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("folders") / "root")


def test_big_folder_split_indexed_exact(src: Path, tmp_path: Path) -> None:
    plan = run_cli("plan", _profile(tmp_path, src, False))
    assert plan.returncode == 0, plan.stderr
    assert "ext4-split" in plan.stdout, "mkfs -d is quadratic on every release (1.47.4 too)"
    assert "e2fsck -fyD" in plan.stdout
    r = run_cli("build", _profile(tmp_path, src, False))
    assert r.returncode == 0, r.stderr
    img = tmp_path / "out.img"
    run("e2fsck", "-fn", img)
    for folder in ("/usr/share/man/man1", "/etc/medium"):
        assert _flags(img, folder) & INDEX_FL, f"{folder} is not htree-indexed"
    assert not _flags(img, "/etc") & INDEX_FL  # one block: nothing to index
    listing = run("debugfs", "-R", "ls -a /usr/share/man/man1", img)
    assert ".diskwright-part" not in listing
    got = manifest(extract("ext4", img, tmp_path / "x"))
    assert got == manifest(src)
    links = run("debugfs", "-R", "stat /usr/share/man/man1/command-number-00003.1.gz", img)
    assert "Links: 2" in links


def test_split_in_staging_reproducible(src: Path, tmp_path: Path) -> None:
    """Staged trees are split in place; two builds give the same bytes."""
    outs = []
    for run_name in ("one", "two"):
        d = tmp_path / run_name
        r = run_cli("build", _profile(d, src, True))
        assert r.returncode == 0, r.stderr
        outs.append(d / "out.img")
        assert "--in-place" in (d / "out.img.log").read_text()
    assert sha256(outs[0]) == sha256(outs[1])


def test_index_pass_only_where_a_folder_spans_blocks(tmp_path: Path) -> None:
    """No e2fsck -D pass for one-block folders; a just-two-block folder still gets one.

    170 names of 13 bytes take 24 bytes each on disk (4,080 + "." and ".." > one
    4 KiB block) while the scan counts 23: the bound must not undercount.
    """
    small = tmp_path / "small"
    (small / "etc").mkdir(parents=True)
    (small / "etc/hostname").write_text("box\n")
    plan = run_cli("plan", _profile(tmp_path / "a", small, False))
    assert plan.returncode == 0, plan.stderr
    assert "e2fsck -fyD" not in plan.stdout
    r = run_cli("build", _profile(tmp_path / "a", small, False))
    assert r.returncode == 0, r.stderr
    run("e2fsck", "-fn", tmp_path / "a/out.img")
    first = sha256(tmp_path / "a/out.img")
    r = run_cli("build", _profile(tmp_path / "a2", small, False))
    assert r.returncode == 0, r.stderr
    assert sha256(tmp_path / "a2/out.img") == first

    edge = tmp_path / "edge"
    (edge / "d").mkdir(parents=True)
    for i in range(170):
        (edge / f"d/name-{i:08d}").write_text("")
    r = run_cli("build", _profile(tmp_path / "b", edge, False))
    assert r.returncode == 0, r.stderr
    assert _flags(tmp_path / "b/out.img", "/d") & INDEX_FL, "a two-block folder is not indexed"
