"""Review step: the whole profile in one place, every problem and warning, then Build."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Label, Static

from ...core.units import format_size
from .. import messages as msg
from ..model import STEP_TITLES, Analysis, describe_field, error_text, step_of, warning_text
from ..widgets import TextField, mark
from .base import Section, StepForm

if TYPE_CHECKING:
    from ..state import WizardState
    from .wizard import WizardScreen


class NameSection(Section):
    def build(self) -> ComposeResult:
        yield TextField(("name",), "Profile name", self.draft.get(("name",)),
                        help="a short name for you and for the plan's header")
        yield TextField(("description",), "Description", self.draft.get(("description",)),
                        placeholder="what this profile builds, for whoever reads it next")
        yield Static("", id="review-saved", classes="dim")


class SummarySection(Section):
    def build(self) -> ComposeResult:
        yield Label("Summary", classes="section-title")
        yield Static("", id="review-summary")
        yield Label("Problems and warnings", classes="section-title")
        yield Static("", id="review-problems")
        with Horizontal(classes="buttons"):
            yield Button("Build ▶", id="review-build", variant="success", compact=True)
            yield Button("Save (Ctrl+S)", id="review-save", compact=True)
            yield Button("Export plan (Ctrl+E)", id="review-export", compact=True)

    def show_analysis(self, analysis: Analysis) -> None:
        wiz = self.wiz
        saved = self.screen.query("#review-saved")
        if saved:
            where = (f"saved as {wiz.draft.path}" + (" (changed since)" if wiz.draft.dirty else "")
                     if wiz.draft.path else "not saved yet — Ctrl+S saves it as TOML")
            saved.first(Static).update(f"  {where}")
        self.query_one("#review-summary", Static).update(summary(wiz, analysis))
        self.query_one("#review-problems", Static).update(problems(wiz, analysis))
        button = self.query_one("#review-build", Button)
        ok = cast("WizardScreen", self.screen).states().get("build") is True
        button.disabled = not ok
        button.tooltip = None if ok else "fix the problems above first"

    @on(Button.Pressed, "#review-build")
    def _build(self) -> None:
        self.post_message(msg.Goto("build"))

    @on(Button.Pressed, "#review-save")
    def _save(self) -> None:
        self.post_message(msg.Save())

    @on(Button.Pressed, "#review-export")
    def _export(self) -> None:
        self.post_message(msg.Export())


def summary(wiz: WizardState, analysis: Analysis) -> RenderableType:
    draft = wiz.draft
    rows: list[RenderableType] = []
    root = draft.source_root()
    scan = wiz.scan
    src = f"{root}" if root else "(no source folder)"
    if scan is not None and wiz.scan_status.state == "done":
        total = scan.total()
        src += f" — {total.files:,} files, {format_size(total.bytes)}"
    rows.append(Text.assemble(("Source  ", "bold"), src))
    files = draft.get(("source", "files"), []) or []
    if files:
        rows.append(Text(f"        + {len(files)} extra file(s)"))
    est = analysis.estimate if analysis.estimate is not None else (
        wiz.last_good.estimate if wiz.last_good else None)
    for d, disk in enumerate(draft.disks):
        out = disk.get("output") or {}
        kind = str(out.get("format", "raw")) + (
            f" + {out.get('compression')}" if out.get("compression", "none") != "none" else "")
        size = ""
        if est is not None and d < len(est.disks):
            size = (f" — disk {format_size(est.disks[d].disk_bytes)}, file ≈ "
                    f"{format_size(est.disks[d].output_bytes)}")
        rows.append(Text.assemble(("\nDisk    ", "bold"), f"{disk.get('name')} · "
                                  f"{disk.get('table')} · {kind}{size}"))
        rows.append(Text(f"        → {draft.resolve(str(out.get('path', '')))}"))
        table = Table.grid(padding=(0, 1), pad_edge=False)
        table.add_column(width=7, justify="right")
        for _ in range(3):
            table.add_column()
        for p, part in enumerate(draft.parts(d)):
            where = "(empty)" if part.get("empty") else (
                part.get("contents") or part.get("mount_point") or "")
            table.add_row(f"#{p + 1}", f"{part.get('role')} {part.get('filesystem')}",
                          f"“{part['label']}”" if part.get("label") else "", str(where))
        rows.append(table)
    repro = draft.get(("reproducible",), {}) or {}
    rows.append(Text.assemble(("\nRebuild ", "bold"),
                              f"seed “{repro.get('seed')}”, SOURCE_DATE_EPOCH "
                              f"{repro.get('source_date_epoch')}"))
    return Group(*rows)


def problems(wiz: WizardState, analysis: Analysis) -> RenderableType:
    lines: list[Text] = []
    data = wiz.draft.data
    for e in analysis.errors:
        step = STEP_TITLES[step_of(e.field)]
        lines.append(Text(f"✗ {step}: {describe_field(e.field, data)}: {error_text(e)}",
                          style="red"))
    if analysis.crash:
        lines.append(Text(f"✗ {analysis.crash}", style="red"))
    if analysis.existing and not wiz.draft.force:
        for p in analysis.existing:
            lines.append(Text(f"✗ Output: {p} exists — tick “Replace existing files” on the "
                              "Output step or choose another path", style="red"))
    elif analysis.existing:
        for p in analysis.existing:
            lines.append(Text(f"⚠ Output: {p} exists and will be replaced", style="yellow"))
    if analysis.preflight:
        lines.append(Text(f"✗ Before building: {analysis.preflight}", style="red"))
    if analysis.estimate is not None:
        for w in analysis.estimate.warnings:
            lines.append(Text(f"⚠ {warning_text(w, analysis.profile)}", style="yellow"))
    if analysis.plan is not None:
        for w in analysis.plan.warnings:
            if analysis.estimate is None or w not in analysis.estimate.warnings:
                lines.append(Text(f"⚠ {warning_text(w, analysis.profile)}", style="yellow"))
    if wiz.scan_status.state == "scanning":
        lines.append(Text("… the source is still being scanned", style="yellow"))
    if not lines:
        n = len(analysis.plan.steps) if analysis.plan is not None else 0
        lines.append(Text(f"{mark(True)} no problems — the plan has {n} steps; "
                          "press Build when ready", style="green"))
    return Group(*lines)


class ReviewForm(StepForm):
    step = "review"
    heading = "Review — everything in one place"

    def sections(self) -> ComposeResult:
        yield NameSection(id="name-section")
        yield SummarySection(id="summary-section")
