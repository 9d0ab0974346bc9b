"""The wizard driven like a person would: keys and clicks, real tools for the builds."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Input, Select, Static
from wizard_helpers import (
    REPO,
    answer_path,
    field,
    make_root,
    plain,
    preset_draft,
    settle,
    sha256,
    type_into,
    wait_for,
)

from diskwright.tui.app import WizardApp
from diskwright.tui.dialogs import ConfirmModal, HelpModal, PathModal, PresetCopyModal

pytestmark = pytest.mark.tui


def build_form(app: WizardApp) -> Any:
    return app.wizard_screen.form("build")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".diskwright"))


async def run_build(pilot: Any, timeout: float = 300) -> Any:
    app = pilot.app
    await app.goto("build")
    await settle(pilot)
    form = build_form(app)
    assert not app.screen.query_one("#build-start", Button).disabled
    await pilot.click("#build-start")
    await wait_for(pilot, lambda: form.state in ("done", "failed", "cancelled"), timeout,
                   "the build to end")
    return form


# ------------------------------------------------------------------ full runs


async def test_full_build_from_a_preset(tui_work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Start screen → VM disk preset → copy dialog → every step with Ctrl+N → Build → an image.

    The preset is copied (with its demo tree) into an empty folder and the copy is
    what the wizard opens, so its source is the copied tree, relative to the profile.
    """
    work = tui_work / "mine"
    work.mkdir()
    monkeypatch.chdir(work)
    app = WizardApp(None, frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.id == "start-screen"
        await pilot.press("enter")  # the first preset: VM disk
        await pilot.pause()
        assert isinstance(app.screen, PresetCopyModal)
        await pilot.press("enter")  # Create ./my-vm-disk.toml with the demo tree
        await settle(pilot)
        assert app.state.draft.path == work / "my-vm-disk.toml" and (work / "root").is_dir()
        assert app.state.current_step == "source" and app.state.draft.get(("name",)) == "vm-disk"
        assert app.state.draft.get(("source", "path")) == "root"
        assert app.state.scan_status.state == "done" and app.state.scan is not None
        visited = []
        for _ in range(6):
            await pilot.press("ctrl+n")
            await settle(pilot)
            visited.append(app.state.current_step)
        assert visited == ["filesystem", "layout", "sizes", "output", "review", "build"]
        form = build_form(app)
        await pilot.click("#build-start")
        await wait_for(pilot, lambda: form.state in ("done", "failed", "cancelled"), 300)
        assert form.state == "done", app.screen.query_one("#build-result").render()
        image = work / "vm-disk.qcow2"
        assert image.is_file()
        [out] = form.result.outputs
        assert out.path == str(image) and out.sha256 == sha256(image)
        assert len(form.result.checks) >= 3
        assert all(s == "done" for s in form.states)
        assert leftovers(work) == []
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(image)],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["format"] == "qcow2"
    subprocess.run(["qemu-img", "check", str(image)], check=True, capture_output=True)
    raw = tui_work / "check.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(image), str(raw)], check=True)
    table = json.loads(subprocess.run(["sfdisk", "-J", str(raw)], capture_output=True,
                                      text=True, check=True).stdout)
    assert len(table["partitiontable"]["partitions"]) == 2


async def test_saved_profile_builds_the_same_image_headless(tui_work: Path) -> None:
    """Ctrl+S in the wizard, build there, then `diskwright build` the saved file: same bytes."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="review", frozen=True)
    saved = tui_work / "profiles" / "my-vm.toml"
    saved.parent.mkdir()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PathModal)
        inp = app.screen.query_one("#path-input", Input)
        inp.value = str(saved)
        await pilot.press("enter")
        await settle(pilot)
        assert saved.is_file() and not app.state.draft.dirty
        # the header shows the saved file (a long path gives up its first folders)
        assert app.state.draft.path == saved and app.sub_title.endswith("profiles/my-vm.toml")
        form = await run_build(pilot)
        assert form.state == "done"
        wizard_sha = form.result.outputs[0].sha256
    cli_out = tui_work / "cli"
    cli_out.mkdir()
    res = subprocess.run([sys.executable, "-m", "diskwright.tui.cli", "build", str(saved),
                          "--output-dir", str(cli_out)], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert sha256(cli_out / "vm-disk.qcow2") == wizard_sha


async def test_after_a_build_the_ticks_stay_and_build_again_replaces_its_own(
        tui_work: Path) -> None:
    """A successful build leaves ✓ on Output, Review and Build (the outputs are its own), and
    ▶ Build again replaces them without the Replace tick; a file the user puts at the
    output path afterwards is theirs again: ✗ and kept (issue 10: red crosses after success)."""
    from diskwright.tui.model import step_states

    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="review", frozen=True)
    steps = ["output", "review", "build"]

    def ticks() -> dict[str, bool | None]:
        return step_states(app.state.analysis, steps, force=app.state.draft.force, scanning=False)

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        form = await run_build(pilot)
        assert form.state == "done"
        first = form.result.outputs[0]
        await wait_for(pilot, lambda: app.state.analysis.rebuilds == [first.path], 300,
                       "the analysis after the build")
        assert ticks() == {"output": True, "review": True, "build": True}
        assert app.state.analysis.existing == [] and not app.state.draft.force
        # the preview is the plan that runs
        assert "--force may replace" in app.state.analysis.script
        form = await run_build(pilot)
        assert form.state == "done", plain(app.screen.query_one("#build-result", Static))
        assert form.result.outputs[0].sha256 == first.sha256
        Path(first.path).unlink()
        Path(first.path).write_bytes(b"the user's own file")
        app.schedule_analysis(0)
        await wait_for(pilot, lambda: app.state.analysis.existing == [first.path], 300,
                       "the analysis to see the user's file")
        assert ticks() == {"output": False, "review": False, "build": False}
    assert Path(first.path).read_bytes() == b"the user's own file"


async def test_the_shown_rebuild_command_runs_as_pasted(tui_work: Path) -> None:
    """The result's "rebuild headless" line, pasted into a shell, rebuilds the same bytes:
    a saved path with a space and $(...) stays one argument, and --force replaces the
    output the wizard just wrote (unquoted, the shell ran `touch PWN` and split the path)."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    saved = tui_work / "x y" / "$(touch PWN).toml"
    saved.parent.mkdir()
    draft.save(saved)
    app = WizardApp(draft=draft, step="review", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        form = await run_build(pilot)
        assert form.state == "done"
        wizard_sha = form.result.outputs[0].sha256
        out = plain(app.screen.query_one("#build-result", Static))
    [line] = [ln for ln in out.splitlines() if "rebuild headless:" in ln]
    command = line.split("rebuild headless:", 1)[1].strip()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    res = subprocess.run(["sh", "-c", command], cwd=tui_work, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, command + "\n" + res.stderr
    assert not (tui_work / "PWN").exists()
    assert sha256(Path(form.result.outputs[0].path)) == wizard_sha


async def test_cancel_mid_build_leaves_no_output(tui_work: Path) -> None:
    """A slow xz step is running when Cancel is confirmed: nothing is written, nothing left."""
    root = make_root(tui_work / "bigroot")
    (root / "usr" / "big.bin").write_bytes(os.urandom(48 * 1024 * 1024))
    draft = preset_draft("sd-card", tui_work, root)
    draft.set(("disks", 0, "output", "compression"), "xz")
    draft.set(("disks", 0, "output", "compression_level"), 9)
    draft.set(("disks", 0, "output", "path"), "sd.img.xz")
    good_log = tui_work / "sd.img.xz.log"
    good_log.write_text("the last good build's log\n")
    app = WizardApp(draft=draft, step="build", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        form = build_form(app)
        await pilot.click("#build-start")

        def compressing() -> bool:
            return (form.state == "running" and form.plan is not None and form.current >= 0
                    and " xz " in f" {form.plan.steps[form.current].render()} ")

        await wait_for(pilot, compressing, 300, "the xz step to start")
        assert app.focused is not None and app.focused.id == "build-cancel"
        await pilot.press("escape")  # Esc asks…
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")  # …and Esc in the question keeps building
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal) and form.state == "running"
        await pilot.press("ctrl+c")  # so does Ctrl+C
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#answer-stop")
        await wait_for(pilot, lambda: form.state != "running", what="the build to stop")
        assert form.state == "cancelled"
        assert "stopped" in form.states
        status = plain(app.screen.query_one("#build-status"))
        assert "nothing was written" in status
        # the form tells the app (a Building message), which lets the profile change again
        await wait_for(pilot, lambda: not app.state.building, what="the app to hear it")
    assert not (tui_work / "sd.img.xz").exists()
    assert leftovers(tui_work) == []
    assert good_log.read_text() == "the last good build's log\n"  # never touched
    log = (tui_work / "sd.img.xz.cancelled.log").read_text()
    assert "cancelled" in log
    # the tool's process group is gone: no process still works inside our folder
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            assert str(tui_work).encode() not in cmd


# ------------------------------------------------------------------ validation per step


INVALID = [
    pytest.param("source", ("source", "path"), "/no/such/folder", "does not exist",
                 id="source"),
    pytest.param("filesystem", ("disks", 0, "partitions", 0, "label"), "esp part",
                 "upper-case", id="filesystem"),
    pytest.param("layout", ("disks", 0, "partitions", 0, "mount_point"), "boot",
                 "absolute path", id="layout"),
    pytest.param("sizes", ("disks", 0, "partitions", 1, "size"), "1000",
                 "512-byte sector", id="sizes"),
    pytest.param("output", ("disks", 0, "output", "path"), "/dev/vm.qcow2",
                 "refusing to write under /dev", id="output"),
    pytest.param("output", ("reproducible", "source_date_epoch"), "-5",
                 "greater than or equal", id="output-epoch"),
]


@pytest.mark.parametrize(("step", "path", "bad", "words"), INVALID)
async def test_invalid_input_is_explained_and_blocks_next(
        tui_work: Path, step: str, path: tuple[Any, ...], bad: str, words: str) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    good = draft.get(path)
    app = WizardApp(draft=draft, step=step, frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        nxt = app.screen.query_one("#nav-next", Button)
        assert not nxt.disabled
        await type_into(pilot, step, path, bad)
        f = field(app, step, path)
        assert f.has_class("-invalid")
        note = plain(f.query_one(".note"))
        assert words in note, note
        assert "✗" in note  # never colour alone
        assert nxt.disabled
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.state.current_step == step
        # the review lists it too, and Build refuses
        assert not app.state.analysis.step_ok("review")
        await type_into(pilot, step, path, str(good), paste=True)
        assert not f.has_class("-invalid")
        assert not nxt.disabled


async def test_review_lists_problems_and_disables_build(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    draft.set(("disks", 0, "partitions", 1, "label"), "x" * 20)
    app = WizardApp(draft=draft, step="review", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = plain(app.screen.query_one("#review-problems"))
        assert "Filesystem" in text and "16 bytes" in text
        assert app.screen.query_one("#review-build", Button).disabled
        assert app.screen.query_one("#nav-next", Button).disabled
        steps = app.screen.query_one("#steps")
        assert "✗" in str(steps.get_option("filesystem").prompt)
        assert "✓" in str(steps.get_option("source").prompt)


async def test_review_save_and_export_buttons_ask_where(tui_work: Path) -> None:
    """The Review step's buttons reach the app's Ctrl+S and Ctrl+E (Save, Export messages)."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="review", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for button, title in (("#review-save", "profile"), ("#review-export", "plan")):
            app.screen.query_one(button, Button).press()
            await pilot.pause()
            assert isinstance(app.screen, PathModal), button
            assert title in app.screen.title_text.lower(), (button, app.screen.title_text)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, PathModal)


async def test_existing_output_warns_and_replace_is_explicit(tui_work: Path) -> None:
    (tui_work / "vm-disk.qcow2").write_bytes(b"an older image")
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="output", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        warning = plain(app.screen.query_one("#existing-warning"))
        assert "exist" in warning and str(tui_work / "vm-disk.qcow2") in warning
        assert app.screen.query_one("#nav-next", Button).disabled
        await pilot.click("#force")
        await settle(pilot)
        assert app.state.draft.force
        assert "will be replaced" in plain(app.screen.query_one("#existing-warning"))
        assert not app.screen.query_one("#nav-next", Button).disabled
        assert "Refuse to replace" not in app.state.analysis.script


# ------------------------------------------------------------------ editing


async def test_layout_add_move_remove_partitions(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="layout", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.click("#part-add")
        await settle(pilot)
        assert len(app.state.draft.parts(0)) == 3 and app.state.selected == (0, 2)
        assert app.state.analysis.estimate is not None
        assert len(app.state.analysis.estimate.disks[0].parts) == 3
        assert "d0p3" in app.state.analysis.script
        await pilot.click("#part-up")
        await settle(pilot)
        assert app.state.selected == (0, 1) and app.state.draft.parts(0)[1]["empty"] is True
        table = app.screen.query_one("#parts-table")
        assert table.row_count == 3 and table.cursor_row == 1
        # role → filesystem coupling
        app.screen.query_one("#form-layout #f-disks-0-partitions-1-role").query_one(
            "Select").value = "swap"
        await settle(pilot)
        assert app.state.draft.parts(0)[1]["filesystem"] == "swap"
        await pilot.click("#part-remove")
        await settle(pilot)
        assert [p["role"] for p in app.state.draft.parts(0)] == ["esp", "root"]
        assert app.state.draft.dirty


async def test_zfs_step_appears_only_with_a_pool(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="layout", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "zfs" not in app.wizard_screen.visible_steps()
        await app.select(0, 1)
        app.screen.query_one("#form-layout #f-disks-0-partitions-1-role").query_one(
            "Select").value = "zfs"
        await settle(pilot)
        assert "zfs" in app.wizard_screen.visible_steps()
        await app.goto("zfs")
        await settle(pilot)
        zfs = ("disks", 0, "partitions", 1, "zfs")
        # the pool node: its settings and zpool create -o properties
        tree = app.screen.query_one("#zfs-tree")
        tree.focus()
        await pilot.press("home")
        await settle(pilot)
        app.screen.query_one("#zfs-key", Input).value = "ashift"
        await settle(pilot)
        assert "power of two" in str(app.screen.query_one("#zfs-help", Static).render())
        app.screen.query_one("#zfs-value", Input).value = "12"
        app.screen.query_one("#zfs-value", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.draft.get(zfs) == {"pool": "rpool", "pool_properties": {"ashift": 12}}
        # a dataset for / makes the pool complete
        tree.focus()
        await pilot.press("down", "a")
        await pilot.pause()
        await pilot.press("r", "o", "o", "t", "enter")
        await settle(pilot)
        app.screen.query_one("#zfs-key", Input).value = "mount_point"
        app.screen.query_one("#zfs-value", Input).value = "/"
        app.screen.query_one("#zfs-value", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.draft.get((*zfs, "datasets")) == {"rpool/root": {"mount_point": "/"}}
        assert app.state.analysis.step_ok("zfs"), plain(app.screen.query_one("#problems-zfs"))
        # a value OpenZFS would refuse is marked with the model's words
        app.screen.query_one("#zfs-key", Input).value = "compression"
        app.screen.query_one("#zfs-value", Input).value = "lz5"
        app.screen.query_one("#zfs-value", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert not app.state.analysis.step_ok("zfs")
        assert app.screen.query_one("#nav-next", Button).disabled
        shown = plain(app.screen.query_one("#problems-zfs"))
        assert "compression" in shown and "lz5" in shown, shown


async def test_preview_is_cores_script_and_follows_edits(tui_work: Path) -> None:
    from diskwright.core.plan import render_script
    from diskwright.core.planner import make_plan
    from diskwright.core.profile import parse_profile
    from diskwright.core.scan import scan_tree

    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="filesystem", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await type_into(pilot, "filesystem", ("disks", 0, "partitions", 0, "label"), "BOOT")
        profile = parse_profile(app.state.draft.data, app.state.draft.base_dir)
        plan = make_plan(profile, scan_tree(tui_work / "root"))
        body = app.state.analysis.script.split("set -eu", 1)[1]
        assert body == render_script(plan).split("set -eu", 1)[1]
        assert "-n BOOT" in body
        panel = app.screen.query_one("#plan")
        assert panel._script == app.state.analysis.script


async def test_preview_follows_the_form_and_marks_the_edit(tui_work: Path) -> None:
    """Issue 10: on the Filesystem step the preview scrolls to and marks the mkfs steps;
    a label edit marks the changed mkfs line."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="filesystem", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        panel = app.screen.query_one("#plan")
        lines = app.state.analysis.script.split("\n")
        marked = [lines[n] for n in sorted(panel._marks)]
        assert any(line.startswith("mkfs.") for line in marked), marked
        assert not any("helper commit" in line for line in marked)
        first = min(panel._marks)
        y = panel.scroll_offset.y
        assert y > 0 and panel._owners[y] <= first <= panel._owners[y + 3]
        await type_into(pilot, "filesystem", ("disks", 0, "partitions", 0, "label"), "BOOT")
        await settle(pilot)
        lines = app.state.analysis.script.split("\n")
        changed = [lines[n] for n in sorted(panel._changed)]
        assert changed and all("BOOT" in line for line in changed), changed
        assert any(line.startswith("mkfs.") for line in changed), changed


async def test_partition_picker_follows_a_label_as_it_is_typed(tui_work: Path) -> None:
    """The Filesystem step's picker names the partition by its new label at once, in the
    same Select (no new widget per key), keeping the choice and the typist's focus."""
    from textual.widgets._select import SelectCurrent, SelectOverlay

    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="filesystem", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.select(0, 1)
        await settle(pilot)
        picker = app.screen.query_one("#fs-picker-select", Select)
        path = ("disks", 0, "partitions", 1, "label")
        await type_into(pilot, "filesystem", path, "ROOTFS")
        assert app.screen.query_one("#fs-picker-select", Select) is picker
        assert picker.value == "0:1" and app.state.selected == (0, 1)
        assert app.focused is field(app, "filesystem", path).query_one(Input)
        title = app.state.draft.part_title(0, 1)
        assert "“ROOTFS”" in title
        assert plain(picker.query_one(SelectCurrent).query_one("#label", Static)).strip() == title
        overlay = picker.query_one(SelectOverlay)
        prompts = [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]
        assert prompts == [app.state.draft.part_title(d, p) for d, p in app.state.draft.all_parts()]


async def test_export_writes_the_plan(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="review", frozen=True)
    target = tui_work / "plan.sh"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await answer_path(pilot, "ctrl+e", str(target))
        await settle(pilot)
    # the preview's script, plus the line that puts this installation first on PATH
    # so the exported plan's helper steps run from a shell without the venv
    from diskwright.core.plan import helper_dir

    helper_line = f'export PATH={shlex.quote(helper_dir())}:"$PATH:/usr/sbin:/sbin"'
    exported = target.read_text()
    assert helper_line in exported.splitlines()
    preview = app.state.analysis.script.replace('export PATH="$PATH:/usr/sbin:/sbin"\n', "")
    exported = "\n".join(ln for ln in exported.splitlines()
                         if ln != helper_line and not ln.startswith("# `diskwright helper`"))
    assert exported + "\n" == preview
    assert os.access(target, os.X_OK)


async def test_save_asks_before_replacing(tui_work: Path) -> None:
    target = tui_work / "vm-disk.toml"
    before = target.read_text()
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="review", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await answer_path(pilot, "ctrl+s", str(target))
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#answer-no")
        await pilot.pause()
        assert target.read_text() == before
        await answer_path(pilot, "ctrl+s", str(target))
        await pilot.click("#answer-yes")
        await settle(pilot)
    assert target.read_text() != before
    assert "/root" in target.read_text()


async def test_quit_asks_when_there_are_unsaved_changes(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="review", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")  # nothing changed yet: would quit, so change first
        await pilot.pause()
    assert app.return_value == 0
    app = WizardApp(draft=preset_draft("vm-disk", tui_work, tui_work / "root"), step="review",
                    frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await type_into(pilot, "review", ("name",), "changed")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#answer-stay")
        await pilot.pause()
        assert app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.click("#answer-quit")
        await pilot.pause()
    assert app.return_value == 0


async def test_small_terminal_panels_are_tabs(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="sizes", frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.has_class("-narrow")
        assert screen.query_one("#form-area").display and not screen.query_one("#side").display
        await pilot.press("f2")
        assert screen.query_one("#estimate").display and not screen.query_one("#form-area").display
        await pilot.press("f2")
        assert screen.query_one("#plan").display and not screen.query_one("#estimate").display
        await pilot.press("f2")
        assert screen.query_one("#form-area").display
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not screen.has_class("-narrow")
        assert screen.query_one("#form-area").display and screen.query_one("#side").display


async def test_help_and_keyboard_only_navigation(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="source", frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        assert "Source" in app.screen.text
        await pilot.press("escape")
        await pilot.pause()
        # jump with the step list: focus it, go down to Output, Enter
        app.screen.query_one("#steps").focus()
        await pilot.press("down", "down", "down", "down", "enter")
        await settle(pilot)
        assert app.state.current_step == "output"
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert app.state.current_step == "sizes"


async def test_opening_an_invalid_profile_shows_what_to_fix(tui_work: Path) -> None:
    bad = tui_work / "bad.toml"
    bad.write_text((tui_work / "vm-disk.toml").read_text().replace('label = "ESP"',
                                                                   'label = "esp"'))
    app = WizardApp(str(bad), frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.state.draft.path == bad.resolve()
        await app.goto("filesystem")
        await settle(pilot)
        f = field(app, "filesystem", ("disks", 0, "partitions", 0, "label"))
        assert f.has_class("-invalid")
        assert "upper-case" in plain(f.query_one(".note"))


async def test_a_profile_path_that_does_not_exist_yet(tmp_path: Path) -> None:
    new = tmp_path / "new.toml"
    app = WizardApp(str(new), frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.id == "start-screen"
        assert "does not exist yet" in plain(app.screen.query_one("#start-note"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PresetCopyModal)  # the copy goes where PROFILE said
        assert Path(app.screen.query_one("#preset-path", Input).value).name == "new.toml"
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.draft.path == new.resolve() and new.is_file()


async def test_a_preset_is_copied_where_the_user_says(
        tui_work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: start screen → preset → dialog → the user's own copy, never the example.

    The profile file exists where it was asked for, every path in it is relative,
    and neither it nor a save of it names the install folder; comments survive.
    """
    from textual.widgets import Checkbox

    from diskwright.core.presets import EXAMPLES

    monkeypatch.chdir(tui_work)
    app = WizardApp(None, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # VM disk
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, PresetCopyModal)
        inp = dialog.query_one("#preset-path", Input)
        assert inp.value == "my-vm-disk.toml"
        await pilot.press("enter")  # tui_work already has root/: refused, nothing copied
        await pilot.pause()
        assert app.screen is dialog and "exists" in plain(dialog.query_one("#preset-note"))
        assert not (tui_work / "my-vm-disk.toml").exists()
        inp.value = "profiles/mine"
        assert dialog.query_one("#preset-demo", Checkbox).value  # the demo tree, by default
        await pilot.press("enter")
        await settle(pilot)
        target = tui_work / "profiles" / "mine.toml"
        assert target.is_file() and (tui_work / "profiles" / "root").is_dir()
        assert app.state.draft.path == target
        text = target.read_text()
        assert str(EXAMPLES.resolve()) not in text and str(EXAMPLES) not in text
        assert 'path = "root"' in text
        # Ctrl+S saves over the copy, in place: still relative, comments kept
        app.state.draft.set(("name",), "mine")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PathModal)
        assert Path(app.screen.query_one("#path-input", Input).value) == target
        await pilot.press("enter")
        await settle(pilot)
    text = target.read_text()
    assert 'name = "mine"' in text and 'path = "root"' in text
    assert str(EXAMPLES.resolve()) not in text and "# receives the tree's /boot" in text


# ------------------------------------------------------------------ dialogs, scans, failures


async def test_browse_for_the_source_and_add_an_extra_file(tui_work: Path) -> None:
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    draft.data["source"]["path"] = None
    app = WizardApp(draft=draft, step="source", frozen=True)
    motd = tui_work / "motd"
    motd.write_text("hello from the wizard\n")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not app.state.analysis.step_ok("source")
        await pilot.click("#source-browse")
        await pilot.pause()
        assert isinstance(app.screen, PathModal)
        app.screen.query_one("#path-input", Input).value = str(tui_work / "nope")
        await pilot.click("#path-ok")
        await pilot.pause()
        assert isinstance(app.screen, PathModal)  # not a folder: the dialog says so and stays
        assert "not a folder" in plain(app.screen.query_one("#path-note"))
        app.screen.query_one("#path-input", Input).value = str(tui_work / "root")
        await pilot.pause(0.6)  # two quick clicks on one button are a double click
        await pilot.click("#path-ok")
        await settle(pilot)
        assert app.state.draft.get(("source", "path")) == str(tui_work / "root")
        assert app.state.scan_status.state == "done" and app.state.analysis.step_ok("source")
        # an extra file, checked by the model before it is accepted
        await pilot.click("#file-add")
        await pilot.pause()
        modal = app.screen
        modal.query_one("#m-source", Input).value = str(motd)
        modal.query_one("#m-target", Input).value = "etc/motd"
        await pilot.click("#m-save")
        await pilot.pause(0.6)
        assert app.screen is modal
        assert "absolute file path" in plain(modal.query_one("#m-target-error"))
        modal.query_one("#m-target", Input).value = "/etc/motd"
        await pilot.click("#m-save")
        await settle(pilot)
        assert app.state.draft.get(("source", "files"))[0]["target"] == "/etc/motd"
        assert app.screen.query_one("#files-table").row_count == 1
        assert "Place /etc/motd" in app.state.analysis.script


async def test_scanning_a_big_folder_shows_progress_and_can_be_replaced(tui_work: Path) -> None:
    big = tui_work / "big"
    for d in range(40):
        sub = big / f"d{d}"
        sub.mkdir(parents=True)
        for f in range(250):
            (sub / f"f{f}").write_bytes(b"x" * (f % 7))
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="source", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        seen: list[str] = []
        await app.edit(("source", "path"), str(big))
        await wait_for(pilot, lambda: app.state.scan_status.state == "scanning" or
                       app.state.scan_status.state == "done", what="the scan")
        seen.append(app.state.scan_status.line())
        await settle(pilot)
        assert app.state.scan_status.state == "done"
        assert app.state.scan.total().files == 10_000
        assert "10,000 files" in plain(app.screen.query_one("#scan-status"))
        assert seen[0].startswith(("… scanning", "✓"))
        # a scan in flight is dropped when the folder changes again
        await app.edit(("source", "path"), str(tui_work / "root"))
        await settle(pilot)
        assert app.state.scan.root == (tui_work / "root").resolve()


async def test_a_failing_step_is_shown_with_its_last_lines(tui_work: Path) -> None:
    """The second output's folder vanishes during the build (a real failure, no fakes): the
    finishing step is marked failed, its last lines are shown, and there is a way back."""
    import shutil as sh

    root = make_root(tui_work / "bigroot")
    (root / "nix" / "store" / "big.bin").write_bytes(os.urandom(16 * 1024 * 1024))
    other = tui_work / "other"
    other.mkdir()
    draft = preset_draft("microvm-store", tui_work, root)
    draft.set(("disks", 1, "output", "path"), str(other / "var.img"))
    app = WizardApp(draft=draft, step="build", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        form = build_form(app)
        await pilot.click("#build-start")
        await wait_for(pilot, lambda: form.state == "running" and form.current >= 1,
                       what="the first steps")
        sh.rmtree(other)
        await wait_for(pilot, lambda: form.state in ("done", "failed", "cancelled"), 300)
        assert form.state == "failed"
        assert "failed" in form.states
        failed = form.plan.steps[form.states.index("failed")]
        # the commit step puts every disk in place or none: it is the one that fails
        assert failed.id == "commit"
        result = plain(app.screen.query_one("#build-result"))
        assert "failed" in result
        # all or nothing: the first disk, finished and checked, was not put in place alone
        assert not (tui_work / "microvm-store.erofs").exists()
        assert "Nothing was written" in result
        assert form.failure is not None and form.failure.lines
        assert form.failure.lines[-1] in result
        assert form.failure.log and Path(form.failure.log).is_file()
        fix = app.screen.query_one("#build-fix", Button)
        assert fix.display
        await pilot.click("#build-fix")
        await settle(pilot)
        assert app.state.current_step == "output"
    assert leftovers(tui_work) == []


async def test_one_validation_state_for_form_ticks_status_next_and_build(
        tui_work: Path) -> None:
    """An existing output, then "Replace": the form, ticks, status, Next, Review and Build agree."""
    (tui_work / "vm-disk.qcow2").write_bytes(b"an older image")
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="output", frozen=True)

    def shown() -> dict[str, Any]:
        screen = app.wizard_screen
        steps = screen.query_one("#steps")
        return {
            "tick": "✓" in str(steps.get_option("output").prompt),
            "review tick": "✓" in str(steps.get_option("review").prompt),
            "build tick": "✓" in str(steps.get_option("build").prompt),
            "status": "✓ valid" in plain(screen.query_one("#nav-status")),
            "next": not screen.query_one("#nav-next", Button).disabled,
            "form": "the build will not replace them" not in plain(
                screen.query_one("#existing-warning")),
        }

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert set(shown().values()) == {False}, shown()
        await pilot.click("#force")
        await settle(pilot)
        assert set(shown().values()) == {True}, shown()
        await app.goto("build")
        await settle(pilot)
        assert not app.screen.query_one("#build-start", Button).disabled
        await app.goto("output")
        await settle(pilot)
        await pilot.click("#force")  # untick: every view turns ✗ together
        await settle(pilot)
        assert set(shown().values()) == {False}, shown()
        await app.goto("build")
        await settle(pilot)
        assert app.screen.query_one("#build-start", Button).disabled
        assert "✗" in plain(app.screen.query_one("#build-status"))


async def test_next_on_an_invalid_step_says_so_once(tui_work: Path) -> None:
    """Three presses of Next on an invalid step leave one toast, not three stacked copies."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    draft.set(("disks", 0, "partitions", 1, "label"), "x" * 20)
    app = WizardApp(draft=draft, step="filesystem", frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for _ in range(3):
            await pilot.press("ctrl+n")
            await pilot.pause()
        assert app.state.current_step == "filesystem"
        assert len(app._notifications) == 1


async def test_one_toast_per_message(tui_work: Path) -> None:
    """The same notice again replaces the one shown; a different one is not swept away."""
    from textual.widgets._toast import Toast

    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    draft.set(("disks", 0, "partitions", 1, "label"), "x" * 20)
    app = WizardApp(draft=draft, step="filesystem", frozen=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.notify("Saved x", title="Profile saved")
        for _ in range(3):
            await pilot.press("ctrl+n")
            await pilot.pause()
        app.notify("Saved x", title="Profile saved")
        app.notify("Saved x", title="Profile saved", severity="error")  # not the same notice
        await pilot.pause()
        await pilot.pause()
        shown = sorted((n.title, n.severity) for n in app._notifications)
        assert shown == [("Filesystem is not valid yet", "warning"),
                         ("Profile saved", "error"), ("Profile saved", "information")]
        assert len(app.screen.query(Toast)) == 3


async def test_ctrl_s_suggests_a_new_name_not_the_examples(tui_work: Path) -> None:
    """Issue 10 item 3: a preset's save suggests my-<name>.toml, never the example file."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="review", frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PathModal)
        value = app.screen.query_one("#path-input", Input).value
        assert Path(value).name == "my-vm-disk.toml"
        assert "examples" not in value


async def test_a_filesystem_module_brings_its_own_form(tui_work: Path) -> None:
    """btrfs is declared only in core/fs/btrfs.py: the wizard shows its fields from it."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    b = ("disks", 0, "partitions", 1)
    draft.set((*b, "filesystem"), "btrfs")
    app = WizardApp(draft=draft, step="filesystem", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.select(0, 1)
        await settle(pilot)
        assert field(app, "filesystem", (*b, "btrfs", "metadata")).label == "Metadata"
        assert field(app, "filesystem", (*b, "btrfs", "checksum")).label == "Checksum"
        assert field(app, "filesystem", (*b, "label")) is not None


async def test_start_screen_arrows_reach_open_and_blank_at_80x24() -> None:
    """↓ past the last preset reaches Open… (in view at 80×24), ↑ comes back; Enter opens."""
    from diskwright.core.presets import presets

    app = WizardApp(None, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        n = len(presets())
        for _ in range(n):
            await pilot.press("down")
        await pilot.pause()
        other = app.screen.query_one("#start-other")
        assert app.focused is other and other.highlighted == 0  # type: ignore[attr-defined]
        assert other.region.bottom <= 24 and other.region.height >= 4
        await pilot.press("down", "up", "up")
        lst = app.screen.query_one("#start-list")
        assert app.focused is lst and lst.highlighted == n - 1  # type: ignore[attr-defined]
        await pilot.press("down", "enter")  # back on Open…
        await pilot.pause()
        assert isinstance(app.screen, PathModal)


async def test_dialog_buttons_stay_on_screen_at_80x24() -> None:
    """A long message scrolls inside the dialog; its buttons never leave an 80×24 screen."""
    app = WizardApp(None, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(ConfirmModal("Long", "word " * 400,
                                     [("Yes", "yes", "primary"), ("No", "no", "default")]))
        await pilot.pause()
        await pilot.pause()
        box = app.screen.query_one(".dialog-box").region
        for button in app.screen.query(Button):
            assert box.y < button.region.y < box.bottom - 1 and button.region.bottom <= 24


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_build_steps_table_gives_titles_the_free_width(tui_work: Path,
                                                             size: tuple[int, int]) -> None:
    """The step titles are long ("Make the ext4 filesystem for the root partition, …"): the
    table takes most of the row beside the log, and its title column all the table's width
    the state, number and time columns leave (at 120×40 it once cut them to 22 columns)."""
    from textual.widgets.data_table import ColumnKey

    from diskwright.tui.screens.build import StepsTable

    app = WizardApp(draft=preset_draft("vm-disk", tui_work), step="build", frozen=True)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.screen.query_one(StepsTable)
        title = table.columns[ColumnKey("title")]
        others = sum(c.get_render_width(table) for k, c in table.columns.items()
                     if k != ColumnKey("title"))
        free = table.content_region.width - table.styles.scrollbar_size_vertical - others
        assert title.get_render_width(table) >= free - 1
        assert title.width >= 34, title.width
        panes = app.screen.query_one("#build-panes").content_region.width
        assert size == (80, 24) or table.outer_size.width >= panes * 0.55


async def test_qcow2_cluster_compression_field(tui_work: Path) -> None:
    """Clusters (compression_type) shows for qcow2-compressed only; zstd reaches the plan;
    leaving the format drops the option the profile would refuse."""
    draft = preset_draft("vm-disk", tui_work, tui_work / "root")
    app = WizardApp(draft=draft, step="output", frozen=True)
    b = ("disks", 0, "output")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not app.screen.query("#form-output #f-disks-0-output-compression-type")
        field(app, "output", (*b, "format")).query_one(Select).value = "qcow2-compressed"
        await settle(pilot)
        clusters = field(app, "output", (*b, "compression_type")).query_one(Select)
        assert clusters.value == "zlib"
        clusters.value = "zstd"
        await settle(pilot)
        assert app.state.draft.get((*b, "compression_type")) == "zstd"
        assert "compression_type=zstd" in app.state.analysis.script
        assert not app.state.analysis.model_errors
        assert not [e for e in app.state.analysis.check_errors if "output" in str(e)]
        field(app, "output", (*b, "format")).query_one(Select).value = "qcow2"
        await settle(pilot)
        assert "compression_type" not in app.state.draft.get(b)
        assert not app.screen.query("#form-output #f-disks-0-output-compression-type")
        assert not app.state.analysis.model_errors, app.state.analysis.model_errors


async def test_one_step_count_everywhere_with_or_without_force(tui_work: Path) -> None:
    """The plan is one object and its step count one number: the preview's border, the
    Review line, the Build step's Ready line and `diskwright build --dry-run` agree, and
    ticking "Replace existing files" (--force) does not change it (it once went 33 → 32)."""
    from diskwright.tui.widgets import PlanPanel

    draft = preset_draft("vm-disk", tui_work)
    draft.set(("disks", 0, "output", "path"), str(tui_work / "count.qcow2"))
    saved = tui_work / "count.toml"
    app = WizardApp(draft=draft, step="review", frozen=True)
    counts: dict[str, set[int]] = {}

    def note(what: str, text: str, pattern: str) -> None:
        import re

        m = re.search(pattern, text)
        assert m, (what, text)
        counts.setdefault(what, set()).add(int(m.group(1)))

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await answer_path(pilot, "ctrl+s", str(saved))
        await settle(pilot)
        for force in (False, True):
            app.set_force(force)
            await app.goto("review")
            await settle(pilot)
            note("preview", str(app.screen.query_one(PlanPanel).border_title),
                 r"Plan preview · (\d+) steps")
            note("review", plain(app.screen.query_one("#review-problems")),
                 r"the plan has (\d+) steps")
            await app.goto("build")
            await settle(pilot)
            note("build", plain(app.screen.query_one("#build-status")), r"Ready: (\d+) steps")
    assert saved.is_file()
    for args in ((), ("--force",)):
        r = subprocess.run([sys.executable, "-m", "diskwright.tui.cli", "build", str(saved),
                            "--dry-run", *args], capture_output=True, text=True, cwd=tui_work)
        assert r.returncode == 0, r.stderr
        note("cli", r.stdout, r"dry run: (\d+) steps")
    assert len({n for ns in counts.values() for n in ns}) == 1, counts


async def test_build_step_shows_a_steps_reported_bytes(tui_work: Path) -> None:
    """A step that reports bytes (the ZFS helper VM's copy into the pool) moves the Step
    bar and says how far it is on the current-step line; the events are the Runner's own
    (tests/test_zfs.py has a real helper-VM build send them)."""
    from textual.widgets import ProgressBar

    from diskwright.core.runner import Progress, StepStarted

    app = WizardApp(draft=preset_draft("vm-disk", tui_work), step="build", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        form = build_form(app)
        assert form.plan is not None
        step = form.plan.steps[3]
        form._on_event(StepStarted(3, step))
        form._on_event(Progress(step.id, 0.25, 0.1, 12 << 20, 48 << 20))
        await pilot.pause()
        line = plain(app.screen.query_one("#build-current")).rstrip()
        # the bytes before the title, which a narrow screen cuts
        assert line == f" 4/{len(form.plan.steps)} 12.0 MiB of 48.0 MiB · {step.title}", line
        assert app.screen.query_one("#step-bar", ProgressBar).progress == 0.25
        form._on_event(Progress(step.id, 1.0, 0.2))  # the step's end: the bytes go
        await pilot.pause()
        assert "MiB of" not in plain(app.screen.query_one("#build-current"))


async def test_output_named_like_another_format_is_said_under_its_path(tui_work: Path) -> None:
    """Issue 10 item 12: naming the output custom.vmdk while the format is raw said nothing.
    The Output step says it under the Path field and names the fix; a fitting name clears it."""
    draft = preset_draft("vm-disk", tui_work)  # vm-disk.qcow2, qcow2: nothing to say
    app = WizardApp(draft=draft, step="output", frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        note = app.screen.query_one("#out-name-0", Static)
        assert not note.display
        await type_into(pilot, "output", ("disks", 0, "output", "path"), "custom.vmdk")
        await settle(pilot)
        assert note.display
        said = plain(note)
        assert "custom.vmdk ends in .vmdk" in said and "the format is qcow2" in said, said
        assert "make the format vmdk or end the name in .qcow2" in said.replace("\n", " ")
        await type_into(pilot, "output", ("disks", 0, "output", "path"), "custom.qcow2")
        await settle(pilot)
        assert not note.display
