"""A smoke test in a real terminal: tmux runs `diskwright wizard`, we send keys, read the pane."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wizard_helpers import PATIENCE

pytestmark = [
    pytest.mark.tui,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def wait_for_pane(session: str, text: str, timeout: float = PATIENCE) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared; the pane shows:\n{screen}")


def wait_gone(session: str, text: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text not in tmux("capture-pane", "-p", "-t", session):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} is still on screen")


def test_wizard_in_tmux(tui_work: Path) -> None:
    session = f"diskwright-tui-test-{os.getpid()}"
    command = (f"cd {shlex.quote(str(tui_work))} && "
               f"{shlex.quote(sys.executable)} -m diskwright.tui.cli wizard vm-disk.toml; "
               "echo DISKWRIGHT-EXITED-$?; sleep 60")
    tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", command)
    try:
        screen = wait_for_pane(session, "Source — the files that go into the image")
        assert "Steps" in screen and "Next" in screen
        assert "Form  Estimate  Plan" in screen  # under 110 columns the panels are tabs
        wait_for_pane(session, "✓ valid")
        tmux("send-keys", "-t", session, "C-n")
        wait_for_pane(session, "Filesystem — how each partition stores its files")
        tmux("send-keys", "-t", session, "F1")
        wait_for_pane(session, "Filesystem: how each partition stores its files")
        tmux("send-keys", "-t", session, "Escape")
        wait_gone(session, "Filesystem: how each partition stores its files")
        tmux("send-keys", "-t", session, "F2")
        wait_for_pane(session, "vm · gpt · disk")
        tmux("send-keys", "-t", session, "C-q")
        wait_for_pane(session, "DISKWRIGHT-EXITED-0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_bare_diskwright_opens_the_start_screen_and_quits_cleanly(tui_work: Path) -> None:
    session = f"diskwright-tui-start-{os.getpid()}"
    command = (f"cd {shlex.quote(str(tui_work))} && "
               f"{shlex.quote(sys.executable)} -m diskwright.tui.cli; "
               "echo DISKWRIGHT-EXITED-$?; sleep 60")
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        screen = wait_for_pane(session, "Start from a preset")
        assert "VM disk" in screen and "for a QEMU/libvirt guest" in screen
        tmux("send-keys", "-t", session, "C-q")
        wait_for_pane(session, "DISKWRIGHT-EXITED-0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
