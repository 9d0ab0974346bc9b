"""Profile model, units, ids, CLI read-only commands: fast unit tests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from testkit import EXAMPLES

from diskwright.core.layout import resolve
from diskwright.core.profile import load_profile, profile_to_toml
from diskwright.core.profile_io import save_profile_in_place as save_profile
from diskwright.core.units import format_size, parse_size
from diskwright.tui.cli import main


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("512MiB", 512 << 20),
        ("8G", 8 << 30),
        ("4096", 4096),
        ("1.5 GiB", 3 << 29),
        ("100s", 51200),
        ("1KB", 1000),
        (0, 0),
    ],
)
def test_parse_size(text: str | int, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("bad", ["", "12 parsecs", "-1", "1.3B", "MiB"])
def test_parse_size_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)


def test_format_size() -> None:
    assert format_size(1536) == "1.5 KiB"
    assert format_size(5 << 30) == "5.0 GiB"
    assert format_size(300 << 20) == "300 MiB"


@pytest.mark.parametrize("toml", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_examples_round_trip(toml: Path, tmp_path: Path) -> None:
    profile = load_profile(toml)
    out = tmp_path / toml.name
    save_profile(profile, out)
    again = load_profile(out)
    assert again.model_dump() == profile.model_dump()
    assert profile_to_toml(again) == out.read_text()


def test_ids_derive_from_seed() -> None:
    a = load_profile(EXAMPLES / "vm-disk.toml")
    b = load_profile(EXAMPLES / "vm-disk.toml")
    assert [i.fs_uuid for i in resolve(a)] == [i.fs_uuid for i in resolve(b)]
    b.reproducible.seed = "other"
    assert [i.fs_uuid for i in resolve(a)] != [i.fs_uuid for i in resolve(b)]
    esp, root = resolve(a)
    assert len(esp.fs_uuid or "") == 8 and len(root.fs_uuid or "") == 36
    assert root.exclude == ("/boot",) and esp.subtree == "/boot"


def test_schema_is_json(capsys: Any) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "disks" in schema["properties"]


def test_doctor_json(capsys: Any) -> None:
    code = main(["doctor", "--json"])
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    required = {"mkfs.ext4", "mkfs.erofs", "sfdisk", "qemu-img"}
    assert required <= set(by_name)
    # the test machine has every required tool: doctor must find each and say so
    assert all(by_name[n]["ok"] for n in required)
    assert code == (0 if all(r["ok"] or r["optional"] for r in rows) else 1)
    from diskwright.core.doctor import BOOT_ROWS

    for r in rows:
        if r["name"] == "zfs-kit":
            continue
        if r["name"] in BOOT_ROWS:  # files a package ships: found ⇔ the path exists
            assert r["ok"] == os.path.exists(r["detail"]), r
            assert "apt-get install" in r["hints"]["debian"], r
            continue
        # found ⇔ the detail starts with the executable's path; missing ⇔ "missing"
        first = r["detail"].split(" ")[0]
        assert r["ok"] == (first != "missing"), r
        if r["ok"]:
            assert os.access(first, os.X_OK), r
        else:
            assert shutil.which(r["name"]) is None, r
        # every tool tells how to install it on each distribution doctor knows
        assert set(r["hints"]) == {"debian", "fedora", "arch", "nix"}, r
        assert r["hints"]["debian"].startswith("sudo apt-get install "), r


def test_estimate_json(capsys: Any, example_root: Path, tmp_path: Path) -> None:
    (tmp_path / "root").symlink_to(example_root)
    (tmp_path / "p.toml").write_text((EXAMPLES / "vm-disk.toml").read_text())
    assert main(["estimate", "--json", str(tmp_path / "p.toml")]) == 0
    est = json.loads(capsys.readouterr().out)
    disk = est["disks"][0]
    assert [p["filesystem"] for p in disk["parts"]] == ["vfat", "ext4"]
    assert disk["disk_bytes"] >= sum(p["size"] for p in disk["parts"])
    starts = [p["start"] for p in disk["parts"]]
    assert starts == sorted(starts) and starts[0] == 1 << 20


def test_plan_json_and_dry_run(capsys: Any, example_root: Path, tmp_path: Path) -> None:
    (tmp_path / "root").symlink_to(example_root)
    (tmp_path / "p.toml").write_text((EXAMPLES / "vm-disk.toml").read_text())
    assert main(["plan", "--json", str(tmp_path / "p.toml")]) == 0
    plan = json.loads(capsys.readouterr().out)
    phases = [s["phase"] for s in plan["steps"]]
    assert phases.index("verify") > phases.index("output") and phases[-1] == "finish"
    assert main(["build", "--dry-run", str(tmp_path / "p.toml")]) == 0
    assert not (tmp_path / "vm-disk.qcow2").exists()
