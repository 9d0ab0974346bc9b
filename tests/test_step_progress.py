"""A step reports its own progress: our "diskwright-progress: DONE TOTAL" lines, and
its tool's own lines as the step declares (core/progress.py).

The Runner turns them into Progress events within the step's share of the build
(the ZFS helper-VM step's job prints them while tar fills the pool; tests/test_zfs.py
builds one for real; qemu-img, mkfs.erofs, mksquashfs and fat-fill run here for real).
Other lines, and malformed progress lines, stay output.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from diskwright.core.plan import Cmd, Plan, Step, Var, Word, cmd, render_step, w
from diskwright.core.progress import MKSQUASHFS, QEMU_IMG, erofs_files
from diskwright.core.runner import Output, Progress, run_plan


def test_progress_lines_become_progress_events(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    lines = ["diskwright-progress: 0 400", "copying", "diskwright-progress: 100 400",
             "diskwright-progress: 300 400", "diskwright-progress: 450 400",
             "diskwright-progress: many 400"]  # fmt: skip
    steps = [
        Step(id="first", title="first", phase="prepare", expr=cmd("true"), weight=1.0),
        Step(id="copy", title="copy", phase="filesystem",
             expr=cmd("printf", "%s\\n", *lines), weight=2.0),
        Step(id="write", title="write", phase="output",
             expr=cmd("printf", "x", stdout=str(out)), weight=1.0),
    ]
    plan = Plan(steps=steps, outputs=[str(out)], workspace_parent=str(tmp_path))
    events: list[object] = []
    run_plan(plan, events.append)
    mine = [e for e in events if isinstance(e, Progress) and e.total is not None]
    assert [(e.step_id, e.done, e.total) for e in mine] == [
        ("copy", 0, 400), ("copy", 100, 400), ("copy", 300, 400), ("copy", 400, 400)
    ]  # the counter past the end is held at the total
    assert [e.step_fraction for e in mine] == [0.0, 0.25, 0.75, 1.0]
    # within the step's share: 1 of 4 done before it, its own weight is 2
    assert [e.overall for e in mine] == [0.25, 0.375, 0.625, 0.75]
    said = [e.line for e in events if isinstance(e, Output) and e.step_id == "copy"]
    assert said == ["copying", "diskwright-progress: many 400"]
    log = (tmp_path / "out.bin.log").read_text()
    assert "diskwright-progress: 100 400" in log  # the log keeps every line


# ------------------------------------------------------------ the tools' own progress


def _run_steps(tmp_path: Path, steps: list[Step]) -> list[object]:
    out = tmp_path / "out.bin"
    steps = [*steps, Step(id="write", title="write", phase="output",
                          expr=cmd("printf", "x", stdout=str(out)))]
    events: list[object] = []
    run_plan(Plan(steps=steps, outputs=[str(out)], workspace_parent=str(tmp_path)),
             events.append)
    return events


def _readings(events: list[object], step_id: str) -> list[Progress]:
    """The step's progress while it ran (the Runner's own 1.0 after it ends left out)."""
    mine = [e for e in events if isinstance(e, Progress) and e.step_id == step_id]
    return mine[:-1]


def _tree(root: Path, files: int, size: int) -> None:
    root.mkdir()
    for i in range(files):
        # not compressible and not zero, so every tool has real work on every file
        (root / f"f{i:04d}").write_bytes(os.urandom(size))


def test_qemu_img_convert_reports_its_percentages(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    with open(raw, "wb") as f:
        f.truncate(64 << 20)
        for at in range(0, 64 << 20, 4 << 20):  # data spread over the disk
            f.seek(at)
            f.write(os.urandom(1 << 20))
    plan = make_vm_plan(tmp_path, raw)
    conv = next(s for s in plan.steps if s.id == "disk0-convert")
    assert conv.progress is QEMU_IMG and "-p" in render_step(conv)  # the preview says -p
    # qemu-img's own lines, all of them, through the step's reader: a middle, in order
    assert isinstance(conv.expr, Cmd)
    argv = ["".join(map(str, a.parts)) if isinstance(a, Word) else str(a) for a in conv.expr.argv]
    direct = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    meter = QEMU_IMG.meter()
    seen = [r.fraction for line in direct.replace("\r", "\n").splitlines()
            if (r := meter.read(line)) is not None]
    assert any(0.0 < f < 1.0 for f in seen) and seen == sorted(seen) and seen[-1] == 1.0, seen
    (tmp_path / "disk0.vmdk").unlink()
    # the Runner's run of the same step: how many readings arrive depends on how the
    # lines are batched (it keeps the last of each read), never their order or the end
    events = _run_steps(tmp_path, [conv])
    got = _readings(events, "disk0-convert")
    fractions = [e.step_fraction for e in got]
    assert got and fractions == sorted(fractions) and fractions[-1] == 1.0, got
    said = [e.line for e in events if isinstance(e, Output) and e.step_id == "disk0-convert"]
    assert not any("/100%" in line for line in said), said  # the bar, not the log pane


def make_vm_plan(tmp_path: Path, raw: Path) -> Plan:
    """The convert step as the planner makes it for a vmdk output, pointed at `raw`."""
    from diskwright.core.model import Disk
    from diskwright.core.output import output_steps

    disk = Disk.model_validate({"name": "vm", "output": {"path": "x.vmdk", "format": "vmdk"},
                                "partitions": [{"role": "root", "filesystem": "ext4"}]})
    steps, _ = output_steps(0, disk, w(str(raw)), 64 << 20)
    conv = [replace(s, expr=_retarget(s, tmp_path)) for s in steps if s.id == "disk0-convert"]
    return Plan(steps=conv, outputs=[], workspace_parent=str(tmp_path))


def _retarget(step: Step, tmp_path: Path) -> Cmd:
    """The step's argv with the workspace output made a path under tmp_path."""
    assert isinstance(step.expr, Cmd)
    argv = [str(tmp_path / "disk0.vmdk") if isinstance(a, Word) and a.parts[0] == Var("W")
            else a for a in step.expr.argv]
    return replace(step.expr, argv=tuple(argv))


def test_mkfs_erofs_progress_is_the_bytes_of_the_files_it_started(tmp_path: Path) -> None:
    """mkfs.erofs names each file as it starts on it: the bytes before it are how far it
    is, so one big file counts for its size, not as one line in 201."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a-big").write_bytes(os.urandom(1 << 20))
    for i in range(200):
        (src / f"small{i:03d}").write_bytes(os.urandom(1024))
    total = (1 << 20) + 200 * 1024
    img = tmp_path / "t.erofs"
    step = Step(id="mkfs", title="mkfs", phase="filesystem",
                expr=cmd("mkfs.erofs", "-zlz4hc", str(img), str(src)),
                progress=erofs_files(str(src), total))
    events = _run_steps(tmp_path, [step])
    got = _readings(events, "mkfs")
    assert {e.total for e in got} == {total}
    done = [e.done or 0 for e in got]
    assert done == sorted(done) and done[0] == 0
    assert (1 << 20) in done  # the big file counted whole once the next one started
    assert done[-1] >= total * 0.99 and len(got) >= 20, done  # one event a half percent
    said = [e.line for e in events if isinstance(e, Output) and e.step_id == "mkfs"]
    assert not any(line.startswith("Processing") for line in said)


def test_mksquashfs_bar_is_read(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _tree(src, 8, 256 << 10)
    img = tmp_path / "t.sqfs"
    step = Step(id="mkfs", title="mkfs", phase="filesystem",
                expr=cmd("mksquashfs", str(src), str(img), "-noappend", "-progress"),
                progress=MKSQUASHFS)
    events = _run_steps(tmp_path, [step])
    got = _readings(events, "mkfs")
    assert got and got[-1].step_fraction == 1.0  # its last bar: "16/16 100%"
    said = [e.line for e in events if isinstance(e, Output) and e.step_id == "mkfs"]
    assert not any("100%" in line and "]" in line for line in said), said


def test_fat_fill_reports_the_bytes_it_writes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _tree(src, 6, 300_000)
    img = tmp_path / "fat.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    subprocess.run(["mkfs.vfat", str(img)], check=True, capture_output=True)
    step = Step(id="fill", title="fill", phase="filesystem",
                expr=cmd("diskwright", "helper", "fat-fill", str(img), str(src), "1700000000"))
    events = _run_steps(tmp_path, [step])
    got = _readings(events, "fill")
    assert got and {e.total for e in got} == {6 * 300_000}
    assert got[-1].done == 6 * 300_000 and got[-1].step_fraction == 1.0
    done = [e.done or 0 for e in got]
    assert done == sorted(done)
    listing = subprocess.run(["mdir", "-b", "-i", str(img), "::/"], capture_output=True,
                             text=True, check=True).stdout
    assert len(listing.split()) == 6  # and the files are there


def test_weights_follow_the_estimate(tmp_path: Path) -> None:
    """The Overall bar moves with the bytes each step handles, not the step count: a disk
    holding 4x the content gives its copy and convert steps about 4x the weight."""
    from diskwright.core.planner import make_plan
    from diskwright.core.profile import load_profile
    from diskwright.core.source import read_source

    weights = {}
    for mib in (64, 256):
        folder = tmp_path / f"p{mib}"
        folder.mkdir()
        (folder / "root").mkdir()
        with open(folder / "root" / "data", "wb") as f:  # no holes: every byte is content
            for _ in range(mib):
                f.write(b"\x01" * (1 << 20))
        (folder / "p.toml").write_text(
            'version = 1\nname = "p"\n[source]\npath = "root"\n[[disks]]\nname = "vm"\n'
            'table = "gpt"\n[disks.output]\npath = "p.qcow2"\nformat = "qcow2"\n'
            '[[disks.partitions]]\nrole = "root"\nfilesystem = "ext4"\nmount_point = "/"\n')
        profile = load_profile(folder / "p.toml")
        plan = make_plan(profile, read_source(profile))
        weights[mib] = {s.id: s.weight for s in plan.steps}
    for sid in ("disk0-convert", "disk0-compare", "d0p1-copy", "d0p1-mkfs"):
        ratio = weights[256][sid] / weights[64][sid]
        assert 3.5 < ratio < 4.5, (sid, weights[64][sid], weights[256][sid])


def test_the_terminal_bar_stays_beside_a_long_step_title(monkeypatch: pytest.MonkeyPatch) -> None:
    """`diskwright build` on a terminal: the bar, percent and time come first at a fixed
    width and the title is cut at the end (a long title had pushed the bar off the line);
    a step's bytes come before its title, where the cut does not reach them."""
    from rich.console import Console

    from diskwright.core.runner import StepStarted
    from diskwright.tui.progress import BuildDisplay

    title = "Make the erofs image for the root partition, erofs 'nixos', on disk vm " * 2
    step = Step(id="mkfs", title=title, phase="filesystem", expr=cmd("true"))
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # the live bar, as on a terminal
    display = BuildDisplay(Plan(steps=[step], outputs=[], workspace_parent="/tmp"))
    assert display.progress is not None
    display.handle(StepStarted(0, step))
    display.handle(Progress("mkfs", 0.25, 0.25, 12 << 20, 48 << 20))
    screen = Console(width=80, record=True, color_system=None)
    screen.print(display.progress.get_renderable())
    line = screen.export_text().rstrip("\n")
    assert len(line) <= 80 and "━" in line and " 25%" in line, line
    assert "[1/1] 12.0 MiB of 48.0 MiB · Make the" in line and line.endswith("…"), line
