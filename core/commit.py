"""Putting finished images in place: all outputs or none, never replacing a file by surprise.

The last step of every plan is `diskwright helper commit`. Images that live on
another filesystem are first copied (sparse) into a private folder beside their
output; then, with SIGINT/SIGTERM ignored, each is moved in with a no-replace
rename (or, with --force, the old file is set aside so a later failure can put
it back). A failure or signal before the renames leaves nothing; a failure in
the middle rolls back what was done. Only then is anything reported.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import sys
import tempfile
from dataclasses import dataclass

from .safefs import remove_tree, rename_noreplace

COMMIT_PREFIX = ".diskwright-commit-"
OWNER_FILE = ".owner"


class CommitError(Exception):
    """A rename was refused or failed; everything done so far was rolled back."""


class _Interrupted(Exception):
    pass


@dataclass
class _Item:
    src: str
    dest: str
    staged: str = ""  # file on the destination's filesystem, ready to rename
    backup: str = ""  # the replaced file (with --force), kept until the end
    placed: bool = False


def sparse_copy(src: str, dst: str) -> None:
    """Copy data extents only (SEEK_DATA/SEEK_HOLE); holes stay holes."""
    fi = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fi).st_size
        fo = os.open(
            dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
        try:
            pos = 0
            while pos < size:
                try:
                    data = os.lseek(fi, pos, os.SEEK_DATA)
                except OSError:  # ENXIO: only a hole is left
                    break
                hole = os.lseek(fi, data, os.SEEK_HOLE)
                off = data
                while off < hole:
                    n = os.copy_file_range(fi, fo, min(hole - off, 1 << 30), off, off)
                    if n == 0:
                        break
                    off += n
                pos = hole
            os.ftruncate(fo, size)
            os.fsync(fo)
        finally:
            os.close(fo)
    finally:
        os.close(fi)


_held: list[int] = []


def _private_dir(parent: str) -> str:
    """A folder only this commit uses, marked as ours by a locked `.owner` file so the
    next build can tell a killed commit's leftovers from a live one."""
    d = tempfile.mkdtemp(prefix=COMMIT_PREFIX, dir=parent)
    fd = os.open(
        os.path.join(d, OWNER_FILE),
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
    )
    fcntl.flock(fd, fcntl.LOCK_EX)
    _held.append(fd)
    return d


def commit(pairs: list[tuple[str, str]], *, force: bool, say: object = print) -> list[str]:
    """Move every src to its dest, all or none; returns the dests written."""
    items = [_Item(s, d) for s, d in pairs]
    privates: dict[str, str] = {}

    def interrupted(signum: int, frame: object) -> None:
        raise _Interrupted()

    old = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        # 1. stage every image on its destination's filesystem (interruptible: nothing is out yet)
        for it in items:
            parent = os.path.dirname(os.path.abspath(it.dest))
            if parent not in privates:
                privates[parent] = _private_dir(parent)
            if os.stat(it.src).st_dev == os.stat(parent).st_dev:
                it.staged = it.src
            else:
                it.staged = os.path.join(privates[parent], os.path.basename(it.dest))
                sparse_copy(it.src, it.staged)
        # 2. the renames: no signal may stop them halfway
        for s in old:
            signal.signal(s, signal.SIG_IGN)
        try:
            for it in items:
                _place(it, force, privates)
        except (OSError, CommitError) as err:
            _rollback(items)
            if isinstance(err, FileExistsError):
                raise CommitError(
                    f"{err.filename or '?'} appeared during the build; refusing to replace it "
                    "(nothing was written; pass --force to replace it)"
                ) from None
            if isinstance(err, CommitError):
                raise
            raise CommitError(
                f"{err.filename or '?'}: {err.strerror}; nothing was written"
            ) from None
        for it in items:
            if it.backup:
                with contextlib.suppress(OSError):
                    os.unlink(it.backup)
        written = [it.dest for it in items]
        for d in written:
            with contextlib.suppress(OSError):
                say(f"wrote {d}")  # type: ignore[operator]
        return written
    except _Interrupted:
        raise CommitError(
            "interrupted before any output was put in place; nothing was written"
        ) from None
    finally:
        for p in privates.values():
            with contextlib.suppress(OSError):
                remove_tree(p)
        while _held:
            os.close(_held.pop())
        for s, h in old.items():
            signal.signal(s, h)


def _place(it: _Item, force: bool, privates: dict[str, str]) -> None:
    try:
        st = os.lstat(it.dest)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise CommitError(f"{it.dest} is a folder now; nothing was written")
        if not force:
            raise FileExistsError(17, "exists", it.dest)
        backup = os.path.join(
            privates[os.path.dirname(os.path.abspath(it.dest))], f".old-{os.path.basename(it.dest)}"
        )
        os.rename(it.dest, backup)  # the link itself when it is a symlink
        it.backup = backup
    rename_noreplace(it.staged, it.dest)
    it.placed = True


def _rollback(items: list[_Item]) -> None:
    for it in reversed(items):
        if it.placed:
            with contextlib.suppress(OSError):
                os.unlink(it.dest)
            it.placed = False
        if it.backup:
            with contextlib.suppress(OSError):
                rename_noreplace(it.backup, it.dest)
            it.backup = ""


def main(argv: list[str]) -> int:
    """`diskwright helper commit [--force] SRC DEST [SRC DEST …]`."""
    force = "--force" in argv
    rest = [a for a in argv if a != "--force"]
    if not rest or len(rest) % 2:
        print("usage: diskwright helper commit [--force] SRC DEST [SRC DEST ...]", file=sys.stderr)
        return 2
    pairs = list(zip(rest[::2], rest[1::2], strict=True))
    try:
        commit(pairs, force=force)
    except CommitError as err:
        print(f"commit: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"commit: {err.filename or ''}: {err.strerror}; nothing was written", file=sys.stderr)
        return 1
    return 0


__all__ = ["COMMIT_PREFIX", "CommitError", "commit", "main", "sparse_copy"]
