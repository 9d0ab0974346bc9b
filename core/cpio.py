"""newc cpio archives (the initramfs format) written in Python, rootless and reproducible.

Written here rather than by `cpio` so an archive can hold /dev/console
without root, entries come out sorted and every mtime is one fixed value:
the same inputs give the same bytes.
"""

from __future__ import annotations

import gzip
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Entry:
    mode: int  # full st_mode including the type bits
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


class Tree:
    """An archive as a mapping path → entry; parents are created on demand."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]), Entry(stat.S_IFDIR | 0o755))

    def dir(self, path: str, mode: int = 0o755) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = Entry(stat.S_IFDIR | mode)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = Entry(stat.S_IFREG | mode, data)

    def symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = Entry(stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = Entry(stat.S_IFCHR | mode, rdev=(major, minor))


def records(tree: Tree, mtime: int) -> Iterator[bytes]:
    """newc records in sorted order (parents sort before children), owned by root."""

    def record(ino: int, name: str, e: Entry) -> bytes:
        nb = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(e.mode) else 1
        fields = (ino, e.mode, 0, 0, nlink, mtime, len(e.data), 0, 0, *e.rdev, len(nb), 0)
        head = b"070701" + b"".join(b"%08X" % v for v in fields)
        pad1 = b"\0" * (-(len(head) + len(nb)) % 4)
        pad2 = b"\0" * (-len(e.data) % 4)
        return head + nb + pad1 + e.data + pad2

    ino = 1
    for name in sorted(tree.entries):
        yield record(ino, name, tree.entries[name])
        ino += 1
    yield record(0, "TRAILER!!!", Entry(0))


def write_gzip(tree: Tree, dest: Path, mtime: int) -> None:
    """A gzip-compressed newc archive; the gzip header carries `mtime` too, no file name."""
    with (
        dest.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=mtime) as gz,
    ):
        for rec in records(tree, mtime):
            gz.write(rec)


__all__ = ["Entry", "Tree", "records", "write_gzip"]
