"""The ZFS step as a dataset editor, driven by the keyboard as a person would.

Add, rename and remove datasets and set a property through the tree, the
property picker and the dialogs; then save with Ctrl+S and read the saved
profile back with core's loader (the saved file, not the draft, is the truth).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable, Input
from wizard_helpers import answer_path, preset_draft, settle

from diskwright.core.profile import load_profile
from diskwright.tui.app import WizardApp
from diskwright.tui.dialogs import ConfirmModal
from diskwright.tui.screens.zfs import DatasetTree, NameModal, PropertyPicker

pytestmark = pytest.mark.tui

POOL = ("disks", 1, "partitions", 0, "zfs")


def cells(app: Any) -> dict[str, tuple[str, str]]:
    """The properties table as {property: (value, source)}."""
    table = app.screen.query_one("#zfs-table", DataTable)
    out = {}
    for row in range(table.row_count):
        key, value, source = (
            c.plain if isinstance(c, Text) else str(c) for c in table.get_row_at(row)
        )
        out[key] = (value, source)
    return out


async def go_to(pilot: Any, name: str) -> None:
    """Walk the tree with the arrow keys until `name` is highlighted."""
    tree = pilot.app.screen.query_one("#zfs-tree", DatasetTree)
    tree.focus()
    await pilot.press("home")
    for _ in range(tree.last_line + 2):
        if tree.cursor_node is not None and tree.cursor_node.data == name:
            await settle(pilot)
            return
        await pilot.press("down")
    raise AssertionError(f"{name} is not in the tree")


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*[{" ": "space", "/": "slash"}.get(c, c) for c in text])


async def test_inherited_values_show_as_inherited(tui_work: Path) -> None:
    app = WizardApp(draft=preset_draft("zfs-root", tui_work), step="zfs", frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await go_to(pilot, "tank")
        assert cells(app)["compression"] == ("lz4", "set here")
        await go_to(pilot, "tank/user/home")
        shown = cells(app)
        assert shown["compression"] == ("lz4", "inherited from tank")
        assert shown["mountpoint"] == ("legacy", "inherited from tank")
        assert shown["mount_point"] == ("/home", "set here")
        assert shown["recordsize"] == ("128K", "default")
        assert shown["canmount"] == ("on", "default")  # canmount is never inherited
        # the pool node lists the pool's own settings and zpool create -o properties
        tree = app.screen.query_one("#zfs-tree", DatasetTree)
        tree.focus()
        await pilot.press("home")
        await settle(pilot)
        assert cells(app)["ashift"] == ("12", "set here")
        assert cells(app)["pool"] == ("tank", "set here")


async def test_add_rename_remove_and_set_then_save(tui_work: Path) -> None:
    app = WizardApp(draft=preset_draft("zfs-root", tui_work), step="zfs", frozen=True)
    saved = tui_work / "mine" / "zfs-edited.toml"
    saved.parent.mkdir()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # add: "a" on the tree asks for the full name, inside the highlighted dataset
        await go_to(pilot, "tank/user")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, NameModal)
        assert app.screen.query_one("#name-input", Input).value == "tank/user/"
        await type_text(pilot, "bad@name")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NameModal), "a name zfs refuses keeps the dialog open"
        await pilot.press(*["backspace"] * len("bad@name"))
        await type_text(pilot, "docs")
        await pilot.press("enter")
        await settle(pilot)
        assert "tank/user/docs" in app.state.draft.get((*POOL, "datasets"))
        tree = app.screen.query_one("#zfs-tree", DatasetTree)
        assert tree.cursor_node is not None and tree.cursor_node.data == "tank/user/docs"
        assert cells(app)["compression"] == ("lz4", "inherited from tank")
        # set a property with the picker: type to narrow, Enter, type the value, Enter
        app.screen.query_one("#zfs-pick").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PropertyPicker)
        await type_text(pilot, "recsize")
        await pilot.pause()
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        await type_text(pilot, "ordsi")
        await pilot.pause()
        help_ = str(app.screen.query_one("#pick-help").render())
        assert "(default 128K)" in help_, help_  # the highlighted one: values and default
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one("#zfs-key", Input).value == "recordsize"
        assert app.focused is app.screen.query_one("#zfs-value", Input)
        await pilot.press("ctrl+u")
        await type_text(pilot, "1M")
        await pilot.press("enter")
        await settle(pilot)
        docs = app.state.draft.get((*POOL, "datasets", "tank/user/docs"))
        assert docs == {"properties": {"recordsize": "1M"}}
        assert cells(app)["recordsize"] == ("1M", "set here")
        # a value OpenZFS refuses is named in the step's problems and Next stays off
        app.screen.query_one("#zfs-value", Input).value = "3K"
        app.screen.query_one("#zfs-value", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert not app.state.analysis.step_ok("zfs")
        app.screen.query_one("#zfs-value", Input).value = "1M"
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.analysis.step_ok("zfs")
        # rename: "r" on the tree; the children go along
        await go_to(pilot, "tank/user")
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, NameModal)
        await pilot.press("ctrl+u")
        await type_text(pilot, "tank/people")
        await pilot.press("enter")
        await settle(pilot)
        names = set(app.state.draft.get((*POOL, "datasets")))
        assert {"tank/people/home", "tank/people/docs"} <= names
        assert not any(n.startswith("tank/user") for n in names)
        # remove: Delete asks first, naming what goes with it; Cancel keeps everything
        assert "tank/local/nix" in app.state.analysis.script
        await go_to(pilot, "tank/local")
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal) and "tank/local/nix" in app.screen.message
        await pilot.press("escape")
        await settle(pilot)
        assert "tank/local/nix" in app.state.draft.get((*POOL, "datasets"))
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("enter")  # Remove is the first button
        await settle(pilot)
        assert not any(n.startswith("tank/local") for n in app.state.draft.get((*POOL, "datasets")))
        assert app.state.analysis.step_ok("zfs")
        assert "tank/local/nix" not in app.state.analysis.script  # the preview follows
        assert "tank/people/docs" in app.state.analysis.script
        await answer_path(pilot, "ctrl+s", str(saved))
        await settle(pilot)
    data = tomllib.loads(saved.read_text())
    pool = data["disks"][1]["partitions"][0]["zfs"]
    assert set(pool["datasets"]) == {"tank/system/root", "tank/people/home", "tank/people/docs"}
    assert pool["datasets"]["tank/people/docs"]["properties"] == {"recordsize": "1M"}
    profile = load_profile(saved)  # core reads it back, valid
    zfs = profile.disks[1].partitions[0].zfs  # type: ignore[union-attr]
    assert zfs.effective("tank/people/docs", "compression") == "lz4"


async def test_renaming_the_pool_renames_every_dataset(tui_work: Path) -> None:
    app = WizardApp(draft=preset_draft("zfs-root", tui_work), step="zfs", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await go_to(pilot, "tank")
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("ctrl+u")
        await type_text(pilot, "rpool")
        await pilot.press("enter")
        await settle(pilot)
        pool = app.state.draft.get(POOL)
        assert pool["pool"] == "rpool"
        assert all(n.startswith("rpool/") for n in pool["datasets"])
        assert app.state.analysis.step_ok("zfs")
        assert "rpool/system/root" in app.state.analysis.script
        assert "tank/" not in app.state.analysis.script
