"""Scans of single Nix store paths, cached on disk forever (keyed by path and NAR hash)."""

from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any

from .scan import BLOCK_SIZES, Scan, Stats, hole_bytes, scan_tree

# A store path never changes once it is valid, so its scan is kept on disk
# forever, keyed by the path and checked against its NAR hash (and the owner of
# the store, which differs between stores holding the same path). Re-opening a
# profile with a 2 GB closure then reads small files instead of walking the store.

STORE_CACHE_VERSION = 3  # 2: hole_bytes, 3: hardlink_bytes
_STATS_FIELDS = (
    "files",
    "dirs",
    "symlinks",
    "specials",
    "hardlinks",
    "hardlink_bytes",
    "bytes",
    "symlink_bytes",
    "name_bytes",
    "small_files",
    "tail_bytes",
    "not_root",
    "hole_bytes",
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
        if st.st_blocks * 512 < st.st_size:
            out.hole_bytes = hole_bytes(path, st.st_size)
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


