"""Screens change the wizard only by messages: they read one state object and never the app.

The first tests read the source of every screen and widget module (no app
needed); the pilot tests post the messages and watch the app apply them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input
from wizard_helpers import REPO, field, preset_draft, settle

from diskwright.tui import messages as msg
from diskwright.tui.app import WizardApp

pytestmark = pytest.mark.tui

TUI = REPO / "tui"
# the modules that must not know the app: every screen, the widgets, the dialogs
SCREEN_MODULES = sorted([*(TUI / "screens").glob("*.py"), TUI / "widgets.py", TUI / "dialogs.py"])
# Textual's own App: the only face of the app a widget may use (focus, size, push_screen…);
# an attribute the wizard's app defines or overrides is the wizard's, and off limits
TEXTUAL_ONLY = frozenset(dir(App)) - frozenset(vars(WizardApp))
# what changes a Draft (tui/model.py): the app calls these, never a screen
DRAFT_WRITERS = frozenset({"set", "touch", "add_partition", "remove_partition", "move_partition",
                           "add_disk", "remove_disk", "set_role", "rebase", "save"})
STATE_CALLS = frozenset({"clock"})  # the only callable a screen may call on the state


def offences(source: str, name: str = "<source>") -> list[str]:
    """Where `source` imports the app, reaches past Textual's App, or changes the state."""
    tree = ast.parse(source, name)
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    found: list[str] = []

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{name}:{getattr(node, 'lineno', '?')}: {what}")

    def through(node: ast.AST, attr: str) -> bool:
        """`node` is an attribute chain that passes through `.attr` (self.wiz.draft.x)."""
        while isinstance(node, ast.Attribute):
            if node.attr == attr:
                return True
            node = node.value
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[-1] == "app" and (node.level or module.startswith("diskwright")):
                say(node, f"imports the app ({'.' * node.level}{module})")
            if any(a.name == "app" for a in node.names) and (node.level or "diskwright" in module):
                say(node, "imports the app module")
        elif isinstance(node, ast.Import):
            if any(a.name.endswith("tui.app") for a in node.names):
                say(node, "imports the app")
        elif isinstance(node, ast.Name) and node.id == "WizardApp":
            say(node, "names WizardApp")
        elif isinstance(node, ast.Attribute) and node.attr == "app":
            up = parents.get(node)
            if not isinstance(up, ast.Attribute):
                say(node, "uses the app itself as a value (cast, alias, return, argument)")
            elif up.attr not in TEXTUAL_ONLY:
                say(node, f"uses app.{up.attr}, which is the wizard's, not Textual's")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Attribute) and owner.attr == "wiz" \
                    and node.func.attr not in STATE_CALLS:
                say(node, f"calls wiz.{node.func.attr}() instead of posting a message")
            if isinstance(owner, ast.Attribute) and owner.attr == "draft" \
                    and node.func.attr in DRAFT_WRITERS:
                say(node, f"changes the draft itself (draft.{node.func.attr})")
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and (through(t.value, "wiz")
                                                     or through(t.value, "draft")):
                    say(node, "assigns to the wizard's state")
    return found


@pytest.mark.parametrize("path", SCREEN_MODULES, ids=lambda p: str(p.relative_to(TUI)))
def test_screens_and_widgets_do_not_know_the_app(path: Path) -> None:
    assert offences(path.read_text(encoding="utf-8"), str(path.relative_to(REPO))) == []


def test_the_check_finds_a_screen_that_calls_the_app() -> None:
    """What the screens did before every change was a message: each line is one offence."""
    old = '''
from typing import Any, cast
from ..app import WizardApp
from .. import app

class Form:
    @property
    def wiz(self) -> Any:
        return cast("WizardState", self.app)

    async def changed(self) -> None:
        await self.wiz.edit(("name",), "x")
        self.wiz.start_scan(force=True)
        self.draft.add_disk()
        self.wiz.draft.built = {}
        self.wiz.building = True
        self.app.start_blank()
        chosen: Any = self.app
        self.app.refresh_bindings()
        self.app.push_screen(None)
        self.started = self.wiz.clock()
'''
    found = offences(old)
    assert len(found) == 10, "\n".join(found)
    for line in (3, 4, 9, 12, 13, 14, 15, 16, 17, 18):
        assert any(f"<source>:{line}:" in f for f in found), (line, found)


async def test_a_posted_edit_changes_the_draft_and_the_preview(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="filesystem", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        path = ("disks", 0, "partitions", 0, "label")
        assert app.state.draft.get(path) == "ESP"
        assert "-n BOOT" not in app.state.analysis.script
        form = app.wizard_screen.form("filesystem")
        form.post_message(msg.Edit(path, "BOOT"))  # from the form, as a field's edit goes
        await settle(pilot)
        assert app.state.draft.get(path) == "BOOT" and app.state.draft.dirty
        assert field(app, "filesystem", path).query_one(Input).value == "BOOT"
        assert "-n BOOT" in app.state.analysis.script
        panel = app.screen.query_one("#plan")
        assert panel._script == app.state.analysis.script
        lines = app.state.analysis.script.split("\n")
        changed = [lines[n] for n in sorted(panel._changed)]
        assert changed and all("BOOT" in line for line in changed), changed


async def test_two_quick_removes_remove_two_partitions(tui_work: Path) -> None:
    """A Reshape acts on the selection when the app applies it, not when it was posted."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    draft.add_partition(0)
    draft.add_partition(0)
    app = WizardApp(draft=draft, step="layout", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.select(0, 3)
        await settle(pilot)
        titles = [app.state.draft.part_title(0, p) for p in range(4)]
        form = app.wizard_screen.form("layout")
        form.post_message(msg.RemovePartition())
        form.post_message(msg.RemovePartition())  # before the app applied the first
        await settle(pilot)
        assert [app.state.draft.part_title(0, p) for p in range(2)] == titles[:2]
        assert len(app.state.draft.parts(0)) == 2 and app.state.selected == (0, 1)
        assert app.screen.query_one("#parts-table").row_count == 2
