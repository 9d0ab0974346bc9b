"""Layout step: disks, their partition tables, and the partitions (add, remove, reorder)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Label, Select, Static

from .. import messages as msg
from ..model import ROLE_HELP, TABLE_HELP, Analysis
from ..widgets import (
    BoolField,
    ChoiceField,
    DiskBarRenderable,
    Field,
    TextField,
    legend_table,
)
from .base import Section, StepForm

ROLES = ("root", "esp", "data", "store", "swap", "bios-boot", "zfs")


class DiskSection(Section):
    """Which disk, its name and its partition table; add or remove disks."""

    def signature(self) -> Any:
        return (len(self.draft.disks), self.wiz.selected[0],
                tuple(d.get("name") for d in self.draft.disks))

    def build(self) -> ComposeResult:
        d = self.wiz.selected[0]
        n = len(self.draft.disks)
        if n > 1:
            with Horizontal(classes="row picker"):
                yield Label("  Disk", classes="flabel")
                yield Select([(f"{i + 1}: {disk.get('name')} → "
                               f"{(disk.get('output') or {}).get('path', '')}", i)
                              for i, disk in enumerate(self.draft.disks)],
                             value=d, allow_blank=False, compact=True, id="disk-select",
                             classes="control")
        base = ("disks", d)
        yield TextField((*base, "name"), "Disk name", self.draft.get((*base, "name")),
                        help="")
        yield ChoiceField((*base, "table"), "Table",
                          [(t, t) for t in ("gpt", "mbr", "none", "hybrid")],
                          self.draft.get((*base, "table"), "gpt"), explain=TABLE_HELP)
        with Horizontal(classes="field-buttons"):
            yield Button("+ Add a disk", id="disk-add", compact=True)
            yield Button("− Remove this disk", id="disk-remove", compact=True, disabled=n < 2)

    @on(Select.Changed, "#disk-select")
    def _disk(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, int) and event.value != self.wiz.selected[0]:
            self.post_message(msg.Select(event.value, 0))

    @on(Button.Pressed, "#disk-add")
    def _add(self) -> None:
        self.post_message(msg.AddDisk())

    @on(Button.Pressed, "#disk-remove")
    def _remove(self) -> None:
        self.post_message(msg.RemoveDisk())

    def on_field_edited(self, event: Field.Edited) -> None:
        if event.path[-1] == "table":
            event.stop()
            self.post_message(msg.Edit(event.path, event.value, structural=True))


class PartsSection(Section):
    """The partitions of the selected disk as a table, with the bar picture."""

    shows_titles = True

    def signature(self) -> Any:
        return self.wiz.selected[0]

    def build(self) -> ComposeResult:
        yield Static("", id="layout-bar")
        table: DataTable[str] = DataTable(id="parts-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", "role", "filesystem", "size", "label", "mount point")
        yield table
        with Horizontal(classes="buttons"):
            yield Button("+ Add", id="part-add", compact=True)
            yield Button("− Remove", id="part-remove", compact=True)
            yield Button("▲ Up", id="part-up", compact=True)
            yield Button("▼ Down", id="part-down", compact=True)
        self._rows: list[tuple[str, ...]] = []

    def on_mount(self) -> None:
        self.load_values()

    def rows(self) -> list[tuple[str, ...]]:
        d = self.wiz.selected[0]
        out: list[tuple[str, ...]] = []
        for i, part in enumerate(self.draft.parts(d)):
            out.append((
                str(i + 1), str(part.get("role", "")), str(part.get("filesystem", "")),
                str(part.get("size", "auto")), str(part.get("label") or "—"),
                "(empty)" if part.get("empty") else str(
                    part.get("mount_point") or part.get("contents") or "—"),
            ))
        return out

    def load_values(self) -> None:
        rows = self.rows()
        table = self.query_one("#parts-table", DataTable)
        p = self.wiz.selected[1]
        with table.prevent(DataTable.RowHighlighted):  # our own moves are not selections
            if rows != self._rows:
                self._rows = rows
                table.clear()
                for r in rows:
                    table.add_row(*r)
            if rows and table.cursor_row != p:
                table.move_cursor(row=min(p, len(rows) - 1))
        d = self.wiz.selected[0]
        table_kind = self.draft.get(("disks", d, "table"))
        n = len(rows)
        full = table_kind == "none" or (table_kind == "mbr" and n >= 4) or (
            table_kind == "hybrid" and n >= 3)
        add = self.query_one("#part-add", Button)
        add.disabled = full
        add.tooltip = "this table holds no more partitions" if full else None
        self.query_one("#part-remove", Button).disabled = n < 2
        self.query_one("#part-up", Button).disabled = p == 0
        self.query_one("#part-down", Button).disabled = p >= n - 1

    def show_analysis(self, analysis: Analysis) -> None:
        self.load_values()
        bar = self.query_one("#layout-bar", Static)
        d = self.wiz.selected[0]
        src = analysis if analysis.estimate is not None else self.wiz.last_good
        if src is None or src.estimate is None or d >= len(src.estimate.disks):
            bar.update(Text("  (the disk picture appears once the profile is valid)", style="dim"))
            return
        disk = src.estimate.disks[d]
        if len(disk.parts) != len(self.draft.parts(d)):
            return
        bar.update(Group(
            Text(f"disk {disk.name}: {disk.table}, {_size(disk.disk_bytes)}", style="bold"),
            DiskBarRenderable(disk, highlight=self.wiz.selected[1]),
            legend_table(disk),
        ))

    @on(DataTable.RowHighlighted, "#parts-table")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        d, p = self.wiz.selected
        if event.cursor_row != p and 0 <= event.cursor_row < len(self.draft.parts(d)):
            self.post_message(msg.Select(d, event.cursor_row))

    @on(Button.Pressed, "#part-add")
    def _add(self) -> None:
        self.post_message(msg.AddPartition())

    @on(Button.Pressed, "#part-remove")
    def _remove(self) -> None:
        self.post_message(msg.RemovePartition())

    @on(Button.Pressed, "#part-up")
    def _up(self) -> None:
        self.post_message(msg.MovePartition(-1))

    @on(Button.Pressed, "#part-down")
    def _down(self) -> None:
        self.post_message(msg.MovePartition(1))


class PartEditor(Section):
    """Role, contents, size and label of the selected partition."""

    def signature(self) -> Any:
        d, p = self.wiz.selected
        return (d, p, self.draft.get(("disks", d, "table")), len(self.draft.parts(d)))

    def build(self) -> ComposeResult:
        d, p = self.wiz.selected
        if p >= len(self.draft.parts(d)):
            return
        b: tuple[Any, ...] = ("disks", d, "partitions", p)
        get = self.draft.get
        yield Label(f"Partition #{p + 1}", classes="section-title")
        yield ChoiceField((*b, "role"), "Role", [(r, r) for r in ROLES],
                          get((*b, "role"), "data"), explain=ROLE_HELP)
        yield TextField((*b, "mount_point"), "Mount point", get((*b, "mount_point")),
                        optional=True, placeholder="e.g. / or /boot; empty = not mounted",
                        help="it receives this part of the source tree")
        yield TextField((*b, "contents"), "Contents", get((*b, "contents")), optional=True,
                        placeholder="same as the mount point",
                        help="another subtree of the source, e.g. /nix/store")
        # the tick's own text is one line (80 columns cut it to "whatever the moun…"):
        # short beside the tick, the rest as the field's help below
        yield BoolField((*b, "empty"), "Empty", get((*b, "empty")), text="make it empty",
                        help="no files from the source, whatever the mount point")
        yield TextField((*b, "size"), "Size", get((*b, "size"), "auto"),
                        help="auto = files + headroom; or fixed, e.g. 512MiB")
        yield TextField((*b, "label"), "Label", get((*b, "label")), optional=True,
                        placeholder="no label")
        if get(("disks", d, "table")) in ("gpt", "hybrid"):
            yield TextField((*b, "name"), "GPT name", get((*b, "name")), optional=True,
                            placeholder="derived from the role")

    def on_field_edited(self, event: Field.Edited) -> None:
        if event.path[-1] != "role":
            return
        event.stop()
        d, p = self.wiz.selected
        self.post_message(msg.SetRole(d, p, str(event.value)))  # and the filesystem it needs


class LayoutForm(StepForm):
    step = "layout"
    heading = "Layout — partition tables and partitions"

    def sections(self) -> ComposeResult:
        yield DiskSection(id="disk-section")
        yield PartsSection(id="parts-section")
        yield PartEditor(id="part-editor")


def _size(n: int) -> str:
    from ...core.units import format_size

    return format_size(n)
