"""Issue 8 item 2 and the runner's signal/spawn edges: logs never clobber or follow
anything, a SIGTERM prints no asyncio noise, and no tool runs before the watchdog knows it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_hostile import profile, tree
from testkit import PATIENCE, REPO, leftovers, run_cli

pytestmark = pytest.mark.integration


def fake_mkfs(base: Path, body: str) -> dict[str, str]:
    """A PATH whose mkfs.ext4 runs `body` first (then the real one)."""
    import shutil

    real = shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin")
    fake = base / "bin"
    fake.mkdir(exist_ok=True)
    # only the build's own mkfs (into the workspace), not the planner's feature probe
    (fake / "mkfs.ext4").write_text(
        f'#!/bin/sh\ncase "$*" in *.diskwright-*)\n{body}\n;; esac\nexec {real} "$@"\n')
    (fake / "mkfs.ext4").chmod(0o755)
    return {"PATH": f"{fake}:{os.environ['PATH']}"}


def test_good_build_keeps_the_users_log_and_says_where_its_own_is(tmp_path: Path) -> None:
    tree(tmp_path)
    p = profile(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    (tmp_path / "out.img.log").write_text("the user's notes\n")
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.img.log").read_text() == "the user's notes\n"
    mine = tmp_path / "out.img.1.log"
    assert "# diskwright build" in mine.read_text()
    assert str(mine) in r.stderr + r.stdout
    # a symlink at the log's name is neither followed nor replaced
    for q in ("out.img", "out.img.log", "out.img.1.log"):
        (tmp_path / q).unlink()
    (tmp_path / "out.img.log").symlink_to(outside)
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    assert outside.read_text() == "keep me\n"
    assert (tmp_path / "out.img.log").is_symlink()
    assert (tmp_path / "out.img.1.log").is_file()
    # --force is asked to replace: OUT.log is replaced (the link itself, not its target)
    r = run_cli("build", "--force", p)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "out.img.log").is_symlink()
    assert "# diskwright build" in (tmp_path / "out.img.log").read_text()
    assert outside.read_text() == "keep me\n"
    assert leftovers(tmp_path) == []


def test_failed_build_log_takes_a_new_name(tmp_path: Path) -> None:
    tree(tmp_path)
    p = profile(tmp_path)
    env = fake_mkfs(tmp_path, "echo broken >&2; exit 1")
    (tmp_path / "out.img.failed.log").write_text("an older failure\n")
    r = run_cli("build", p, env=env)
    assert r.returncode == 1, r.stderr
    assert (tmp_path / "out.img.failed.log").read_text() == "an older failure\n"
    new = tmp_path / "out.img.failed.1.log"
    assert "FAILED" in new.read_text()
    assert str(new) in r.stderr
    assert not (tmp_path / "out.img").exists() and not (tmp_path / "out.img.log").exists()
    assert leftovers(tmp_path) == []


def test_sigterm_prints_no_event_loop_noise(tmp_path: Path) -> None:
    """Item 14's "Event loop is closed" on SIGTERM: the step's pipes close inside the loop."""
    tree(tmp_path)
    p = profile(tmp_path)
    env = os.environ | fake_mkfs(tmp_path, "echo started >&2; sleep 60")
    proc = subprocess.Popen([sys.executable, "-m", "diskwright.tui.cli", "build", str(p)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen += line
        if "started" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=PATIENCE)[1]
    err = seen + rest
    assert proc.returncode == 130, err
    assert "Event loop is closed" not in err and "Traceback" not in err, err
    assert not (tmp_path / "out.img").exists()
    assert leftovers(tmp_path) == []


def test_a_step_never_runs_before_the_watchdog_knows_it() -> None:
    """Item 7: if the build dies between starting a step and registering its process
    group, the gate reads EOF and the step's shell exits without running anything."""
    from diskwright.core.runner import _GATE

    for opened in (False, True):
        r, w = os.pipe()
        if opened:
            os.write(w, b"go\n")
        os.close(w)
        done = subprocess.run(["sh", "-c", "set -eu\n" + _GATE + "echo ran; cat"],
                              stdin=r, capture_output=True, text=True, timeout=30)
        os.close(r)
        if opened:
            assert done.returncode == 0 and done.stdout == "ran\n", done
        else:
            assert done.returncode == 125 and done.stdout == "", done


def test_run_and_build_on_one_output_do_not_collide(tmp_path: Path) -> None:
    """Issue 13: `run` holds the output lock shared, `build` exclusive; the second exits 2
    naming the first."""
    from diskwright.core.outpaths import OutputLock

    tree(tmp_path)
    p = profile(tmp_path)
    assert run_cli("build", p).returncode == 0
    out = str(tmp_path / "out.img")
    held = OutputLock(out)
    assert held.acquire() is None  # a build writing it
    try:
        r = run_cli("run", p, "--expect", "x", "--timeout", "1")
        assert r.returncode == 2, r.stderr
        assert f"pid {os.getpid()}" in r.stderr and "Traceback" not in r.stderr
    finally:
        held.release()
    reader = OutputLock(out)
    assert reader.acquire(shared=True) is None  # a run booting it
    other = OutputLock(out)
    assert other.acquire(shared=True) is None  # runs share it
    try:
        r = run_cli("build", "--force", p)
        assert r.returncode == 2, r.stderr
        assert f"pid {os.getpid()}" in r.stderr and "Traceback" not in r.stderr
    finally:
        other.release()
        reader.release()
    assert not Path(reader.path).exists()
    assert run_cli("build", "--force", p).returncode == 0
    assert leftovers(tmp_path) == []


def test_status_lines_overwritten_by_cr_are_shown_once(tmp_path: Path) -> None:
    """A tool's \\r status lines (mkfs.erofs 1.5 prints one per file) reach the screen and the
    log as a terminal would show them: the last of each run, without erase codes."""
    tree(tmp_path)
    p = profile(tmp_path)
    status = "".join(f"\\r\\033[Kstatus-{i:03d}" for i in range(300))
    env = fake_mkfs(tmp_path, f"printf 'first\\n{status}\\rafter\\n'")
    r = run_cli("build", p, env=env)
    assert r.returncode == 0, r.stderr
    shown = r.stderr + r.stdout
    log = (tmp_path / "out.img.log").read_text()
    for text in (shown, log):
        assert "first" in text and "after" in text and "status-299" in text
        assert "status-001" not in text and "\x1b[K" not in text
