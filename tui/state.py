"""The wizard's one state object, and how a screen finds it.

The app owns one `WizardState` and is the only one that changes it, on the
messages in tui/messages.py; the wizard screen is handed it when it is made,
and its forms and sections find it there (`state_of`). No screen or widget
imports the app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ProfileError
from ..core.scan import Scan
from ..core.units import format_size
from .model import Analysis, Draft

if TYPE_CHECKING:
    from textual.dom import DOMNode


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


class WizardState:
    """What the wizard shows: the draft, its scan and latest analysis, the selection, the step.

    Read by every screen; written only by the app (its message handlers, the scan and
    the analysis workers' results).
    """

    def __init__(self, *, frozen: bool = False, clock: Callable[[], float] | None = None,
                 draft: Draft | None = None, step: str = "source") -> None:
        self.frozen = frozen  # snapshots: no timings on screen
        self.clock: Callable[[], float] = clock or time.monotonic
        # None until a profile is chosen or loaded (loading waits for the first paint)
        self.draft: Draft = draft  # type: ignore[assignment]
        self.open(draft, step)

    def open(self, draft: Draft | None, step: str = "source") -> None:
        """Start over with `draft`: no scan, no analysis yet, the first partition selected."""
        if draft is not None:
            self.draft = draft
        self.analysis = Analysis(revision=-1)
        self.last_good: Analysis | None = None
        self.scan: Scan | None = None
        self.scan_status = self.status()
        self.scan_error: ProfileError | None = None  # e.g. a closure Nix cannot resolve
        self.selected: tuple[int, int] = (0, 0)
        self.current_step = step
        self.building = False

    def status(self, state: str = "none", root: Path | None = None, **kw: Any) -> ScanStatus:
        """A scan status as this wizard shows it (without timings when frozen)."""
        return ScanStatus(state, root, show_time=not self.frozen, **kw)


def state_of(node: DOMNode) -> WizardState:
    """The wizard state of the screen `node` is in (the wizard screen holds it)."""
    found = getattr(node.screen, "wizard_state", None)
    if not isinstance(found, WizardState):
        raise LookupError(f"{node!r} is not on a wizard screen")
    return found
