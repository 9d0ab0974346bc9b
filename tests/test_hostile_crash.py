"""Issue 8, crash reports: an unexpected error is one sentence naming where the traceback
is; the traceback goes under a new private name beside the first output's log (else the
user's state folder), never into a shared temp folder, never over or through a file."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from test_hostile import profile, tree

pytestmark = pytest.mark.integration


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from diskwright.tui.cli import main

    rc = main(args)
    return rc, capsys.readouterr().err


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$TMPDIR and the state folder pointed at empty folders we can watch."""
    import tempfile

    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp


def test_crash_report_goes_beside_the_output(tmp_path: Path, private_tmp: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    p = profile(tmp_path)
    decoy = tmp_path / "decoy"
    decoy.write_text("keep\n")
    (tmp_path / "out.img.crash.txt").symlink_to(decoy)  # taken: the next free name is used
    import diskwright.core.planner as planner

    monkeypatch.setattr(planner, "make_plan", lambda *a, **k: 1 / 0)
    rc, err = _main(["build", str(p)], capsys)
    assert rc == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "unexpected error" in lines[0] and "Traceback" not in err
    m = re.search(r"the traceback is in (\S+) ", lines[0])
    assert m, err
    report = Path(m.group(1))
    assert report == tmp_path / "out.img.crash.1.txt"
    assert "Traceback" in report.read_text() and "ZeroDivisionError" in report.read_text()
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert decoy.read_text() == "keep\n"
    assert os.listdir(private_tmp) == [] and not (tmp_path / "state").exists()
    rc, err = _main(["build", str(p)], capsys)  # a second crash: another new name
    assert (tmp_path / "out.img.crash.2.txt").exists() and report.read_text()
    assert not (tmp_path / "out.img").exists()


def test_crash_before_the_outputs_are_known(tmp_path: Path, private_tmp: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """No profile read yet: the user's state folder (made 0700), still not $TMPDIR."""
    import diskwright.core.profile as prof

    tree(tmp_path)
    p = profile(tmp_path)
    monkeypatch.setattr(prof, "load_profile", lambda *a, **k: 1 / 0)
    rc, err = _main(["validate", str(p)], capsys)
    assert rc == 1 and "Traceback" not in err, err
    state = tmp_path / "state" / "diskwright"
    reports = list(state.iterdir())
    assert len(reports) == 1 and str(reports[0]) in err
    assert "ZeroDivisionError" in reports[0].read_text()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert os.listdir(private_tmp) == []
