"""ext4 timestamps: every release pins them; each test names what the installed e2fsprogs does.

e2fsprogs 1.47.1 started to read SOURCE_DATE_EPOCH, but only as a ceiling: a
source time before it stays. So on 1.47.0 (Debian 12) and 1.47.2 (Debian 13)
alike the plan keeps its pin step; these tests show why on this release, and
fail the day SOURCE_DATE_EPOCH alone would do (then the pin can go there).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import tomli_w
from testkit import run_cli, sha256

from diskwright.core.fs.ext4 import SDE_VERSION, e2fsprogs_version, pin_reason
from diskwright.core.helpers import used_inodes

pytestmark = pytest.mark.integration
EPOCH = 1700000000
OLD = 1_500_000_000  # before the epoch, as a Nix store's 1 or an unpacked archive's dates
VERSION = e2fsprogs_version()
BRANCH = "sde-ceiling" if VERSION >= SDE_VERSION else "sde-ignored"
UUID = "6594febf-5c2d-5bea-937b-f386762576b8"
RELEASE = f"e2fsprogs {'.'.join(map(str, VERSION))} ({BRANCH})"


def _tree(root: Path) -> Path:
    """Old files (atime = mtime before the epoch), today's files, folders of both."""
    for d, when in (("old", OLD), ("new", None)):
        for i in range(30):
            p = root / d / f"file-{i:02}"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"x" * (i * 100 + 1))
            if when:
                os.utime(p, (when + i, when + i))
    (root / "old/link").symlink_to("file-01")
    os.utime(root / "old", (OLD, OLD))
    return root


def _read_moves_atimes(root: Path) -> None:
    """What a build's own reads do to old atimes under relatime, on any mount."""
    now = time.time()
    for p in root.rglob("file-*"):
        os.utime(p, (now, p.stat().st_mtime))


def _times(image: Path) -> dict[int, dict[str, str]]:
    """inode → {atime, ctime, mtime, crtime: 'seconds:extra'} for every used inode."""
    inos = used_inodes(str(image))
    script = "".join(f"stat <{i}>\n" for i in inos)
    out = subprocess.run(
        ["debugfs", "-f", "-", str(image)], input=script, capture_output=True, text=True, check=True
    ).stdout
    chunks = re.split(r"^debugfs: stat .*$", out, flags=re.M)[1:]
    assert len(chunks) == len(inos), out[-2000:]
    return {
        ino: {
            m.group(1): f"{int(m.group(2), 16)}:{m.group(3)}"
            for m in re.finditer(r"\b(\w*time): (0x[0-9a-f]+):([0-9a-f]+)", chunk)
        }
        for ino, chunk in zip(inos, chunks, strict=True)
    }


def _stat(image: Path, path: str) -> dict[str, int]:
    out = subprocess.run(
        ["debugfs", "-R", f"stat {path}", str(image)], capture_output=True, text=True, check=True
    ).stdout
    return {m.group(1): int(m.group(2), 16) for m in re.finditer(r"\b(\w*time): (0x\w+)", out)}


def test_sde_alone_is_not_enough_here(tmp_path: Path) -> None:
    """mkfs.ext4 -d with the plan's environment and no pin: why the pin stays, per release."""
    src = _tree(tmp_path / "src")
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), "E2FSPROGS_FAKE_TIME": str(EPOCH)}
    images, staged = [], []
    for run in ("a", "b"):
        stage = tmp_path / f"{run}.stage"
        subprocess.run(["cp", "-al", str(src), str(stage)], check=True)  # as the plan stages
        staged.append(int((stage / "old/file-03").stat().st_ctime))
        image = tmp_path / f"{run}.img"
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-I", "256", "-U", UUID, "-E", f"hash_seed={UUID}",
             "-d", str(stage), str(image), "8M"],
            check=True,
            env=env,
        )
        images.append(image)
        _read_moves_atimes(src)
    a, b = (_stat(i, "/old/file-03") for i in images)
    if BRANCH == "sde-ceiling":
        assert a["ctime"] == EPOCH and a["crtime"] == EPOCH, f"{RELEASE}: {a}"
        assert a["mtime"] == OLD + 3, f"{RELEASE} now sets old mtimes to the epoch: {a}"
        assert (a["atime"], b["atime"]) == (OLD + 3, EPOCH), (
            f"{RELEASE} now gives atimes that do not depend on the source's: {a} {b}"
        )
    else:
        assert a["ctime"] == staged[0] != EPOCH, f"{RELEASE} now reads SOURCE_DATE_EPOCH: {a}"
        assert b["atime"] > EPOCH, f"{RELEASE}: {b}"
    assert sha256(images[0]) != sha256(images[1]), f"{RELEASE}: SOURCE_DATE_EPOCH alone suffices"


def _profile(folder: Path, src: Path) -> Path:
    prof = {
        "version": 1,
        "name": "times",
        "source": {"path": str(src)},
        "reproducible": {"source_date_epoch": EPOCH, "seed": "times"},
        "disks": [
            {
                "name": "d",
                "table": "none",
                "output": {"path": "out.img", "format": "raw"},
                "partitions": [{"role": "root", "filesystem": "ext4", "mount_point": "/"}],
            }
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "p.toml"
    p.write_text(tomli_w.dumps(prof))
    return p


@pytest.mark.parametrize("branch", [f"pin-{BRANCH}-{'.'.join(map(str, VERSION))}"])
def test_pinned_rebuild_identical_all_epoch(branch: str, tmp_path: Path) -> None:
    """The plan pins on this release and says why; two builds, atimes moved between, same bytes."""
    src = _tree(tmp_path / "src")
    plan = run_cli("plan", _profile(tmp_path / "a", src))
    assert plan.returncode == 0, plan.stderr
    assert "helper ext4-pin" in plan.stdout, f"{RELEASE}: the plan has no pin step"
    assert f"#   {pin_reason(VERSION)}" in plan.stdout, f"{RELEASE}: the step does not say why"
    images = []
    for run in ("a", "b"):
        r = run_cli("build", _profile(tmp_path / run, src))
        assert r.returncode == 0, r.stderr
        images.append(tmp_path / run / "out.img")
        _read_moves_atimes(src)
        time.sleep(1.1)  # another wall-clock second for the second build
    assert sha256(images[0]) == sha256(images[1]), f"{RELEASE}: two builds differ"
    times = _times(images[0])
    assert len(times) > 60
    wrong = {
        (ino, field): value
        for ino, fields in times.items()
        for field, value in fields.items()
        if value != f"{EPOCH}:00000000"
    }
    assert not wrong, f"{RELEASE}: times that are not the epoch: {dict(list(wrong.items())[:5])}"
