"""A build never replaces what the user had unless asked, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from testkit import EXAMPLES, PATIENCE, REPO, leftovers, processes_matching, run_cli

pytestmark = pytest.mark.integration


def _setup(tmp_path: Path, example_root: Path) -> Path:
    shutil.copy(EXAMPLES / "vm-disk.toml", tmp_path / "vm-disk.toml")
    (tmp_path / "root").symlink_to(example_root)
    return tmp_path / "vm-disk.toml"


def test_overwrite_refused_without_force(tmp_path: Path, example_root: Path) -> None:
    profile = _setup(tmp_path, example_root)
    out = tmp_path / "vm-disk.qcow2"
    out.write_bytes(b"precious")
    r = run_cli("build", profile)
    assert r.returncode == 2
    assert "--force" in r.stderr and "Traceback" not in r.stderr
    assert out.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []
    r = run_cli("build", profile, "--force")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:4] == b"QFI\xfb"


def test_refuses_devices(tmp_path: Path, example_root: Path) -> None:
    profile = _setup(tmp_path, example_root)
    text = profile.read_text().replace('path = "vm-disk.qcow2"', 'path = "/dev/null"')
    profile.write_text(text)
    r = run_cli("build", profile, "--force")
    assert r.returncode == 2
    assert "/dev" in r.stderr


def test_failed_step_leaves_nothing(tmp_path: Path, example_root: Path) -> None:
    """A tool failing mid-plan: exit 1, the step named, its last lines shown, nothing left."""
    profile = _setup(tmp_path, example_root)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "qemu-img").write_text("#!/bin/sh\necho 'qemu-img: simulated disk full' >&2\nexit 1\n")
    (fake / "qemu-img").chmod(0o755)
    (tmp_path / "vm-disk.qcow2.log").write_text("the last good build\n")
    r = run_cli("build", profile, env={"PATH": f"{fake}:{os.environ['PATH']}"})
    assert r.returncode == 1
    assert "disk0-convert" in r.stderr and "simulated disk full" in r.stderr
    assert not (tmp_path / "vm-disk.qcow2").exists()
    assert leftovers(tmp_path) == []
    assert "FAILED" in (tmp_path / "vm-disk.qcow2.failed.log").read_text()
    assert (tmp_path / "vm-disk.qcow2.log").read_text() == "the last good build\n"


def test_cancel_mid_step(tmp_path: Path, example_root: Path) -> None:
    """SIGINT while mkfs.ext4 copies data: exit 130, no output, no workspace, no tool left."""
    src = tmp_path / "root"
    shutil.copytree(example_root, src, symlinks=True)
    big = src / "var/big"
    big.mkdir()
    for i in range(12):
        (big / f"blob{i}").write_bytes(os.urandom(32 << 20))
    shutil.copy(EXAMPLES / "vm-disk.toml", tmp_path / "vm-disk.toml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "diskwright.tui.cli", "build", str(tmp_path / "vm-disk.toml")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen.append(line)
        if "Make the ext4 filesystem" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    workspaces = [p for p in tmp_path.iterdir() if p.name.startswith(".diskwright-")]
    assert workspaces, "the build should be mid-way"
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=PATIENCE)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "cancelled" in rest
    assert not (tmp_path / "vm-disk.qcow2").exists()
    assert leftovers(tmp_path) == []
    still = processes_matching(str(workspaces[0]))
    assert still == [], f"a tool of the cancelled build is still running: {still}"


def test_multi_disk_outputs_all_or_nothing(tmp_path: Path, example_root: Path) -> None:
    """Disk 2's output appears (another program) while disk 1's image is built: the commit
    refuses to replace it, disk 1 is rolled back, the intruder keeps its bytes."""
    src = tmp_path / "p"
    src.mkdir()
    (src / "root").symlink_to(example_root)
    other = tmp_path / "elsewhere"
    other.mkdir()
    text = (EXAMPLES / "microvm-store.toml").read_text()
    text = text.replace('path = "microvm-var.img"', f'path = "{other}/microvm-var.img"')
    (src / "m.toml").write_text(text)
    fake = tmp_path / "bin"
    fake.mkdir()
    real = shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin")
    (fake / "mkfs.ext4").write_text(
        # only the build's own mkfs (into the workspace), not the planner's feature probe
        f"#!/bin/sh\ncase \"$*\" in *.diskwright-*) printf 'not yours' > {other}/microvm-var.img"
        f" ;; esac\nexec {real} \"$@\"\n"
    )
    (fake / "mkfs.ext4").chmod(0o755)
    r = run_cli("build", src / "m.toml", env={"PATH": f"{fake}:{os.environ['PATH']}"})
    assert r.returncode == 1, r.stderr
    assert "appeared during the build" in r.stderr and "Traceback" not in r.stderr
    assert not (src / "microvm-store.erofs").exists(), "disk 1 appeared although disk 2 failed"
    assert (other / "microvm-var.img").read_bytes() == b"not yours"
    assert leftovers(src) == [] and leftovers(other) == []
    (other / "microvm-var.img").unlink()
    r = run_cli("build", src / "m.toml")
    assert r.returncode == 0, r.stderr
    assert (src / "microvm-store.erofs").exists() and (other / "microvm-var.img").exists()
