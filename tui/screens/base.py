"""What every step form shares: sections that rebuild when the profile's shape changes.

Forms and sections read the wizard's state (`wiz`, found on their screen) and ask
for every change with a message (tui/messages.py); the app applies it and calls
`sync` on every form.

A section's `signature()` captures the structure it shows (how many
partitions, which one is selected, which filesystem); when that changes the
section recomposes, otherwise it only reloads values and error marks, so the
widget a person is typing in is never replaced under their fingers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from ..messages import Edit
from ..model import Analysis, describe_field
from ..state import state_of
from ..widgets import Field, Problems

if TYPE_CHECKING:
    from ..model import Draft
    from ..state import WizardState


class Section(Vertical):
    """A part of a form that recomposes itself when its signature changes."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._sig: Any = None

    @property
    def wiz(self) -> WizardState:
        return state_of(self)

    @property
    def draft(self) -> Draft:
        return self.wiz.draft

    # holds no text field and names partitions (a picker, a table): it follows every edit
    # of a partition's label, role, filesystem or mount point at once
    shows_titles: ClassVar[bool] = False

    def signature(self) -> Any:
        return None

    def compose(self) -> ComposeResult:
        self._sig = self.signature()
        yield from self.build()

    def build(self) -> ComposeResult:
        yield from ()

    async def sync(self) -> None:
        sig = self.signature()
        if sig != self._sig:
            focused = self.app.focused
            fid = focused.id if focused is not None and self in focused.ancestors else None
            await self.recompose()
            if fid:
                found = [w for w in self.walk_children(Widget) if w.id == fid]
                if found:
                    found[0].focus()
        else:
            self.load_values()

    def load_values(self) -> None:
        for f in self.walk_children(Field):
            f.load(self.draft.get(f.path))

    def show_analysis(self, analysis: Analysis) -> None:
        """Hook for sections that display computed values (tables, bars)."""


class StepForm(VerticalScroll):
    """One step's form: a heading, the problems no field owns, then sections."""

    step: ClassVar[str] = ""
    heading: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__(id=f"form-{self.step}", classes="step-form")

    @property
    def wiz(self) -> WizardState:
        return state_of(self)

    def compose(self) -> ComposeResult:
        yield Static(self.heading, classes="heading")
        yield Problems(id=f"problems-{self.step}", classes="problems")
        yield from self.sections()

    def sections(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        # an analysis that arrived while this form was being composed is shown now
        self.call_after_refresh(lambda: self.show_analysis(self.wiz.analysis))

    async def sync(self) -> None:
        for section in list(self.walk_children(Section)):
            if section.parent is not None and section.is_attached:
                await section.sync()
        self.show_analysis(self.wiz.analysis)

    def show_analysis(self, analysis: Analysis) -> None:
        problems = next(iter(self.walk_children(Problems, with_self=False)), None)
        if problems is None:
            return  # not composed yet; sync() shows it once it is
        owned: set[str] = set()
        for f in self.walk_children(Field):
            errs = analysis.for_field(f.name_)
            f.set_errors(errs)
            if errs:
                owned.add(f.name_)
        rest = [e for e in analysis.for_step(self.step) if e.field not in owned]
        if self.step == "review":
            rest = []
        data = self.wiz.draft.data
        problems.show(rest, lambda name: describe_field(name, data))
        for section in self.walk_children(Section):
            section.show_analysis(analysis)

    @on(Field.Edited)
    def _edited(self, event: Field.Edited) -> None:
        event.stop()
        self.post_message(Edit(event.path, event.value))
