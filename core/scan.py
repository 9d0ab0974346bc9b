"""One pass over a source tree: what is in it and how much room it needs.

Stats are kept per directory (not recursive) so that any subtree minus the
subtrees other partitions claim can be summed without walking the disk again.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .nix import Closure
    from .profile import Profile

BLOCK_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


@dataclass
class Stats:
    """Counts for a set of entries; `blocks[i]` is bytes rounded to BLOCK_SIZES[i]."""

    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    specials: int = 0
    hardlinks: int = 0  # extra names of an inode already counted
    bytes: int = 0
    symlink_bytes: int = 0
    name_bytes: int = 0
    small_files: int = 0  # files under 4 KiB: tail-packed or inline
    tail_bytes: int = 0  # bytes past the last full 4 KiB block, over all files
    not_root: int = 0  # entries owned by someone other than root
    blocks: list[int] = field(default_factory=lambda: [0] * len(BLOCK_SIZES))

    def add(self, other: Stats) -> None:
        self.files += other.files
        self.dirs += other.dirs
        self.symlinks += other.symlinks
        self.specials += other.specials
        self.hardlinks += other.hardlinks
        self.bytes += other.bytes
        self.symlink_bytes += other.symlink_bytes
        self.name_bytes += other.name_bytes
        self.small_files += other.small_files
        self.tail_bytes += other.tail_bytes
        self.not_root += other.not_root
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
        with it:
            for entry in it:
                names.append(entry.name)
                rel = f"{key}/{entry.name}" if key else entry.name
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as err:
                    unreadable.append(f"/{rel} ({err.strerror})")
                    continue
                own.name_bytes += len(entry.name.encode("utf-8", "surrogateescape"))
                if st.st_uid or st.st_gid:
                    own.not_root += 1
                    ownership[rel] = (st.st_uid, st.st_gid)
                mode = st.st_mode
                if stat.S_ISDIR(mode):
                    if not os.access(entry.path, os.R_OK | os.X_OK):
                        unreadable.append(f"/{rel} (permission denied)")
                    dirs[rel] = Stats(dirs=1)
                    stack.append((rel, entry.path))
                elif stat.S_ISREG(mode):
                    if st.st_nlink > 1:
                        ino = (st.st_dev, st.st_ino)
                        if ino in seen_inodes:
                            own.hardlinks += 1
                            continue
                        seen_inodes.add(ino)
                    if not os.access(entry.path, os.R_OK):
                        unreadable.append(f"/{rel} (permission denied)")
                    size = st.st_size
                    own.files += 1
                    own.bytes += size
                    total_bytes += size
                    if size < 4096:
                        own.small_files += 1
                    own.tail_bytes += size % 4096
                    for i, b in enumerate(BLOCK_SIZES):
                        own.blocks[i] += -(-size // b) * b
                elif stat.S_ISLNK(mode):
                    own.symlinks += 1
                    own.symlink_bytes += st.st_size
                else:
                    own.specials += 1
                seen += 1
                if seen % 2048 == 0:
                    if cancel is not None and cancel.is_set():
                        raise ScanCancelled()
                    if progress is not None:
                        progress(seen, total_bytes)
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
    )


_cache: dict[tuple[str, int, int], Scan] = {}
_cache_lock = threading.Lock()


def cached_scan(root: Path, **kw: object) -> Scan:
    """Scan once per (path, root mtime, inode) in this process; the wizard rescans on demand."""
    st = os.stat(root)
    key = (str(root.resolve()), st.st_mtime_ns, st.st_ino)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    result = scan_tree(root, **kw)  # type: ignore[arg-type]
    with _cache_lock:
        _cache[key] = result
    return result


def forget_cache() -> None:
    with _cache_lock:
        _cache.clear()


# ------------------------------------------------------- Nix store path cache
#
# A store path never changes once it is valid, so its scan is kept on disk
# forever, keyed by the path and checked against its NAR hash (and the owner of
# the store, which differs between stores holding the same path). Re-opening a
# profile with a 2 GB closure then reads small files instead of walking the store.

STORE_CACHE_VERSION = 1
_STATS_FIELDS = (
    "files",
    "dirs",
    "symlinks",
    "specials",
    "hardlinks",
    "bytes",
    "symlink_bytes",
    "name_bytes",
    "small_files",
    "tail_bytes",
    "not_root",
)


def scan_cache_dir() -> Path:
    """$XDG_CACHE_HOME/diskwright/scan (~/.cache/diskwright/scan by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "diskwright" / "scan"


@dataclass
class PathScan:
    """One store path: a folder's per-directory scan, or a lone file or symlink (`entry`)."""

    name: str
    entry: Stats  # a file/symlink path's own counts; empty for a folder
    scan: Scan | None  # a folder's tree, keyed relative to the store path
    owner: tuple[int, int]
    cached: bool = False

    def total(self) -> Stats:
        if self.scan is None:
            return self.entry
        out = Stats()  # the whole tree: no subtree filtering needed
        for st in self.scan.dirs.values():
            out.add(st)
        return out


def _stats_out(st: Stats) -> list[int]:
    return [getattr(st, f) for f in _STATS_FIELDS] + list(st.blocks)


def _stats_in(v: list[int]) -> Stats:
    n = len(_STATS_FIELDS)
    return Stats(**dict(zip(_STATS_FIELDS, v[:n], strict=True)), blocks=list(v[n:]))


assert tuple(f.name for f in fields(Stats)) == (*_STATS_FIELDS, "blocks")


def _lone_entry(path: Path, st: os.stat_result) -> Stats:
    out = Stats()
    if stat.S_ISREG(st.st_mode):
        out.files = 1
        out.bytes = st.st_size
        out.tail_bytes = st.st_size % 4096
        out.small_files = int(st.st_size < 4096)
        out.blocks = [-(-st.st_size // b) * b for b in BLOCK_SIZES]
    elif stat.S_ISLNK(st.st_mode):
        out.symlinks = 1
        out.symlink_bytes = st.st_size
    else:
        out.specials = 1
    if st.st_uid or st.st_gid:
        out.not_root = 1
    return out


def _cache_file(logical: str) -> Path:
    return scan_cache_dir() / f"v{STORE_CACHE_VERSION}" / f"{logical.rsplit('/', 1)[-1]}.json"


def _read_cached(logical: str, nar_hash: str, owner: tuple[int, int]) -> PathScan | None:
    try:
        with open(_cache_file(logical), encoding="utf-8") as f:
            data: dict[str, Any] = json.load(f)
    except (OSError, ValueError):
        return None
    if data.get("path") != logical or data.get("nar") != nar_hash:
        return None
    if tuple(data.get("owner", ())) != owner:
        return None
    name = logical.rsplit("/", 1)[-1]
    if data["kind"] != "dir":
        return PathScan(name, _stats_in(data["entry"]), None, owner, cached=True)
    dirs = {k: _stats_in(v) for k, v in data["dirs"].items()}
    children: dict[str, list[str]] = data["children"]
    if data.get("ownership") is not None:
        ownership = {k: (v[0], v[1]) for k, v in data["ownership"].items()}
    elif owner != (0, 0):  # canonical store: every entry has the store's owner
        ownership = {f"{k}/{n}" if k else n: owner for k, names in children.items() for n in names}
    else:
        ownership = {}
    scan = Scan(
        root=Path(logical),
        dirs=dirs,
        children=children,
        unreadable=[],
        seconds=0.0,
        ownership=ownership,
    )
    return PathScan(name, Stats(), scan, owner, cached=True)


def _write_cached(logical: str, nar_hash: str, ps: PathScan) -> None:
    data: dict[str, Any] = {"path": logical, "nar": nar_hash, "owner": list(ps.owner)}
    if ps.scan is None:
        data |= {"kind": "file", "entry": _stats_out(ps.entry)}
    else:
        uniform = all(o == ps.owner for o in ps.scan.ownership.values())
        entries = sum(len(v) for v in ps.scan.children.values())
        if uniform and (ps.owner == (0, 0) or len(ps.scan.ownership) == entries):
            ownership = None
        else:
            ownership = {k: list(v) for k, v in ps.scan.ownership.items()}
        data |= {
            "kind": "dir",
            "dirs": {k: _stats_out(v) for k, v in ps.scan.dirs.items()},
            "children": ps.scan.children,
            "ownership": ownership,
        }
    target = _cache_file(logical)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        tmp.replace(target)
    except OSError:
        pass  # a cache that cannot be written only costs time


def scan_store_path(
    physical: Path,
    logical: str,
    nar_hash: str,
    *,
    cache: bool = True,
    cancel: threading.Event | None = None,
) -> PathScan:
    """Scan one store path, or read its scan from the cache (valid forever for this NAR hash)."""
    st = os.lstat(physical)
    owner = (st.st_uid, st.st_gid)
    if cache:
        hit = _read_cached(logical, nar_hash, owner)
        if hit is not None:
            return hit
    name = PurePosixPath(logical).name
    if stat.S_ISDIR(st.st_mode):
        ps = PathScan(name, Stats(), scan_tree(physical, cancel=cancel), owner)
        if ps.scan is not None and ps.scan.unreadable:
            return ps  # never cache a scan that could not read everything
    else:
        ps = PathScan(name, _lone_entry(physical, st), None, owner)
    if cache:
        _write_cached(logical, nar_hash, ps)
    return ps


def scan_source(
    profile: Profile,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Scan | None:
    """Scan everything the profile's source names: a folder, a Nix closure, or both.

    Front ends call this rather than scan_tree: a closure is resolved with Nix
    (ProfileError naming source.closure when it cannot be) and placed at /nix/store.
    """
    root = profile.source_root()
    base = scan_tree(root, progress=progress, cancel=cancel) if root and root.is_dir() else None
    if not profile.source.closure:
        return base
    from .nix import scan_closure

    return scan_closure(profile, base, progress=progress, cancel=cancel)
