"""Every wizard screen at 80×24 and 120×40, frozen (no cursor blink, no timings, workers done).

Update after a deliberate change with `pytest tests/tui --snapshot-update` and
look at the report before committing.

Screens with the estimate or the plan preview show what the installed tools do (the plan
quotes e2fsprogs' and mkfs.erofs' own behaviour; e2fsprogs 1.47.2's orphan file makes the
qcow2 bigger), so those screens (the `screen_*` functions here) have one set of snapshots per
release, in debian12/test_wizard_snapshots_debian12.py and
debian13/test_wizard_snapshots_debian13.py. Their tests are collected everywhere and run only
where that release's tools are (see only_on). Each release keeps its files in its own folder,
outside tests/tui/__snapshots__: syrupy counts every snapshot file under a folder it scans
that this run did not use as unused — a skipped test's too — and then exits 1 and
--snapshot-update deletes it. test_no_snapshot_file_without_its_test finds stale files in
both sets on either release.
Update Debian 13's in a trixie root (scripts/check-fresh.sh, or a root made like it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import highlight_dataset, preset_draft, settle

from diskwright.core.fs.ext4 import e2fsprogs_version
from diskwright.core.presets import presets
from diskwright.core.tools import erofs_features
from diskwright.tui.app import WizardApp
from diskwright.tui.model import Draft

pytestmark = pytest.mark.tui

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
STEPS = ["source", "filesystem", "layout", "sizes", "output", "review", "build"]

# the tool releases whose screens differ, each with its module of snapshots
DEBIAN12, DEBIAN13 = "e2fsprogs 1.47.0, erofs-utils 1.5", "e2fsprogs 1.47.2, erofs-utils 1.8"
INSTALLED = (f"e2fsprogs {'.'.join(map(str, e2fsprogs_version()))}, "
             f"erofs-utils {'.'.join(map(str, erofs_features().version[:2]))}")


def only_on(release: str, name: str) -> pytest.MarkDecorator:
    """Skip a release's snapshot tests where other tools are installed (collected, so the
    stale-file check knows them; skipped before any snapshot fixture is made)."""
    why = f"{name}: snapshots of {release}; this machine has {INSTALLED}"
    return pytest.mark.skipif(INSTALLED != release, reason=why)


def wizard(snap_dir: Path, step: str, preset: str = "vm-disk",
           change: Callable[[Draft], None] | None = None) -> WizardApp:
    draft = preset_draft(preset, snap_dir)
    if change is not None:
        change(draft)
    return WizardApp(draft=draft, step=step, frozen=True)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", STEPS)
def screen_step(snap_compare: Any, snap_dir: Path, step: str, size: tuple[int, int]) -> None:
    assert snap_compare(wizard(snap_dir, step), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_start_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(WizardApp(None, frozen=True), terminal_size=size, run_before=settle)


def _zfs(draft: Draft) -> None:
    draft.set_role(0, 1, "zfs")
    draft.set(("disks", 0, "partitions", 1, "zfs"),
              {"pool": "rpool", "pool_properties": {"ashift": 12},
               "filesystem_properties": {"compression": "lz4", "mountpoint": "legacy"},
               "datasets": {"rpool/root": {"mount_point": "/"}}})


@pytest.mark.parametrize("size", SIZES)
def test_zfs_step(snap_compare: Any, snap_dir: Path, size: tuple[int, int]) -> None:
    assert snap_compare(wizard(snap_dir, "zfs", change=_zfs), terminal_size=size,
                        run_before=settle)


async def _zfs_home(pilot: Any) -> None:
    """tank/user/home: its own values, the pool's inherited ones, and defaults."""
    await settle(pilot)
    await highlight_dataset(pilot, "tank/user/home")
    await settle(pilot)


async def _zfs_picker(pilot: Any) -> None:
    """The property picker narrowed to "re" (must fit 80×24 with its buttons)."""
    await _zfs_home(pilot)
    pilot.app.screen.query_one("#zfs-pick").focus()
    await pilot.press("enter", "r", "e")
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("then", [_zfs_home, _zfs_picker], ids=["inherited", "picker"])
def test_zfs_dataset(snap_compare: Any, snap_dir: Path, size: tuple[int, int], then: Any) -> None:
    assert snap_compare(wizard(snap_dir, "zfs", preset="zfs-root"), terminal_size=size,
                        run_before=then)


def _bad_label(draft: Draft) -> None:
    draft.set(("disks", 0, "partitions", 0, "label"), "boot part")


@pytest.mark.parametrize("size", SIZES)
def test_invalid_field_is_marked(snap_compare: Any, snap_dir: Path,
                                 size: tuple[int, int]) -> None:
    assert snap_compare(wizard(snap_dir, "filesystem", change=_bad_label), terminal_size=size,
                        run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def screen_two_disks_layout(snap_compare: Any, snap_dir: Path, size: tuple[int, int]) -> None:
    assert snap_compare(wizard(snap_dir, "layout", preset="microvm-store"), terminal_size=size,
                        run_before=settle)


@pytest.mark.parametrize("panel", [pytest.param(["f2"], id="estimate"),
                                   pytest.param(["f2", "f2"], id="plan")])
def screen_narrow_panels_become_tabs(snap_compare: Any, snap_dir: Path,
                                     panel: list[str]) -> None:
    assert snap_compare(wizard(snap_dir, "layout"), terminal_size=(80, 24), press=panel,
                        run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def screen_help(snap_compare: Any, snap_dir: Path, size: tuple[int, int]) -> None:
    assert snap_compare(wizard(snap_dir, "filesystem"), terminal_size=size, press=["f1"],
                        run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def screen_save_dialog(snap_compare: Any, snap_dir: Path, size: tuple[int, int]) -> None:
    """The Save dialog's buttons stay on screen at 80×24 (the tree takes what is left)."""
    assert snap_compare(wizard(snap_dir, "source"), terminal_size=size, press=["ctrl+s"],
                        run_before=settle)


async def _to_open(pilot: Any) -> None:
    await settle(pilot)
    for _ in range(len(presets())):
        await pilot.press("down")
    await settle(pilot)


def test_start_screen_open_is_in_view(snap_compare: Any) -> None:
    """At 80×24 the presets scroll; ↓ past the last one reaches Open…, which is in view."""
    assert snap_compare(WizardApp(None, frozen=True), terminal_size=(80, 24),
                        run_before=_to_open)


@pytest.mark.parametrize("size", SIZES)
def test_preset_copy_dialog(snap_compare: Any, snap_dir: Path, size: tuple[int, int],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Enter on a preset asks where the new profile goes; the dialog fits 80×24."""
    monkeypatch.chdir(snap_dir)
    assert snap_compare(WizardApp(None, frozen=True), terminal_size=size, press=["enter"],
                        run_before=settle)


# the screens that show the installed tools, collected by each release's module under
# their test names (syrupy keys snapshots by module, so each release needs its own)
RELEASE_SCREENS = {
    "test_step": screen_step,
    "test_two_disks_layout": screen_two_disks_layout,
    "test_narrow_panels_become_tabs": screen_narrow_panels_become_tabs,
    "test_help": screen_help,
    "test_save_dialog": screen_save_dialog,
}


def test_no_snapshot_file_without_its_test() -> None:
    """Every snapshot file belongs to a collected test, the other release's included
    (syrupy checks only the files of the tests that ran)."""
    here = Path(__file__).parent
    modules = sorted(here.glob("**/test_wizard_snapshots*.py"))
    assert len(modules) == 3, modules
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *map(str, modules)],
        cwd=here.parent.parent, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    tests = {tuple(line.split("::")) for line in out.stdout.splitlines() if "::" in line}
    assert len(tests) > 2 * len(RELEASE_SCREENS), out.stdout
    snaps = list(here.glob("**/__snapshots__/*/*"))
    assert len(snaps) > len(tests) // 2, snaps
    stale = [str(snap.relative_to(here)) for snap in snaps
             if (str(snap.parent.parent.parent.joinpath(snap.parent.name + ".py")
                     .relative_to(here.parent.parent)), snap.stem) not in tests]
    assert not stale, f"snapshot files no test uses (delete them): {stale}"
