"""ZFS step (only when a partition is a ZFS pool): the pool's settings, in groups.

Pool and file system properties are open-ended maps, so each group is a
key/value table (values as TOML literals); what a key means and which values
it takes come from core's OpenZFS property catalog, and the profile model
checks every value as it is set.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from ..widgets import Entry
from .base import Section, StepForm
from .filesystem import PartPicker


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


GROUPS: dict[str, str] = {
    "settings": "Pool name, helper VM",
    "pool_properties": "Pool properties (-o)",
    "filesystem_properties": "File system properties (-O)",
    "datasets": "Datasets",
    "volumes": "Volumes",
}
GROUP_HELP: dict[str, str] = {
    "settings": "pool (its name), vm_timeout (seconds), vm_memory (MiB)",
    "pool_properties": 'zpool create -o: e.g. ashift = 12, autotrim = "on"',
    "filesystem_properties": "zpool create -O, inherited by every dataset: e.g. "
    'compression = "lz4"',
    "datasets": 'by full name: tank/home = { mount_point = "/home", properties = { … } }',
    "volumes": 'by full name: tank/swap = { size = "1GiB" }',
}
SETTINGS = ("pool", "vm_timeout", "vm_memory")


def about(group: str, key: str) -> str:
    """One line on what a key means and which values it takes, from core's catalog."""
    from ...core.zfs.model import ZfsPool
    from ...core.zfs.props import FS_PROPERTIES, POOL_PROPERTIES, is_user_property

    if group == "settings":
        field = ZfsPool.model_fields.get(key)
        if field is None:
            return "unknown setting: pool, vm_timeout or vm_memory"
        return field.description or ""
    if group in ("datasets", "volumes"):
        return "full name inside the pool, e.g. tank/home; parents are made first"
    catalog = POOL_PROPERTIES if group == "pool_properties" else FS_PROPERTIES
    prop = catalog.get(key)
    if prop is None:
        if group == "filesystem_properties" and is_user_property(key):
            return "a user property (module:name): any text"
        return "not a known property of this kind" if key else ""
    text = prop.description
    if prop.values:
        shown = ", ".join(prop.values[:10]) + (", …" if len(prop.values) > 10 else "")
        text += (" — one of " if prop.closed else " — e.g. ") + shown
    if prop.default is not None:
        text += f" (default {prop.default})"
    return text


def summary(pool: dict[str, Any]) -> str:
    """The whole pool on one line, so every group's contents show at a glance."""

    def count(key: str, what: str) -> str:
        n = len(pool.get(key) or {})
        return f"{n} {what}{'' if n == 1 else 's'}"

    sets = pool.get("datasets") or {}
    mounts = ", ".join(
        f"{name} at {d.get('mount_point') or (d.get('properties') or {}).get('mountpoint', '—')}"
        for name, d in list(sets.items())[:4]
        if isinstance(d, dict)
    )
    return (
        f"  pool {pool.get('pool', 'rpool')} · {count('pool_properties', 'pool property')}"
        f" · {count('filesystem_properties', 'file system property')}"
        f" · {count('datasets', 'dataset')}{': ' + mounts if mounts else ''}"
        f" · {count('volumes', 'volume')}"
    ).replace("propertys", "properties")


class ZfsSection(Section):
    """The pool's settings in groups, each key explained from core's property catalog."""

    group = "settings"

    def signature(self) -> Any:
        return self.wiz.selected

    @property
    def path(self) -> tuple[Any, ...]:
        d, p = self.wiz.selected
        return ("disks", d, "partitions", p, "zfs")

    def pool(self) -> dict[str, Any]:
        value = self.draft.get(self.path)
        return dict(value) if isinstance(value, dict) else {}

    def items(self) -> list[tuple[str, Any]]:
        pool = self.pool()
        if self.group == "settings":
            return [(k, pool[k]) for k in SETTINGS if k in pool]
        inner = pool.get(self.group)
        return list(inner.items()) if isinstance(inner, dict) else []

    def build(self) -> ComposeResult:
        d, p = self.wiz.selected
        if self.draft.get(("disks", d, "partitions", p, "role")) != "zfs":
            yield Static("  Pick a zfs partition above.", classes="dim")
            return
        yield Static("", id="zfs-summary", classes="note")
        with Horizontal(classes="row"):
            yield Label("  Edit", classes="flabel")
            yield Select(
                [(label, key) for key, label in GROUPS.items()],
                value=self.group,
                allow_blank=False,
                id="zfs-group",
                compact=True,
                classes="control",
            )
        table: DataTable[str] = DataTable(id="zfs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("key", "value (TOML)", "what it is")
        yield table
        with Horizontal(classes="row"):
            yield Label("  Key", classes="flabel")
            yield Entry(
                placeholder="e.g. compression", id="zfs-key", compact=True, classes="control"
            )
        yield Static("", id="zfs-help", classes="note")
        with Horizontal(classes="row"):
            yield Label("  Value", classes="flabel")
            yield Entry(
                placeholder='e.g. "lz4", 12, true, { mount_point = "/" }',
                id="zfs-value",
                compact=True,
                classes="control",
            )
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
            for k, v in self.items():
                short = about(self.group, str(k)).split(" — ")[0].split(":")[0]
                short = short if len(short) <= 34 else short[:33] + "…"
                table.add_row(str(k), toml_literal(v), short, key=str(k))
        self.query_one("#zfs-note", Static).display = False
        self._help(self.query_one("#zfs-key", Input).value.strip())
        self.query_one("#zfs-summary", Static).update(Text(summary(self.pool()), style="dim"))

    def _help(self, key: str) -> None:
        help_ = self.query_one("#zfs-help", Static)
        text = about(self.group, key) if key else GROUP_HELP[self.group]
        help_.update(Text(f"  {text}", style="dim"))

    @on(Select.Changed, "#zfs-group")
    def _group(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str) and event.value != self.group:
            self.group = event.value
            self.query_one("#zfs-key", Input).value = ""
            self.query_one("#zfs-value", Input).value = ""
            self.load_values()

    @on(Input.Changed, "#zfs-key")
    def _key_typed(self, event: Input.Changed) -> None:
        event.stop()
        self._help(event.value.strip())

    @on(DataTable.RowHighlighted, "#zfs-table")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if key is None:
            return
        self.query_one("#zfs-key", Input).value = key
        self.query_one("#zfs-value", Input).value = toml_literal(dict(self.items()).get(key))

    def _store(self, pool: dict[str, Any], key: str, value: Any | None) -> None:
        if self.group == "settings":
            target = pool
        else:
            target = dict(pool.get(self.group) or {})
            pool[self.group] = target
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
        if self.group != "settings" and not target:
            pool.pop(self.group, None)

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
        self._store(pool, key, value)
        await self.wiz.edit(self.path, pool)
        self.load_values()
        if msg:
            note.update(Text(f"⚠ {msg}", style="yellow"))
            note.display = True

    @on(Button.Pressed, "#zfs-remove")
    async def _remove(self) -> None:
        key = self.query_one("#zfs-key", Input).value.strip()
        pool = self.pool()
        if key in dict(self.items()):
            self._store(pool, key, None)
            await self.wiz.edit(self.path, pool)
            self.load_values()


class ZfsForm(StepForm):
    step = "zfs"
    heading = "ZFS — the pool's settings"

    def sections(self) -> ComposeResult:
        yield PartPicker(id="zfs-picker", only="zfs")
        yield ZfsSection(id="zfs-section")
