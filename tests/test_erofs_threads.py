"""erofs: compression on every core where the installed mkfs.erofs has --workers (1.8+),
and the preview says which it uses."""

from __future__ import annotations

from pathlib import Path

from testkit import run_cli

from diskwright.core.tools import erofs_features


def test_preview_names_threads(workdir: Path) -> None:
    r = run_cli("plan", workdir / "microvm-store.toml")
    assert r.returncode == 0, r.stderr
    mkfs = next(ln for ln in r.stdout.splitlines() if "mkfs.erofs" in ln and "-z" in ln)
    title = next(ln for ln in r.stdout.splitlines() if ln.startswith("# Make the erofs image"))
    if erofs_features().workers:
        assert "--workers=" in mkfs and "compression threads" in title
    else:
        assert "--workers" not in mkfs and "one thread" in title and "1.8" in title
