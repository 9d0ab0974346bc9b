"""The wizard's main screen: step list, the current step's form, estimate and plan beside it.

The app hands it the wizard's state (`wizard_state`, which its forms find through
`state.state_of`); a step change goes to the app as a `Goto` message.

Wide terminals show form, estimate and plan side by side; below 110 columns
the three become tabs (F2 cycles), so 80×24 keeps every piece reachable.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, ContentSwitcher, Footer, Header, Static, Tab, Tabs

from ...core.units import format_size
from ..messages import Goto, Step
from ..model import (
    OWN_STEPS,
    STEP_TITLES,
    STEPS,
    WIZARD_STEPS,
    Analysis,
    changed_lines,
    shaped_steps,
    step_states,
)
from ..widgets import EstimatePanel, PlanPanel, StepList, update_if_changed

if TYPE_CHECKING:
    from ..state import WizardState

WIDE = 110
TALL = 32  # below this many rows the screen is "-short": forms drop blank lines (80x24)
FORMS: dict[str, str] = {s.key: s.form for s in WIZARD_STEPS}


def make_form(step: str) -> Widget:
    """The step's form; its module is imported on the first visit so the first paint stays
    quick (the registry names it: model.WIZARD_STEPS)."""
    module, name = FORMS[step].split(":")
    form: Widget = getattr(importlib.import_module(f"diskwright.tui.screens.{module}"), name)()
    return form


PANELS = ("form", "estimate", "plan")


class WizardScreen(Screen[None]):

    def __init__(self, state: WizardState) -> None:
        super().__init__(id="wizard-screen")
        self.wizard_state = state  # the app's: read here, changed only by the app
        self.panel = "form"
        self._forms: dict[str, Any] = {}  # step → its form, mounted on first visit
        self._step_list: StepList | None = None
        self._marked_script: str | None = None  # the plan last marked, to diff the next one
        self._changed: frozenset[int] = frozenset()
        self._scrolled_for: str | None = None  # the step whose commands were scrolled to

    @property
    def wiz(self) -> WizardState:
        return self.wizard_state

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="body"):
            yield StepList(id="steps")
            with Vertical(id="main"):
                yield Tabs(Tab("Form", id="tab-form"), Tab("Estimate", id="tab-estimate"),
                           Tab("Plan", id="tab-plan"), id="panel-tabs")
                with Horizontal(id="panels", classes="-show-form"):
                    with Vertical(id="form-area"):
                        yield ContentSwitcher(id="forms")
                        with Horizontal(id="nav"):
                            yield Button("◀ Back", id="nav-back", compact=True)
                            yield Button("Next ▶", id="nav-next", compact=True,
                                         variant="primary")
                            yield Static("", id="nav-status")
                    with Vertical(id="side"):
                        yield EstimatePanel(id="estimate")
                        yield PlanPanel(id="plan")
        yield Footer()

    def on_mount(self) -> None:
        self._step_list = self.query_one(StepList)
        self._step_list.border_title = "Steps"
        self._narrow(self.app.size.width)
        self.set_class(self.app.size.height < TALL, "-short")

    def on_resize(self, event: events.Resize) -> None:
        self._narrow(event.size.width)
        self.set_class(event.size.height < TALL, "-short")

    def _narrow(self, width: int) -> None:
        if self.has_class("-narrow") != (width < WIDE):
            self.set_class(width < WIDE, "-narrow")
            self.app.refresh_bindings()  # F2 (panels) only means something when narrow

    # ------------------------------------------------------------ steps

    def visible_steps(self) -> list[str]:
        draft = self.wiz.draft
        # a filesystem's own step (zfs) shows only while some partition needs it
        if draft is None:
            return [s for s in STEPS if s not in OWN_STEPS]
        return [s for s in STEPS if draft.needs_step(s)]

    def form(self, step: str) -> Any:
        return self._forms.get(step)

    async def show_step(self, step: str) -> None:
        switcher = self.query_one("#forms", ContentSwitcher)
        form = self.form(step)
        if form is None:
            form = make_form(step)
            self._forms[step] = form
            await switcher.add_content(form, set_current=True)
        else:
            switcher.current = form.id
            await form.sync()
        form.show_analysis(self.wiz.analysis)
        self.set_class(step == "build", "-build")
        if step == "build":
            self.set_panel("form")
        self._scrolled_for = None  # a step change brings its commands into view again
        self.mark_plan(self.wiz.analysis)
        self.refresh_steps()
        self.call_after_refresh(self._focus_form, form)

    def _focus_form(self, form: Widget) -> None:
        if self.app.focused is not None and form in self.app.focused.ancestors:
            return
        first = getattr(form, "first_focus", None)  # a form that knows where to start
        if callable(first):
            first().focus()
            return
        for w in form.query("Input, Select, Checkbox, DataTable, Button"):
            if w.focusable and w.display and not w.disabled:
                w.focus()
                return

    async def sync_all(self) -> None:
        for step in STEPS:
            form = self.form(step)
            if form is not None:
                await form.sync()
        self.refresh_steps()

    def refresh_steps(self) -> None:
        if not self.is_attached or self._step_list is None or self.wiz.draft is None:
            return
        a = self.wiz.analysis
        states = self.states()
        self._step_list.show(self.visible_steps(), states, self.wiz.current_step)
        self._nav(a, states, self.wiz.draft.force)
        build = self.form("build")
        if build is not None:
            build.show_state(states.get("build"))

    def states(self) -> dict[str, bool | None]:
        """The one validation state of every visible step (see model.step_states)."""
        return step_states(self.wiz.analysis, self.visible_steps(), force=self.wiz.draft.force,
                           scanning=self.wiz.scan_status.state == "scanning")

    def _nav(self, a: Analysis, states: dict[str, bool | None], force: bool) -> None:
        step = self.wiz.current_step
        steps = self.visible_steps()
        i = steps.index(step) if step in steps else 0
        back = self.query_one("#nav-back", Button)
        nxt = self.query_one("#nav-next", Button)
        back.disabled = i == 0 or self.wiz.building
        ok = bool(states.get(step))
        nxt.disabled = i >= len(steps) - 1 or not ok or self.wiz.building
        nxt.label = "Build ▶" if i + 1 < len(steps) and steps[i + 1] == "build" else "Next ▶"
        status = self.query_one("#nav-status", Static)
        if step == "build":
            update_if_changed(status, "", layout=False)
            return
        n = len(a.for_step(step))
        if step == "output" and a.existing and not force:
            n += len(a.existing)
        if step in ("review",):
            n = len(a.errors) + (1 if a.crash else 0)
        if states.get(step) is None:
            text = Text(" … checking", style="dim")
        elif ok:
            text = Text(" ✓ valid", style="green")
        else:
            text = Text(f" ✗ {n or 'some'} problem{'s' * (n != 1)} to fix", style="bold red")
        est = a.estimate if a.estimate is not None else (
            self.wiz.last_good.estimate if self.wiz.last_good else None)
        if est is not None:
            text.append(f" · disk {format_size(est.total_disk)} → file ≈ "
                        f"{format_size(est.total_output)}", style="dim")
        update_if_changed(status, text, text.markup, layout=False)

    # ------------------------------------------------------------ analysis

    def apply_analysis(self, a: Analysis) -> None:
        form = self.form(self.wiz.current_step)
        if form is not None:
            form.show_analysis(a)
        self.query_one(EstimatePanel).show(a, self.wiz.last_good, self.wiz.scan_status.line())
        self.query_one(PlanPanel).show(a, self.wiz.last_good)
        self.mark_plan(a)
        self.refresh_steps()

    def mark_plan(self, a: Analysis) -> None:
        """The preview follows the form (issue 10): mark the commands this step's fields
        shape (core's Step.fields) and the lines the last edit changed."""
        from ...core.plan import step_lines

        found = self.query(PlanPanel)
        if not found:
            return
        src = a if a.plan is not None else self.wiz.last_good
        if src is None or src.plan is None or not src.script:
            found.first().mark(frozenset(), frozenset(), False)
            return
        spans = step_lines(src.script, src.plan)
        marks: set[int] = set()
        for i in shaped_steps(self.wiz.current_step, [s.fields for s in src.plan.steps]):
            if i < len(spans):
                marks.update(range(*spans[i]))
        prev = self._marked_script
        if prev is not None and prev != src.script:
            self._changed = frozenset(changed_lines(prev, src.script))
        self._marked_script = src.script
        step = self.wiz.current_step
        scroll = bool(marks) and self._scrolled_for != step  # once per visit: the user may scroll
        if scroll:
            self._scrolled_for = step
        found.first().mark(frozenset(marks), self._changed, scroll)

    def show_value(self, path: Any, value: Any) -> None:
        """Every field bound to `path` shows `value` (fields echo nothing back)."""
        from ..widgets import Field

        focused = self.app.focused
        for form in self._forms.values():
            for f in form.walk_children(Field):
                if f.path == path and not (focused is not None and f in focused.ancestors):
                    f.load(value)  # never under the cursor: "1." must not become "1.0"

    async def sync_titles(self) -> None:
        """Pickers and tables that name partitions follow a label or role edit at once."""
        from .base import Section

        for form in self._forms.values():
            for section in list(form.walk_children(Section)):
                if section.shows_titles and section.is_attached:
                    await section.sync()

    def plan_width(self) -> int:
        """The preview's text width now (0 while hidden): the worker wraps the script to it."""
        found = self.query(PlanPanel)  # none while the screen is being taken down
        if not found:
            return 0
        panel = found.first()
        return panel.scrollable_content_region.width if panel.display else 0

    def show_scan(self) -> None:
        form = self.form("source")
        if form is not None:
            form.show_scan()
        self.query_one(EstimatePanel).show(self.wiz.analysis, self.wiz.last_good,
                                           self.wiz.scan_status.line())
        self.refresh_steps()

    # ------------------------------------------------------------ navigation

    @on(StepList.Jump)
    def _jump(self, event: StepList.Jump) -> None:
        self.post_message(Goto(event.step))

    @on(Button.Pressed, "#nav-next")
    def _next(self) -> None:
        self.post_message(Step(1))

    @on(Button.Pressed, "#nav-back")
    def _back(self) -> None:
        self.post_message(Step(-1))

    def neighbour(self, delta: int) -> str | None:
        """The step Back (-1) or Next (+1) leads to now; None if there is none or, for Next,
        this step is not valid yet (then it says so)."""
        steps = self.visible_steps()
        i = steps.index(self.wiz.current_step) if self.wiz.current_step in steps else 0
        if not 0 <= i + delta < len(steps):
            return None
        if delta > 0 and self.query_one("#nav-next", Button).disabled:
            self.notify("Fix the marked fields on this step first (each says how).",
                        title=f"{STEP_TITLES[self.wiz.current_step]} is not valid yet",
                        severity="warning")
            return None
        return steps[i + delta]

    def action_panel(self) -> None:
        if not self.has_class("-narrow") or self.has_class("-build"):
            return
        nxt = PANELS[(PANELS.index(self.panel) + 1) % len(PANELS)]
        self.set_panel(nxt)

    def set_panel(self, panel: str) -> None:
        self.panel = panel
        panels = self.query_one("#panels")
        for p in PANELS:
            panels.set_class(p == panel, f"-show-{p}")
        tabs = self.query_one("#panel-tabs", Tabs)
        if tabs.active != f"tab-{panel}":
            tabs.active = f"tab-{panel}"

    @on(Tabs.TabActivated, "#panel-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab.id:
            panel = event.tab.id.removeprefix("tab-")
            if panel != self.panel:
                self.set_panel(panel)

