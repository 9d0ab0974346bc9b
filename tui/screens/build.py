"""Build step: runs core's Runner on a fresh plan, streams the log, shows every step's state.

Cancel asks first, then cancels the runner's task: the Runner kills the tool's
process group and removes its workspace, so nothing is written.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from typing import TYPE_CHECKING, Any, cast

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, ProgressBar, RichLog, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import Worker

from ...core.errors import BuildFailed, Cancelled, DiskwrightError, ProfileError, ProfileErrors
from ...core.plan import Plan
from ...core.runner import (
    CancelledEvent,
    Event,
    Failed,
    Finished,
    Output,
    Progress,
    Runner,
    StepFinished,
    StepStarted,
)
from ...core.units import format_size
from .. import messages as msg
from ..dialogs import ConfirmModal
from ..model import (
    Analysis,
    describe_field,
    error_text,
    identity,
    internal_error,
    plan_to_build,
    scan_profile_source,
)
from ..state import state_of

if TYPE_CHECKING:
    from ..model import Identity
    from ..state import WizardState
    from .wizard import WizardScreen

STATE_MARKS = {
    "waiting": ("·", "dim"),
    "running": ("▶", "bold yellow"),
    "done": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "stopped": ("■", "magenta"),
}
PHASE_STEP = {"prepare": "source", "filesystem": "filesystem", "disk": "layout",
              "output": "output", "verify": "filesystem", "finish": "output"}


def cut_words(text: str, width: int) -> str:
    """Shorten at a word boundary with an ellipsis: a title cut mid-word reads as a typo."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = text
    while cell_len(head) > width - 1:
        head = head[:-1]
    cut = head.rstrip()
    if len(head) < len(text) and not text[len(head)].isspace():
        space = cut.rfind(" ")
        if space >= max(1, width // 3):  # a very long word is cut rather than dropped
            cut = cut[:space]
    return cut.rstrip(" ,;:—-(") + "…"


class StepsTable(DataTable[Any]):
    """The plan's steps; the title column takes whatever width the others leave.

    Titles are cut at a word boundary to the column's width (the full title is in
    the log and the current-step line while the step runs).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.titles: dict[str, str] = {}
        self._cut_width = 0

    def on_resize(self) -> None:
        self.fit_titles()

    def add_step(self, key: str, mark: Text, n: str, title: str) -> None:
        self.titles[key] = title
        width = self._cut_width or 10_000
        self.add_row(mark, n, cut_words(title, width), "", key=key)

    def clear_steps(self) -> None:
        self.titles.clear()
        self.clear()

    def fit_titles(self) -> None:
        # the same width whether or not the scrollbar shows yet, so snapshots are stable
        bar = self.styles.scrollbar_size_vertical
        width = self.content_region.width - bar - 1 - 3 - 6 - 2 * 4 - 1
        col = self.columns.get(ColumnKey("title"))
        if col is not None and width > 8 and (col.width != width or col.auto_width):
            col.auto_width = False
            col.width = width
            self._require_update_dimensions = True
            self.refresh()
        if width > 8 and width != self._cut_width:
            self._cut_width = width
            for key, title in self.titles.items():
                self.update_cell(key, "title", cut_words(title, width))


class BuildForm(Vertical):
    """Not a scrolling form: the log and the step table share the height."""

    step = "build"

    def __init__(self) -> None:
        super().__init__(id="form-build", classes="step-form")
        self.state = "idle"  # idle | preparing | running | done | failed | cancelled
        self.plan: Plan | None = None
        self.worker: Worker[Any] | None = None
        self.started_at = 0.0
        self.finished_at: float | None = None
        self.states: list[str] = []
        self.seconds: list[float | None] = []
        self.current = -1
        self.result: Finished | None = None
        self.failure: Failed | None = None
        self.fail_phase: str | None = None
        self._before: set[str] = set()  # outputs that existed when the build started
        self._start_was_ready = False
        # focus was sent to the steps table only because Start was disabled then; Widget.focus
        # lands a moment later, so until Start takes it app.focused need not show the table
        self._start_wanted = False
        self._revision = -1  # the draft revision the last build started from

    @property
    def wiz(self) -> WizardState:
        return state_of(self)

    def compose(self) -> ComposeResult:
        yield Static("Build — run the plan and check the result", classes="heading")
        yield Static("", id="build-status")
        with Horizontal(classes="buttons"):
            yield Button("▶ Start build", id="build-start", variant="success", compact=True)
            yield Button("■ Cancel", id="build-cancel", variant="error", compact=True,
                         disabled=True)
            yield Button("◀ Fix the profile", id="build-fix", compact=True)
        with Horizontal(classes="bar-row"):
            yield Label("Overall ", classes="bar-label")
            yield ProgressBar(total=1.0, show_eta=False, id="overall-bar")
            yield Static("", id="build-elapsed")
        with Horizontal(classes="bar-row"):
            yield Label("Step    ", classes="bar-label")
            yield ProgressBar(total=1.0, show_eta=False, id="step-bar")
            yield Static("", id="build-current")
        yield Static("", id="build-result")
        with Horizontal(id="build-panes"):
            steps = StepsTable(id="build-steps", cursor_type="row", zebra_stripes=True)
            steps.add_column("", key="state", width=1)
            steps.add_column("#", key="n", width=3)
            steps.add_column("step", key="title")
            steps.add_column("time", key="time", width=6)
            yield steps
            yield RichLog(id="build-log", max_lines=20000, wrap=True, markup=False,
                          min_width=20)

    def first_focus(self) -> Widget:
        """Where focus lands on opening the step: Start, once the plan allows a build.

        Whether the analysis is done when the step opens is a matter of timing;
        if it is not, the steps table holds focus until it is, then Start takes
        it (see show_analysis), so the screen ends the same way both times (the
        build snapshot used to flake between the two).
        """
        start = self.query_one("#build-start", Button)
        self._start_wanted = start.disabled
        return start if not start.disabled else self.query_one(StepsTable)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if isinstance(event.widget, StepsTable):
            self._start_wanted = False  # the person moved on from the table: leave focus be

    def _fit_titles(self) -> None:
        self.query_one(StepsTable).fit_titles()

    def on_mount(self) -> None:
        self.call_after_refresh(lambda: self.show_analysis(self.wiz.analysis))
        self.query_one("#build-steps").border_title = "Steps"
        self.query_one("#build-log").border_title = "Log"
        self.query_one("#build-fix").display = False
        self.query_one("#build-result").display = False
        self._timer = self.set_interval(0.25, self._tick, pause=True)

    # ------------------------------------------------------------ sync with the wizard

    async def sync(self) -> None:
        self.show_analysis(self.wiz.analysis)

    def ready(self) -> bool:
        """The wizard's one validation state for this step (never a second opinion)."""
        return cast("WizardScreen", self.screen).states().get("build") is True

    def show_state(self, state: bool | None) -> None:
        if self.is_mounted and self.state not in ("preparing", "running"):
            self.show_analysis(self.wiz.analysis)

    def show_analysis(self, analysis: Analysis) -> None:
        self._fit_titles()
        if self.state in ("preparing", "running"):
            return
        if self.state != "idle" and self.wiz.draft.revision != self._revision:
            self._reset()  # the profile changed since: the old result no longer describes it
        ok = self.ready()
        start = self.query_one("#build-start", Button)
        became_ready = ok and (start.disabled or not self._start_was_ready)
        start.disabled = not ok
        self._start_was_ready = self._start_was_ready or ok
        if became_ready and self.state == "idle" and (
            self._start_wanted or self.app.focused is None
            or self.app.focused is self.query_one(StepsTable)
        ):
            # Whenever a build becomes possible, Start takes focus from the steps table
            # (where focus lands, by Textual's auto-focus or ours, while Start is
            # disabled, e.g. during a re-analysis): the screen ends the same whatever
            # order the analysis and the step's opening came in.
            self._start_wanted = False
            start.focus()  # queued after the table's focus, so Start ends with it
        start.label = "▶ Build again" if self.state in ("done", "failed", "cancelled") \
            else "▶ Start build"
        if self.state == "idle":
            if analysis.plan is not None:
                self._fill_steps(analysis.plan)
            self._status(self._ready_text(analysis, ok))

    def _ready_text(self, analysis: Analysis, ok: bool) -> Text:
        if ok and analysis.plan is not None:
            outs = ", ".join(analysis.plan.outputs)
            n = len(analysis.plan.steps)
            return Text(f"Ready: {n} steps will write {outs}", style="green")
        n = len(analysis.errors) + (1 if analysis.crash else 0) + (
            1 if analysis.existing and not self.wiz.draft.force else 0) + (
            1 if analysis.preflight else 0)
        return Text(f"✗ Not ready: {n} problem{'s' * (n != 1)} — see Review", style="bold red")

    def _status(self, text: Text | str) -> None:
        self.query_one("#build-status", Static).update(text)

    # ------------------------------------------------------------ steps table

    def _fill_steps(self, plan: Plan) -> None:
        table = self.query_one("#build-steps", StepsTable)
        if self.plan is not None and [s.id for s in self.plan.steps] == [s.id for s in plan.steps] \
                and [s.title for s in self.plan.steps] == [s.title for s in plan.steps]:
            self.plan = plan
            return
        self.plan = plan
        table.clear_steps()
        self.states = ["waiting"] * len(plan.steps)
        self.seconds = [None] * len(plan.steps)
        for i, s in enumerate(plan.steps):
            table.add_step(str(i), self._mark(i), str(i + 1), s.title)
        self._fit_titles()

    def _mark(self, i: int) -> Text:
        sym, style = STATE_MARKS[self.states[i]]
        return Text(sym, style=style)

    def _set_state(self, i: int, state: str, seconds: float | None = None) -> None:
        if not 0 <= i < len(self.states):
            return
        self.states[i] = state
        table = self.query_one("#build-steps", DataTable)
        table.update_cell(str(i), "state", self._mark(i))
        if seconds is not None:
            self.seconds[i] = seconds
            table.update_cell(str(i), "time", f"{seconds:.1f}s")

    # ------------------------------------------------------------ running

    @on(Button.Pressed, "#build-start")
    def start(self) -> None:
        if self.state in ("preparing", "running"):
            return
        analysis = self.wiz.analysis
        if not self.ready() or analysis.profile is None:
            self.notify("Fix the problems listed on Review first.", severity="error",
                        title="Cannot build yet")
            return
        self.worker = self.run_worker(self._run(analysis.profile), group="build",
                                      exclusive=True, exit_on_error=False)

    async def _run(self, profile: Any) -> None:
        from ...core.planner import check_profile

        self._begin()
        self._status(Text("Scanning the source again and making the plan…", style="yellow"))
        try:
            # the one source reader every front end uses: a folder, a Nix closure, or both
            scan = await asyncio.to_thread(scan_profile_source, profile)
            errors = check_profile(profile, scan)
            if errors:
                raise ProfileErrors(errors)
            # as the preview planned it: this wizard's own last outputs are replaced
            plan, _, _ = plan_to_build(profile, scan, force=self.wiz.draft.force,
                                       built=self.wiz.draft.built)
        except (ProfileErrors, ProfileError) as err:
            self._end("failed")
            errs = err.errors if isinstance(err, ProfileErrors) else [err]
            self._status(Text("✗ The profile no longer checks out:\n" + "\n".join(
                f"  {describe_field(e.field, self.wiz.draft.data)}: {error_text(e)}"
                for e in errs), style="bold red"))
            return
        except OSError as err:
            self._end("failed")
            self._status(Text(f"✗ Cannot read the source: {err.strerror or err}",
                              style="bold red"))
            return
        except asyncio.CancelledError:
            self._end("cancelled")
            return
        except Exception as err:  # a core bug: one sentence here, the traceback in a log
            self._end("failed")
            self._status(Text(f"✗ {internal_error(err, self.wiz.draft.base_dir)}",
                              style="bold red"))
            return
        self.plan = None
        self._fill_steps(plan)
        self._before = {o for o in plan.outputs if os.path.lexists(o)}
        self.state = "running"
        self._status(Text(f"Building: {len(plan.steps)} steps", style="bold yellow"))
        runner = Runner(plan, self._on_event)
        try:
            await runner.run()
        except Cancelled:
            self._end("cancelled")
        except BuildFailed:
            self._end("failed")
        except DiskwrightError as err:  # preflight: tools, space, folders
            self._end("failed")
            self._status(Text(f"✗ Cannot start: {err}", style="bold red"))
        except asyncio.CancelledError:  # cancelled before the runner started
            self._end("cancelled")

    def _reset(self) -> None:
        """Back to "ready": the result, log and marks of a build of an older profile go."""
        self.state = "idle"
        self.result = None
        self.failure = None
        self.current = -1
        self.started_at = 0.0
        self.finished_at = None
        self.plan = None
        self.query_one("#build-log", RichLog).clear()
        self.query_one("#build-result").display = False
        self.query_one("#build-fix").display = False
        self.query_one("#overall-bar", ProgressBar).update(total=1.0, progress=0)
        self.query_one("#step-bar", ProgressBar).update(total=1.0, progress=0)
        self.query_one("#build-current", Static).update("")
        self._tick()

    def _begin(self) -> None:
        self.state = "preparing"
        self._revision = self.wiz.draft.revision
        self.result = None
        self.failure = None
        self.current = -1
        self.started_at = self.wiz.clock()
        self.finished_at = None
        self.query_one("#build-log", RichLog).clear()
        self.query_one("#build-result").display = False
        self.query_one("#build-fix").display = False
        self.query_one("#build-start", Button).disabled = True
        cancel = self.query_one("#build-cancel", Button)
        cancel.disabled = False
        cancel.focus()  # Enter, Esc or Ctrl+C: one key to the cancel question
        self.query_one("#overall-bar", ProgressBar).update(total=1.0, progress=0)
        self.query_one("#step-bar", ProgressBar).update(total=1.0, progress=0)
        self._timer.resume()
        self._tick()
        self.post_message(msg.Building(True))

    def _end(self, state: str, built: dict[str, Identity] | None = None) -> None:
        """The build is over: the app hears it (and what a finished build wrote), lets the
        profile change again, refreshes the steps and analyses the profile again."""
        self.state = state
        self.finished_at = self.wiz.clock()
        self._timer.pause()
        self._tick()
        self.post_message(msg.Building(False, built))
        self.query_one("#build-cancel", Button).disabled = True
        start = self.query_one("#build-start", Button)
        start.disabled = False
        start.label = "▶ Build again"
        step_bar = self.query_one("#step-bar", ProgressBar)
        if step_bar.total is None:
            step_bar.update(total=1.0, progress=0)
        start.focus()
        if state == "cancelled":
            if 0 <= self.current < len(self.states) and self.states[self.current] == "running":
                self._set_state(self.current, "stopped")
            self._status(Text("■ Cancelled: the running tool was stopped and its temporary "
                              "files removed; nothing was written.", style="bold magenta"))
            self.query_one("#build-log", RichLog).write(
                Text("■ cancelled; nothing was written", style="bold magenta"))

    def _tick(self) -> None:
        end = self.finished_at if self.finished_at is not None else self.wiz.clock()
        secs = max(0.0, end - self.started_at) if self.started_at else 0.0
        self.query_one("#build-elapsed", Static).update(f" {secs:5.1f} s")

    def _on_event(self, event: Event) -> None:
        log = self.query_one("#build-log", RichLog)
        n = len(self.states)
        if isinstance(event, StepStarted):
            self.current = event.index
            self._set_state(event.index, "running")
            # until the tool reports a fraction, the bar says "working" rather than 0 %
            self.query_one("#step-bar", ProgressBar).update(total=None, progress=0)
            self.query_one("#build-current", Static).update(
                f" {event.index + 1}/{n} {event.step.title}")
            log.write(Text(f"▶ [{event.index + 1}/{n}] {event.step.title}", style="bold"))
            table = self.query_one("#build-steps", DataTable)
            table.move_cursor(row=event.index, scroll=True)
        elif isinstance(event, Output):
            log.write(Text("  " + event.line, style="yellow" if event.stream == "stderr" and
                           _looks_bad(event.line) else ""))
        elif isinstance(event, Progress):
            self.query_one("#overall-bar", ProgressBar).update(progress=event.overall)
            self.query_one("#step-bar", ProgressBar).update(total=1.0,
                                                            progress=event.step_fraction)
            if self.plan is not None and 0 <= self.current < n:
                head, title = f" {self.current + 1}/{n}", self.plan.steps[self.current].title
                line = f"{head} {title}"
                if event.total and event.step_fraction < 1.0:  # bytes while the step runs,
                    # before the title, which a narrow screen cuts
                    line = (f"{head} {format_size(event.done or 0)} of "
                            f"{format_size(event.total)} · {title}")
                self.query_one("#build-current", Static).update(line)
        elif isinstance(event, StepFinished):
            self._set_state(event.index, "done", event.seconds)
        elif isinstance(event, Finished):
            self.result = event
            self._end("done", {o.path: i for o in event.outputs
                               if (i := identity(o.path)) is not None})
            self.query_one("#overall-bar", ProgressBar).update(progress=1.0)
            self._show_result(event)
        elif isinstance(event, Failed):
            self.failure = event
            idx = next((i for i, s in enumerate(self.plan.steps if self.plan else [])
                        if s.id == event.step_id), self.current)
            self._set_state(idx, "failed")
            self.fail_phase = self.plan.steps[idx].phase if self.plan and idx >= 0 else None
            self._show_failure(event, idx)
        elif isinstance(event, CancelledEvent):
            pass

    def _show_result(self, result: Finished) -> None:
        secs = (self.finished_at or 0) - self.started_at
        lines = [Text(f"✓ Built in {secs:.1f} s — {len(result.checks)} checks passed",
                      style="bold green")]
        for o in result.outputs:
            lines.append(Text.assemble(("  ", ""), (o.path, "bold"),
                                       f"  {format_size(o.size)} ({o.size:,} bytes)"))
            lines.append(Text(f"    sha256 {o.sha256}"))
        for c in result.checks:
            lines.append(Text(f"  ✓ {c}", style="green"))
        if result.log:
            lines.append(Text(f"  log: {result.log}", style="dim"))
        if self.wiz.draft.path:
            # a line to paste into a shell: the path quoted, --force as the output now exists
            cmd = f"diskwright build --force {shlex.quote(str(self.wiz.draft.path))}"
            lines.append(Text(f"  rebuild headless: {cmd}", style="dim"))
        if not self.wiz.draft.force:
            lines.append(Text("  ▶ Build again replaces these files (this build's own); "
                              "anything else at an output path is kept", style="dim"))
        self._result(lines)
        self._status(Text("✓ Done", style="bold green"))

    def _show_failure(self, failed: Failed, idx: int) -> None:
        n = len(self.states)
        lines = [Text(f"✗ Step {idx + 1}/{n} “{failed.title}” failed: {failed.message}",
                      style="bold red")]
        for line in failed.lines[-8:]:
            lines.append(Text(f"    {line}"))
        if failed.log:
            lines.append(Text(f"  log: {failed.log}", style="dim"))
        outputs = self.plan.outputs if self.plan is not None else []
        written = [o for o in outputs if os.path.lexists(o) and o not in self._before]
        if written:
            lines.append(Text("  ⚠ written before the failure (complete and checked): "
                              + ", ".join(written), style="yellow"))
            lines.append(Text("  The other outputs were not written. Fix the cause and build "
                              "again (tick “Replace existing files”).", style="dim"))
        else:
            lines.append(Text("  Nothing was written. Change the profile and build again.",
                              style="dim"))
        self._result(lines)
        self._status(Text("✗ Failed", style="bold red"))
        self.query_one("#build-fix").display = True

    def _result(self, lines: list[Text]) -> None:
        res = self.query_one("#build-result", Static)
        res.update(Text("\n").join(lines))
        res.display = True

    @on(Button.Pressed, "#build-fix")
    def _fix(self) -> None:
        self.post_message(msg.Goto(PHASE_STEP.get(self.fail_phase or "", "review")))

    @on(Button.Pressed, "#build-cancel")
    def ask_cancel(self) -> None:
        if self.state not in ("preparing", "running"):
            return

        def answered(answer: str | None) -> None:
            if answer == "stop":
                self.cancel_now()

        self.app.push_screen(ConfirmModal(
            "Cancel the build?",
            "The running tool is stopped and every temporary file is removed; no image is "
            "written.",
            [("Stop the build", "stop", "error"), ("Keep building", "keep", "primary")],
        ), answered)

    def cancel_now(self) -> None:
        if self.worker is not None and self.state in ("preparing", "running"):
            self._status(Text("Stopping…", style="bold magenta"))
            self.worker.cancel()


def _looks_bad(line: str) -> bool:
    low = line.lower()
    return any(w in low for w in ("error", "fail", "warning", "cannot", "refusing"))
