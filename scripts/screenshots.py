#!/usr/bin/env python3
"""Regenerate screenshots/*.svg (and .png) of the wizard, made by the app itself.

    python3 scripts/screenshots.py [--out screenshots] [--no-png]

Works in a fixed folder (/tmp/diskwright-demo) holding the example tree, so
the paths in the pictures are short and the same on every machine. The Build
screenshot runs a real build with the real tools. PNGs need `rsvg-convert`;
they are drawn with DejaVu Sans Mono because rsvg cannot fetch the web font
the SVGs name.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # testkit, which the helpers use
sys.path.insert(0, str(REPO / "tests" / "tui"))  # the wizard's test helpers drive it here too

from wizard_helpers import highlight_dataset  # noqa: E402

from diskwright.tui.app import WizardApp  # noqa: E402
from diskwright.tui.model import Draft, draft_from_preset  # noqa: E402

DEMO = Path("/tmp/diskwright-demo")
WIDE = (120, 40)
SMALL = (80, 24)


def make_root(dest: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_root", REPO / "examples" / "make_root.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.make_root(dest)


def demo_draft(preset: str = "vm-disk") -> Draft:
    draft = draft_from_preset(preset, DEMO)
    if draft.get(("source", "path")):
        draft.data["source"]["path"] = str(DEMO / "root")
    return draft


async def settle(pilot: Any) -> None:
    app = pilot.app
    await pilot.pause()
    deadline = time.monotonic() + 60
    while getattr(app, "busy", False) and time.monotonic() < deadline:
        await pilot.pause(0.02)
    await pilot.pause(0.1)


Action = Callable[[Any], Awaitable[None]]


async def shoot(path: Path, app: WizardApp, size: tuple[int, int],
                before: Action | None = None) -> None:
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if before is not None:
            await before(pilot)
            await settle(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.2)
        path.write_text(app.export_screenshot(title="diskwright"), encoding="utf-8")
    print(f"wrote {path}")


def to_png(svg: Path) -> None:
    """rsvg-convert with a font it has; the SVG itself is left as Textual wrote it."""
    fixed = svg.read_text(encoding="utf-8").replace("Fira Code", "DejaVu Sans Mono")
    fixed = fixed.replace("<svg ", '<svg xml:space="preserve" ', 1)
    tmp = svg.with_suffix(".tmp.svg")
    tmp.write_text(fixed, encoding="utf-8")
    try:
        subprocess.run(["rsvg-convert", "-z", "1.0", str(tmp), "-o", str(svg.with_suffix(".png"))],
                       check=True)
    finally:
        tmp.unlink()


async def build_done(pilot: Any) -> None:
    app = pilot.app
    await pilot.click("#build-start")
    form = app.wizard_screen.form("build")
    deadline = time.monotonic() + 300
    while form.state not in ("done", "failed", "cancelled") and time.monotonic() < deadline:
        await pilot.pause(0.1)
    await pilot.pause(0.3)


async def bad_label(pilot: Any) -> None:
    await pilot.app.edit(("disks", 0, "partitions", 0, "label"), "boot part")


async def zfs_properties(pilot: Any) -> None:
    """A dataset whose properties come from the pool: shows set here / inherited / default."""
    await highlight_dataset(pilot, "tank/user/home")
    await settle(pilot)


async def second_partition(pilot: Any) -> None:
    await pilot.app.select(0, 1)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "screenshots")
    ap.add_argument("--no-png", action="store_true")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir()
    make_root(DEMO / "root")

    shots: list[tuple[str, Callable[[], WizardApp], tuple[int, int], Action | None]] = [
        ("wizard-01-start", lambda: WizardApp(None, frozen=True), WIDE, None),
        ("wizard-02-source", lambda: WizardApp(draft=demo_draft(), step="source", frozen=True),
         WIDE, None),
        ("wizard-03-filesystem",
         lambda: WizardApp(draft=demo_draft(), step="filesystem", frozen=True), WIDE,
         second_partition),
        ("wizard-04-layout", lambda: WizardApp(draft=demo_draft(), step="layout", frozen=True),
         WIDE, None),
        ("wizard-05-sizes", lambda: WizardApp(draft=demo_draft(), step="sizes", frozen=True),
         WIDE, None),
        ("wizard-06-output", lambda: WizardApp(draft=demo_draft(), step="output", frozen=True),
         WIDE, None),
        ("wizard-07-review", lambda: WizardApp(draft=demo_draft(), step="review", frozen=True),
         WIDE, None),
        ("wizard-08-build", lambda: WizardApp(draft=demo_draft(), step="build", frozen=True),
         WIDE, build_done),
        ("wizard-09-invalid-field",
         lambda: WizardApp(draft=demo_draft(), step="filesystem", frozen=True), WIDE, bad_label),
        ("wizard-11-zfs",
         lambda: WizardApp(draft=demo_draft("zfs-root"), step="zfs", frozen=True), WIDE,
         zfs_properties),
        ("wizard-10-small-terminal",
         lambda: WizardApp(draft=demo_draft("sd-card"), step="layout", frozen=True), SMALL, None),
    ]
    for name, make, size, before in shots:
        for old in DEMO.glob("vm-disk.qcow2*"):
            old.unlink()
        svg = out / f"{name}.svg"
        await shoot(svg, make(), size, before)
        if not args.no_png:
            if shutil.which("rsvg-convert"):
                to_png(svg)
            else:
                print("rsvg-convert is not installed: SVG only", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
