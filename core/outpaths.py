"""Checks on output paths by what they resolve to, never by their spelling.

`//dev/shm/x`, `../../dev/shm/x` and a symlinked parent folder all reach
/dev; `out.img` and `./out.img` are one file. Every check here resolves the
folder first, so the text of the path cannot get around it.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

from .plan import Or, Step, cmd

FORBIDDEN = ("/dev", "/proc", "/sys")
NAME_MAX = 255
PATH_MAX = 4095


def real_output(path: str | Path) -> str:
    """The output with its folder resolved (the file itself may not exist yet)."""
    p = os.path.abspath(os.fspath(path))
    return os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))


def forbidden_root(path: str | Path) -> str | None:
    """/dev, /proc or /sys when the output's folder lies on one of them, else None."""
    parent = os.path.dirname(real_output(path))
    for bad in FORBIDDEN:
        if parent == bad or parent.startswith(bad + "/"):
            return bad
    try:
        dev = os.stat(parent).st_dev
        root_dev = os.stat("/").st_dev
    except OSError:
        return None
    for bad in FORBIDDEN:  # the same filesystem mounted (or bind-mounted) elsewhere
        try:
            bad_dev = os.stat(bad).st_dev
        except OSError:
            continue
        if bad_dev != root_dev and bad_dev == dev:
            return bad
    return None


def name_problem(path: str | Path) -> str | None:
    """A file name or path the kernel would refuse (ENAMETOOLONG), as words."""
    real = real_output(path)
    name = os.path.basename(real)
    if len(os.fsencode(name)) > NAME_MAX:
        return f"the file name is {len(os.fsencode(name))} bytes; at most {NAME_MAX} fit"
    if len(os.fsencode(real)) > PATH_MAX:
        return f"the path is longer than {PATH_MAX} bytes"
    return None


def identity(path: str | Path) -> tuple[str, tuple[int, int] | None]:
    """(resolved path, (st_dev, st_ino) when it exists): equal for one file reached two ways."""
    real = real_output(path)
    try:
        st = os.lstat(real)
        return real, (st.st_dev, st.st_ino)
    except OSError:
        return real, None


def same_file(a: str | Path, b: str | Path) -> bool:
    ra, ia = identity(a)
    rb, ib = identity(b)
    return ra == rb or (ia is not None and ia == ib)


class OutputLock:
    """One build per output: an flock on `.diskwright-<name>.lock` beside it.

    The lock file is removed by its holder while still locked; a build that
    opened the old file sees the inode change and tries again.
    """

    def __init__(self, output: str) -> None:
        real = real_output(output)
        self.output = output
        self.path = os.path.join(
            os.path.dirname(real), f".diskwright-{os.path.basename(real)}.lock"
        )
        self.fd = -1

    def acquire(self, *, shared: bool = False, pid: int | None = None) -> int | None:
        """Take the lock; returns None, or the pid of the process holding it.

        shared: `diskwright run` reads the disk; many runs may share it, a build may not.
        pid: the process named to a second build (a printed plan names its shell, not
        the helper that holds the lock for it).
        """
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
                finally:
                    os.close(fd)
                return int(text) if text.isdigit() else -1
            try:
                now = os.lstat(self.path)
            except FileNotFoundError:
                now = None
            st = os.fstat(fd)
            if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                os.close(fd)  # its holder removed it as we opened it: take the new one
                continue
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                raise OSError(f"{self.path} is not a regular file")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{pid or os.getpid()}\n".encode(), 0)
            self.fd = fd
            return None
        return -1

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            # only the last holder removes the file (a shared holder upgrades first)
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = -1


def guard_step(step_id: str, out: str, *, force: bool, fields: tuple[str, ...] = ()) -> Step:
    """The step that looks at an existing output before anything is built.

    Always there, so a profile's plan has the same steps (and count) with or without
    --force: without it an existing file stops the build; with it only a file may be
    there to replace (a folder or device stops a printed plan that never ran preflight).
    """
    if force:
        title = f"Check that an existing {out} is a file --force may replace"
        why = 'echo "$1 exists and is not a file; --force replaces image files only" >&2; exit 1'
        expr = Or(cmd("test", "!", "-e", out),
                  Or(cmd("test", "-f", out), cmd("sh", "-c", why, "guard", out)))
    else:
        title = f"Refuse to replace an existing {out}"
        why = 'echo "$1 exists; refusing to replace it (use --force)" >&2; exit 1'
        expr = Or(cmd("test", "!", "-e", out), cmd("sh", "-c", why, "guard", out))
    return Step(id=step_id, title=title, phase="prepare", expr=expr, weight=0.01, fields=fields)
