"""A Nix-closure profile builds from plain mode: it reads the source with core.source.read_source.

Before, plain mode scanned only source.path, so a closure profile failed with
"the closure has not been resolved"; the CLI built it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from make_nix_store import make_demo
from test_wizard_plain import DOWN, ENTER, NO, keyboard
from wizard_helpers import REPO, sha256

from diskwright.tui.plain import run_plain

pytestmark = [
    pytest.mark.tui,
    pytest.mark.skipif(shutil.which("nix-store") is None, reason="needs nix-store"),
]


def test_plain_mode_builds_a_closure_profile(
    tui_work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_demo(tui_work / "nix-demo")
    monkeypatch.chdir(tui_work)
    profile = tui_work / "nix-store-erofs.toml"
    # keep it as it is, then "Build without saving"
    with keyboard(NO, DOWN, DOWN, ENTER):  # y/N waits for Enter
        rc = run_plain(str(profile))
    out = capsys.readouterr().out
    assert rc == 0, out
    image = tui_work / "nix-store.erofs"
    assert image.is_file() and (tui_work / "nix-store.erofs.nix-path-registration").is_file()
    # the same bytes as the CLI builds from the same profile
    (tui_work / "cli").mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "diskwright.tui.cli", "build", str(profile),
         "--output-dir", str(tui_work / "cli")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert sha256(tui_work / "cli" / "nix-store.erofs") == sha256(image)
