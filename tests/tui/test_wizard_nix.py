"""Nix-closure profiles build from the wizard's Build step and from plain mode.

Both read the source through core's one source reader, as `diskwright build` does;
the demo store comes from examples/make_nix_store.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from make_nix_store import make_demo
from test_wizard_plain import DOWN, ENTER, NO, answer, keyboard
from textual.widgets import Button
from wizard_helpers import EXAMPLES, plain, settle, sha256, wait_for

from diskwright.tui.app import WizardApp
from diskwright.tui.model import load_draft
from diskwright.tui.plain import PlainWizard, run_plain

pytestmark = [pytest.mark.tui, pytest.mark.nix]

if shutil.which("nix-store") is None:  # pragma: no cover - the lead installs nix-bin
    pytest.skip("needs nix-store (Debian's nix-bin)", allow_module_level=True)


@pytest.fixture
def nix_work(tmp_path: Path) -> Path:
    make_demo(tmp_path / "nix-demo")
    shutil.copy(EXAMPLES / "nix-store-erofs.toml", tmp_path / "nix-store-erofs.toml")
    return tmp_path


def check_store_image(image: Path, folder: Path) -> None:
    """fsck.erofs accepts it; its files are the closure's paths; the registration is beside."""
    subprocess.run(["fsck.erofs", str(image)], check=True, capture_output=True)
    x = folder / "x"
    subprocess.run(["fsck.erofs", f"--extract={x}", str(image)], check=True, capture_output=True)
    names = sorted(p.name for p in x.iterdir())
    reg = Path(f"{image}.nix-path-registration").read_text()
    assert names and all(f"/nix/store/{n}\n" in reg for n in names), (names, reg[:200])


async def test_build_step_builds_a_nix_closure(nix_work: Path) -> None:
    app = WizardApp(draft=load_draft(nix_work / "nix-store-erofs.toml"), step="build",
                    frozen=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.state.scan is not None and app.state.analysis.valid, app.state.analysis.errors
        form: Any = app.wizard_screen.form("build")
        assert not app.screen.query_one("#build-start", Button).disabled
        await pilot.click("#build-start")
        await wait_for(pilot, lambda: form.state in ("done", "failed", "cancelled"), 300,
                       "the build to end")
        assert form.state == "done", plain(app.screen.query_one("#build-status"))
        outputs = {o.path: o.sha256 for o in form.result.outputs}
    image = nix_work / "nix-store.erofs"
    assert outputs[str(image)] == sha256(image)
    assert f"{image}.nix-path-registration" in outputs
    check_store_image(image, nix_work)


def test_plain_mode_builds_a_nix_closure(nix_work: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(nix_work)
    # keep the profile as it is, then "Build without saving"
    with keyboard(NO, DOWN, DOWN, ENTER):
        rc = run_plain(str(nix_work / "nix-store-erofs.toml"))
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "mkfs.erofs" in out
    image = nix_work / "nix-store.erofs"
    assert f"sha256 {sha256(image)}" in out
    check_store_image(image, nix_work)


def test_plain_mode_asks_the_closure_questions(nix_work: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Choosing a Nix closure asks for the closure, the store, the registration and its file."""
    wizard = PlainWizard()
    wizard.draft = load_draft(nix_work / "nix-store-erofs.toml")
    wizard.draft.data["source"] = {"path": "nix-demo", "registration": "auto"}
    keys = [
        DOWN, ENTER,  # what goes into the image: a Nix closure
        answer("nix-demo/result"),  # closure
        answer("nix-demo"),  # store
        DOWN, DOWN, ENTER,  # registration: beside
        answer("store.reg"),  # registration file
        NO,  # no extra file
    ]
    with keyboard(*keys):
        wizard.step_source()
    src = wizard.draft.data["source"]
    assert src["path"] is None and src["closure"] == ["nix-demo/result"]
    assert src["store"] == "nix-demo" and src["registration"] == "beside"
    assert src["registration_file"] == "store.reg"
    assert wizard.scan is not None and wizard.scan.total().files > 0
    assert wizard.analysis().valid, wizard.analysis().errors


def test_plain_mode_always_has_a_way_back(nix_work: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A bad closure: "Fix which step?" offers every step; fixing the source makes it valid."""
    monkeypatch.chdir(nix_work)
    profile = nix_work / "nix-store-erofs.toml"
    profile.write_text(profile.read_text().replace('"nix-demo/result"', '"nix-demo/nope"'))
    keys = [
        NO,  # keep the profile as it is
        ENTER,  # fix which step: Source (the first one with problems)
        ENTER,  # what goes into the image: a Nix closure (as now)
        answer("nix-demo/result"), ENTER, ENTER, ENTER,  # closure, store, registration, file
        NO,  # no extra file
        DOWN, DOWN, DOWN, DOWN, ENTER,  # what now: quit without writing anything
    ]
    with keyboard(*keys) as screen:
        rc = run_plain(str(profile))
    out = capsys.readouterr().out
    asked = screen.getvalue()
    assert rc == 130, out
    assert "Source: ✗ source.closure[0]" not in out  # people's words, then the field
    assert "closure" in out
    assert "Fix which step? Source (folder, Nix closure, extra files) — ✗ 2 problems" in asked
    assert "== Plan" in out  # it became valid, so the plan was shown
    assert not (nix_work / "nix-store.erofs").exists()


def test_every_step_is_offered_and_what_now_goes_back(
        nix_work: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A valid profile: "What now?" → go back → Profile name → rename → quit; nothing written."""
    monkeypatch.chdir(nix_work)
    wizard = PlainWizard()
    with keyboard(DOWN, DOWN, DOWN, ENTER):  # the 4th step, though none has problems
        assert wizard.pick_step("Fix which step?", {}, quit_label="Quit") == "name"
    keys = [
        NO,  # keep the profile as it is
        DOWN, DOWN, DOWN, ENTER,  # what now: go back and change a step
        DOWN, DOWN, DOWN, ENTER,  # change which step: Profile name
        answer("renamed"),
        DOWN, DOWN, DOWN, DOWN, ENTER,  # what now: quit without writing anything
    ]
    with keyboard(*keys) as screen:
        rc = run_plain(str(nix_work / "nix-store-erofs.toml"))
    out = capsys.readouterr().out
    assert rc == 130, out
    assert out.count("== Plan") == 2 and "(renamed)" in out
    assert "Change which step? Profile name" in screen.getvalue()
    assert not (nix_work / "nix-store.erofs").exists()
