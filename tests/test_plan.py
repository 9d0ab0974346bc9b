"""Plan rendering: every user value reaches the tool exactly as typed, never as shell code."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from imagecheck import blkid, cut, partitions
from testkit import REPO, leftovers, run_cli

from diskwright.core.plan import Arith, Plan, Step, Var, Word, cmd, render_arg, render_script, w

NASTY = [
    "plain",
    "with space",
    "it's",
    'double "quote"',
    "$(touch /tmp/diskwright-pwned)",
    "`id`",
    "a;b&&c|d",
    "new\nline",
    "tab\there",
    "ünïcødé 名前",
    "*glob?[x]",
    "~user",
    "-n",
    "",
    "back\\slash",
    "dollar $HOME ${W}",
]


@pytest.mark.parametrize("value", NASTY)
def test_literal_roundtrip(value: str) -> None:
    rendered = render_arg(value)
    assert shlex.split(rendered) == [value]
    script = f"printf '%s' {rendered}"
    subprocess.run(["sh", "-n", "-c", script], check=True)
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert out.decode() == value


@pytest.mark.parametrize("value", NASTY)
def test_word_with_variables(value: str) -> None:
    word = w(value, Var("W"), "/x", Arith((Var("N"), " * 2")))
    script = f"W='/work dir'; N=21; printf '%s' {render_arg(word)}"
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert out.decode() == f"{value}/work dir/x42"


def test_heredoc_content_is_not_expanded() -> None:
    content = "$(touch /tmp/diskwright-pwned)\n`id`\nDISKWRIGHT_EOF\n"
    step = Step(
        id="w",
        title="t",
        phase="prepare",
        kind="write",
        path=Word((Var("W"), "/f")),
        content=content,
    )
    plan = Plan(steps=[step], outputs=["/tmp/x"], workspace_parent="/tmp")
    text = render_script(plan)
    subprocess.run(["sh", "-n", "-c", text], check=True)
    out = subprocess.run(
        ["sh", "-c", "W=$(mktemp -d)\n" + step.render() + '\ncat "$W/f" && rm -rf "$W"'],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert out == content
    assert not Path("/tmp/diskwright-pwned").exists()


def test_env_and_redirections() -> None:
    c = cmd("printf", "%s", "x y", env={"A": "1 2"}, stdout=Word((Var("W"), "/o f")))
    assert c.env == (("A", "1 2"),)
    from diskwright.core.plan import render_expr

    assert render_expr(c) == "A='1 2' printf %s 'x y' >\"${W}\"'/o f'"


def test_hostile_profile_values_build_safely(tmp_path: Path, example_root: Path) -> None:
    """Labels, names and paths full of shell syntax: the plan parses, the build runs,
    nothing is executed, and the values read back from the image exactly."""
    src = tmp_path / "src $(touch pwned) 'q'"
    src.symlink_to(example_root)
    out_dir = tmp_path / "out `id` ; dir"
    out_dir.mkdir()
    label = "it's $(x)"
    profile = {
        "version": 1,
        "source": {"path": src.name},
        "disks": [
            {
                "table": "gpt",
                "output": {"path": f'{out_dir.name}/disk "1".raw'},
                "partitions": [
                    {
                        "role": "root",
                        "filesystem": "ext4",
                        "mount_point": "/",
                        "label": label,
                        "name": "root $(reboot) `x`",
                    },
                ],
            }
        ],
    }
    path = tmp_path / "hostile.toml"
    path.write_text(tomli_w.dumps(profile))
    plan = run_cli("plan", path)
    assert plan.returncode == 0, plan.stderr
    subprocess.run(["sh", "-n"], input=plan.stdout, text=True, check=True)
    r = run_cli("build", path)
    assert r.returncode == 0, r.stderr
    raw = out_dir / 'disk "1".raw'
    assert raw.exists()
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    table = partitions(raw)
    assert table["partitions"][0]["name"] == "root $(reboot) `x`"
    p = table["partitions"][0]
    part = cut(raw, p["start"], p["size"], tmp_path / "p.img")
    assert blkid(part)["LABEL"] == label


def test_core_imports_without_front_ends() -> None:
    code = (
        "import sys\n"
        "from diskwright.core import profile, scan, planner, runner, plan, doctor, helpers, fs\n"
        "from diskwright.core import disk, output, layout, tools\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'questionary')"
        " or m.startswith('diskwright.tui')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"core pulled in front-end modules: {out.stdout}"


def test_steps_name_the_profile_fields_they_follow_from(tmp_path: Path) -> None:
    """The wizard's preview marks a form's commands from Step.fields, never from shell text:
    a label edit shapes the mkfs step, not the partition table; a size edit shapes both."""
    from diskwright.core.planner import make_plan
    from diskwright.core.profile import parse_profile

    profile = parse_profile(
        {
            "version": 1,
            "disks": [
                {
                    "output": {"path": "disk.raw"},
                    "partitions": [
                        {"role": "esp", "filesystem": "vfat", "size": "64MiB", "empty": True},
                        {"role": "root", "filesystem": "ext4", "size": "64MiB", "empty": True},
                    ],
                }
            ],
        },
        tmp_path,
    )
    steps = make_plan(profile, None).steps
    label = "disks[0].partitions[1].label"
    marked = [s for s in steps if s.shaped_by(label)]
    assert marked and all(s.fields == ("disks[0].partitions[1]",) for s in marked)
    assert any("mkfs.ext4" in s.render() for s in marked)
    assert not any("mkfs.vfat" in s.render() for s in marked)
    size = [s.id for s in steps if s.shaped_by("disks[0].partitions[1].size")]
    assert len(size) > len(marked)  # the table and its check follow the size too
    assert all(s.fields for s in steps), [s.id for s in steps if not s.fields]
    assert not steps[0].shaped_by("disks[0].partitions[1]x")


def test_step_lines_cover_each_steps_title_and_command(tmp_path: Path) -> None:
    """The preview scrolls to a step's lines: each span starts at its title comment and
    ends after its (possibly multi-line heredoc) command."""
    from diskwright.core.plan import render_script, step_lines

    steps = [
        Step(id="a", title="first", phase="prepare", expr=cmd("true"), comment="why\nmore"),
        Step(id="b", title="second", phase="filesystem", kind="write", path="/x",
             content="l1\nl2\n"),
        Step(id="c", title="third", phase="filesystem", expr=cmd("echo", "hi")),
    ]
    plan = Plan(steps=steps, outputs=["/o"], workspace_parent="/")
    script = render_script(plan, header="h")
    lines = script.split("\n")
    spans = step_lines(script, plan)
    assert len(spans) == 3
    assert [lines[a] for a, _ in spans] == ["# first", "# second", "# third"]
    assert lines[spans[0][1] - 1] == "true"
    assert lines[spans[1][1] - 1] == "DISKWRIGHT_EOF"
    assert lines[spans[2][0]: spans[2][1]] == ["# third", "echo hi"]


def test_force_keeps_the_same_steps(workdir: Path) -> None:
    """A profile's plan has the same steps with or without --force (one count everywhere:
    the wizard said 33 while a rebuild with --force said 32); with --force the guard only
    lets a file be replaced, so a printed plan run with sh stops at a folder."""
    import json

    profile = workdir / "vm-disk.toml"
    plain_ids = [s["id"] for s in json.loads(run_cli("plan", profile, "--json").stdout)["steps"]]
    forced = json.loads(run_cli("plan", profile, "--json", "--force").stdout)["steps"]
    assert [s["id"] for s in forced] == plain_ids
    guard = next(s for s in forced if s["id"] == "disk0-guard")
    assert "--force may replace" in guard["title"]
    for args in ((), ("--force",)):
        dry = run_cli("build", profile, "--dry-run", *args)
        assert dry.returncode == 0, dry.stderr
        assert f"dry run: {len(plain_ids)} steps would write" in dry.stdout
    (workdir / "vm-disk.qcow2").mkdir()
    script = run_cli("plan", profile, "--force").stdout
    r = subprocess.run(["sh", "-s"], input=script, text=True, capture_output=True,
                       cwd=workdir, timeout=300)
    assert r.returncode == 1
    assert "vm-disk.qcow2 exists and is not a file; --force replaces image files only" in r.stderr
    assert (workdir / "vm-disk.qcow2").is_dir() and not any((workdir / "vm-disk.qcow2").iterdir())
    assert leftovers(workdir) == []


@pytest.mark.parametrize(("path", "fmt", "comp", "said"), [
    ("custom.vmdk", "raw", "none", 'ends in .vmdk, a vmdk file\'s name, but the format is raw; '
                                   'make the format vmdk or end the name in .img'),
    ("disk.qcow2", "vmdk", "none", 'make the format qcow2 or end the name in .vmdk'),
    ("disk.img", "raw", "zstd", "does not end in .zst; name it disk.img.zst"),
    ("disk.img.zst", "raw", "none", 'but the output is not compressed; make the compression zstd'),
    ("disk.qcow2", "qcow2", "none", None),
    ("disk.img.zst", "raw", "zstd", None),
    ("store.erofs", "raw", "none", None),
])
def test_an_output_named_like_another_kind_is_a_warning(
        tmp_path: Path, example_root: Path, path: str, fmt: str, comp: str,
        said: str | None) -> None:
    """QEMU and VirtualBox go by a file's ending: custom.vmdk written as raw is warned
    about (naming the fix), never refused; a name that fits says nothing."""
    (tmp_path / "root").symlink_to(example_root)
    profile = tmp_path / "p.toml"
    profile.write_text(tomli_w.dumps({
        "version": 1, "name": "p", "source": {"path": "root"},
        "disks": [{"name": "vm", "table": "gpt",
                   "output": {"path": path, "format": fmt, "compression": comp},
                   "partitions": [{"role": "root", "filesystem": "ext4", "mount_point": "/"}]}],
    }))
    r = run_cli("validate", profile)
    assert r.returncode == 0, r.stderr
    warned = [ln for ln in r.stdout.splitlines() if ln.startswith("warning: disks[0].output.path")]
    if said is None:
        assert not warned, r.stdout
    else:
        assert len(warned) == 1 and said in warned[0], r.stdout
