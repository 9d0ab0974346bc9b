"""ZFS step (only when a partition is a ZFS pool): the pool's settings as keys and values.

The pool model belongs to core's ZFS support; until it has its own form this
edits `partition.zfs` generically, each value written as a TOML literal.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Label, Static

from tui.screens.base import Section, StepForm
from tui.screens.filesystem import PartPicker


def toml_literal(value: Any) -> str:
    """A value as it would appear on the right of `key = ` in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_literal(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return str(value)


def parse_literal(text: str) -> tuple[Any, str | None]:
    """TOML literal → value; bare words are taken as text (with a note)."""
    try:
        return tomllib.loads(f"v = {text}")["v"], None
    except tomllib.TOMLDecodeError:
        if text and "\n" not in text:
            return text, f'taken as the text "{text}" (quote text to be explicit)'
        return None, "not a TOML value; write text in quotes, numbers, true/false or { k = v }"


class ZfsSection(Section):
    def signature(self) -> Any:
        return self.wiz.selected

    @property
    def path(self) -> tuple[Any, ...]:
        d, p = self.wiz.selected
        return ("disks", d, "partitions", p, "zfs")

    def pool(self) -> dict[str, Any]:
        value = self.draft.get(self.path)
        return dict(value) if isinstance(value, dict) else {}

    def build(self) -> ComposeResult:
        d, p = self.wiz.selected
        if self.draft.get(("disks", d, "partitions", p, "role")) != "zfs":
            yield Static("  Pick a zfs partition above.", classes="dim")
            return
        yield Label("Pool settings", classes="section-title")
        table: DataTable[str] = DataTable(id="zfs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("key", "value (TOML)")
        yield table
        with Horizontal(classes="row"):
            yield Label("  Key", classes="flabel")
            yield Input(placeholder="e.g. pool", id="zfs-key", compact=True, classes="control")
        with Horizontal(classes="row"):
            yield Label("  Value", classes="flabel")
            yield Input(placeholder='e.g. "rpool", 4096, true, { compression = "zstd" }',
                        id="zfs-value", compact=True, classes="control")
        yield Static("", id="zfs-note", classes="note")
        with Horizontal(classes="buttons"):
            yield Button("Set", id="zfs-set", compact=True, variant="primary")
            yield Button("− Remove key", id="zfs-remove", compact=True)

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = not getattr(self.app, "frozen", False)
        self.load_values()

    def load_values(self) -> None:
        found = self.query("#zfs-table")
        if not found:
            return
        table = found.first(DataTable)
        with table.prevent(DataTable.RowHighlighted):
            table.clear()
            for k, v in self.pool().items():
                table.add_row(str(k), toml_literal(v), key=str(k))
        self.query_one("#zfs-note", Static).display = False

    @on(DataTable.RowHighlighted, "#zfs-table")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if key is None:
            return
        self.query_one("#zfs-key", Input).value = key
        self.query_one("#zfs-value", Input).value = toml_literal(self.pool().get(key))

    @on(Input.Submitted, "#zfs-value")
    @on(Button.Pressed, "#zfs-set")
    async def _set(self) -> None:
        key = self.query_one("#zfs-key", Input).value.strip()
        note = self.query_one("#zfs-note", Static)
        if not key:
            note.update(Text("✗ give the key a name", style="red"))
            note.display = True
            return
        value, msg = parse_literal(self.query_one("#zfs-value", Input).value.strip())
        if value is None:
            note.update(Text(f"✗ {msg}", style="red"))
            note.display = True
            return
        pool = self.pool()
        pool[key] = value
        await self.wiz.edit(self.path, pool)
        self.load_values()
        if msg:
            note.update(Text(f"⚠ {msg}", style="yellow"))
            note.display = True

    @on(Button.Pressed, "#zfs-remove")
    async def _remove(self) -> None:
        key = self.query_one("#zfs-key", Input).value.strip()
        pool = self.pool()
        if key in pool:
            del pool[key]
            await self.wiz.edit(self.path, pool)
            self.load_values()


class ZfsForm(StepForm):
    step = "zfs"
    heading = "ZFS — the pool's settings"

    def sections(self) -> ComposeResult:
        yield PartPicker(id="zfs-picker", only="zfs")
        yield ZfsSection(id="zfs-section")
