"""No keystroke is lost or reordered: bursts of keys with no delay, while analysis runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Input
from wizard_helpers import PATIENCE, field, pause, preset_draft, settle

from diskwright.tui.app import WizardApp

pytestmark = pytest.mark.tui


def burst(app: Any, keys: list[str]) -> None:
    """Queue every key at once, as a fast typist or key repeat does: no pause between keys."""
    driver = app._driver
    for key in keys:
        char = key if len(key) == 1 else None
        name = {" ": "space", "/": "slash", ".": "full_stop", "-": "minus", "_": "underscore"}.get(
            key, key)
        event = events.Key(name, char)
        event.set_sender(app)
        driver.send_message(event)


def text_200(alphabet: str) -> str:
    return "".join(alphabet[i % len(alphabet)] for i in range(200))


# (step, path, alphabet, what the profile holds for the typed text)
FIELDS = [
    pytest.param("source", ("source", "path"), "abc/def-_.", str, id="text-path"),
    pytest.param("source", ("source", "closure"), "ab c/d ", str.split, id="list"),
    pytest.param("filesystem", ("disks", 0, "partitions", 0, "label"), "NIXOS-_", str,
                 id="label"),
    pytest.param("sizes", ("disks", 0, "partitions", 1, "size"), "256MiBG", str, id="size"),
    pytest.param("output", ("reproducible", "source_date_epoch"), "1234567890", int,
                 id="number"),
]


@pytest.mark.parametrize(("step", "path", "alphabet", "convert"), FIELDS)
async def test_200_keys_without_delay_all_arrive(tui_work: Path, step: str,
                                                  path: tuple[Any, ...], alphabet: str,
                                                  convert: Any) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step=step, frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        inp = field(app, step, path).query_one(Input)
        inp.focus()
        await pilot.pause()
        await pilot.press("end", "ctrl+u")
        await settle(pilot)
        text = text_200(alphabet)
        # half the keys, then a rescan (analysis and scan results arrive mid-burst), the rest
        burst(app, list(text[:100]))
        app.start_scan(force=True)
        app.schedule_analysis(0)
        burst(app, list(text[100:]))
        await arrived(pilot, inp, path, text, convert)
        # quick backspaces and retyping, the way the issue lost "root" into "/no"
        burst(app, ["backspace"] * 30 + list("root"))
        await arrived(pilot, inp, path, text[:170] + "root", convert)


async def arrived(pilot: Any, inp: Input, path: tuple[Any, ...], text: str,
                  convert: Any) -> None:
    """Wait for the queued keys to be handled, then for everything they set off; compare."""
    app = pilot.app

    def want() -> Any:
        try:
            return convert(text)
        except ValueError:
            return text  # a number field keeps what is not a number yet as text

    # waits end when the text is there; the limit only turns a hang into a failure (a lost
    # key leaves the text wrong and fails at the asserts), never a slow machine
    deadline = time.monotonic() + PATIENCE
    while (inp.value, app.state.draft.get(path)) != (text, want()) and time.monotonic() < deadline:
        await pause(pilot, 0.05)
    await settle(pilot)
    await pause(pilot, 0.3)  # a late scan or analysis result must not write anything back
    await settle(pilot)
    assert inp.value == text
    assert app.state.draft.get(path) == want()
