"""ZFS step (only when a partition is a ZFS pool): the pool as a dataset tree.

The tree shows the pool's settings, its root file system and every dataset and
volume by path; picking one lists its properties the way `zfs get` does — set
here, inherited from a parent, or OpenZFS' default — so inheritance is visible
instead of guessed. Values are set from a picker over core's OpenZFS catalog.
Every edit is one of core/zfs/edit.py's (which carry children and bootfs along)
and goes into the draft; the profile model judges the result, as everywhere.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, OptionList, Static, Tree
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode

from ...core.zfs import edit as zedit
from ...core.zfs.props import FS_PROPERTIES, POOL_PROPERTIES
from ..messages import Edit
from ..widgets import Entry
from ..zfswords import (
    POOL_NODE,
    about,
    add_words,
    heading,
    remove_words,
    rename_words,
    values_text,
)
from .base import Section, StepForm
from .filesystem import PartPicker


class NameModal(ModalScreen[str | None]):
    """Ask for a dataset's full name; `check` says what is wrong with it, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, initial: str, hint: str, check: Any) -> None:
        super().__init__(classes="dialog")
        self.title_text, self.initial, self.hint, self.check = title, initial, hint, check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.hint, classes="dialog-message dim", markup=False)
            yield Entry(self.initial, id="name-input", compact=True)
            yield Static("", id="name-note", classes="note error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="name-ok", variant="primary", compact=True)
                yield Button("Cancel", id="name-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name-input", Entry).focus_at_end()

    @on(Input.Submitted)
    @on(Button.Pressed, "#name-ok")
    def _ok(self) -> None:
        name = self.query_one("#name-input", Input).value.strip()
        problem = self.check(name)
        if problem:
            self.query_one("#name-note", Static).update(f"✗ {problem}")
            return
        self.dismiss(name)

    @on(Button.Pressed, "#name-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class PropertyPicker(ModalScreen[str | None]):
    """Every property OpenZFS has for this kind of dataset: type to narrow, Enter to pick."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, node: str | None, kind: str) -> None:
        super().__init__(classes="dialog")
        self.node = node
        if node == POOL_NODE:
            self.catalog = dict(POOL_PROPERTIES)
            self.extra = list(zedit.SETTINGS)
        else:
            target = "volume" if kind == "volume" else "filesystem"
            self.catalog = {k: p for k, p in FS_PROPERTIES.items() if target in p.targets}
            self.extra = ["size", "sparse"] if kind == "volume" else ["mount_point"]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box wide picker-box"):
            yield Label("Pick a property", classes="dialog-title")
            yield Entry(placeholder="type to narrow, e.g. comp", id="pick-filter", compact=True)
            yield OptionList(id="pick-list")
            yield Static("", id="pick-help", classes="dim")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Pick", id="pick-ok", variant="primary", compact=True)
                yield Button("Cancel", id="pick-cancel", compact=True)

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#pick-filter", Entry).focus()

    def _names(self, text: str) -> list[str]:
        names = [*self.extra, *sorted(self.catalog)]
        text = text.strip().lower()
        if not text:
            return names
        first = [n for n in names if n.startswith(text)]
        return first + [n for n in names if text in n and n not in first]

    def _fill(self, text: str) -> None:
        options = self.query_one("#pick-list", OptionList)
        options.clear_options()
        for name in self._names(text):
            prop = self.catalog.get(name)
            line = Text(f"{name:<22}", style="bold")
            if prop is not None:
                values = values_text(prop, 5)
                line.append(f"{values}" + (f" · default {prop.default}" if prop.default else ""),
                            style="dim")  # fmt: skip
            else:
                line.append(about(self.node, name), style="dim")
            line.truncate(84, overflow="ellipsis")
            options.add_option(Option(line, id=name))
        if options.option_count:
            options.highlighted = 0
        self._help()

    def _help(self) -> None:
        options = self.query_one("#pick-list", OptionList)
        index = options.highlighted
        name = options.get_option_at_index(index).id if index is not None else None
        self.query_one("#pick-help", Static).update(
            Text(about(self.node, name) if name else "no property has that in its name"))

    @on(Input.Changed, "#pick-filter")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._fill(event.value)

    @on(OptionList.OptionHighlighted)
    def _moved(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._help()

    def on_key(self, event: Any) -> None:
        # arrows move the list while the filter keeps the keyboard
        if event.key in ("down", "up") and self.focused is self.query_one("#pick-filter"):
            options = self.query_one("#pick-list", OptionList)
            options.action_cursor_down() if event.key == "down" else options.action_cursor_up()
            event.stop()

    @on(OptionList.OptionSelected)
    @on(Input.Submitted, "#pick-filter")
    @on(Button.Pressed, "#pick-ok")
    def _pick(self, event: Any) -> None:
        event.stop()
        options = self.query_one("#pick-list", OptionList)
        index = options.highlighted
        if index is not None:
            self.dismiss(options.get_option_at_index(index).id)

    @on(Button.Pressed, "#pick-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class DatasetTree(Tree[str]):
    """The pool's datasets by path; a, v, r and Delete edit the highlighted one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "section('add')", "Add dataset"),
        Binding("v", "section('add_volume')", "Add volume"),
        Binding("r", "section('rename')", "Rename"),
        Binding("delete", "section('remove')", "Remove"),
    ]

    def action_section(self, what: str) -> None:
        section = next(a for a in self.ancestors if isinstance(a, ZfsSection))
        getattr(section, f"do_{what}")()


class ZfsSection(Section):
    """The dataset tree and the highlighted dataset's properties, as `zfs get` shows them."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.current: str | None = None  # a dataset name, POOL_NODE, or None before the first
        self._show: str | None = None  # the property to fill in once the app stored an edit

    @property
    def path(self) -> tuple[Any, ...]:
        d, p = self.wiz.selected
        return ("disks", d, "partitions", p, "zfs")

    def pool(self) -> dict[str, Any]:
        value = self.draft.get(self.path)
        return dict(value) if isinstance(value, dict) else {}

    def signature(self) -> Any:
        pool = self.pool()
        return (self.wiz.selected, tuple((e.name, e.kind) for e in zedit.entries(pool)))

    def node(self) -> str:
        """The highlighted dataset, kept valid as the tree changes (the root by default)."""
        pool = self.pool()
        names = [e.name for e in zedit.entries(pool)]
        if self.current != POOL_NODE and self.current not in names:
            self.current = zedit.pool_name(pool)
        assert self.current is not None
        return self.current

    def build(self) -> ComposeResult:
        d, p = self.wiz.selected
        if self.draft.get(("disks", d, "partitions", p, "role")) != "zfs":
            yield Static("  Pick a zfs partition above.", classes="dim")
            return
        pool = self.pool()
        current = self.node()
        yield Static("", id="zfs-summary", classes="dim")
        tree: DatasetTree = DatasetTree("pool", id="zfs-tree")
        tree.show_root = False
        tree.guide_depth = 2
        nodes: dict[str, TreeNode[str]] = {}
        pool_node = tree.root.add_leaf(self._label(pool, POOL_NODE), data=POOL_NODE)
        entries = zedit.entries(pool)
        parents = {e.parent for e in entries}
        for e in entries:
            parent = nodes.get(e.parent or "", tree.root)
            label = self._label(pool, e.name)
            if e.name not in parents:
                nodes[e.name] = parent.add_leaf(label, data=e.name)
            else:
                nodes[e.name] = parent.add(label, data=e.name, expand=True)
        yield tree
        with Horizontal(classes="buttons zfs-tree-buttons"):
            yield Button("+ Dataset", id="zfs-add", compact=True)
            yield Button("+ Volume", id="zfs-add-volume", compact=True)
            yield Button("Rename", id="zfs-rename", compact=True)
            yield Button("− Remove", id="zfs-remove", compact=True)
        yield Static("", id="zfs-heading", classes="subheading")
        table: DataTable[str] = DataTable(id="zfs-table", cursor_type="row", zebra_stripes=True)
        yield table
        with Horizontal(classes="row"):
            yield Label("  Property", classes="flabel")
            yield Entry(placeholder="e.g. compression", id="zfs-key", compact=True,
                        classes="control")  # fmt: skip
            yield Button("Pick…", id="zfs-pick", compact=True)
        yield Static("", id="zfs-help", classes="note dim")
        with Horizontal(classes="row"):
            yield Label("  Value", classes="flabel")
            yield Entry(placeholder="e.g. lz4, 12, on, /home", id="zfs-value", compact=True,
                        classes="control")  # fmt: skip
        yield Static("", id="zfs-note", classes="note")
        with Horizontal(classes="buttons"):
            yield Button("Set", id="zfs-set", compact=True, variant="primary")
            yield Button("Inherit / default", id="zfs-unset", compact=True)
        self._pending_cursor = nodes.get(current, pool_node)

    def _label(self, pool: dict[str, Any], name: str) -> Text:
        if name == POOL_NODE:
            return Text.assemble(("⚙ pool ", "bold"), zedit.pool_name(pool),
                                 (" · name, zpool create -o", "dim"))  # fmt: skip
        kind = zedit.kind_of(pool, name)
        leaf = name.rsplit("/", 1)[-1]
        if kind == "volume":
            vol = (pool.get("volumes") or {}).get(name) or {}
            return Text.assemble(leaf, (f"  volume {vol.get('size', '?')}", "dim"))
        mp = zedit.lookup(pool, name, "mountpoint").value
        legacy = ((pool.get("datasets") or {}).get(name) or {}).get("mount_point")
        where = f"at {legacy}" if isinstance(legacy, str) else (
            "legacy, not mounted" if mp == "legacy" else f"zfs mounts at {mp}")  # fmt: skip
        implicit = name not in (pool.get("datasets") or {}) and kind != "root"
        where += " · made as a parent" if implicit else ""
        return Text.assemble((leaf, "bold" if kind == "root" else ""), (f"  {where}", "dim"))

    def on_mount(self) -> None:
        self.load_values()
        found = self.query("#zfs-tree")
        if found and getattr(self, "_pending_cursor", None) is not None:
            tree = found.first(DatasetTree)
            tree.move_cursor(self._pending_cursor, animate=False)

    async def recompose(self) -> None:
        await super().recompose()
        self.on_mount()

    def load_values(self) -> None:
        found = self.query("#zfs-table")
        if not found:
            return
        pool = self.pool()
        node = self.node()
        tree = self.query_one("#zfs-tree", DatasetTree)
        for tnode in [tree.root, *self._walk(tree.root)]:
            if tnode.data is not None and tnode is not tree.root:
                tnode.set_label(self._label(pool, tnode.data))
        table = found.first(DataTable)
        rows = zedit.pool_rows(pool) if node == POOL_NODE else zedit.rows(pool, node)
        keep = table.cursor_row
        widths = self._widths(rows, table.size.width or self.size.width or 56)
        with table.prevent(DataTable.RowHighlighted):
            table.clear(columns=True)
            for title, width in zip(("property", "value", "source"), widths, strict=True):
                table.add_column(title, width=width, key=title)
            for r in rows:
                style = {"local": "bold", "inherited": "", "default": "dim", "unset": "dim"}
                cells = (
                    Text(r.key, style=style[r.source]),
                    Text(r.value if r.value is not None else "—", style=style[r.source]),
                    Text(r.source_text, style="italic" if r.source == "inherited" else "dim"),
                )
                for cell, width in zip(cells, widths, strict=True):
                    cell.truncate(width, overflow="ellipsis")
                table.add_row(*cells, key=r.key)
            if rows:
                table.move_cursor(row=min(keep, len(rows) - 1), animate=False)
        kind = zedit.kind_of(pool, node)
        self.query_one("#zfs-heading", Static).update(Text(heading(pool, node), style="bold"))
        self.query_one("#zfs-summary", Static).update(Text(self._summary(pool), style="dim"))
        self.query_one("#zfs-note", Static).display = False
        self._help()
        for bid in ("#zfs-rename", "#zfs-remove"):
            self.query_one(bid, Button).disabled = node == POOL_NODE or (
                bid == "#zfs-remove" and kind == "root")  # fmt: skip
        self.query_one("#zfs-add", Button).disabled = kind == "volume"
        self.query_one("#zfs-add-volume", Button).disabled = kind == "volume"

    @staticmethod
    def _widths(rows: list[zedit.Row], total: int) -> tuple[int, int, int]:
        """Column widths that keep the source column whole ("inherited from tank/…"):
        names and values give way first, cut with an ellipsis."""
        room = max(total - 8, 36)  # cell padding and the scrollbar
        key = max([len("property"), *(len(r.key) for r in rows)])
        value = max([len("value"), *(len(r.value or "—") for r in rows)])
        source = max([len("source"), *(len(r.source_text) for r in rows)])
        key, value = min(key, 18), min(value, 14)
        while key + value + source > room and (key > 12 or value > 8):
            if key > 12:
                key -= 1
            else:
                value -= 1
        return key, value, max(min(source, room - key - value), 6)

    def on_resize(self, event: Any) -> None:
        if event.size.width != getattr(self, "_width", None):
            self._width = event.size.width
            self.load_values()

    @staticmethod
    def _walk(node: TreeNode[str]) -> list[TreeNode[str]]:
        out: list[TreeNode[str]] = []
        for child in node.children:
            out += [child, *ZfsSection._walk(child)]
        return out

    @staticmethod
    def _summary(pool: dict[str, Any]) -> str:
        entries = zedit.entries(pool)
        n_ds = sum(1 for e in entries if e.kind == "filesystem")
        n_vol = sum(1 for e in entries if e.kind == "volume")
        plural = lambda n, w: f"{n} {w}{'' if n == 1 else 's'}"  # noqa: E731
        return f"  {plural(n_ds, 'dataset')} · {plural(n_vol, 'volume')} · F1: the keys"

    def _help(self) -> None:
        key = self.query_one("#zfs-key", Input).value.strip()
        help_ = self.query_one("#zfs-help", Static)
        help_.update(Text(about(self.node(), key)))

    def _note(self, text: str, style: str = "red") -> None:
        note = self.query_one("#zfs-note", Static)
        note.update(Text(text, style=style))
        note.display = True

    def _store(self, pool: dict[str, Any], *, show: str | None = None) -> None:
        """The pool as it is to be; the app stores it and resyncs the forms (this tree too),
        then `show`'s value fills the property fields."""
        self._show = show
        self.post_message(Edit(self.path, pool, structural=True))

    async def sync(self) -> None:
        await super().sync()
        show, self._show = self._show, None
        if show is not None:
            self._row_values(show)

    # ------------------------------------------------------------- events

    @on(Tree.NodeHighlighted, "#zfs-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        event.stop()
        if event.node.data is not None and event.node.data != self.current:
            self.current = event.node.data
            self.query_one("#zfs-key", Input).value = ""
            self.query_one("#zfs-value", Input).value = ""
            self.query_one("#zfs-table", DataTable).move_cursor(row=0, animate=False)
            self.load_values()

    @on(Tree.NodeSelected, "#zfs-tree")
    def _selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        self.query_one("#zfs-table", DataTable).focus()

    @on(Input.Changed, "#zfs-key")
    def _key_typed(self, event: Input.Changed) -> None:
        event.stop()
        self._help()

    def _row_values(self, key: str) -> None:
        pool = self.pool()
        node = self.node()
        rows = zedit.pool_rows(pool) if node == POOL_NODE else zedit.rows(pool, node)
        row = next((r for r in rows if r.key == key), None)
        self.query_one("#zfs-key", Input).value = key
        value = self.query_one("#zfs-value", Input)
        value.value = row.value if row is not None and row.value is not None else ""
        value.cursor_position = len(value.value)

    @on(DataTable.RowHighlighted, "#zfs-table")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None and self.query_one("#zfs-table").has_focus:
            self._row_values(event.row_key.value)

    @on(DataTable.RowSelected, "#zfs-table")
    def _row_enter(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._row_values(event.row_key.value)
            self.query_one("#zfs-value", Input).focus()

    @on(Button.Pressed, "#zfs-pick")
    def _pick(self) -> None:
        node = self.node()
        kind = zedit.kind_of(self.pool(), node) or "filesystem"

        def picked(name: str | None) -> None:
            if name:
                self._row_values(name)
                self.query_one("#zfs-value", Input).focus()

        self.app.push_screen(PropertyPicker(node, kind), picked)

    @on(Input.Submitted, "#zfs-key")
    def _key_done(self) -> None:
        self.query_one("#zfs-value", Input).focus()

    @on(Input.Submitted, "#zfs-value")
    @on(Button.Pressed, "#zfs-set")
    def _set(self) -> None:
        key = self.query_one("#zfs-key", Input).value.strip()
        if not key:
            self._note("✗ name the property first (Pick… lists them)")
            return
        text = self.query_one("#zfs-value", Input).value
        if not text.strip():
            self._note("✗ give a value, or press Inherit / default to unset it")
            return
        self._apply(key, zedit.value_from_text(text))

    @on(Button.Pressed, "#zfs-unset")
    def _unset(self) -> None:
        key = self.query_one("#zfs-key", Input).value.strip()
        if key == "pool":
            self._note("✗ the pool needs a name; type a new one and Set")
            return
        if key:
            self._apply(key, None)

    def _apply(self, key: str, value: Any) -> None:
        node = self.node()
        try:
            pool = zedit.set_value(self.pool(), None if node == POOL_NODE else node, key, value)
        except ValueError as err:
            self._note(f"✗ {err}")
            return
        self._store(pool, show=key)

    @on(Button.Pressed, "#zfs-add")
    def do_add(self) -> None:
        self._add(volume=False)

    @on(Button.Pressed, "#zfs-add-volume")
    def do_add_volume(self) -> None:
        self._add(volume=True)

    def _add(self, *, volume: bool) -> None:
        pool = self.pool()
        node = self.node()
        if zedit.kind_of(pool, node) == "volume":
            return
        parent = zedit.pool_name(pool) if node == POOL_NODE else node

        def check(name: str) -> str | None:
            try:
                zedit.add(pool, name, volume=volume)
            except ValueError as err:
                return str(err)
            return None

        def done(name: str | None) -> None:
            if name:
                self.current = name
                self._store(zedit.add(self.pool(), name, volume=volume))

        title, hint = add_words(parent, volume=volume)
        self.app.push_screen(NameModal(title, parent + "/", hint, check), done)

    @on(Button.Pressed, "#zfs-rename")
    def do_rename(self) -> None:
        pool = self.pool()
        node = self.node()
        if node == POOL_NODE:
            return
        root = node == zedit.pool_name(pool)

        def check(name: str) -> str | None:
            try:
                zedit.rename(pool, node, name)
            except ValueError as err:
                return str(err)
            return None

        def done(name: str | None) -> None:
            if name and name != node:
                self.current = name
                self._store(zedit.rename(self.pool(), node, name))

        hint = rename_words(node, root=root)
        self.app.push_screen(NameModal(f"Rename {node}", node, hint, check), done)

    @on(Button.Pressed, "#zfs-remove")
    def do_remove(self) -> None:
        from ..dialogs import ConfirmModal

        pool = self.pool()
        node = self.node()
        if node == POOL_NODE or node == zedit.pool_name(pool):
            return
        message = remove_words(node, zedit.subtree(pool, node))

        def answered(answer: str | None) -> None:
            if answer == "yes":
                self.current = node.rsplit("/", 1)[0]
                self._store(zedit.remove(self.pool(), node))

        answers = [("Remove", "yes", "error"), ("Cancel", "no", "default")]
        self.app.push_screen(ConfirmModal("Remove the dataset?", message, answers), answered)


class ZfsForm(StepForm):
    step = "zfs"
    heading = "ZFS — the pool's datasets"

    def sections(self) -> ComposeResult:
        yield PartPicker(id="zfs-picker", only="zfs")
        yield ZfsSection(id="zfs-section")
