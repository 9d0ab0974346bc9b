"""Open images again with the real tools and describe what is inside, for comparison."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


@dataclass(frozen=True)
class Entry:
    kind: str  # file, dir, link
    mode: int
    detail: str  # sha256 of a file, target of a link
    uid: int
    gid: int


def manifest(root: Path, *, skip: tuple[str, ...] = (), modes: bool = True) -> dict[str, Entry]:
    """rel path → Entry for everything below root; `skip` paths keep only the directory."""
    out: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        if rel_dir in skip:
            dirnames.clear()
            continue
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            st = p.lstat()
            mode = stat.S_IMODE(st.st_mode) if modes else 0
            if stat.S_ISLNK(st.st_mode):
                out[rel] = Entry("link", 0, os.readlink(p), st.st_uid, st.st_gid)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = Entry("dir", mode, "", st.st_uid, st.st_gid)
            else:
                out[rel] = Entry(
                    "file", mode, hashlib.sha256(p.read_bytes()).hexdigest(), st.st_uid, st.st_gid
                )
    return out


def run(*args: str | Path, check: bool = True) -> str:
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=ENV)
    if check and r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}): {r.stdout}\n{r.stderr}")
    return r.stdout


def to_raw(image: Path, dest: Path) -> Path:
    """Any output (qcow2, zstd, …) back to a raw disk file."""
    if image.suffix == ".zst":
        run("zstd", "-q", "-d", "-o", dest, image)
        return dest
    if image.suffix == ".xz":
        with open(dest, "wb") as f:
            subprocess.run(["xz", "-d", "-c", str(image)], stdout=f, check=True)
        return dest
    run("qemu-img", "convert", "-O", "raw", image, dest)
    return dest


def partitions(disk: Path) -> dict[str, object]:
    return json.loads(run("sfdisk", "-J", disk))["partitiontable"]


def cut(disk: Path, start: int, sectors: int, dest: Path) -> Path:
    run(
        "dd",
        f"if={disk}",
        f"of={dest}",
        "bs=512",
        f"skip={start}",
        f"count={sectors}",
        "conv=sparse",
        "status=none",
    )
    return dest


def blkid(image: Path) -> dict[str, str]:
    out = run("blkid", "-p", "-o", "export", image)
    # export format escapes values for the shell: undo that with shlex
    pairs = [shlex.split(line)[0] for line in out.splitlines() if "=" in line]
    return dict(p.split("=", 1) for p in pairs)


def extract(fs: str, image: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    if fs == "ext4":
        run("debugfs", "-R", f"rdump / {dest}", image)
        lf = dest / "lost+found"
        if lf.is_dir():
            lf.rmdir()
    elif fs == "erofs":
        run("fsck.erofs", f"--extract={dest}", "--overwrite", image)
    elif fs == "squashfs":
        dest.rmdir()
        run("unsquashfs", "-q", "-n", "-d", dest, image)
    elif fs == "vfat":
        if run("mdir", "-b", "-i", image, "::/", check=False).strip():
            run("mcopy", "-s", "-n", "-i", image, "::*", str(dest) + "/")
    elif fs == "btrfs":
        run("btrfs", "restore", "-S", "-x", "-m", image, dest)  # symlinks, xattrs, modes
    else:
        raise ValueError(fs)
    return dest


def erofs_mode(image: Path, path: str) -> int:
    """The full st_mode of `path` in an erofs image, read from its inode: fsck.erofs
    --extract (1.5, even with --preserve) drops setuid/setgid/sticky bits and dump.erofs
    prints only the permission bits. i_mode sits at byte 4 of compact and extended inodes."""
    import re
    import struct

    out = run("dump.erofs", f"--path={path}", image)
    m = re.search(r"NID: (\d+)", out)
    assert m, out
    with open(image, "rb") as f:
        f.seek(1024 + 40)
        (meta,) = struct.unpack("<I", f.read(4))
        f.seek(meta * 4096 + int(m.group(1)) * 32 + 4)
        (mode,) = struct.unpack("<H", f.read(2))
    return mode


def ext4_mode(image: Path, path: str) -> int | None:
    """The full mode of `path` in an ext4 image: debugfs rdump chmods before it chowns,
    and the chown clears setuid/setgid, so the extracted copy cannot tell. None for a
    name debugfs's request parser cannot quote (a double quote or a newline in it)."""
    import re

    if '"' in path or "\n" in path:
        return None
    out = run("debugfs", "-R", f'stat "{path}"', image)
    m = re.search(r"Mode:\s+(0?[0-7]+)", out)
    assert m, out
    return int(m.group(1), 8)
