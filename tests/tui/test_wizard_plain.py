"""Plain mode end to end, typed through prompt_toolkit's pipe input."""

from __future__ import annotations

import io
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.plain_text import PlainTextOutput
from wizard_helpers import REPO, sha256

from diskwright.tui.plain import run_plain

pytestmark = pytest.mark.tui

ENTER, DOWN, CLEAR, CTRL_C = "\r", "\x1b[B", "\x15", "\x03"
NO, YES = "n\r", "y\r"  # y/N waits for Enter


@contextmanager
def keyboard(*keys: str) -> Iterator[io.StringIO]:
    """Everything questionary shows goes to the returned buffer (plain text)."""
    screen = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text("".join(keys))
        with create_app_session(input=pipe, output=PlainTextOutput(screen)):
            yield screen


def answer(text: str) -> str:
    """Replace a prompt's default with `text`."""
    return CLEAR + text + ENTER


def vm_disk_keys(root: Path, saved: Path, label: str = "") -> list[str]:
    """The VM disk preset, accepting every default except the source and the save path."""
    return [
        ENTER,  # start from: the first preset (VM disk)
        ENTER,  # the new profile file: ./my-vm-disk.toml
        NO,  # not the demo tree (the test names its own folder)
        ENTER,  # what goes into the image: a folder
        answer(str(root)),  # source folder
        NO,  # no extra file
        ENTER, ENTER,  # disk name, table
        # partition 1 (esp): role, mount point, contents, label, size, headroom
        ENTER, ENTER, ENTER, (answer(label) if label else ENTER), ENTER, ENTER,
        # partition 2 (root): role, filesystem, mount point, contents, label, size, headroom
        ENTER, ENTER, ENTER, ENTER, ENTER, ENTER, ENTER,
        NO,  # no more partitions
        ENTER, ENTER, ENTER,  # output path, format, compression
        NO,  # no more disks
        ENTER,  # profile name
        ENTER,  # what now: save and build
        answer(str(saved)),
    ]


def test_plain_mode_builds_and_saves(tui_work: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tui_work)
    saved = tui_work / "plain.toml"
    with keyboard(*vm_disk_keys(tui_work / "root", saved)):
        rc = run_plain(None)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "== Estimate ==" in out and "#!/bin/sh" in out and "mkfs.ext4" in out
    image = tui_work / "vm-disk.qcow2"
    assert image.is_file()
    assert f"sha256 {sha256(image)}" in out
    data = tomllib.loads(saved.read_text())
    assert data["name"] == "vm-disk" and data["source"]["path"] == str(tui_work / "root")
    # the saved profile rebuilds the same bytes headless
    (tui_work / "again").mkdir()
    res = subprocess.run([sys.executable, "-m", "diskwright.tui.cli", "build", str(saved),
                          "--output-dir", str(tui_work / "again")], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert sha256(tui_work / "again" / "vm-disk.qcow2") == sha256(image)


def test_plain_mode_rejects_a_bad_answer_in_the_models_words(
        tui_work: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tui_work)
    # "boot part" is refused (the prompt stays), then BOOT is accepted
    keys = vm_disk_keys(tui_work / "root", tui_work / "p.toml",
                        label=f"boot part{ENTER}{CLEAR}BOOT")
    with keyboard(*keys):
        rc = run_plain(None)
    assert rc == 0, capsys.readouterr().out
    part = tomllib.loads((tui_work / "p.toml").read_text())["disks"][0]["partitions"][0]
    assert part["label"] == "BOOT" and part.get("size", "auto") == "auto"


def test_plain_validator_speaks_the_models_words(tui_work: Path) -> None:
    from wizard_helpers import preset_draft

    from diskwright.tui.plain import PlainWizard

    wizard = PlainWizard(out=lambda text: None)
    wizard.draft = preset_draft("vm-disk", tui_work)
    check = wizard.validator(("disks", 0, "partitions", 0, "label"), str)
    assert "vfat labels are upper-case letters" in str(check("boot part"))
    assert check("BOOT") is True
    size = wizard.validator(("disks", 0, "partitions", 1, "size"), str)
    assert "512-byte sector" in str(size("1000"))
    assert size("2GiB") is True


def test_ctrl_c_anywhere_writes_nothing(tui_work: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tui_work)
    before = sorted(p.name for p in tui_work.iterdir())
    with keyboard(ENTER, CTRL_C):  # at the question where the preset's copy goes
        rc = run_plain(None)
    assert rc == 130
    assert "nothing was written" in capsys.readouterr().err
    assert sorted(p.name for p in tui_work.iterdir()) == before
    # later on, the copy the person asked for stays, and the message names it
    with keyboard(ENTER, ENTER, NO, ENTER, answer(str(tui_work / "root")), NO, ENTER, CTRL_C):
        rc = run_plain(None)
    assert rc == 130
    err = capsys.readouterr().err
    assert "no image was written" in err and str(tui_work / "my-vm-disk.toml") in err
    assert sorted(p.name for p in tui_work.iterdir()) == sorted([*before, "my-vm-disk.toml"])


def test_plain_mode_copies_the_preset_and_saves_it_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10: plain mode asks where the preset's copy goes, opens the copy (paths relative,
    no install folder), and saving edits that file in place: comments survive."""
    from diskwright.core.presets import EXAMPLES

    monkeypatch.chdir(tmp_path)
    keys = [
        ENTER,  # VM disk
        answer("mine/vm.toml"),  # the new profile file, in a folder that does not exist yet
        YES,  # with the demo tree
        ENTER, ENTER,  # a folder; the folder: the copied root (the default)
        NO,  # no extra file
        ENTER, ENTER,  # disk name, table
        ENTER, ENTER, ENTER, answer("BOOTME"), ENTER, ENTER,  # esp: a new label
        ENTER, ENTER, ENTER, ENTER, ENTER, ENTER, ENTER,  # root
        NO, ENTER, ENTER, ENTER, NO,  # no more partitions; output; no more disks
        ENTER,  # profile name
        DOWN, ENTER,  # save the profile only
        ENTER,  # where: the copy itself
    ]
    with keyboard(*keys):
        rc = run_plain(None)
    out = capsys.readouterr().out
    assert rc == 0, out
    target = tmp_path / "mine" / "vm.toml"
    assert f"Saved {target}" in out and (tmp_path / "mine" / "root").is_dir()
    text = target.read_text()
    assert str(EXAMPLES.resolve()) not in text and str(EXAMPLES) not in text
    assert 'path = "root"' in text and 'label = "BOOTME"' in text
    assert "# receives the tree's /boot" in text  # the example's comments survive the save
    old = (EXAMPLES / "vm-disk.toml").read_text().splitlines()
    new = text.splitlines()
    assert len(old) == len(new) and sum(a != b for a, b in zip(old, new, strict=True)) == 1
    assert not (tmp_path / "vm-disk.qcow2").exists()


def test_plain_mode_opens_a_profile_and_shows_its_plan(
        tui_work: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tui_work)
    profile = tui_work / "squashfs-store.toml"
    before = profile.read_text()
    # keep it as it is (no edits), then "Save the profile only" (same path, no replace prompt)
    with keyboard(NO, DOWN, ENTER, ENTER):
        rc = run_plain(str(profile))
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "mksquashfs" in out and "Saved" in out
    assert profile.read_text() == before  # saved in place: comments and layout untouched
    assert not (tui_work / "squashfs-store.squashfs").exists()


def test_plain_mode_edits_the_zfs_datasets(tui_work: Path) -> None:
    """The ZFS pool's datasets by name, mount point and properties, as the wizard's ZFS
    step edits them: a bad name and a bad value are refused (the prompt stays, so the
    keys after them land where they would otherwise not), a removal takes what is
    inside, and the draft holds exactly the edits."""
    from diskwright.core.zfs import edit as zedit
    from diskwright.tui.model import load_draft
    from diskwright.tui.plain import PlainWizard, _model_errors

    said: list[str] = []
    wizard = PlainWizard(out=said.append)
    wizard.draft = load_draft(tui_work / "zfs-root.toml")
    path = ("disks", 1, "partitions", 0, "zfs")
    keys = [
        DOWN, ENTER,  # Add a dataset
        answer("rpool/srv"), CLEAR + "tank/srv" + ENTER,  # outside the pool: refused
        answer("/srv"),  # its mount point
        "compression = zstd" + ENTER,
        "recordsize = banana" + ENTER, CLEAR + "recordsize = 1M" + ENTER,
        ENTER,  # no more properties
        DOWN * 3, ENTER,  # A dataset's mount point and properties
        DOWN * 7, ENTER,  # tank/user/home
        ENTER,  # keeps its mount point
        "quota =" + ENTER,  # unset: inherits again
        ENTER,
        DOWN * 5, ENTER,  # Remove a dataset
        DOWN * 5, ENTER, YES,  # tank/user (and tank/user/home inside it)
        ENTER,  # Done with the pool
    ]
    with keyboard(*keys) as screen:
        wizard.step_zfs(1, 0)
    pool = wizard.draft.get(path)
    assert pool["datasets"]["tank/srv"] == {
        "mount_point": "/srv", "properties": {"compression": "zstd", "recordsize": "1M"}}
    assert set(pool["datasets"]) == {"tank/system/root", "tank/local/nix", "tank/srv"}
    assert not _model_errors(wizard.draft.data, wizard.draft.base_dir)
    shown = screen.getvalue()
    assert "The new dataset (a file system); its parents are made as needed" in shown
    assert "Remove tank/user and the 1 inside it (tank/user/home) from the pool?" in shown
    text = "\n".join(said)
    assert "tank/user/home: set here, inherited, default" in text
    assert "quota = none (default)" in text  # unset, it shows where its value comes from
    assert "srv — mounted at /srv, compression=zstd, recordsize=1M" in text
    # what the refused answers were told: the edit's and the model's own words
    _, why = wizard._zfs_check(path, lambda p: zedit.add(p, "rpool/srv"))
    assert "tank" in why, why
    _, why = wizard._zfs_check(
        path, lambda p: wizard._zfs_line(p, "tank/srv", "recordsize = banana"))
    assert "'banana' is not a size" in why, why
