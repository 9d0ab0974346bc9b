"""File operations that never follow a symlink: staging, logs, commits, removal.

diskwright often runs as root, so a symlink planted in a source tree or
beside an output must never redirect a write onto the host. Every walk here
goes one component at a time through directory file descriptors opened with
O_NOFOLLOW, the way openat2(RESOLVE_IN_ROOT) would, and refuses a symlink
instead of resolving it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from pathlib import PurePosixPath

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(Exception):
    """A path would leave its root (a symlink, a file where a folder is needed)."""


def open_dir_in(root_fd: int, rel: str, *, create: bool = False, mode: int = 0o755) -> int:
    """A fd for root/rel, walking each component without following a symlink.

    With `create`, missing folders are made (like mkdir -p, but never through a link).
    """
    fd = os.dup(root_fd)
    try:
        for name in PurePosixPath(rel).parts:
            if name in ("/", "."):
                continue
            if name == "..":
                raise UnsafePath(f"{rel}: '..' is not allowed")
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, mode, dir_fd=fd)
            try:
                nfd = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR):
                    kind = "a symlink" if _is_link(fd, name) else "not a folder"
                    raise UnsafePath(f"{rel}: {name} is {kind}; refusing to follow it") from None
                raise
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def place_file(root: str, rel: str, source: str, mode: int) -> None:
    """Copy `source` to root/rel with `mode`, replacing a file or symlink there, never
    writing through a symlink and never outside `root`."""
    parts = PurePosixPath(rel.lstrip("/")).parts
    if not parts or ".." in parts:
        raise UnsafePath(f"{rel}: not a file path inside the image")
    src = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            raise UnsafePath(f"{source} is not a regular file")
        root_fd = os.open(root, DIR_FLAGS)
        try:
            parent = open_dir_in(
                root_fd, str(PurePosixPath(*parts[:-1])) if parts[:-1] else ".", create=True
            )
        finally:
            os.close(root_fd)
        name = parts[-1]
        try:
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(name, dir_fd=parent)
                if stat.S_ISDIR(st.st_mode):
                    raise UnsafePath(f"{rel} is a folder in the image; a file cannot replace it")
                os.unlink(name, dir_fd=parent)  # a symlink is removed, never followed
            out = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=parent,
            )
            try:
                while chunk := os.read(src, 1 << 20):
                    os.write(out, chunk)
                os.fchmod(out, mode)
            finally:
                os.close(out)
        finally:
            os.close(parent)
    finally:
        os.close(src)


# ------------------------------------------------------------ no-replace rename

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_libc: ctypes.CDLL | None = None


def _renameat2(src: str, dst: str) -> None:
    """rename(2) that fails with EEXIST instead of replacing (Linux ≥ 3.15)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(_libc, "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    rc = fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), dst)


def rename_noreplace(src: str, dst: str) -> None:
    """Move src to dst only if dst does not exist (as any kind of entry, even a symlink)."""
    try:
        _renameat2(src, dst)
        return
    except OSError as err:
        if err.errno not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise
    os.link(src, dst, follow_symlinks=False)  # fails with EEXIST: never replaces
    os.unlink(src)


# ------------------------------------------------------------------ removal


def remove_tree(path: str) -> None:
    """Remove a tree without recursion (any depth) and without following symlinks.

    Folders get u+w first (a staged Nix store is read-only); files are only
    unlinked, never chmodded: they may be hard links to the user's files.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    parent, base = os.path.split(os.path.abspath(path))
    pfd = os.open(parent or "/", DIR_FLAGS)
    try:
        _remove_dir_at(pfd, base)
    finally:
        os.close(pfd)


def _writable_dir(pfd: int, name: str) -> int:
    with contextlib.suppress(OSError):
        st = os.lstat(name, dir_fd=pfd)
        if stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IWUSR:
            os.chmod(name, st.st_mode | stat.S_IWUSR | stat.S_IXUSR, dir_fd=pfd)
    return os.open(name, DIR_FLAGS, dir_fd=pfd)


def _remove_dir_at(top_parent: int, top_name: str) -> None:
    """One fd open at a time: descend by O_NOFOLLOW opens, climb back through '..'.

    The tree is ours (a workspace), so '..' of a folder entered through a real
    folder is the folder it was entered from.
    """
    cur = _writable_dir(top_parent, top_name)
    stack: list[tuple[str, list[str]]] = [(top_name, os.listdir(cur))]
    try:
        while stack:
            name, pending = stack[-1]
            if not pending:
                stack.pop()
                up = top_parent if not stack else os.open("..", DIR_FLAGS, dir_fd=cur)
                os.close(cur)
                cur = up
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=cur)
                if not stack:
                    cur = -1  # top_parent belongs to the caller
                continue
            child = pending.pop()
            try:
                st = os.lstat(child, dir_fd=cur)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    nfd = _writable_dir(cur, child)
                except OSError:
                    continue
                os.close(cur)
                cur = nfd
                stack.append((child, os.listdir(cur)))
            else:
                with contextlib.suppress(OSError):
                    os.unlink(child, dir_fd=cur)
    finally:
        if cur >= 0 and cur != top_parent:
            os.close(cur)


def write_new(folder: str | os.PathLike[str], stem: str, suffix: str, text: str) -> str:
    """Write `text` to the first free STEM.SUFFIX, STEM.1.SUFFIX, ... in `folder`, private
    (0600), created with O_EXCL|O_NOFOLLOW: never an existing file, never through a link.
    Returns the path; OSError when the folder takes no new file."""
    for n in range(1000):
        path = os.path.join(folder, f"{stem}{'' if n == 0 else f'.{n}'}{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as f:
            f.write(text)
        return path
    raise FileExistsError(f"no free name for {stem}{suffix} in {folder}")
