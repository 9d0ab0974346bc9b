"""`diskwright helper lock`: the per-output lock for a plan run with plain `sh`.

`diskwright build` takes the lock in its own process; a printed script has no
process of ours that lives as long as it, so this helper takes the same flocks
(core/outpaths.OutputLock), names the shell in them, removes an interrupted
build's leftovers, and leaves a small holder process that keeps the locks (and the
workspace's `.owner`) until the shell is gone — however it ends, SIGKILL too.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

from .outpaths import OutputLock, real_output
from .plan import RUN_MARK
from .runner import _hold_owner, clean_leftovers, remove_workspace


def main(args: list[str]) -> int:
    if len(args) < 2:
        print("usage: diskwright helper lock WORKSPACE OUTPUT...", file=sys.stderr)
        return 2
    workspace, outputs = args[0], args[1:]
    shell = os.getppid()  # the script's shell: it waits for us, so it is alive now
    locks: list[OutputLock] = []
    for out in sorted({real_output(o) for o in outputs}):
        lock = OutputLock(out)
        try:
            holder = lock.acquire(pid=shell)
        except OSError as err:
            print(f"helper lock: cannot lock {out} ({err}); check the folder", file=sys.stderr)
            return 2
        if holder is not None:
            who = f"pid {holder}" if holder > 0 else "another process"
            print(
                f"another diskwright build ({who}) is writing {out}; wait for it to finish "
                "or choose another output",
                file=sys.stderr,
            )
            return 2  # the locks taken so far go with this process
        locks.append(lock)
    try:
        owner = _hold_owner(workspace)
    except OSError as err:
        print(f"helper lock: cannot mark {workspace} as this build's ({err})", file=sys.stderr)
        return 1
    os.set_inheritable(owner, True)
    for line in clean_leftovers(outputs):
        print(line, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        _hold(shell, workspace, locks, ready_w)
    os.close(ready_w)
    ok = os.read(ready_r, 1) == b"1"
    os._exit(0 if ok else 1)  # keep the locks open in the holder only, release nothing


def _ours(mark: bytes) -> list[int]:
    """pidfds of this user's processes whose environment carries `mark` (this run's
    workspace, exported by the script): the tools of this shell only, never a process
    that merely shares its process group (a test runner, the user's make). The pidfd is
    opened before the environment is read, so a reused pid is never signalled."""
    me, uid = os.getpid(), os.getuid()
    fds: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            fd = os.pidfd_open(int(name))
        except OSError:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            env = []
        if mark in env:
            fds.append(fd)
        else:
            os.close(fd)
    return fds


def stop_tools(workspace: str, rounds: int = 5) -> int:
    """Stop what the dead shell left running (mkfs, qemu-img, a helper): SIGTERM, then
    SIGKILL, again while new ones appear (a tool's own children). Returns how many the
    first look found."""
    mark = f"{RUN_MARK}={workspace}".encode()
    stopped = 0
    for n in range(rounds):
        fds = _ours(mark)
        if not fds:
            break
        stopped = stopped or len(fds)
        sig, wait = (signal.SIGTERM, 3.0) if n == 0 else (signal.SIGKILL, 2.0)
        for fd in fds:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(fd, sig)
        deadline = time.monotonic() + wait
        poll = select.poll()
        for fd in fds:
            poll.register(fd, select.POLLIN)
        live = set(fds)
        while live and time.monotonic() < deadline:
            for fd, _ in poll.poll(50):
                live.discard(fd)
                poll.unregister(fd)
        for fd in fds:
            os.close(fd)
    return stopped


def _hold(shell: int, workspace: str, locks: list[OutputLock], ready: int) -> None:
    """The holder: wait for the shell to end, then drop the locks (and its workspace,
    should a killed shell have left it)."""
    try:
        os.setsid()
        pidfd = os.pidfd_open(shell)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.write(ready, b"1")
        os.close(ready)
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        while not poll.poll():
            pass
        with contextlib.suppress(Exception):
            stop_tools(workspace)
        if os.path.isdir(workspace):
            with contextlib.suppress(Exception):
                remove_workspace(workspace)
        for lock in locks:
            lock.release()
    finally:
        os._exit(0)
