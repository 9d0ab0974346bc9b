"""Terminal display of a build for the CLI: a progress bar with the tools' output above it."""

from __future__ import annotations

import json
import os
import sys
from types import TracebackType
from typing import TYPE_CHECKING

from ..core.plan import Plan
from ..core.runner import (
    CancelledEvent,
    Event,
    Failed,
    Finished,
    Output,
    StepFinished,
    StepStarted,
)
from ..core.runner import Progress as ProgressEvent
from ..core.units import format_size

if TYPE_CHECKING:
    from rich.progress import Progress


class BuildDisplay:
    """Turns runner events into terminal output; JSON lines with --json."""

    def __init__(self, plan: Plan, *, json_mode: bool = False, verbose: bool = False) -> None:
        self.plan = plan
        self.json_mode = json_mode
        self.verbose = verbose
        self.n = len(plan.steps)
        self.step_text = ""
        self.step_head = ""  # "[12/29]": the bytes a step reports go after it, before the title
        self.step_title = ""
        self.progress: Progress | None = None
        self.live = not json_mode and _may_be_terminal()
        if not self.live:  # plain lines: rich (30 ms of imports) is not loaded
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.table import Column

        console = Console(stderr=True, highlight=False)
        self.live = console.is_terminal
        # the bar first, at a fixed width: after a long step title it was squeezed out
        # of the line; the title is cut at the end instead
        self.progress = Progress(
            BarColumn(bar_width=24, table_column=Column(min_width=24, no_wrap=True)),
            TaskProgressColumn(table_column=Column(min_width=4)),
            TimeElapsedColumn(table_column=Column(min_width=7)),
            TextColumn("[bold]{task.description}",
                       table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            console=console,
            transient=True,
            expand=True,
        )
        self.task = self.progress.add_task("starting", total=1.0)

    def __enter__(self) -> BuildDisplay:
        if self.live and self.progress is not None:
            self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live and self.progress is not None:
            self.progress.stop()

    def _emit(self, kind: str, **data: object) -> None:
        print(json.dumps({"event": kind, **data}), flush=True)

    def handle(self, event: Event) -> None:
        if self.json_mode:
            self._json(event)
            return
        if isinstance(event, StepStarted):
            text = f"[{event.index + 1}/{self.n}] {event.step.title}"
            self.step_text = text
            self.step_head, self.step_title = f"[{event.index + 1}/{self.n}]", event.step.title
            if self.live and self.progress is not None:
                self.progress.update(self.task, description=_escape(text))
            else:
                print(text, file=sys.stderr, flush=True)
        elif isinstance(event, Output):
            if self.live and self.progress is not None:
                self.progress.console.print(f"  [dim]{_escape(event.line)}[/dim]")
            else:
                print(f"  {event.line}", file=sys.stderr, flush=True)
        elif isinstance(event, ProgressEvent) and self.live and self.progress is not None:
            text = self.step_text
            if event.total and event.step_fraction < 1.0:
                text = (f"{self.step_head} {format_size(event.done or 0)} of "
                        f"{format_size(event.total)} · {self.step_title}")
            self.progress.update(self.task, completed=event.overall, description=_escape(text))

    def _json(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self._emit("step", index=event.index, id=event.step.id, title=event.step.title)
        elif isinstance(event, Output):
            self._emit("output", step=event.step_id, stream=event.stream, line=event.line)
        elif isinstance(event, ProgressEvent):
            extra = {} if event.total is None else {"done": event.done, "total": event.total}
            self._emit("progress", step=event.step_id, fraction=round(event.step_fraction, 4),
                       overall=round(event.overall, 4), **extra)
        elif isinstance(event, StepFinished):
            self._emit("done", id=event.step.id, seconds=round(event.seconds, 3))
        elif isinstance(event, Failed):
            self._emit("failed", step=event.step_id, message=event.message, lines=event.lines)
        elif isinstance(event, CancelledEvent):
            self._emit("cancelled")
        elif isinstance(event, Finished):
            self._emit(
                "finished",
                seconds=round(event.seconds, 2),
                log=event.log,
                outputs=[o.__dict__ for o in event.outputs],
            )

    def summary(self, result: object) -> None:
        if self.json_mode or not isinstance(result, Finished):
            return
        out = sys.stdout
        print(f"built in {result.seconds:.1f} s, {len(result.checks)} checks passed", file=out)
        for o in result.outputs:
            print(f"  {o.path}  {format_size(o.size)}  sha256 {o.sha256}", file=out)
        if result.log:
            print(f"  log: {result.log}", file=out)


def _may_be_terminal() -> bool:
    """Whether rich could call stderr a terminal (its TTY_COMPATIBLE / FORCE_COLOR / isatty
    rules); only then is the live bar worth loading rich for."""
    if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        return True
    try:
        return sys.stderr.isatty()
    except ValueError:  # closed
        return False


def _escape(text: str) -> str:
    return text.replace("[", r"\[")
