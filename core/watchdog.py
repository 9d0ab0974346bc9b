"""Outlives a killed build just long enough to stop its tools and remove its files.

A SIGKILLed diskwright cannot clean up, and the tool it ran (mkfs, qemu-img)
sits in its own process group, so it would keep running and keep writing GBs.
The runner starts this tiny process (its own session, no engine imports) with
a pipe: it names each step's process group and each path to remove. When the
pipe closes without "done", the build died: kill the groups, remove the paths.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def main() -> int:
    for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    groups: list[int] = []
    paths: list[str] = []
    for raw in sys.stdin.buffer:
        line = raw.rstrip(b"\n")
        if line == b"done":
            return 0
        kind, _, value = line.partition(b" ")
        if kind == b"pgid" and value.isdigit():
            groups.append(int(value))
        elif kind == b"path" and value:
            paths.append(os.fsdecode(value))
    # the pipe closed without "done": the build is gone
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        live = [g for g in groups if _alive(g)]
        for g in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(g, sig)
        deadline = time.monotonic() + wait
        while live and time.monotonic() < deadline:
            time.sleep(0.05)
            live = [g for g in live if _alive(g)]
    from .safefs import remove_tree

    for p in paths:
        with contextlib.suppress(OSError):
            remove_tree(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
