"""Steps longer than one exec argument: the build runs them as `diskwright plan | sh` would.

Linux takes at most 128 KiB in one argument and about 2 MiB in all of them. The
runner hands a step to `sh -c TEXT`, so a folder of a few thousand names above a
nested mount point (its staging step names every entry) failed with "Argument
list too long" in `diskwright build` while `diskwright plan | sh` built it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import tomli_w
from imagecheck import cut, extract, manifest, run
from testkit import run_cli, sha256

from diskwright.core.plan import Plan, Step, cmd, render_step, ws
from diskwright.core.runner import run_plan

MAX_ARG_STRLEN = 128 * 1024


def test_a_step_longer_than_one_argument_runs(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    body = "".join(f"line {i:06d} of a step far longer than one exec argument\n"
                   for i in range(6000))
    assert len(body) > 2 * MAX_ARG_STRLEN
    steps = [
        Step(id="write", title="write", phase="prepare", kind="write", path=ws("long.txt"),
             content=body),
        Step(id="copy", title="copy", phase="output",
             expr=cmd("cp", ws("long.txt"), str(out))),
    ]
    assert len(render_step(steps[0])) > MAX_ARG_STRLEN
    run_plan(Plan(steps=steps, outputs=[str(out)], workspace_parent=str(tmp_path)),
             lambda e: None)
    assert out.read_text() == body
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".diskwright-")]


def _tree(root: Path) -> Path:
    """4,000 long names in the root (600 KiB of paths), a /boot mounted from another part."""
    root.mkdir()
    for i in range(4000):
        (root / f"a-rather-long-configuration-file-name-number-{i:05d}.conf").write_text(str(i))
    (root / "it's a \"quoted\" name").write_text("q\n")
    (root / "boot").mkdir()
    (root / "boot/kernel").write_bytes(b"k" * 1000)
    return root


@pytest.mark.integration
def test_staging_many_names_above_a_mount_point(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    prof = {
        "version": 1,
        "name": "many",
        "source": {"path": str(src)},
        "reproducible": {"source_date_epoch": 1700000000, "seed": "many"},
        "disks": [{
            "name": "d",
            "table": "gpt",
            "output": {"path": "many.img", "format": "raw"},
            "partitions": [
                {"role": "esp", "filesystem": "vfat", "mount_point": "/boot"},
                {"role": "root", "filesystem": "ext4", "mount_point": "/"},
            ],
        }],
    }
    p = tmp_path / "many.toml"
    p.write_text(tomli_w.dumps(prof))
    plan = run_cli("plan", p)
    assert plan.returncode == 0, plan.stderr
    links = [ln for ln in plan.stdout.splitlines() if ln.startswith("{ cp -al")]
    assert len(links) > 1, "the names go to cp in batches"
    assert max(len(ln.encode()) for ln in plan.stdout.splitlines()) < MAX_ARG_STRLEN
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    img = tmp_path / "many.img"
    parts = json.loads(run("sfdisk", "--json", img))["partitiontable"]["partitions"]
    root = cut(img, parts[1]["start"], parts[1]["size"], tmp_path / "root.ext4")
    got = manifest(extract("ext4", root, tmp_path / "x"), skip=("boot",))
    want = manifest(src, skip=("boot",))
    assert got == want
    # the same plan through sh (from its stdin: the plan is longer than one argument)
    (tmp_path / "sh").mkdir()
    again = tmp_path / "sh/many.toml"
    again.write_text(p.read_text())
    text = run_cli("plan", again)
    assert text.returncode == 0, text.stderr
    sh = subprocess.run(["sh"], input=text.stdout, capture_output=True, text=True)
    assert sh.returncode == 0, sh.stderr[-2000:]
    assert sha256(tmp_path / "sh/many.img") == sha256(img)
