"""Source step: the folder that becomes the image (with a live scan) and extra files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Label, Static

from .. import messages as msg
from ..dialogs import MappingModal, PathModal
from ..model import REGISTRATION_HELP, Analysis
from ..widgets import ChoiceField, ListField, TextField, update_if_changed
from .base import Section, StepForm


class SourceSection(Section):
    def build(self) -> ComposeResult:
        yield TextField(("source", "path"), "Folder", self.draft.get(("source", "path")),
                        placeholder="/path/to/a/root/tree", optional=True,
                        help=f"relative paths start at {self.draft.base_dir}")
        with Horizontal(classes="field-buttons"):
            yield Button("Browse…", id="source-browse", compact=True)
            yield Button("Rescan (F5)", id="source-rescan", compact=True)
        yield Static("", id="scan-status")
        yield Static("", id="scan-top", classes="dim")
        yield Label("Nix closure (optional)", classes="section-title")
        yield ListField(("source", "closure"), "Closure", self.draft.get(("source", "closure")),
                        placeholder="store paths, ./result links or installables",
                        help="their whole closure is placed under /nix/store; separate "
                        "entries with spaces")
        yield TextField(("source", "store"), "Nix store", self.draft.get(("source", "store")),
                        optional=True, placeholder="the system's /nix",
                        help="a store kept in another folder (nix-store --store DIR)")
        yield ChoiceField(("source", "registration"), "Registration",
                          [(k, k) for k in REGISTRATION_HELP],
                          self.draft.get(("source", "registration"), "auto"),
                          explain=REGISTRATION_HELP)

    def on_mount(self) -> None:
        self.show_scan()

    def show_scan(self) -> None:
        st = self.wiz.scan_status
        status = self.query_one("#scan-status", Static)
        update_if_changed(status, Text(st.line(), style=st.style()), (st.line(), st.style()))
        top = self.query_one("#scan-top", Static)
        scan = self.wiz.scan
        if scan is not None and st.state == "done":
            names = scan.top_level("/")
            shown = " ".join(f"{n}/" if scan.has_dir("/" + n) else n for n in names[:24])
            more = f" … (+{len(names) - 24})" if len(names) > 24 else ""
            top.update(f"  top level: {shown}{more}" if names else "  (the folder is empty)")
            top.display = True
        else:
            top.display = False

    @on(Button.Pressed, "#source-browse")
    def _browse(self) -> None:
        current = self.draft.source_root() or self.draft.base_dir

        def picked(path: Path | None) -> None:
            if path is not None:  # the app shows it in the Folder field
                self.post_message(msg.Edit(("source", "path"), str(path)))

        self.app.push_screen(
            PathModal("Choose the source folder", current, mode="dir", base=self.draft.base_dir),
            picked,
        )

    @on(Button.Pressed, "#source-rescan")
    def _rescan(self) -> None:
        self.post_message(msg.Rescan(force=True))


class FilesSection(Section):
    """Extra file mappings: a table plus add / edit / remove."""

    def build(self) -> ComposeResult:
        yield Label("Extra files placed into the image", classes="section-title")
        table: DataTable[str] = DataTable(id="files-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("host file", "in the image", "mode", "owner")
        yield table
        yield Static("  none — the image holds the source folder only", id="files-none",
                     classes="dim")
        with Horizontal(classes="buttons"):
            yield Button("+ Add file", id="file-add", compact=True)
            yield Button("Edit", id="file-edit", compact=True)
            yield Button("− Remove", id="file-remove", compact=True)

    def on_mount(self) -> None:
        self.load_values()

    def mappings(self) -> list[dict[str, Any]]:
        files = self.draft.get(("source", "files"), [])
        return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []

    def load_values(self) -> None:
        table = self.query_one("#files-table", DataTable)
        row = table.cursor_row
        has = bool(self.mappings())
        with table.prevent(DataTable.RowHighlighted):
            table.clear()
            for fm in self.mappings():
                table.add_row(str(fm.get("source", "")), str(fm.get("target", "")),
                              str(fm.get("mode", "0644")),
                              f"{fm.get('user', 0)}:{fm.get('group', 0)}")
            if has:
                table.move_cursor(row=min(row, table.row_count - 1))
        table.display = has
        self.query_one("#files-none").display = not has
        self.query_one("#file-edit", Button).disabled = not has
        self.query_one("#file-remove", Button).disabled = not has

    def _store(self, files: list[dict[str, Any]]) -> None:
        """The new list of mappings; the app resyncs this table once it is stored."""
        self.post_message(msg.Edit(("source", "files"), files, structural=True))

    @on(Button.Pressed, "#file-add")
    def _add(self) -> None:
        def done(result: dict[str, Any] | None) -> None:
            if result is not None:
                self._store([*self.mappings(), result])

        self.app.push_screen(MappingModal(), done)

    @on(Button.Pressed, "#file-edit")
    @on(DataTable.RowSelected, "#files-table")
    def _edit(self) -> None:
        files = self.mappings()
        i = self.query_one("#files-table", DataTable).cursor_row
        if not 0 <= i < len(files):
            return

        def done(result: dict[str, Any] | None) -> None:
            if result is not None:
                files[i] = result
                self._store(files)

        self.app.push_screen(MappingModal(files[i]), done)

    @on(Button.Pressed, "#file-remove")
    def _remove(self) -> None:
        files = self.mappings()
        i = self.query_one("#files-table", DataTable).cursor_row
        if 0 <= i < len(files):
            del files[i]
            self._store(files)


class SourceForm(StepForm):
    step = "source"
    heading = "Source — the files that go into the image"

    def sections(self) -> ComposeResult:
        yield SourceSection(id="source-section")
        yield FilesSection(id="files-section")

    def show_scan(self) -> None:
        self.query_one(SourceSection).show_scan()

    def show_analysis(self, analysis: Analysis) -> None:
        super().show_analysis(analysis)

