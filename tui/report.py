"""What the CLI and plain mode print alike: exit codes, the plan's header, the estimate.

Below both front ends (it imports neither), so `cli` and `plain` no longer import
each other and say these things in one set of words.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.units import format_size

if TYPE_CHECKING:
    from ..core.errors import DiskwrightError
    from ..core.planner import Estimate

# 0 success, 1 the build failed, 2 bad input (the message names the field), 130 cancelled
EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def err(msg: str) -> None:
    """One line on stderr, prefixed like every diskwright message."""
    print(f"diskwright: {msg}", file=sys.stderr)


def report_error(error: DiskwrightError, *, tail: bool = True) -> int:
    """Say a failure the user can act on, then (with `tail`) the failed tool's last
    12 lines; the exit code its class maps to. The CLI and plain mode both end so."""
    err(str(error))
    if tail:
        for line in getattr(error, "lines", [])[-12:]:
            print(f"    {line}", file=sys.stderr)
    return error.exit_code


def plan_header(name: str, where: str | Path | None) -> str:
    """The comment at the top of every printed, exported or previewed plan."""
    shown = str(where) if where else "an unsaved profile"
    return (
        f"diskwright plan for {shown} ({name})\n"
        "Run with `sh` to build the same images; every value is quoted."
    )


def print_estimate(est: Estimate) -> None:
    print(f"source: {est.source_files} files, {format_size(est.source_bytes)}")
    for d in est.disks:
        print(f"\ndisk {d.name} ({d.table}) → {d.output_path}")
        for p in d.parts:
            label = f" {p.label!r}" if p.label else ""
            mount = f" at {p.mount_point}" if p.mount_point else ""
            kind = "fixed" if p.fixed else "auto"
            print(
                f"  {p.where}: {p.role} {p.filesystem}{label}{mount}: content "
                f"{format_size(p.content)}, image {format_size(p.image)} ({kind})"
            )
        print(
            f"  disk size {format_size(d.disk_bytes)}; output file ≈ "
            f"{format_size(d.output_bytes)} ({d.output_format}"
            f"{', ' + d.compression if d.compression != 'none' else ''})"
        )
    for w in est.warnings:
        print(f"warning: {w}")


__all__ = ["EXIT_CANCELLED", "EXIT_FAILED", "EXIT_INPUT", "EXIT_OK", "err", "plan_header",
           "print_estimate", "report_error"]
