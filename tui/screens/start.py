"""Start screen: a preset (one per example, with who it is for), a saved profile, or blank."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from ...core.presets import BLANK_WHO_FOR, presets
from .. import messages as msg
from ..fsforms import content_filesystems


class StartScreen(Screen[None]):

    def __init__(self, note: str = "") -> None:
        super().__init__(id="start-screen")
        self.note = note

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="start"):
            yield Static(
                "[b]diskwright[/b] builds filesystem and disk images from a folder of files "
                f"or a Nix closure — {', '.join(content_filesystems())}; GPT or MBR; raw, "
                "qcow2 or compressed — without root, loop devices or mounts.", id="start-intro")
            if self.note:
                yield Static(self.note, id="start-note", markup=False)
            yield Static("Start from a preset (every choice can be changed later):",
                         classes="section-title")
            width = max((len(p.title) for p in presets()), default=12) + 1
            options: list[Any] = []
            for p in presets():
                options.append(Option(_row(p.title, p.who_for, width), id=f"preset:{p.name}"))
            yield _Choices(*options, id="start-list")
            # Open… and Start blank in a list of their own that never scrolls away:
            # at 80×24 the presets scroll, these two stay in view (arrows cross over)
            with Vertical(id="start-foot"):
                yield _Choices(
                    Option(_row("Open…", "a profile you saved before (Ctrl+O)", width),
                           id="open"),
                    Option(_row("Start blank", BLANK_WHO_FOR, width), id="blank"),
                    id="start-other")
                yield Static("↑/↓ choose · Enter start · F1 help · Ctrl+Q quit",
                             classes="dim", id="start-keys")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#start-list", OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = event.option.id or ""
        if choice == "open":
            self.post_message(msg.Open())
        elif choice == "blank":
            self.post_message(msg.StartBlank())
        elif choice.startswith("preset:"):
            self.post_message(msg.StartPreset(choice.removeprefix("preset:")))


class _Choices(OptionList):
    """One of the start screen's two lists: ↓ on the last row and ↑ on the first cross over."""

    def _other(self) -> _Choices:
        other = "#start-other" if self.id == "start-list" else "#start-list"
        return self.screen.query_one(other, _Choices)

    def action_cursor_down(self) -> None:
        if self.id == "start-list" and self.highlighted == self.option_count - 1:
            other = self._other()
            other.highlighted = 0
            other.focus()
            return
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.id == "start-other" and self.highlighted == 0:
            other = self._other()
            other.highlighted = other.option_count - 1
            other.focus()
            return
        super().action_cursor_up()


def _row(title: str, who_for: str, width: int) -> Table:
    """Title in one column, who it is for in the other, so wrapped lines stay aligned."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=width, no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(Text(title, style="bold"), Text.assemble(("for ", "dim"), who_for))
    return grid
