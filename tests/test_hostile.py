"""Hostile inputs (issue 8): nothing outside the outputs, their logs and the workspace is
touched, and nothing the user had is lost. Every case builds for real in a throwaway folder
and checks the outside world byte for byte."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from testkit import leftovers, processes_matching, run_cli, snapshot, wait_until

pytestmark = pytest.mark.integration


def tree(base: Path) -> Path:
    """A tiny source tree: /etc/hostname, /usr/bin/tool, /boot/EFI/x.efi."""
    root = base / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hostname").write_text("hostile\n")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\n")
    (root / "boot/EFI").mkdir(parents=True)
    (root / "boot/EFI/x.efi").write_bytes(b"MZ" + bytes(100))
    return root


def profile(base: Path, *, fs: str = "ext4", output: str = "out.img", **extra: Any) -> Path:
    """A one-disk bare-filesystem profile over `root`, written to base/p.toml."""
    part: dict[str, Any] = {"role": "root", "filesystem": fs, "mount_point": "/"}
    if fs != "squashfs":
        part["label"] = "root"
    part.update(extra.pop("part", {}))
    data: dict[str, Any] = {
        "version": 1,
        "name": "hostile",
        "source": {"path": "root"} | extra.pop("source", {}),
        "reproducible": {"source_date_epoch": 1700000000},
        "disks": [{"name": "d", "table": "none", "output": {"path": output},
                   "partitions": [part]}],
    }
    data.update(extra)
    path = base / "p.toml"
    path.write_text(tomli_w.dumps(data))
    return path



def debugfs_cat(image: Path, path: str) -> bytes:
    r = subprocess.run(["debugfs", "-R", f"cat {path}", str(image)], capture_output=True)
    return r.stdout


# ---------------------------------------------------------------- 1. host overwrite


def test_file_target_through_a_symlink_is_refused(tmp_path: Path) -> None:
    """Item 1: root/evil -> outside, target /evil/pwn.txt: refused at validation (exit 2),
    the outside folder keeps its bytes and modes."""
    root = tree(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pwn.txt").write_text("original\n")
    (outside / "pwn.txt").chmod(0o600)
    (root / "evil").symlink_to(outside)
    (tmp_path / "payload").write_text("payload\n")
    before = snapshot(outside)
    p = profile(tmp_path, source={"files": [
        {"source": "payload", "target": "/evil/pwn.txt", "mode": "4755"}]})
    r = run_cli("build", p)
    assert r.returncode == 2, r.stderr
    assert "source.files[0].target" in r.stderr and "symlink" in r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(outside) == before
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


def test_symlink_planted_after_planning_is_never_followed(tmp_path: Path) -> None:
    """Item 1 at depth: the printed plan, run by `sh` after the symlink appears, still
    never writes through it — staging itself refuses symlink components."""
    root = tree(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pwn.txt").write_text("original\n")
    (tmp_path / "payload").write_text("payload\n")
    (root / "evil").mkdir()  # a real folder while validating and planning …
    p = profile(tmp_path, source={"files": [
        {"source": "payload", "target": "/evil/pwn.txt", "mode": "4755"}]})
    r = run_cli("plan", p)
    assert r.returncode == 0, r.stderr
    (root / "evil").rmdir()  # … swapped for a symlink before the build runs
    (root / "evil").symlink_to(outside)
    before = snapshot(outside)
    script = tmp_path / "plan.sh"
    script.write_text(r.stdout)
    env = dict(os.environ)
    env["PATH"] = f"{Path(os.sys.executable).parent}:{env['PATH']}"  # type: ignore[attr-defined]
    s = subprocess.run(["sh", str(script)], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert s.returncode != 0
    assert "symlink" in s.stderr
    assert snapshot(outside) == before
    assert not (tmp_path / "out.img").exists()


def test_file_target_replacing_a_symlink_stays_inside(tmp_path: Path) -> None:
    """A target that *is* a symlink in the tree replaces the link in the image;
    the file the link pointed to on the host is untouched."""
    root = tree(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("host file\n")
    (root / "etc/motd").symlink_to(victim)
    (tmp_path / "payload").write_text("payload\n")
    p = profile(tmp_path, source={"files": [
        {"source": "payload", "target": "/etc/motd", "mode": "0644"}]})
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "host file\n"
    assert debugfs_cat(tmp_path / "out.img", "/etc/motd") == b"payload\n"


def test_file_target_over_a_folder_or_under_a_file(tmp_path: Path) -> None:
    """Item 15: such targets fail at validation, naming the field."""
    tree(tmp_path)
    (tmp_path / "payload").write_text("x")
    for target in ("/etc", "/etc/hostname/x"):
        p = profile(tmp_path, source={"files": [{"source": "payload", "target": target}]})
        r = run_cli("validate", p)
        assert r.returncode == 2, (target, r.stderr)
        assert "source.files[0].target" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- 3-6, 12: outputs


@pytest.mark.parametrize("how", ["double-slash", "dotdot", "symlinked-folder"])
def test_dev_is_refused_by_resolved_path(tmp_path: Path, how: str) -> None:
    """Item 3: no spelling reaches /dev; --dry-run refuses too, and nothing appears there."""
    tree(tmp_path)
    name = f"diskwright-hostile-{os.getpid()}-{how}.img"
    if how == "double-slash":
        out = f"//dev/shm/{name}"
    elif how == "dotdot":
        out = "../" * len(tmp_path.parts) + f"dev/shm/{name}"
    else:
        (tmp_path / "lnk").symlink_to("/dev/shm")
        out = f"lnk/{name}"
    p = profile(tmp_path, output=out)
    for args in (("build", p, "--dry-run"), ("build", p)):
        r = run_cli(*args)
        assert r.returncode == 2, r.stderr
        assert "/dev" in r.stderr and "Traceback" not in r.stderr
    assert not Path("/dev/shm", name).exists()
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(".diskwright-")]


def test_one_file_named_two_ways_is_refused(tmp_path: Path) -> None:
    """Item 6: out.img and ./out.img are one output; nothing is built."""
    tree(tmp_path)
    p = profile(tmp_path)
    text = p.read_text()
    data: dict[str, Any] = __import__("tomllib").loads(text)
    second = dict(data["disks"][0], name="e", output={"path": "./out.img"})
    second["partitions"] = [{"role": "data", "filesystem": "ext4", "empty": True,
                             "size": "16MiB", "label": "other"}]
    data["disks"].append(second)
    p.write_text(tomli_w.dumps(data))
    r = run_cli("build", p)
    assert r.returncode == 2, r.stderr
    assert "same file" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


def test_second_build_to_one_output_is_refused(tmp_path: Path) -> None:
    """Item 5: while a build holds the output's lock, another exits 2 naming it."""
    from diskwright.core.outpaths import OutputLock

    tree(tmp_path)
    p = profile(tmp_path)
    lock = OutputLock(str(tmp_path / "out.img"))
    assert lock.acquire() is None
    try:
        r = run_cli("build", p)
        assert r.returncode == 2, r.stderr
        assert f"pid {os.getpid()}" in r.stderr and "Traceback" not in r.stderr
        assert not (tmp_path / "out.img").exists()
    finally:
        lock.release()
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    assert leftovers(tmp_path) == []


def test_output_appearing_during_the_build_is_kept(tmp_path: Path) -> None:
    """Item 4: a file (or folder) that appears at the output mid-build is never replaced."""
    import shutil

    tree(tmp_path)
    p = profile(tmp_path)
    fake = tmp_path / "bin"
    fake.mkdir()
    real = shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin")
    for kind, make in (("file", f"printf mine > {tmp_path}/out.img"),
                       ("folder", f"mkdir {tmp_path}/out.img")):
        # only the build's own mkfs (into the workspace), not the feature probe's
        (fake / "mkfs.ext4").write_text(
            f'#!/bin/sh\ncase "$*" in *.diskwright-*) {make} ;; esac\nexec {real} "$@"\n')
        (fake / "mkfs.ext4").chmod(0o755)
        r = run_cli("build", p, env={"PATH": f"{fake}:{os.environ['PATH']}"})
        assert r.returncode == 1, (kind, r.stderr)
        assert "Traceback" not in r.stderr and "nothing was written" in r.stderr
        out = tmp_path / "out.img"
        if kind == "file":
            assert out.read_bytes() == b"mine"
            out.unlink()
        else:
            assert out.is_dir() and list(out.iterdir()) == []
            out.rmdir()
        assert leftovers(tmp_path) == []


def test_sigkill_leaves_no_workspace_and_no_running_tool(tmp_path: Path) -> None:
    """Item 12: a SIGKILLed build's tool is stopped and its workspace removed."""
    import signal
    import sys
    import time

    root = tree(tmp_path)
    for i in range(8):
        (root / f"blob{i}").write_bytes(os.urandom(32 << 20))
    p = profile(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "diskwright.tui.cli", "build", str(p)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if "Make the ext4 filesystem" in line or time.monotonic() > deadline:
            break
    time.sleep(0.3)
    workspaces = [q for q in tmp_path.iterdir() if q.name.startswith(".diskwright-")
                  and q.is_dir()]
    assert workspaces, "the build should be mid-way"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    wait_until(lambda: not any(w.exists() for w in workspaces), "the workspace to be removed")
    assert processes_matching(str(workspaces[0])) == []
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- 14: one message, exit 2


def test_odd_profile_files_get_one_message(tmp_path: Path) -> None:
    """Item 14: a FIFO, /dev/zero, deep nesting, a BOM, --output-dir under /dev."""
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.toml"
    deep.write_text("a=" + "[" * 3000 + "]" * 3000 + "\n")
    for path in (fifo, Path("/dev/zero"), deep):
        r = run_cli("validate", path, timeout=30)
        assert r.returncode == 2, (path, r.stderr)
        assert r.stderr.count("diskwright:") == 1 and "Traceback" not in r.stderr
    tree(tmp_path)
    p = profile(tmp_path)
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    r = run_cli("validate", p)
    assert r.returncode == 0, r.stderr
    r = run_cli("build", p, "--output-dir", "/dev/shm")
    assert r.returncode == 2 and "--output-dir" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- 9, 10: what is read


def test_mount_point_through_a_symlink_is_refused(tmp_path: Path) -> None:
    """Item 9: a partition whose mount point is a symlink out of the tree copies nothing."""
    root = tree(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host\n")
    (root / "srv").symlink_to(outside)
    p = profile(tmp_path)
    data: dict[str, Any] = __import__("tomllib").loads(p.read_text())
    data["disks"][0]["table"] = "gpt"
    data["disks"][0]["partitions"].append(
        {"role": "data", "filesystem": "ext4", "mount_point": "/srv", "label": "srv"})
    p.write_text(tomli_w.dumps(data))
    r = run_cli("build", p)
    assert r.returncode == 2, r.stderr
    assert "partitions[1].mount_point" in r.stderr and "Traceback" not in r.stderr


def test_output_inside_the_source_is_refused(tmp_path: Path) -> None:
    """Item 10: the image would contain its own workspace and log."""
    tree(tmp_path)
    p = profile(tmp_path, output="root/out.img")
    r = run_cli("build", p)
    assert r.returncode == 2, r.stderr
    assert "disks[0].output.path" in r.stderr and "inside the source" in r.stderr
    assert not (tmp_path / "root/out.img").exists() and leftovers(tmp_path / "root") == []


def test_huge_numbers_are_one_message(tmp_path: Path) -> None:
    """Items 14/15: sizes of hundreds of digits and uids past 2^32 are validation errors."""
    tree(tmp_path)
    (tmp_path / "payload").write_text("x")
    cases: list[dict[str, Any]] = [
        {"part": {"size": "9" * 300 + "MiB"}},
        {"source": {"files": [{"source": "payload", "target": "/etc/x", "user": 2**32}]}},
    ]
    for kw in cases:
        p = profile(tmp_path, **kw)
        r = run_cli("validate", p)
        assert r.returncode == 2, (kw, r.stderr)
        assert r.stderr.count("diskwright:") == 1 and "Traceback" not in r.stderr


def test_target_with_a_double_leading_slash_is_the_same_path(tmp_path: Path) -> None:
    """Found by tests/test_fuzz.py: pathlib keeps POSIX's leading `//`, so `//etc/y` crashed
    planning ('not in the subpath of /'); it is /etc/y, and `//` alone is refused."""
    tree(tmp_path)
    (tmp_path / "payload").write_text("payload\n")
    p = profile(tmp_path, source={"files": [{"source": "payload", "target": "//etc/y"}]})
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    assert debugfs_cat(tmp_path / "out.img", "/etc/y") == b"payload\n"
    (tmp_path / "out.img").unlink()
    p = profile(tmp_path, source={"files": [{"source": "payload", "target": "//"}]})
    r = run_cli("build", p)
    assert r.returncode == 2 and "source.files[0].target" in r.stderr, r.stderr
    assert "unexpected error" not in r.stderr
