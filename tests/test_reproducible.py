"""Same profile, same bytes: every example twice; the printed plan run with sh matches build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import tomli_w
from testkit import EXAMPLES, leftovers, run_cli, sha256

from diskwright.core.output import FORMATS as OUTPUT_FORMATS

pytestmark = pytest.mark.integration

OUTPUTS = {
    "vm-disk": ["vm-disk.qcow2"],
    "sd-card": ["sd-card.img.zst"],
    "microvm-store": ["microvm-store.erofs", "microvm-var.img"],
    "squashfs-store": ["squashfs-store.squashfs"],
}


def _prepare(folder: Path, example_root: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for toml in EXAMPLES.glob("*.toml"):
        shutil.copy(toml, folder / toml.name)
    (folder / "root").symlink_to(example_root)
    return folder


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_two_builds_identical(name: str, tmp_path: Path, example_root: Path) -> None:
    a = _prepare(tmp_path / "a", example_root)
    b = _prepare(tmp_path / "b", example_root)
    for d in (a, b):
        r = run_cli("build", d / f"{name}.toml")
        assert r.returncode == 0, r.stderr
    for out in OUTPUTS[name]:
        assert sha256(a / out) == sha256(b / out), f"{out} differs between two builds"


def test_printed_plan_matches_build(tmp_path: Path, example_root: Path) -> None:
    """`diskwright plan | sh` gives the very bytes `diskwright build` gives."""
    for name in OUTPUTS:
        a = _prepare(tmp_path / f"{name}-sh", example_root)
        b = _prepare(tmp_path / f"{name}-build", example_root)
        plan = run_cli("plan", a / f"{name}.toml")
        assert plan.returncode == 0, plan.stderr
        script = a / "plan.sh"
        script.write_text(plan.stdout)
        subprocess.run(["sh", "-n", str(script)], check=True)
        r = subprocess.run(["sh", str(script)], capture_output=True, text=True, cwd="/")
        assert r.returncode == 0, r.stderr
        r = run_cli("build", b / f"{name}.toml")
        assert r.returncode == 0, r.stderr
        for out in OUTPUTS[name]:
            assert sha256(a / out) == sha256(b / out), f"{name}: {out} differs"
        assert leftovers(a) == [] and leftovers(b) == []


# the one list of output formats, as core describes them
FORMATS = [f.value for f in OUTPUT_FORMATS]
BYTE_REPRODUCIBLE = {f.value for f, spec in OUTPUT_FORMATS.items() if spec.byte_reproducible}


def test_every_format(tmp_path: Path, example_root: Path) -> None:
    """Each format builds twice; qcow2/raw are byte-identical, the others equal in content."""
    import tomllib

    base = tomllib.loads((EXAMPLES / "vm-disk.toml").read_text())
    for fmt in FORMATS:
        outs = []
        for run in ("one", "two"):
            d = tmp_path / fmt / run
            d.mkdir(parents=True)
            (d / "root").symlink_to(example_root)
            prof = {**base}
            prof["disks"] = [dict(base["disks"][0])]
            prof["disks"][0]["output"] = {"path": f"disk.{fmt}", "format": fmt}
            (d / "p.toml").write_text(tomli_w.dumps(prof))
            r = run_cli("build", d / "p.toml")
            assert r.returncode == 0, f"{fmt}: {r.stderr}"
            outs.append(d / f"disk.{fmt}")
        qfmt = {"qcow2-compressed": "qcow2"}.get(fmt, fmt)
        subprocess.run(
            ["qemu-img", "compare", "-f", qfmt, "-F", qfmt, str(outs[0]), str(outs[1])],
            check=True,
            capture_output=True,
        )
        if fmt in BYTE_REPRODUCIBLE:
            assert sha256(outs[0]) == sha256(outs[1]), fmt
