"""How far a running step is, read from its own output.

A Step declares how its tool tells its progress (`Step.progress`: a `ProgressReader`);
the Runner feeds the reader every line the step prints and turns what it recognises
into Progress events. The plan's text carries whatever the tool needs to print it
(`qemu-img convert -p`, `mksquashfs -progress`), so the preview is still the plan that
runs. Our own helpers (and the ZFS helper VM's job) print `diskwright-progress: DONE
TOTAL` (bytes) lines, which every step's output is read for.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TextIO

PROGRESS_PREFIX = "diskwright-progress:"

How = Literal["done_total", "percent", "files"]


@dataclass(frozen=True)
class ProgressReader:
    """One tool's way of saying how far it is, as a pattern over its output lines.

    `how`: "done_total" — groups 1 and 2 are done and total; "percent" — group 1 is
    a percentage; "files" — group 1 names the file the tool starts on, relative to
    the folder `root` (a plan argument, resolved when the step runs), and the bytes
    of the files before it, out of `total` (the scan's), are how far it is (mkfs.erofs
    names each file before it compresses it: a 3 MiB file takes seconds, a text file
    nothing, so counting lines said 1% after a minute). `sizes`: done/total are
    bytes, worth showing to the user.
    """

    tool: str
    pattern: str
    how: How = "done_total"
    total: int = 0
    sizes: bool = False
    root: object = None  # "files": the folder, a plan Arg (core.plan imports this module)

    def meter(self, resolve: Callable[[object], str] | None = None) -> Meter:
        """`resolve` turns `root` into the path it is on this run (the workspace's)."""
        return Meter(self, resolve(self.root) if resolve and self.root is not None else "")


@dataclass(frozen=True)
class Reading:
    fraction: float
    done: int | None = None  # bytes, when the reader's numbers are bytes
    total: int | None = None


class Meter:
    """A reader's state over one run of its step (a "count" reader counts lines)."""

    def __init__(self, reader: ProgressReader, root: str = "") -> None:
        self.reader = reader
        self._re = re.compile(reader.pattern)
        self.root = root
        self.done = 0  # "files": bytes of the files started before the current one
        self._next = 0

    def read(self, line: str) -> Reading | None:
        """The step's progress if this line tells it, else None (the line is output)."""
        m = self._re.search(line)
        if m is None:
            return None
        r = self.reader
        if r.how == "files":
            self.done += self._next
            try:
                st = os.lstat(os.path.join(self.root, m.group(1)))
                self._next = st.st_size if stat.S_ISREG(st.st_mode) else 0
            except OSError:
                self._next = 0
            done = min(self.done, r.total)
            return Reading(done / r.total if r.total > 0 else 0.0, done, r.total)
        if r.how == "percent":
            return Reading(min(max(float(m.group(1)) / 100.0, 0.0), 1.0))
        total = int(m.group(2))
        done = min(int(m.group(1)), total)  # a tool's counter may run a little past the end
        fraction = done / total if total > 0 else 0.0
        if r.sizes:
            return Reading(fraction, done, total)
        return Reading(fraction)


# our helpers and the ZFS VM's job: bytes done and the total, read from every step
OWN = ProgressReader("diskwright", r"^diskwright-progress: (\d+) (\d+)$", sizes=True)

# qemu-img convert/compare -p: "    (12.34/100%)" lines ended by a bare CR
QEMU_IMG = ProgressReader("qemu-img", r"^\s*\((\d+(?:\.\d+)?)/100%\)$", how="percent")

# mksquashfs -progress: "[=====|    ] 200/640  31%" (blocks); off a terminal it prints
# the bar only now and then (squashfs-tools 4.5: when the count is a multiple of 100)
MKSQUASHFS = ProgressReader("mksquashfs", r"\] +(\d+)/(\d+) +\d+%$")


def erofs_files(root: object, total: int) -> ProgressReader:
    """mkfs.erofs 1.5 prints "Processing PATH ..." as it starts on each entry of `root`."""
    return ProgressReader("mkfs.erofs", r"^Processing (.*) \.\.\.$", how="files", total=total,
                          sizes=True, root=root)


class Reporter:
    """What our helpers print: `diskwright-progress: DONE TOTAL`, a few lines a second.

    On a terminal (a printed plan run by hand) the line is rewritten in place;
    otherwise one line per report, at most one per whole percent.
    """

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = max(total, 0)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._said = -1
        self._at = 0.0

    def __call__(self, done: int, *, last: bool = False) -> None:
        done = min(done, self.total)
        pct = done * 100 // self.total if self.total else 100
        now = time.monotonic()
        if not last and (pct == self._said or now - self._at < 0.1):
            return
        self._said, self._at = pct, now
        end = "\n" if last or not self.tty else "\r"
        self.stream.write(f"{PROGRESS_PREFIX} {done} {self.total}{end}")
        self.stream.flush()

    def finish(self) -> None:
        self(self.total, last=True)
