"""Widgets every step shares: form fields bound to the draft, the disk bar, the side panels.

Fields know the profile path they edit and show the profile model's own
error words under themselves; nothing here validates on its own. Widgets do
not know the app: values come in through their constructors and load(),
edits go out as Field.Edited messages the step forms handle.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from ..core.errors import ProfileError
from ..core.units import format_size
from .model import STEP_TITLES, Analysis, PathKey, error_text, field_name, warning_text

# Partition colours of the disk bar; the number inside each segment and the
# legend carry the same information for people who cannot tell them apart.
PALETTE = ("#2f6fb5", "#3f9142", "#b5652f", "#8a4fb5", "#b5a12f", "#2fa3b5", "#b52f5c", "#6b7a8f")
GAP_STYLE = Style(color="#5a5f66", bgcolor="#24272b")


def update_if_changed(widget: Static, content: Any, key: Any = None, *,
                      layout: bool = True) -> None:
    """Skip identical updates: every Static.update re-lays the screen out."""
    key = content if key is None else key
    if getattr(widget, "_dw_key", object()) == key:
        return
    widget._dw_key = key  # type: ignore[attr-defined]
    widget.update(content, layout=layout)


def mark(ok: bool | None) -> str:
    """A text tick, never colour alone."""
    return "✓" if ok else ("·" if ok is None else "✗")


# ------------------------------------------------------------------ fields


class Entry(Input):
    """An Input whose editing keys keep their place among the typed characters.

    Textual's Input inserts a printable character as soon as the key reaches it,
    but a bound key (backspace, delete, arrows, ctrl+u…) first bubbles up to the
    app and only then runs. Typed fast, "⌫⌫root" became "ro" plus two deletions
    out of order (the issue's `/no` for `root`; Textualize/textual#6605). Here the
    Input's own bindings run the moment their key arrives, in order.
    """

    async def _on_key(self, event: events.Key) -> None:
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return
        await super()._on_key(event)

    def _on_mount(self, event: events.Mount) -> None:
        super()._on_mount(event)
        # a headless app (tests, snapshots, screenshots) must render the same at any moment;
        # Textual's own flag, so the widget needs nothing of the wizard's app
        self.cursor_blink = not self.app.is_headless

    def focus_at_end(self) -> None:
        """Focus with the cursor after the text, where a person goes on typing."""
        self.focus()
        self.cursor_position = len(self.value)



class Field(Vertical):
    """One labelled control bound to a profile path; shows help, or the model's error."""

    class Edited(Message):
        def __init__(self, field: Field, path: PathKey, value: Any) -> None:
            super().__init__()
            self.field = field
            self.path = path
            self.value = value

    kind: ClassVar[str] = "text"

    def __init__(self, path: PathKey, label: str, *, help: str = "", id: str | None = None,
                 classes: str = "") -> None:
        super().__init__(id=id or field_id(path), classes=f"field {classes}".strip())
        self.path = path
        self.label = label
        self.help = help
        self.errors: list[ProfileError] = []
        self.value: Any = None  # what the field holds: given (load) or edited; subclasses set it

    @property
    def name_(self) -> str:
        return field_name(self.path)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(f"  {self.label}", classes="flabel")
            yield self.make_control()
        yield Static(self.help, classes="note", markup=False)

    def make_control(self) -> Widget:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.query_one(".note", Static).display = bool(self.help)

    def load(self, value: Any) -> None:
        """Show `value` without echoing an edit back."""
        self.value = value
        if self.ready:
            self.show_value(value)

    @property
    def ready(self) -> bool:
        """Children exist (a field mounted in this very refresh has none yet)."""
        return len(self.children) >= 2

    def show_value(self, value: Any) -> None:
        raise NotImplementedError

    def set_errors(self, errors: list[ProfileError]) -> None:
        if errors == self.errors or not self.ready:
            return
        self.errors = errors
        self.set_class(bool(errors), "-invalid")
        label = self.query_one(".flabel", Label)
        label.update(f"{'✗ ' if errors else '  '}{self.label}")
        note = self.query_one(".note", Static)
        if errors:
            note.update("\n".join(f"✗ {error_text(e)}" for e in errors))
            note.display = True
        else:
            note.update(self.help)
            note.display = bool(self.help)

    def edited(self, value: Any) -> None:
        """Report a change; a widget echoing the value it was given (load, or its last
        edit) is not one. The field compares with what it holds, never reads the app."""
        if value == self.value:
            return
        self.value = value
        self.post_message(self.Edited(self, self.path, value))


def field_id(path: PathKey) -> str:
    return "f-" + "-".join(str(p).replace("_", "-") for p in path)


class TextField(Field):
    """Free text; `optional` turns an empty box into "not set" (None)."""

    def __init__(self, path: PathKey, label: str, value: Any = None, *, placeholder: str = "",
                 optional: bool = False, number: type | None = None, **kw: Any) -> None:
        super().__init__(path, label, **kw)
        self.value = value
        self.placeholder = placeholder
        self.optional = optional
        self.number = number

    def make_control(self) -> Widget:
        inp = Entry(self._text(self.value), placeholder=self.placeholder, compact=True,
                    classes="control")
        return inp

    def _text(self, value: Any) -> str:
        return "" if value is None else str(value)

    def show_value(self, value: Any) -> None:
        inp = self.query_one(Input)
        if inp.has_focus:
            return  # never under the cursor: keys may still be queued for this very box
        text = self._text(value)
        if inp.value != text:
            with inp.prevent(Input.Changed):
                inp.value = text

    def convert(self, text: str) -> Any:
        if text.strip() == "" and self.optional:
            return None
        if self.number is not None:
            try:
                return self.number(text.strip())
            except ValueError:
                return text  # the model names the wrong type in its own words
        return text

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.edited(self.convert(event.value))


class ListField(TextField):
    """A list of words typed on one line, separated by spaces."""

    def _text(self, value: Any) -> str:
        if isinstance(value, list):
            return " ".join(str(v) for v in value)
        return "" if value is None else str(value)

    def convert(self, text: str) -> Any:
        return text.split()


class ChoiceField(Field):
    """One of a fixed set; each option can carry a plain-words explanation."""

    def __init__(self, path: PathKey, label: str, options: list[tuple[str, Any]], value: Any,
                 *, explain: dict[Any, str] | None = None, **kw: Any) -> None:
        super().__init__(path, label, **kw)
        self.options = options
        self.value = value
        self.explain = explain or {}
        if self.explain and not self.help:
            self.help = self.explain.get(value, "")

    def make_control(self) -> Widget:
        values = [v for _, v in self.options]
        value = self.value if self.value in values else Select.NULL
        return Select(self.options, value=value, allow_blank=value is Select.NULL,
                      compact=True, classes="control")

    def show_value(self, value: Any) -> None:
        sel = self.query_one(Select)
        if sel.value != value and value in [v for _, v in self.options]:
            with sel.prevent(Select.Changed):
                sel.value = value
        self._explain(value)

    def _explain(self, value: Any) -> None:
        if self.explain and not self.errors and self.ready:
            self.help = self.explain.get(value, "")
            note = self.query_one(".note", Static)
            note.update(self.help)
            note.display = bool(self.help)

    @on(Select.Changed)
    def _changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is Select.NULL:
            return
        if self.explain:
            self.help = self.explain.get(event.value, "")
        self._explain(event.value)
        self.edited(event.value)


class BoolField(Field):
    def __init__(self, path: PathKey, label: str, value: Any, *, text: str = "", **kw: Any):
        super().__init__(path, label, **kw)
        self.value = bool(value)
        self.text = text

    def make_control(self) -> Widget:
        return Tick(self.text, self.value, compact=True, classes="control")

    def show_value(self, value: Any) -> None:
        box = self.query_one(Checkbox)
        if box.value != bool(value):
            with box.prevent(Checkbox.Changed):
                box.value = bool(value)

    @on(Checkbox.Changed)
    def _changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.edited(bool(event.value))


class Tick(Checkbox):
    """A checkbox that shows ✓ or nothing, so its state never rests on colour alone."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "✓" if self.value else " "


class Problems(Static):
    """The step's problems that no single field on screen owns (e.g. a whole partition)."""

    def show(self, errors: list[ProfileError], describe: Any) -> None:
        if self.display != bool(errors):
            self.display = bool(errors)
        if errors:
            lines = [f"✗ {describe(e.field)}: {error_text(e)}" for e in errors]
            update_if_changed(self, Text("\n".join(lines)), tuple(lines))


# ------------------------------------------------------------------ disk bar


class DiskBarRenderable:
    """A one-line picture of a disk: each partition's share of the bytes, numbered."""

    def __init__(self, disk: Any, highlight: int | None = None) -> None:
        self.disk = disk
        self.highlight = highlight

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, 8)
        yield from bar_segments(self.disk, width, self.highlight)
        yield Segment.line()


def bar_layout(
    starts_sizes: list[tuple[int, int]], total: int, width: int
) -> list[tuple[int, int]]:
    """Column spans for each partition; every partition gets at least one column."""
    spans: list[tuple[int, int]] = []
    prev = 0
    n = len(starts_sizes)
    for i, (start, size) in enumerate(starts_sizes):
        a = max(prev, int(start * width / total)) if total else prev
        b = round((start + size) * width / total) if total else a + 1
        b = max(b, a + 1)
        remaining = n - i - 1
        b = min(b, width - remaining)
        a = min(a, b - 1)
        spans.append((a, b))
        prev = b
    return spans


def bar_segments(disk: Any, width: int, highlight: int | None = None) -> list[Segment]:
    total = max(disk.disk_bytes, 1)
    spans = bar_layout([(p.start, p.size) for p in disk.parts], total, width)
    out: list[Segment] = []
    col = 0
    for i, ((a, b), part) in enumerate(zip(spans, disk.parts, strict=True)):
        if a > col:
            out.append(Segment("░" * (a - col), GAP_STYLE))
        w = b - a
        name = part.label or part.role
        text = f"{i + 1} {name}" if w >= len(name) + 3 else str(i + 1)
        text = text[:w].center(w)
        style = Style(color="white", bgcolor=PALETTE[i % len(PALETTE)], bold=True,
                      underline=highlight == i)
        out.append(Segment(text, style))
        col = b
    if col < width:
        out.append(Segment("░" * (width - col), GAP_STYLE))
    return out


def legend_table(disk: Any) -> Table:
    """The bar's key: number, what the partition is, its files and its size."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False,
                  header_style="dim")
    table.add_column("#")
    table.add_column("partition")
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    table.add_column("")
    for i, p in enumerate(disk.parts):
        swatch = Text(f"{i + 1}", style=Style(color="white", bgcolor=PALETTE[i % len(PALETTE)],
                                               bold=True))
        kind = p.role if p.filesystem == p.role else f"{p.role} {p.filesystem}"  # not "zfs zfs"
        what = kind + (f" “{p.label}”" if p.label else "")
        size = format_size(p.size if p.size else p.image)
        table.add_row(swatch, what, format_size(p.content), size,
                      Text("fixed" if p.fixed else "auto", style="dim"))
    return table


# ------------------------------------------------------------------ side panels


class EstimatePanel(VerticalScroll):
    """Live sizes: per partition, per disk, the output file; a bar picture per disk."""

    can_focus = True

    def compose(self) -> ComposeResult:
        yield Static("Estimating…", id="estimate-body")

    def on_mount(self) -> None:
        self.border_title = "Estimate"

    def show(self, analysis: Analysis, last_good: Analysis | None, scan_line: str) -> None:
        shown = analysis if analysis.estimate is not None else last_good
        key = (scan_line, analysis.profile is None, len(analysis.model_errors), analysis.crash,
               shown is analysis, repr(shown.estimate) if shown is not None else None)
        if key == getattr(self, "_key", None):
            return
        self._key = key
        body: list[RenderableType] = []
        if analysis.profile is None and analysis.model_errors:
            n = len(analysis.model_errors)
            body.append(Text(f"⚠ out of date: {n} problem{'s' * (n != 1)} to fix first",
                             style="bold yellow"))
        elif analysis.crash:
            body.append(Text(f"✗ {analysis.crash}", style="bold red"))
        body.append(Text(scan_line, style="dim"))
        if shown is not None and shown.estimate is not None:
            est = shown.estimate
            dim = shown is not analysis
            for disk in est.disks:
                out = format_size(disk.output_bytes)
                kind = disk.output_format + (
                    f"+{disk.compression}" if disk.compression != "none" else "")
                body.append(Text.assemble(
                    ("\n" if body else "", ""),
                    (f"{disk.name}", "bold"),
                    f" · {disk.table} · disk {format_size(disk.disk_bytes)}",
                    style="dim" if dim else "",
                ))
                body.append(DiskBarRenderable(disk))
                body.append(legend_table(disk))
                body.append(Text(f"→ {short_path(disk.output_path)} ≈ {out} ({kind})",
                                 style="dim" if dim else "green"))
            if len(est.disks) > 1:
                body.append(Text(f"\nall outputs ≈ {format_size(est.total_output)}"))
            for w in est.warnings:
                body.append(Text(f"⚠ {warning_text(w, shown.profile)}", style="yellow"))
        self.query_one("#estimate-body", Static).update(Group(*body))


def short_path(path: str, keep: int = 2) -> str:
    parts = path.split("/")
    return path if len(parts) <= keep + 1 else "…/" + "/".join(parts[-keep:])


def highlight_script(script: str, *, dim: bool = False) -> Text:
    text = Syntax(script, "bash", theme="monokai", word_wrap=True).highlight(script)
    text.no_wrap = False
    text.overflow = "fold"
    text.rstrip()
    if dim:
        text.stylize("dim")
    return text


def _wrap_lines(console: Console, text: Text, width: int) -> tuple[list[Strip], list[int]]:
    """Wrap `text` to `width`, line by line, so each strip knows its script line (marks)."""
    options = console.options.update(width=width, no_wrap=False, overflow="fold", height=None)
    strips: list[Strip] = []
    owners: list[int] = []
    for n, line in enumerate(text.split("\n", include_separator=False, allow_blank=True)):
        rendered = console.render_lines(line, options, pad=False) or [[]]
        strips += [Strip(r) for r in rendered]
        owners += [n] * len(rendered)
    return strips, owners


def _script_console(width: int) -> Console:
    """A Console of its own for wrapping: thread-safe, and no widget needs the app's."""
    import io

    return Console(width=max(width, 1), file=io.StringIO(), color_system="truecolor",
                   legacy_windows=False, force_terminal=True)


def prepare_script(script: str, width: int) -> tuple[Text, int, list[Strip], list[int]]:
    """Highlight and wrap a script off the UI thread (its own Console: thread-safe)."""
    text = highlight_script(script)
    if width <= 0:
        return text, width, [], []
    return (text, width, *_wrap_lines(_script_console(width), text, width))


MARK_STYLE = Style(bgcolor="#1c2b3a")  # the plan steps this wizard step's form shapes
CHANGED_STYLE = Style(bgcolor="#3a3414")  # lines the last edit changed


class PlanPanel(ScrollView, can_focus=True):
    """The exact script core would run, highlighted; read only and scrollable.

    A Line API view: the script is highlighted once per change and wrapped once
    per width, and only the visible lines are drawn, so a long plan costs the
    same to show as a short one.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._script: str | None = None
        self._text: Text = Text("")
        self._strips: list[Strip] = []
        self._owners: list[int] = []  # the script line of each strip
        self._wrapped_at = -1
        self._marks: frozenset[int] = frozenset()
        self._changed: frozenset[int] = frozenset()
        self._scroll_line: int | None = None
        # the script line the view follows, and where it last put the view: while the user
        # has not scrolled away, a new plan (line numbers moved) or a new width re-scrolls
        self._follow: int | None = None
        self._auto_y: int | None = None
        self._wrap_console = _script_console(80)  # the width comes with each wrap

    def on_mount(self) -> None:
        self.border_title = "Plan preview (read only)"

    def mark(self, marks: frozenset[int], changed: frozenset[int], scroll: bool) -> None:
        """Highlight script lines: this step's commands and the last edit's changes; with
        `scroll`, bring the first of this step's commands into view (a step change)."""
        if marks == self._marks and changed == self._changed and not scroll:
            return
        following = self._following()
        self._marks, self._changed = marks, changed
        if scroll or following:
            self._follow = min(marks) if marks else None
            self._scroll_line = self._follow
        self._scroll_to_mark()
        self.refresh()

    def _following(self) -> bool:
        """True while the view is still where the last step change put it."""
        return self._follow is not None and self.scroll_offset.y == self._auto_y

    def _scroll_to_mark(self) -> None:
        line = self._scroll_line
        if line is None or not self._owners:
            return
        y = next((i for i, o in enumerate(self._owners) if o >= line), 0)
        self._scroll_line = None
        self.scroll_to(y=max(y - 1, 0), animate=False, force=True)
        self._auto_y = self.scroll_offset.y

    def show(self, analysis: Analysis, last_good: Analysis | None) -> None:
        src = analysis if analysis.plan is not None else last_good
        script = src.script if src is not None else ""
        n = len(src.plan.steps) if src is not None and src.plan is not None else 0
        stale = src is not analysis
        self.border_title = (
            f"Plan preview · {n} steps" + (" · out of date" if stale and src else "")
            if n else "Plan preview"
        )
        if not script:
            script = "# the plan appears once the profile is valid"
        if script == self._script and stale == self.has_class("-stale"):
            return
        self.set_class(stale, "-stale")
        prepared = getattr(src, "prepared", None) if src is not None else None
        self.set_script(script, dim=stale, prepared=prepared)

    def set_script(self, script: str, *, dim: bool = False,
                   prepared: tuple[Text, int, list[Strip], list[int]] | None = None) -> None:
        """Show `script`; `prepared` is its highlighting and wrapping done in a worker."""
        self._script = script
        if prepared is not None and not dim:
            self._text, width, self._strips, self._owners = prepared
            if width == self.scrollable_content_region.width:
                self._wrapped_at = width
                self.virtual_size = Size(width, len(self._strips))
                self.refresh()
                return
        else:
            self._text = highlight_script(script, dim=dim)
        self._wrapped_at = -1
        self._wrap()

    def _wrap(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._wrapped_at:
            return
        if self._following():
            self._scroll_line = self._follow  # rows move with the width: keep the mark in view
        self._strips, self._owners = _wrap_lines(self._wrap_console, self._text, width)
        self._wrapped_at = width
        self.virtual_size = Size(width, len(self._strips))
        self._scroll_to_mark()
        self.refresh()

    def on_resize(self) -> None:
        self._wrap()

    def render_line(self, y: int) -> Strip:
        if self._wrapped_at != self.scrollable_content_region.width:
            self._wrap()
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        style = self.rich_style
        i = scroll_y + y
        if i >= len(self._strips):
            return Strip.blank(width, style)
        strip = self._strips[i].crop_extend(scroll_x, scroll_x + width, style)
        owner = self._owners[i] if i < len(self._owners) else -1
        if owner in self._changed:
            style = style + CHANGED_STYLE
        elif owner in self._marks:
            style = style + MARK_STYLE
        return strip.apply_style(style)


class StepList(OptionList):
    """The steps, each ticked when valid; Enter or a click jumps there."""

    class Jump(Message):
        def __init__(self, step: str) -> None:
            super().__init__()
            self.step = step

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.steps: list[str] = []
        self.states: dict[str, bool | None] = {}
        self.current = "source"

    def show(self, steps: list[str], states: dict[str, bool | None], current: str) -> None:
        if steps == self.steps and states == self.states and current == self.current:
            return
        same = steps == self.steps
        self.steps, self.states, self.current = list(steps), dict(states), current
        prompts = [self._prompt(i, s) for i, s in enumerate(steps)]
        if same:
            for i, p in enumerate(prompts):
                self.replace_option_prompt_at_index(i, p)
        else:
            self.set_options([Option(p, id=s) for p, s in zip(prompts, steps, strict=True)])
        self.highlighted = steps.index(current) if current in steps else None

    def _prompt(self, i: int, step: str) -> Text:
        state = self.states.get(step)
        tick = {True: ("✓", "green"), False: ("✗", "red"), None: ("·", "dim")}[state]
        cur = step == self.current
        return Text.assemble(
            ("▸ " if cur else "  ", "bold"),
            (tick[0], tick[1]),
            f" {STEP_TITLES[step]}",
            style="bold" if cur else "",
        )

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Jump(event.option.id))

