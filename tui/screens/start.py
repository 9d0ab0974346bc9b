"""Start screen: a preset (one per example, with who it is for), a saved profile, or blank."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from core.presets import BLANK_WHO_FOR, presets


class StartScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+o", "app.open", "Open"),
        Binding("f1", "app.help", "Help"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, note: str = "") -> None:
        super().__init__(id="start-screen")
        self.note = note

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="start"):
            yield Static(Text.assemble(
                ("diskwright", "bold"),
                " builds filesystem and disk images from a folder of files —\n"
                "ext4, erofs, squashfs, vfat; GPT or MBR; raw, qcow2 or compressed —\n"
                "without root, loop devices or mounts.",
            ), id="start-intro")
            if self.note:
                yield Static(self.note, id="start-note", markup=False)
            yield Static("Start from a preset (every choice can be changed later):",
                         classes="section-title")
            width = max((len(p.title) for p in presets()), default=12) + 2
            options: list[Any] = []
            for p in presets():
                options.append(Option(Text.assemble((p.title.ljust(width), "bold"),
                                                    ("for ", "dim"), p.who_for),
                                      id=f"preset:{p.name}"))
            options.append(None)
            options.append(Option(Text.assemble(("Open a saved profile…".ljust(width + 8),
                                                 "bold"), ("Ctrl+O", "dim")), id="open"))
            options.append(Option(Text.assemble(("Start blank".ljust(width), "bold"),
                                                ("for ", "dim"), BLANK_WHO_FOR), id="blank"))
            yield OptionList(*options, id="start-list")
            yield Static("↑/↓ choose · Enter start · F1 help · Ctrl+Q quit", classes="dim",
                         id="start-keys")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#start-list", OptionList).focus()

    @on(OptionList.OptionSelected, "#start-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = event.option.id or ""
        app: Any = self.app
        if choice == "open":
            app.action_open()
        elif choice == "blank":
            app.start_blank()
        elif choice.startswith("preset:"):
            app.start_preset(choice.removeprefix("preset:"))


def default_profile_name(base: Path, name: str) -> Path:
    return base / f"{name}.toml"
