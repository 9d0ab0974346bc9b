"""ext4 time pinning in the inode tables writes what debugfs' `sif` writes, checksums included."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from testkit import nobody_cannot_run

from diskwright.core.ext4_pin import _time_words, pin
from diskwright.core.helpers import debugfs_pin_lines, ext4_pin, used_inodes

pytestmark = pytest.mark.integration
SUPER = slice(1024, 2048)  # debugfs also bumps s_kbytes_written (and so the checksum)


def _tree(root: Path) -> Path:
    """Files, folders, a symlink, odd owners and times (atime/ctime vary run to run)."""
    for d in range(4):
        sub = root / f"d{d}"
        sub.mkdir(parents=True)
        for i in range(60):
            p = sub / f"f{i}"
            p.write_bytes(b"x" * (i * 37))
            os.utime(p, ns=(1_234_567_891_234 * i, 987_654_321_987 * i + 5))
    (root / "d0/link").symlink_to("f1")
    if os.geteuid() == 0:
        os.chown(root / "d1/f3", 1234, 5678)
    return root


def _mkfs(tree: Path, image: Path, *opts: str) -> None:
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", *opts, "-d", str(tree), str(image), "8M"],
        check=True,
        env={**os.environ, "E2FSPROGS_FAKE_TIME": "1700000000"},
    )


def _debugfs_pin(image: Path, epoch: int, owners: bool) -> None:
    script = image.with_suffix(".debugfs")
    script.write_text("\n".join(debugfs_pin_lines(used_inodes(str(image)), epoch, owners)) + "\n")
    subprocess.run(
        ["debugfs", "-w", "-f", str(script), str(image)], check=True, capture_output=True
    )


def _without_super(image: Path) -> bytes:
    data = bytearray(image.read_bytes())
    data[SUPER] = bytes(1024)
    return bytes(data)


@pytest.mark.parametrize(
    ("opts", "epoch", "owners"),
    [
        ((), 1700000000, True),
        ((), 4000000000, False),  # past 2038: the epoch bits of the extra fields
        (("-b", "1024", "-O", "^metadata_csum"), 1700000000, True),
        (("-b", "1024", "-N", "2000"), 86400, False),  # several groups, some never used
    ],
)
def test_same_bytes_as_debugfs(
    tmp_path: Path, opts: tuple[str, ...], epoch: int, owners: bool
) -> None:
    tree = _tree(tmp_path / "tree")
    ours, theirs = tmp_path / "ours.img", tmp_path / "theirs.img"
    _mkfs(tree, ours, *opts)
    shutil.copy(ours, theirs)
    before = ours.read_bytes()
    assert pin(str(ours), epoch, owners) == len(used_inodes(str(ours)))
    _debugfs_pin(theirs, epoch, owners)
    assert ours.read_bytes() != before
    assert _without_super(ours) == _without_super(theirs)
    assert ours.read_bytes()[SUPER] == before[SUPER]
    fsck = subprocess.run(["e2fsck", "-fn", str(ours)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    stat = subprocess.run(
        ["debugfs", "-R", "stat /d1/f3", str(ours)], capture_output=True, text=True, check=True
    ).stdout
    assert f"mtime: {epoch:#010x}:" in stat
    low, high = _time_words(epoch)  # crtime too, with its epoch bits past 2038 (mkfs has none)
    assert f"crtime: {low:#010x}:{high:08x}" in stat, stat
    if owners:
        assert "User:     0   Group:     0" in stat
    elif os.geteuid() == 0:
        assert "User:  1234   Group:  5678" in stat


def test_small_inodes_go_to_debugfs(tmp_path: Path) -> None:
    """128-byte inodes are not written in place: debugfs pins them, with the same result."""
    image = tmp_path / "small.img"
    _mkfs(_tree(tmp_path / "tree"), image, "-I", "128")
    assert pin(str(image), 1700000000, False) is None
    assert ext4_pin(str(image), 1700000000, False, []) == 0
    stat = subprocess.run(
        ["debugfs", "-R", "stat /d2/f9", str(image)], capture_output=True, text=True, check=True
    ).stdout
    assert stat.count("0x6553f100") == 3, stat


NOBODY = 65534


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to build once as root and once as an ordinary user")
def test_an_ordinary_users_build_is_roots_build(tmp_path: Path) -> None:
    """As nobody, ext4 gets the same bytes as root: owners root, xattrs kept (no fakeroot,
    which answered every xattr query with "none" and dropped them)."""
    import hashlib
    import sys
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="dw-user-ext4-", dir="/tmp"))  # nobody may enter it
    try:
        base.chmod(0o755)
        tree = _tree(base / "tree")
        (base / "out").mkdir()
        os.setxattr(tree / "d2/f7", "user.note", b"kept")
        os.setxattr(tree / "d3", "user.folder", b"also")
        (base / "p.toml").write_text(
            'version = 1\n[source]\npath = "tree"\n'
            '[reproducible]\nsource_date_epoch = 1700000000\nseed = "user"\n'
            '[[disks]]\nname = "d"\ntable = "none"\n'
            '[disks.output]\npath = "out/x.ext4"\nformat = "raw"\n'
            '[[disks.partitions]]\nrole = "root"\nmount_point = "/"\nfilesystem = "ext4"\n'
        )
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(base)], check=True)
        env = {"HOME": str(base), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               "TMPDIR": str(base), "XDG_CACHE_HOME": str(base / "cache")}
        images = {}
        for who in ("root", "nobody"):
            pre = [] if who == "root" else ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                            "--clear-groups"]
            r = subprocess.run([*pre, "env", *(f"{k}={v}" for k, v in env.items()),
                                sys.executable, "-m", "diskwright.tui.cli", "build", "--force",
                                str(base / "p.toml")], capture_output=True, text=True, cwd=base)
            if who == "nobody" and nobody_cannot_run(r.stderr):
                pytest.skip("this diskwright installation is not runnable by an ordinary user")
            assert r.returncode == 0, r.stdout + r.stderr
            images[who] = hashlib.sha256((base / "out/x.ext4").read_bytes()).hexdigest()
        assert images["nobody"] == images["root"]
        image = str(base / "out/x.ext4")
        for path, attr in (("/d2/f7", 'user.note (4) = "kept"'), ("/d3", "user.folder")):
            ea = subprocess.run(["debugfs", "-R", f"ea_list {path}", image],
                                capture_output=True, text=True, check=True).stdout
            assert attr in ea, ea
        stat = subprocess.run(["debugfs", "-R", "stat /d1/f3", image],
                              capture_output=True, text=True, check=True).stdout
        assert "User:     0   Group:     0" in stat, stat
    finally:
        shutil.rmtree(base, ignore_errors=True)
