"""Helpers for the wizard's tests: example trees, presets in a folder, waiting for workers."""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit import sha256 as sha256  # re-exported for the tui tests

from diskwright.tui.model import Draft, draft_from_preset
from diskwright.tui.widgets import field_id

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SNAP_DIR = Path(tempfile.gettempdir()) / "diskwright-tui-snapshots"


def _make_root() -> Any:
    spec = importlib.util.spec_from_file_location("dw_make_root", EXAMPLES / "make_root.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_root


make_root = _make_root()


def preset_draft(name: str, base: Path, root: Path | None = None) -> Draft:
    """A preset's draft with outputs in `base` and the source at `root` (default base/root)."""
    draft = draft_from_preset(name, base)
    if draft.get(("source", "path")):
        draft.data["source"]["path"] = str(root or base / "root")
    return draft


# How long a wait may take before it counts as a hang. Generous on purpose: these waits
# prove that something happens, never how fast (speed targets live in bench/); two
# cores at load 20 made a 200-key burst take over 30 s.
PATIENCE = 300.0


async def drain(pilot: Any, timeout: float = PATIENCE) -> None:
    """Every message queued so far on the app and the screen's widgets is handled.

    This is what each pilot.pause() and pilot.press() wait for, but there Textual
    gives up after a fixed 30 s (WaitForScreenTimeout) even while work still
    progresses; the same wait here has `timeout`.
    """
    await pilot._wait_for_screen(timeout=timeout)


async def pause(pilot: Any, delay: float | None = None) -> None:
    """pilot.pause(delay) without its fixed 30 s limit (see drain)."""
    await drain(pilot)
    await pilot.pause(delay)


async def settle(pilot: Any, timeout: float = PATIENCE) -> None:
    """Wait until debounce timers, analysis workers and the scan are all done."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    await pause(pilot)
    while getattr(app, "busy", False):
        if time.monotonic() > deadline:
            raise AssertionError("the wizard never settled")
        await pause(pilot, 0.02)
    await pause(pilot)


async def answer_path(pilot: Any, key: str, path: Any) -> None:
    """Open the path dialog with `key` (ctrl+s, ctrl+e…), type `path` there, press Enter."""
    from textual.widgets import Input

    from diskwright.tui.dialogs import PathModal

    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.screen, PathModal), pilot.app.screen
    pilot.app.screen.query_one("#path-input", Input).value = str(path)
    await pilot.press("enter")
    await pilot.pause()


async def highlight_dataset(pilot: Any, name: str) -> None:
    """Walk the ZFS step's dataset tree with the arrow keys, as a person would, to `name`."""
    tree = pilot.app.screen.query_one("#zfs-tree")
    tree.focus()
    await pilot.press("home")
    for _ in range(tree.last_line + 1):
        if tree.cursor_node is not None and tree.cursor_node.data == name:
            return
        await pilot.press("down")
    raise AssertionError(f"no dataset {name!r} in the tree")


def field(app: Any, step: str, path: tuple[Any, ...]) -> Any:
    return app.screen.query_one(f"#form-{step} #{field_id(path)}")


async def type_into(pilot: Any, step: str, path: tuple[Any, ...], text: str, *,
                    paste: bool = False) -> None:
    """Replace a text field's content the way a person would: focus, clear, type.

    `paste` puts the text in at once (a long path), which is what pasting does.
    """
    from textual.widgets import Input

    inp = field(pilot.app, step, path).query_one(Input)
    inp.focus()
    await pilot.pause()
    await pilot.press("end", "ctrl+u")
    if text and paste:
        inp.insert_text_at_cursor(text)
    elif text:
        await pilot.press(*list(text))
    await settle(pilot)


async def wait_for(pilot: Any, predicate: Any, timeout: float = PATIENCE, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pause(pilot, 0.05)


def plain(widget: Any) -> str:
    """A Static's content as plain text, whatever renderable it holds."""
    import io

    from rich.console import Console

    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()
