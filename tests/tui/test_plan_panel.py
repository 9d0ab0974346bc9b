"""The plan preview keeps a step's first command in view while the plan changes under it."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from diskwright.tui.widgets import PlanPanel

pytestmark = pytest.mark.tui


def script(head: int) -> str:
    """`head` filler lines, then the command the step marks, then a long tail."""
    lines = [f"# step {i}" for i in range(head)] + ["mkfs.ext4 -L root x.img"]
    return "\n".join(lines + [f"echo tail {i}" for i in range(80)])


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield PlanPanel(id="plan")


def first_row(panel: PlanPanel) -> int:
    """The script line shown in the view's first row."""
    return panel._owners[panel.scroll_offset.y]


async def test_view_follows_the_mark_when_lines_move_until_the_user_scrolls() -> None:
    app = PanelApp()
    async with app.run_test(size=(60, 20)) as pilot:
        panel = app.query_one(PlanPanel)
        panel.set_script(script(30))
        await pilot.pause()
        panel.mark(frozenset({30}), frozenset(), True)  # a step change scrolls to it
        await pilot.pause()
        assert first_row(panel) == 29
        # the next analysis's plan has one line fewer before the mark: the view follows
        panel.set_script(script(29))
        panel.mark(frozenset({29}), frozenset(), False)
        await pilot.pause()
        assert first_row(panel) == 28
        # and three more lines: still followed
        panel.set_script(script(32))
        panel.mark(frozenset({32}), frozenset(), False)
        await pilot.pause()
        assert first_row(panel) == 31
        # a narrower panel re-wraps: the mark stays in view
        await pilot.resize_terminal(30, 20)
        await pilot.pause()
        assert first_row(panel) == 31
        # once the user scrolls away the view stays where the user put it
        panel.scroll_to(y=0, animate=False)
        await pilot.pause()
        panel.set_script(script(35))
        panel.mark(frozenset({35}), frozenset(), False)
        await pilot.pause()
        assert panel.scroll_offset.y == 0
