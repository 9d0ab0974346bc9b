"""What the wizard's screens read from the app and the edits they send it.

Screens type against `WizardState` instead of importing the app, so tui/ has no
import circle: the app imports its screens, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..core.scan import Scan
from ..core.units import format_size
from .model import Analysis, Draft, PathKey


@dataclass
class ScanStatus:
    """What the scan of the source folder is doing, in words."""

    state: str = "none"  # none | missing | scanning | done | error
    root: Path | None = None
    entries: int = 0
    nbytes: int = 0
    message: str = ""
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    seconds: float = 0.0
    show_time: bool = True

    def line(self) -> str:
        if self.state == "none":
            return "· no source folder chosen"
        if self.state == "missing":
            return f"✗ {self.message}"
        if self.state == "error":
            return f"✗ cannot scan {self.root}: {self.message}"
        if self.state == "scanning":
            return f"… scanning {self.root}: {self.entries:,} entries, {format_size(self.nbytes)}"
        extra = (f" · {self.hardlinks:,} hard link{'s' * (self.hardlinks != 1)}"
                 if self.hardlinks else "")
        took = f" (scanned in {self.seconds:.2f} s)" if self.show_time else ""
        return (f"✓ {self.files:,} files · {self.dirs:,} folders · {self.symlinks:,} symlinks"
                f"{extra} · {format_size(self.nbytes)}{took}")

    def style(self) -> str:
        return {"done": "green", "scanning": "yellow", "none": "dim"}.get(self.state, "bold red")


class WizardState(Protocol):
    """The app as the step screens see it: the draft, its analysis, and edits to send."""

    draft: Draft
    analysis: Analysis
    last_good: Analysis | None
    scan: Scan | None
    scan_status: ScanStatus
    selected: tuple[int, int]
    current_step: str
    building: bool
    clock: Callable[[], float]

    async def goto(self, step: str, *, force: bool = False) -> None: ...

    async def edit(self, path: PathKey, value: Any, *, structural: bool = False) -> None: ...

    async def structure_changed(self, select: tuple[int, int] | None = None) -> None: ...

    async def select(self, d: int, p: int) -> None: ...

    def start_scan(self, *, force: bool = False) -> None: ...

    def set_force(self, force: bool) -> None: ...

    def schedule_analysis(self, delay: float = ...) -> None: ...

    def refresh_steps(self) -> None: ...

    def action_save(self, then: Callable[[], Any] | None = None) -> None: ...

    def action_export(self) -> None: ...
