"""Issue 8 item 6: a printed plan run with plain `sh` takes the same per-output lock as
`diskwright build` (its `lock` step), so a second `sh` run or a build on the same output
exits 2 naming the first; a killed `sh` run leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_hostile import profile, tree
from testkit import PATIENCE, leftovers, run_cli, wait_until

pytestmark = pytest.mark.integration

LOCK_LINE = "diskwright helper lock "


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env


def _paused_script(tmp_path: Path) -> Path:
    """The printed plan, with a pause right after its lock step (until `go` exists)."""
    r = run_cli("plan", profile(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(LOCK_LINE))
    lines.insert(at + 1, ": >locked; while [ ! -e go ]; do sleep 0.05; done")
    script = tmp_path / "plan.sh"
    script.write_text("\n".join(lines))
    return script


def _start(tmp_path: Path, script: Path) -> subprocess.Popen[str]:
    first = subprocess.Popen(["sh", str(script)], cwd=tmp_path, env=_env(), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: (tmp_path / "locked").exists() or first.poll() is not None,
               "the script to take the lock")
    assert (tmp_path / "locked").exists(), first.communicate()
    return first


def _gone(tmp_path: Path) -> None:
    """The holder drops the lock (and a killed shell's workspace) once the shell is gone."""
    wait_until(lambda: leftovers(tmp_path, settle=0) == [], "the lock and workspace to go")


def test_printed_plan_holds_the_output_lock(tmp_path: Path) -> None:
    tree(tmp_path)
    script = _paused_script(tmp_path)
    first = _start(tmp_path, script)
    try:
        assert LOCK_LINE + '"${W}"' in script.read_text()
        second = subprocess.run(["sh", str(script)], cwd=tmp_path, env=_env(),
                                capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
        b = run_cli("build", profile(tmp_path))
        assert b.returncode == 2, b.stderr
        assert f"pid {first.pid}" in b.stderr and "Traceback" not in b.stderr
        assert not (tmp_path / "out.img").exists()
    finally:
        (tmp_path / "go").touch()
        _out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert (tmp_path / "out.img").stat().st_size > 0
    _gone(tmp_path)


def test_build_holds_the_lock_against_a_printed_plan(tmp_path: Path) -> None:
    from diskwright.core.outpaths import OutputLock

    tree(tmp_path)
    r = run_cli("plan", profile(tmp_path))
    script = tmp_path / "plan.sh"
    script.write_text(r.stdout)
    lock = OutputLock(str(tmp_path / "out.img"))  # what `diskwright build` holds
    assert lock.acquire() is None
    try:
        s = subprocess.run(["sh", str(script)], cwd=tmp_path, env=_env(),
                           capture_output=True, text=True)
        assert s.returncode == 2, s.stderr
        assert f"pid {os.getpid()}" in s.stderr and "Traceback" not in s.stderr
    finally:
        lock.release()
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


def test_killed_printed_plan_leaves_nothing(tmp_path: Path) -> None:
    tree(tmp_path)
    first = _start(tmp_path, _paused_script(tmp_path))
    assert any(n.startswith(".diskwright-") for n in os.listdir(tmp_path))
    os.kill(first.pid, signal.SIGKILL)  # no EXIT trap runs
    first.communicate(timeout=30)
    _gone(tmp_path)
    r = run_cli("build", profile(tmp_path))
    assert r.returncode == 0, r.stderr
    assert leftovers(tmp_path) == []


def _tool_pids(tmp_path: Path, names: tuple[str, ...]) -> dict[str, int]:
    """pid of each real tool (by argv[0]) whose command line names a path under tmp_path."""
    found: dict[str, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = os.path.basename(os.fsdecode(argv[0]))
        if name in names and any(str(tmp_path).encode() in a for a in argv[1:]):
            found[name] = int(pid)
    return found


def test_killed_printed_plan_stops_its_tools(tmp_path: Path) -> None:
    """Item 3 (issue 8 item 12 for `sh`): a real mkfs.ext4 (foreground) and qemu-img
    (background) still running when the shell is SIGKILLed are stopped by the lock's
    holder; processes that only share the shell's process group, or carry another run's
    mark, are left alone."""
    import select

    tree(tmp_path)
    r = run_cli("plan", profile(tmp_path))
    assert r.returncode == 0, r.stderr
    assert 'export DISKWRIGHT_WORKSPACE="$W"' in r.stdout
    lines = r.stdout.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(LOCK_LINE))
    lines[at + 1:at + 1] = [
        'mkfifo "${W}/in" "${W}/out"',  # both tools block on a FIFO nobody opens
        'qemu-img convert -f raw -O qcow2 "${W}/in" "${W}/x.qcow2" &',
        ": >locked",
        'mkfs.ext4 -q -F "${W}/out" 8M',
    ]
    script = tmp_path / "plan.sh"
    script.write_text("\n".join(lines))
    bystander = subprocess.Popen(["sleep", "300"])  # same process group as the shell
    other = subprocess.Popen(["sleep", "300"], env={
        **os.environ, "DISKWRIGHT_WORKSPACE": str(tmp_path / ".diskwright-other")})
    tools: dict[str, int] = {}
    try:
        shell = _start(tmp_path, script)
        wait_until(lambda: len(_tool_pids(tmp_path, ("mkfs.ext4", "qemu-img"))) == 2,
                   "mkfs.ext4 and qemu-img to start")
        tools = _tool_pids(tmp_path, ("mkfs.ext4", "qemu-img"))
        assert set(tools) == {"mkfs.ext4", "qemu-img"}, tools
        fds = {name: os.pidfd_open(pid) for name, pid in tools.items()}
        os.kill(shell.pid, signal.SIGKILL)
        shell.communicate(timeout=30)
        for name, fd in fds.items():
            ready, _, _ = select.select([fd], [], [], PATIENCE)
            os.close(fd)
            assert ready, f"{name} outlived the killed shell"
        _gone(tmp_path)
        assert bystander.poll() is None and other.poll() is None
    finally:
        for p in (bystander, other):
            p.kill()
            p.wait()
        for pid in _tool_pids(tmp_path, tuple(tools)).values():  # on failure: ours only
            os.kill(pid, signal.SIGKILL)
