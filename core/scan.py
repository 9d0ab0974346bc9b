"""One pass over a source tree: what is in it and how much room it needs.

Stats are kept per directory (not recursive) so that any subtree minus the
subtrees other partitions claim can be summed without walking the disk again.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from stat import S_IFDIR, S_IFLNK, S_IFREG, S_ISGID, S_ISUID

from .closure import Closure

BLOCK_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


@dataclass
class Stats:
    """Counts for a set of entries; `blocks[i]` is bytes rounded to BLOCK_SIZES[i]."""

    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    specials: int = 0
    hardlinks: int = 0  # extra names of an inode already counted
    hardlink_bytes: int = 0  # their sizes: FAT, which has no hard links, stores each again
    bytes: int = 0
    symlink_bytes: int = 0
    name_bytes: int = 0
    small_files: int = 0  # files under 4 KiB: tail-packed or inline
    tail_bytes: int = 0  # bytes past the last full 4 KiB block, over all files
    not_root: int = 0  # entries owned by someone other than root
    # bytes of files that are holes in the source (SEEK_HOLE): ext4 and squashfs keep them
    # as holes, so a 20 GiB sparse file does not make a 20 GiB estimate; vfat stores them
    hole_bytes: int = 0
    blocks: list[int] = field(default_factory=lambda: [0] * len(BLOCK_SIZES))

    def add(self, other: Stats) -> None:
        self.files += other.files
        self.dirs += other.dirs
        self.symlinks += other.symlinks
        self.specials += other.specials
        self.hardlinks += other.hardlinks
        self.hardlink_bytes += other.hardlink_bytes
        self.bytes += other.bytes
        self.symlink_bytes += other.symlink_bytes
        self.name_bytes += other.name_bytes
        self.small_files += other.small_files
        self.tail_bytes += other.tail_bytes
        self.not_root += other.not_root
        self.hole_bytes += other.hole_bytes
        self.blocks = [a + b for a, b in zip(self.blocks, other.blocks, strict=True)]

    @property
    def entries(self) -> int:
        return self.files + self.dirs + self.symlinks + self.specials

    def rounded(self, block: int) -> int:
        """File data rounded up to whole blocks of `block` bytes."""
        if block in BLOCK_SIZES:
            return self.blocks[BLOCK_SIZES.index(block)]
        smaller = max(b for b in BLOCK_SIZES if b <= block)
        return self.blocks[BLOCK_SIZES.index(smaller)]


@dataclass
class Scan:
    """The result of scanning one root. `dirs` maps "a/b" (root is "") to its own entries."""

    root: Path
    dirs: dict[str, Stats]
    children: dict[str, list[str]]  # directory → sorted names of its entries
    unreadable: list[str]
    seconds: float
    ownership: dict[str, tuple[int, int]] = field(default_factory=dict)
    # A Nix closure placed in the tree (core.nix): its paths live in the store,
    # and `synthetic` folders exist only in what the build stages, not under `root`.
    closure: Closure | None = None
    synthetic: frozenset[str] = frozenset()
    # where the tree's symlinks and special files are ("a/b"), for the checks of the
    # filesystems that cannot hold them (vfat) without walking the tree again
    links: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)
    # set-user/group-ID files whose owner/group is not root ("a/b"): a filesystem that
    # gives every file to root makes them set-ID root, which the estimate warns of
    setid: list[str] = field(default_factory=list)
    # each folder's regular files (first name of a hard-linked inode) and their sizes, in
    # the order the folder listed them: the compressibility sample picks by bytes from it
    files: dict[str, tuple[list[str], array[int]]] = field(default_factory=dict)

    def total(self) -> Stats:
        return self.subtree("/")

    def has_dir(self, path: str) -> bool:
        return _key(path) in self.dirs

    def subtree(self, path: str, exclude: Iterable[str] = ()) -> Stats:
        """Stats under `path` (inclusive), leaving out excluded subtrees' contents."""
        base = _key(path)
        excl = [_key(e) for e in exclude]
        out = Stats()
        if base not in self.dirs:
            return out
        prefix = base + "/" if base else ""
        for key, st in self.dirs.items():
            if key != base and not key.startswith(prefix):
                continue
            if any(key == e or key.startswith(e + "/") for e in excl if e != base):
                # an excluded directory still exists as an empty mount point
                if key in excl:
                    out.dirs += 1
                continue
            out.add(st)
        return out

    def top_level(self, path: str) -> list[str]:
        return self.children.get(_key(path), [])

    def paths_under(self, paths: Iterable[str], path: str,
                    exclude: Iterable[str] = ()) -> Iterator[str]:
        """Those of `paths` ("a/b", from `links` or `special`) inside the subtree `path`,
        outside the excluded subtrees, relative to `path`."""
        base = _key(path)
        excl = [_key(e) for e in exclude if _key(e) != base]
        for p in paths:
            if base and not p.startswith(base + "/"):
                continue
            if any(p == e or p.startswith(e + "/") for e in excl):
                continue
            yield p[len(base) + 1:] if base else p

    def names_under(self, path: str, exclude: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
        """(folder below `path`, name) of every entry in that subtree, from this scan's
        listing: checks on names (FAT's, erofs-utils 1.5's) never walk the tree again.
        An excluded subtree keeps its own name (the empty mount point), not its contents."""
        base = _key(path)
        excl = {_key(e) for e in exclude} - {base}
        stack = [base] if base in self.dirs else []
        prefix = len(base) + 1 if base else 0
        while stack:
            key = stack.pop()
            rel = key[prefix:]
            for name in self.children.get(key, ()):
                yield rel, name
                child = f"{key}/{name}" if key else name
                if child in self.dirs and child not in excl:
                    stack.append(child)


def hole_bytes(path: str | os.PathLike[str], size: int) -> int:
    """Bytes of `path` that are holes (SEEK_DATA/SEEK_HOLE), 0 when it cannot tell.

    st_blocks alone is not enough: a file compressed by btrfs or ZFS has few blocks
    but no holes, and every byte of it lands in the image.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return 0
    holes = 0
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return 0
        pos = 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as err:
                if err.errno == errno.ENXIO:  # only a hole from here to the end
                    holes += size - pos
                break
            holes += data - pos
            pos = os.lseek(fd, data, os.SEEK_HOLE)
    except OSError:
        return 0
    finally:
        os.close(fd)
    return holes


_UID = os.getuid()  # os.access asks with the real ids, so these do too


def _may_read(st: os.stat_result, mode: int, bits: int) -> bool:
    """True where the mode bits alone grant access, so os.access (a syscall) is not needed.

    Root reads everything; for the owner the owner bits decide (ACLs never
    override them). Anyone else asks the kernel: groups and ACLs apply.
    """
    if _UID == 0:
        return True
    return st.st_uid == _UID and (mode >> 6) & bits == bits


def _key(path: str) -> str:
    p = str(PurePosixPath("/") / path.lstrip("/"))
    return p.strip("/")


class ScanCancelled(Exception):
    """The caller asked the scan to stop (a new source was chosen)."""


def scan_tree(
    root: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Scan:
    """Walk `root` once with scandir; unreadable entries are listed, never skipped silently.

    `progress(entries, bytes)` is called every few thousand entries.
    """
    t0 = time.monotonic()
    root = root.resolve()
    dirs: dict[str, Stats] = {}
    children: dict[str, list[str]] = {}
    unreadable: list[str] = []
    ownership: dict[str, tuple[int, int]] = {}
    seen_inodes: set[tuple[int, int]] = set()
    links: list[str] = []
    special: list[str] = []
    setid: list[str] = []
    files: dict[str, tuple[list[str], array[int]]] = {}
    seen = 0
    total_bytes = 0

    root_st = os.lstat(root)
    top = Stats(dirs=1)
    if root_st.st_uid or root_st.st_gid:
        top.not_root += 1
    dirs[""] = top
    stack: list[tuple[str, str]] = [("", str(root))]
    while stack:
        key, real = stack.pop()
        own = dirs[key]
        names: list[str] = []
        try:
            it = os.scandir(real)
        except OSError as err:
            unreadable.append(f"/{key} ({err.strerror})")
            children[key] = names
            continue
        sizes: list[int] = []  # regular files' sizes; blocks are summed once per folder
        regular: list[str] = []  # their names
        name_bytes = 0
        with it:
            for entry in it:
                name = entry.name
                names.append(name)
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as err:
                    rel = f"{key}/{name}" if key else name
                    unreadable.append(f"/{rel} ({err.strerror})")
                    continue
                name_bytes += len(name.encode("utf-8", "surrogateescape"))
                mode = st.st_mode
                kind = mode & 0o170000
                if st.st_uid or st.st_gid:
                    own.not_root += 1
                    rel = f"{key}/{name}" if key else name
                    ownership[rel] = (st.st_uid, st.st_gid)
                    if kind == S_IFREG and (
                        (mode & S_ISUID and st.st_uid) or (mode & S_ISGID and st.st_gid)
                    ):
                        setid.append(rel)
                if kind == S_IFREG:
                    if st.st_nlink > 1:
                        ino = (st.st_dev, st.st_ino)
                        if ino in seen_inodes:
                            own.hardlinks += 1
                            own.hardlink_bytes += st.st_size
                            continue
                        seen_inodes.add(ino)
                    if not _may_read(st, mode, 0o4) and not os.access(entry.path, os.R_OK):
                        rel = f"{key}/{name}" if key else name
                        unreadable.append(f"/{rel} (permission denied)")
                    size = st.st_size
                    sizes.append(size)
                    regular.append(name)
                    if st.st_blocks * 512 < size:  # sparse, or compressed by its filesystem
                        own.hole_bytes += hole_bytes(entry.path, size)
                elif kind == S_IFDIR:
                    rel = f"{key}/{name}" if key else name
                    dirs[rel] = Stats(dirs=1)
                    if not _may_read(st, mode, 0o5) and not os.access(
                        entry.path, os.R_OK | os.X_OK
                    ):  # listed once: not walked, so scandir does not name it again
                        unreadable.append(f"/{rel} (permission denied)")
                        children[rel] = []
                    else:
                        stack.append((rel, entry.path))
                elif kind == S_IFLNK:
                    own.symlinks += 1
                    own.symlink_bytes += st.st_size
                    links.append(f"{key}/{name}" if key else name)
                else:
                    own.specials += 1
                    special.append(f"{key}/{name}" if key else name)
                seen += 1
                if seen % 2048 == 0:
                    if cancel is not None and cancel.is_set():
                        raise ScanCancelled()
                    if progress is not None:
                        progress(seen, total_bytes + sum(sizes))
        own.name_bytes += name_bytes
        if sizes:
            data = sum(sizes)
            total_bytes += data
            own.files += len(sizes)
            files[key] = (regular, array("q", sizes))
            own.bytes += data
            own.small_files += sum(1 for x in sizes if x < 4096)
            own.tail_bytes += sum(x & 4095 for x in sizes)
            for i, b in enumerate(BLOCK_SIZES):
                own.blocks[i] += data + sum(-x % b for x in sizes)
        names.sort()
        children[key] = names
    if progress is not None:
        progress(seen, total_bytes)
    return Scan(
        root=root,
        dirs=dirs,
        children=children,
        unreadable=sorted(unreadable),
        seconds=time.monotonic() - t0,
        ownership=ownership,
        links=links,
        special=special,
        setid=sorted(setid),
        files=files,
    )


_cache: dict[tuple[str, int, int], Scan] = {}
_cache_lock = threading.Lock()


def cached_scan(
    root: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Scan:
    """Scan once per (path, root mtime, inode) in this process; the wizard rescans on demand."""
    st = os.stat(root)
    key = (str(root.resolve()), st.st_mtime_ns, st.st_ino)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    result = scan_tree(root, progress=progress, cancel=cancel)
    with _cache_lock:
        _cache[key] = result
    return result


def forget_cache() -> None:
    with _cache_lock:
        _cache.clear()
