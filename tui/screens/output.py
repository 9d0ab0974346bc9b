"""Output step: path, format and compression per disk; replacing files; reproducibility."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Label, Static

from .. import messages as msg
from ..dialogs import PathModal
from ..model import CLUSTER_HELP, COMPRESSION_HELP, FORMAT_HELP, Analysis
from ..widgets import ChoiceField, Field, TextField, Tick
from .base import Section, StepForm


class OutputSection(Section):
    def signature(self) -> Any:
        return tuple((d.get("name"), d.get("output", {}).get("compression"),
                      d.get("output", {}).get("format") == "qcow2-compressed")
                     for d in self.draft.disks)

    def build(self) -> ComposeResult:
        for d, disk in enumerate(self.draft.disks):
            b = ("disks", d, "output")
            out = disk.get("output") or {}
            yield Label(f"Disk {disk.get('name')}", classes="section-title")
            yield TextField((*b, "path"), "Path", out.get("path", ""),
                            placeholder="image.img")
            with Horizontal(classes="field-buttons"):
                yield Button("Browse…", id=f"out-browse-{d}", classes="out-browse", compact=True)
                yield Static("", id=f"out-abs-{d}", classes="dim inline-note")
            yield Static("", id=f"out-name-{d}", classes="note out-name")
            yield ChoiceField((*b, "format"), "Format", [(f, f) for f in FORMAT_HELP],
                              out.get("format", "raw"), explain=FORMAT_HELP)
            if out.get("format") == "qcow2-compressed":
                yield ChoiceField((*b, "compression_type"), "Clusters",
                                  [(c, c) for c in CLUSTER_HELP],
                                  out.get("compression_type") or "zlib", explain=CLUSTER_HELP)
            yield ChoiceField((*b, "compression"), "Compression",
                              [(c, c) for c in COMPRESSION_HELP],
                              out.get("compression", "none"), explain=COMPRESSION_HELP)
            if out.get("compression", "none") != "none":
                yield TextField((*b, "compression_level"), "Level",
                                out.get("compression_level"), optional=True, number=int,
                                placeholder="default",
                                help="zstd 1-22, xz 0-9; empty = the tool's default")

    def show_analysis(self, analysis: Analysis) -> None:
        for d, _disk in enumerate(self.draft.disks):
            found = self.query(f"#out-abs-{d}")
            if not found:
                continue
            path = self.draft.get(("disks", d, "output", "path"))
            if isinstance(path, str) and path.strip():
                full = self.draft.resolve(path)
                found.first(Static).update(f"  → {full}")
            else:
                found.first(Static).update("")
            # custom.vmdk written as raw: said here, beside the name, as well as on Review
            mine = f"disks[{d}].output.path: "
            said = [w[len(mine):] for w in (analysis.estimate.warnings if analysis.estimate
                                            else []) if w.startswith(mine)]
            note = self.query_one(f"#out-name-{d}", Static)
            note.update(Text("⚠ " + said[0], style="yellow") if said else "")
            note.display = bool(said)

    @on(Button.Pressed, ".out-browse")
    def _browse(self, event: Button.Pressed) -> None:
        assert event.button.id
        d = int(event.button.id.rsplit("-", 1)[1])
        current = self.draft.resolve(str(self.draft.get(("disks", d, "output", "path")) or
                                         "image.img"))

        def picked(path: Path | None) -> None:
            if path is not None:  # the app shows it in the Path field
                self.post_message(msg.Edit(("disks", d, "output", "path"), str(path)))

        self.app.push_screen(PathModal("Write the image to", current, mode="save",
                                       base=self.draft.base_dir), picked)

    def on_field_edited(self, event: Field.Edited) -> None:
        """Format to or from qcow2-compressed, and compression: fields come and go."""
        qcow2c = msg.QCOW2C
        to_or_from = qcow2c in (event.value, self.draft.get(event.path))
        if (event.path[-1] == "format" and to_or_from) or event.path[-1] == "compression":
            event.stop()
            self.post_message(msg.SetOutputKind(event.path, event.value))


class ReplaceSection(Section):
    """The warning before an existing file is replaced, and the explicit choice to do so."""

    def build(self) -> ComposeResult:
        yield Static("", id="existing-warning")
        yield Tick("Replace existing files", self.draft.force, id="force", compact=True)
        yield Static("", id="preflight", classes="problems")

    def show_analysis(self, analysis: Analysis) -> None:
        warn = self.query_one("#existing-warning", Static)
        force = self.query_one("#force", Checkbox)
        if analysis.existing:
            files = "\n".join(f"  {p}" for p in analysis.existing)
            if self.draft.force:
                warn.update(Text(f"⚠ These files exist and will be replaced:\n{files}",
                                 style="bold yellow"))
            else:
                warn.update(Text(
                    f"✗ These files exist; the build will not replace them:\n{files}\n"
                    "  Choose another path, or tick “Replace existing files”.",
                    style="bold red"))
        elif analysis.rebuilds:
            files = "\n".join(f"  {p}" for p in analysis.rebuilds)
            warn.update(Text(f"These files are this wizard's last build; building again "
                             f"replaces them:\n{files}", style="dim"))
        warn.display = bool(analysis.existing or analysis.rebuilds)
        force.display = bool(analysis.existing) or self.draft.force
        pre = self.query_one("#preflight", Static)
        pre.display = bool(analysis.preflight)
        if analysis.preflight:
            pre.update(Text(f"✗ before building: {analysis.preflight}", style="bold red"))

    def load_values(self) -> None:
        box = self.query_one("#force", Checkbox)
        if box.value != self.draft.force:
            with box.prevent(Checkbox.Changed):
                box.value = self.draft.force

    @on(Checkbox.Changed, "#force")
    def _force(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.post_message(msg.SetForce(bool(event.value)))


class ReproSection(Section):
    def build(self) -> ComposeResult:
        yield Label("Reproducibility", classes="section-title")
        epoch = self.draft.get(("reproducible", "source_date_epoch"), 1)
        yield TextField(("reproducible", "source_date_epoch"), "Timestamps", epoch, number=int,
                        help=_epoch_help(epoch))
        yield TextField(("reproducible", "seed"), "Seed", self.draft.get(("reproducible", "seed")),
                        help="every UUID not set by hand derives from it")

    async def on_field_edited(self, event: Field.Edited) -> None:
        if event.path[-1] == "source_date_epoch":
            event.field.help = _epoch_help(event.value)
            if not event.field.errors:
                event.field.query_one(".note", Static).update(event.field.help)


def _epoch_help(epoch: Any) -> str:
    try:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(epoch)))
    except (TypeError, ValueError, OverflowError, OSError):
        when = "?"
    return f"SOURCE_DATE_EPOCH: every file time in the image ({when})"


class OutputForm(StepForm):
    step = "output"
    heading = "Output — the files you get"

    def sections(self) -> ComposeResult:
        yield OutputSection(id="output-section")
        yield ReplaceSection(id="replace-section")
        yield ReproSection(id="repro-section")
