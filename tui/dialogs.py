"""Modal dialogs: confirm, pick a path, copy a preset, edit a file mapping, read the help.

Every dialog answers through `dismiss`; Escape always means "no change".
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DirectoryTree, Input, Label, Markdown, Static

from ..core.presets import Preset, new_profile_name
from .model import error_text
from .widgets import Entry


class ConfirmModal(ModalScreen[str | None]):
    """A question with a few answers; the first button is the default."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, title: str, message: str, buttons: Iterable[tuple[str, str, str]]) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.message = message
        self.buttons = list(buttons)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, classes="dialog-message", markup=False)
            with Horizontal(classes="dialog-buttons"):
                for label, result, variant in self.buttons:
                    yield Button(label, id=f"answer-{result}", variant=variant,  # type: ignore[arg-type]
                                 compact=True)

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        assert event.button.id
        self.dismiss(event.button.id.removeprefix("answer-"))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class _Tree(DirectoryTree):
    def __init__(self, path: Path, mode: str, suffix: str, **kw: Any) -> None:
        super().__init__(path, **kw)
        self.mode = mode
        self.suffix = suffix

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        out = []
        for p in paths:
            if p.name.startswith("."):
                continue
            try:
                is_dir = p.is_dir()
            except OSError:
                continue
            if is_dir or (self.mode != "dir" and (not self.suffix or p.name.endswith(self.suffix))):
                out.append(p)
        return out


class PathModal(ModalScreen[Path | None]):
    """Type a path or pick it in the tree. mode: dir (a folder), open (a file), save."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+u", "parent", "Parent folder"),
    ]

    def __init__(self, title: str, initial: Path, *, mode: str = "dir", suffix: str = "",
                 base: Path | None = None, note: str = "") -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.mode = mode
        self.suffix = suffix
        self.base = base or Path.cwd()
        self.note = note
        self.initial = initial
        start = initial if initial.is_dir() else initial.parent
        while not start.is_dir() and start != start.parent:
            start = start.parent
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box wide path-box"):
            yield Label(self.title_text, classes="dialog-title")
            yield Entry(str(self.initial), id="path-input", compact=True)
            yield Static(self.note or self._hint(), id="path-note", markup=False)
            yield _Tree(self.start, self.mode, self.suffix, id="path-tree")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="path-ok", variant="primary", compact=True)
                yield Button("Parent folder", id="path-up", compact=True)
                yield Button("Cancel", id="path-cancel", compact=True)

    def _hint(self) -> str:
        what = {"dir": "a folder", "open": "a profile (.toml)", "save": "a file name"}[self.mode]
        return f"Type {what} or pick it below (Enter on a folder opens it). Ctrl+U: parent folder."

    def on_mount(self) -> None:
        self.query_one("#path-input", Entry).focus_at_end()

    def _set_note(self, text: str, error: bool = False) -> None:
        note = self.query_one("#path-note", Static)
        note.update(("✗ " if error else "") + text)
        note.set_class(error, "error")

    @on(DirectoryTree.DirectorySelected)
    def _dir(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        inp = self.query_one("#path-input", Input)
        if self.mode == "save":
            name = Path(inp.value).name if inp.value else ""
            inp.value = str(event.path / name)
        else:
            inp.value = str(event.path)

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.query_one("#path-input", Input).value = str(event.path)
        if self.mode == "open":
            self._submit()

    @on(Input.Submitted, "#path-input")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        p = self._path()
        if p is not None and p.is_dir() and self.mode != "dir":
            self.query_one(_Tree).path = p  # browse into it
            return
        self._submit()

    def _path(self) -> Path | None:
        text = self.query_one("#path-input", Input).value.strip()
        if not text:
            return None
        p = Path(text).expanduser()
        return p if p.is_absolute() else (self.base / p)

    @on(Button.Pressed, "#path-ok")
    def _ok(self) -> None:
        self._submit()

    @on(Button.Pressed, "#path-up")
    def action_parent(self) -> None:
        tree = self.query_one(_Tree)
        tree.path = Path(tree.path).parent

    @on(Button.Pressed, "#path-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        p = self._path()
        if p is None:
            self._set_note("type a path first", error=True)
            return
        if self.mode == "dir" and not p.is_dir():
            self._set_note(f"{p} is not a folder", error=True)
            return
        if self.mode == "open" and not p.is_file():
            self._set_note(f"{p} is not a file", error=True)
            return
        if self.mode == "save":
            if p.is_dir():
                self._set_note(f"{p} is a folder; add a file name", error=True)
                return
            if not p.parent.is_dir():
                self._set_note(f"the folder {p.parent} does not exist", error=True)
                return
            if self.suffix and not p.name.endswith(self.suffix):
                p = p.with_name(p.name + self.suffix)
        self.dismiss(p)


class PresetCopyModal(ModalScreen[tuple[Path, bool] | None]):
    """Where a profile started from a preset goes: the user's own copy, never the example.

    Opening the example in place would save paths into the install folder; a copy
    keeps every path relative to the new file, so it is portable and fit for git.
    Answers (profile file, copy the demo tree too) once nothing would be overwritten.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, preset: Preset, initial: Path, *, base: Path | None = None) -> None:
        super().__init__(classes="dialog")
        self.preset = preset
        self.base = base or Path.cwd()
        self.initial = initial
        self.demo = preset.demo_paths()

    def compose(self) -> ComposeResult:
        shown = self.initial
        if shown.is_relative_to(self.base):
            shown = shown.relative_to(self.base)
        with Vertical(classes="dialog-box", id="preset-box"):
            yield Label(f"New profile from the {self.preset.title} preset",
                        classes="dialog-title")
            yield Static("The example is copied into a profile of your own; every path in it "
                         "stays relative to that file, so it can move and go into git.",
                         classes="dialog-message", markup=False)
            yield Label("Profile file", classes="flabel")
            yield Entry(str(shown), id="preset-path", compact=True)
            yield Static(f"relative to {self.base}; a new folder is made if needed",
                         id="preset-note", classes="dim", markup=False)
            if self.demo:
                names = ", ".join(f"{n}/" if (self.preset.path.parent / n).is_dir() else n
                                  for n in self.demo)
                yield Checkbox(f"Copy the example's demo files too ({names})", True,
                               id="preset-demo", compact=True)
            else:
                yield Static("This example reads nothing beside it; choose its source after.",
                             classes="dim", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create", id="preset-ok", variant="primary", compact=True)
                yield Button("Cancel", id="preset-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#preset-path", Entry).focus_at_end()

    def _with_demo(self) -> bool:
        return bool(self.demo) and self.query_one("#preset-demo", Checkbox).value

    def _fail(self, text: str) -> None:
        note = self.query_one("#preset-note", Static)
        note.update(f"✗ {text}")
        note.set_class(True, "error")

    @on(Input.Submitted, "#preset-path")
    @on(Button.Pressed, "#preset-ok")
    def _submit(self) -> None:
        text = self.query_one("#preset-path", Input).value.strip()
        if not text:
            self._fail("type a file name for the new profile, e.g. my-profile.toml")
            return
        p = Path(text).expanduser()
        p = p if p.is_absolute() else self.base / p
        if p.is_dir():
            p = p / new_profile_name(p, self.preset.name)
        if not p.name.endswith(".toml"):
            p = p.with_name(p.name + ".toml")
        clash = self.preset.clashes(p, with_demo=self._with_demo())
        if clash:
            self._fail(f"{clash[0]} exists; choose another name or folder")
            return
        if p.parent.exists() and not p.parent.is_dir():
            self._fail(f"{p.parent} is not a folder")
            return
        self.dismiss((p, self._with_demo()))

    @on(Button.Pressed, "#preset-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class MappingModal(ModalScreen[dict[str, Any] | None]):
    """Add or edit one extra file; checked by the profile model before it is accepted."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    FIELDS = (
        ("source", "Host file", "path on this machine (relative to the profile's folder)"),
        ("target", "In the image", "absolute path inside the image, e.g. /etc/motd"),
        ("mode", "Mode", "octal permission bits, e.g. 0644"),
        ("user", "Owner uid", "0 = root"),
        ("group", "Group gid", "0 = root"),
    )

    def __init__(self, mapping: dict[str, Any] | None = None) -> None:
        super().__init__(classes="dialog")
        self.mapping = dict(mapping or {"source": "", "target": "", "mode": "0644", "user": 0,
                                        "group": 0})

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box wide"):
            yield Label("Extra file", classes="dialog-title")
            for key, label, hint in self.FIELDS:
                with Horizontal(classes="row"):
                    yield Label(label, classes="flabel")
                    yield Entry(str(self.mapping.get(key, "")), placeholder=hint, id=f"m-{key}",
                                compact=True)
                yield Static("", id=f"m-{key}-error", classes="note error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="m-save", variant="primary", compact=True)
                yield Button("Cancel", id="m-cancel", compact=True)

    def on_mount(self) -> None:
        for s in self.query(".note"):
            s.display = False
        self.query_one("#m-source", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#m-save")
    def _save(self) -> None:
        from pydantic import ValidationError

        from ..core.profile import FileMapping, errors_from_validation

        values: dict[str, Any] = {}
        for key, _, _ in self.FIELDS:
            text = self.query_one(f"#m-{key}", Input).value.strip()
            if key in ("user", "group"):
                try:
                    values[key] = int(text or 0)
                except ValueError:
                    values[key] = text
            else:
                values[key] = text
        errors: dict[str, list[str]] = {}
        if not values["source"]:
            errors["source"] = ["is required — name the file to copy"]
        try:
            FileMapping.model_validate(values)
        except ValidationError as exc:
            for e in errors_from_validation(exc).errors:
                errors.setdefault(e.field.split(".")[0], []).append(error_text(e))
        for key, _, _ in self.FIELDS:
            note = self.query_one(f"#m-{key}-error", Static)
            msgs = errors.get(key, [])
            note.update("\n".join(f"✗ {m}" for m in msgs))
            note.display = bool(msgs)
        if not errors:
            self.dismiss(values)

    @on(Button.Pressed, "#m-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpModal(ModalScreen[None]):
    """F1: what this step is for, in words for someone doing it the first time."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("f1", "close", "Close"),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, text: str) -> None:
        super().__init__(classes="dialog")
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box help-box"):
            with VerticalScroll(id="help-scroll"):
                yield Markdown(self.text, id="help-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close (Esc)", id="help-close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        self.dismiss(None)
