"""A step reports its own progress with "diskwright-progress: DONE TOTAL" lines.

The Runner turns them into Progress events within the step's share of the build
(the ZFS helper-VM step's job prints them while tar fills the pool; tests/test_zfs.py
builds one for real). Other lines, and malformed progress lines, stay output.
"""

from __future__ import annotations

from pathlib import Path

from diskwright.core.plan import Plan, Step, cmd
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
