"""Linear population of big ext4 folders, rootless, on every e2fsprogs release.

`mkfs.ext4 -d` goes through the whole (unindexed) folder once per entry it
adds: an 18,000-entry folder costs about 90 s on a 2-core machine where the
same files spread over small folders take 2 s. 1.47.3 stopped searching every
block for free space (it appends), but is still quadratic: 1.47.4 took 0.26 s,
1.88 s and 12.5 s for folders of 2,000, 6,000 and 18,000 entries. libext2fs'
`ext2fs_link` does insert in O(log n) into an htree-indexed folder (dx_link,
since 1.46), so:

1. split: the tree mkfs reads holds each big folder's non-folder entries in
   hidden sub-folders of at most one block of entries each (a hard-link mirror
   of the source, or a rearrangement of our own staging copy), plus enough
   entries kept in place that the folder spans several blocks;
2. mkfs.ext4 -d populates that (every folder small: linear);
3. `e2fsck -fyD` indexes the big folder (htree);
4. one debugfs script moves every entry back: `cd` into the part, `ln NAME
   /folder` (dx_link: no search), `unlink NAME`, then `rmdir` the part.
   Only short folder lookups happen, so the whole merge is linear.

Everything is sorted and debugfs runs with E2FSPROGS_FAKE_TIME, so the image
is byte-reproducible. Names debugfs' parser cannot carry (quotes, newlines)
stay where they are.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field

PART_PREFIX = ".diskwright-part-"
# folders whose entries fill more blocks than this are split (about 3,000 typical names)
SPLIT_BLOCKS = 24
TIMES = ("atime", "ctime", "mtime", "crtime")


def dirent_bytes(name: bytes) -> int:
    """Bytes one linear ext4 directory entry takes (8-byte header, 4-aligned)."""
    return (8 + len(name) + 3) & ~3


def is_big(entry_bytes: int, block: int) -> bool:
    return entry_bytes > SPLIT_BLOCKS * (block - 12)


def _portable(name: bytes) -> bool:
    """Names debugfs' command parser reads back exactly (no quoting needed beyond "…")."""
    return not any(c in name for c in b'"\n\r\\') and not name.startswith(b"-")


@dataclass
class Split:
    """What was moved: (folder path in the image, part name, entry names)."""

    parts: list[tuple[bytes, bytes, list[bytes]]] = field(default_factory=list)

    def script(self) -> bytes:
        lines: list[bytes] = []
        for folder, part, names in self.parts:
            where = folder.rstrip(b"/")
            lines.append(b'cd "' + where + b"/" + part + b'"')
            for n in names:
                lines.append(b'ln "' + n + b'" "' + (where or b"/") + b'"')
                lines.append(b'unlink "' + n + b'"')
            lines.append(b"cd /")
            lines.append(b'rmdir "' + where + b"/" + part + b'"')
        return b"\n".join(lines) + b"\n"


def _plan_folder(path: bytes, image_path: bytes, block: int, split: Split) -> None:
    """Decide which entries of one big folder go to which part (appended to split)."""
    with os.scandir(path) as it:
        entries = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in it)
    names = [n for n, _ in entries]
    total = sum(dirent_bytes(n) for n in names)
    if not is_big(total, block) or not _portable(image_path or b"/"):
        return
    movable = [n for n, is_dir in entries if not is_dir and _portable(n)]
    # keep enough in place that the folder spans 3+ blocks: e2fsck -D indexes only those
    kept, keep_bytes = 0, 0
    while kept < len(movable) and keep_bytes < 3 * block:
        keep_bytes += dirent_bytes(movable[kept])
        kept += 1
    movable = movable[kept:]
    taken = set(names)
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    used = 0
    for n in movable:
        b = dirent_bytes(n)
        if current and used + b > block - 64:  # one block of entries per part
            groups.append(current)
            current, used = [], 0
        current.append(n)
        used += b
    if current:
        groups.append(current)
    i = 0
    for group in groups:
        while True:
            part = f"{PART_PREFIX}{i:05d}".encode()
            i += 1
            if part not in taken:
                break
        split.parts.append((image_path, part, group))


def _walk_big(root: bytes, block: int) -> list[bytes]:
    """Relative paths (b"" = root) of folders big enough to split, sorted, no symlinks followed."""
    out: list[bytes] = []
    stack = [b""]
    while stack:
        rel = stack.pop()
        full = os.path.join(root, rel) if rel else root
        total = 0
        with os.scandir(full) as it:
            for e in it:
                total += dirent_bytes(e.name)
                if e.is_dir(follow_symlinks=False):
                    stack.append(os.path.join(rel, e.name) if rel else e.name)
        if is_big(total, block):
            out.append(rel)
    return sorted(out)


def _copy_meta_dir(src: bytes, dst: bytes) -> None:
    st = os.lstat(src)
    os.chmod(dst, stat.S_IMODE(st.st_mode))
    if os.geteuid() == 0:
        os.lchown(dst, st.st_uid, st.st_gid)
    try:
        for attr in os.listxattr(src, follow_symlinks=False):
            os.setxattr(dst, attr, os.getxattr(src, attr, follow_symlinks=False))
    except OSError:
        pass  # no xattrs here, or a filesystem without them
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _place(src: bytes, dst: bytes) -> None:
    """Hard-link one non-folder entry; copy it where links cannot cross devices."""
    try:
        os.link(src, dst, follow_symlinks=False)
        return
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copy2(src, dst, follow_symlinks=False)
    else:
        os.mknod(dst, st.st_mode, st.st_rdev)


def mirror(src: bytes, dst: bytes, moves: dict[bytes, dict[bytes, bytes]]) -> None:
    """Hard-link mirror of src at dst; moves[folder][name] = part puts name under folder/part."""
    os.mkdir(dst)
    stack = [b""]
    while stack:
        rel = stack.pop()
        s = os.path.join(src, rel) if rel else src
        d = os.path.join(dst, rel) if rel else dst
        where = moves.get(rel, {})
        for part in sorted(set(where.values())):
            os.mkdir(os.path.join(d, part), 0o700)
        with os.scandir(s) as it:
            for e in it:
                target = os.path.join(d, where[e.name], e.name) if e.name in where else None
                if e.is_dir(follow_symlinks=False):
                    os.mkdir(os.path.join(d, e.name), 0o700)
                    stack.append(os.path.join(rel, e.name) if rel else e.name)
                else:
                    _place(e.path, target or os.path.join(d, e.name))
        _copy_meta_dir(s, d)


def rearrange(root: bytes, moves: dict[bytes, dict[bytes, bytes]]) -> None:
    """Move entries into their parts inside our own staging copy (renames only)."""
    for rel, where in moves.items():
        d = os.path.join(root, rel) if rel else root
        st = os.lstat(d)
        for part in sorted(set(where.values())):
            os.mkdir(os.path.join(d, part), 0o700)
        for name, part in where.items():
            os.rename(os.path.join(d, name), os.path.join(d, part, name))
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))


def split_tree(src: str, dst: str, script: str, block: int, in_place: bool) -> Split:
    """Split every big folder of src (into dst, or in place); write the debugfs merge script."""
    root = os.fsencode(src)
    split = Split()
    moves: dict[bytes, dict[bytes, bytes]] = {}
    for rel in _walk_big(root, block):
        before = len(split.parts)
        full = os.path.join(root, rel) if rel else root
        _plan_folder(full, b"/" + rel, block, split)
        where: dict[bytes, bytes] = {}
        for _, part, names in split.parts[before:]:
            for n in names:
                where[n] = part
        if where:
            moves[rel] = where
    if in_place:
        rearrange(root, moves)
    else:
        mirror(root, os.fsencode(dst), moves)
    with open(script, "wb") as f:
        f.write(split.script())
    return split


def merge(image: str, script: str, epoch: int) -> int:
    """Run the merge script with debugfs; any complaint on stderr fails the step.

    Each part's inode gets the epoch's times before it is freed: mkfs -d copied
    the staging folder's ctime into it, and freed inodes are not pinned later.
    """
    with open(script, "rb") as f:
        lines = f.read().splitlines()
    out: list[bytes] = []
    for ln in lines:
        if ln.startswith(b"rmdir "):
            target = ln[len(b"rmdir ") :]
            out += [b"sif " + target + f" {t} @{epoch}".encode() for t in TIMES]
        out.append(ln)
    with open(script, "wb") as f:
        f.write(b"\n".join(out) + b"\n")
    r = subprocess.run(["debugfs", "-w", "-f", script, image], capture_output=True)
    errors = [
        text
        for text in r.stderr.decode(errors="replace").splitlines()
        if text and not text.startswith("debugfs ")
    ]
    for text in errors[:20]:
        print(text, file=sys.stderr)
    with open(script, "rb") as f:
        moved = sum(1 for ln in f if ln.startswith(b"ln "))
    print(f"{image}: {moved} entries moved into their indexed folders")
    return 1 if r.returncode or errors else 0


def split_main(args: list[str]) -> int:
    """diskwright helper ext4-split SRC DST SCRIPT BLOCK [--in-place]"""
    in_place = "--in-place" in args
    src, dst, script, block = [a for a in args if a != "--in-place"]
    split = split_tree(src, dst, script, int(block), in_place)
    moved = sum(len(n) for _, _, n in split.parts)
    folders = len({f for f, _, _ in split.parts})
    print(f"{moved} entries of {folders} big folders split into {len(split.parts)} parts")
    return 0
