"""Every invalid profile exits 2 with one message naming the field and the fix, no traceback,
and a failed validation writes nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from diskwright.core.tools import erofs_features
from diskwright.tui.cli import main

BASE: dict[str, Any] = {
    "version": 1,
    "name": "bad",
    "source": {"path": "root"},
    "disks": [
        {
            "name": "main",
            "table": "gpt",
            "output": {"path": "out.qcow2", "format": "qcow2"},
            "partitions": [
                {"role": "esp", "filesystem": "vfat", "mount_point": "/boot", "label": "ESP"},
                {"role": "root", "filesystem": "ext4", "mount_point": "/", "label": "nixos"},
            ],
        }
    ],
}

Mutation = Callable[[dict[str, Any], Path], None]


def part(i: int, **kw: Any) -> Mutation:
    def f(d: dict[str, Any], _: Path) -> None:
        d["disks"][0]["partitions"][i].update(kw)

    return f


def disk(**kw: Any) -> Mutation:
    def f(d: dict[str, Any], _: Path) -> None:
        d["disks"][0].update(kw)

    return f


def output(**kw: Any) -> Mutation:
    def f(d: dict[str, Any], _: Path) -> None:
        d["disks"][0]["output"].update(kw)

    return f


def source_file(d: dict[str, Any], tmp: Path) -> None:
    (tmp / "afile").write_text("x")
    d["source"]["path"] = "afile"


def escaping_contents(d: dict[str, Any], tmp: Path) -> None:
    real = tmp / "root2"
    (real / "boot").mkdir(parents=True)  # partition 0's mount point
    (real / "escape").symlink_to("/etc")
    d["source"]["path"] = "root2"
    d["disks"][0]["partitions"][1]["contents"] = "/escape"


def two_disks_same_output(d: dict[str, Any], _: Path) -> None:
    d["disks"].append(copy.deepcopy(d["disks"][0]) | {"name": "second"})
    for p in d["disks"][1]["partitions"]:
        p.pop("label", None)


def five_mbr(d: dict[str, Any], _: Path) -> None:
    d["disks"][0]["table"] = "mbr"
    d["disks"][0]["partitions"] += [
        {"role": "data", "filesystem": "ext4", "empty": True, "size": "8MiB"} for _ in range(3)
    ]


def extra_file(**kw: Any) -> Mutation:
    def f(d: dict[str, Any], tmp: Path) -> None:
        (tmp / "motd").write_text("hi\n")
        d["source"]["files"] = [{"source": "motd", "target": "/etc/motd"} | kw]

    return f


def erofs_root(**kw: Any) -> Mutation:
    def f(d: dict[str, Any], _: Path) -> None:
        d["disks"][0]["partitions"][1].update(filesystem="erofs", erofs=kw)

    return f


CASES: list[tuple[str, Mutation, str]] = [
    ("ext4 label too long", part(1, label="a-very-long-label-x"), "partitions[1].label"),
    ("vfat label lower case", part(0, label="esp"), "partitions[0].label"),
    ("vfat label too long", part(0, label="ABCDEFGHIJKL"), "partitions[0].label"),
    ("bad uuid", part(1, uuid="not-a-uuid"), "partitions[1].uuid"),
    ("vfat id for ext4", part(1, uuid="1234ABCD"), "partitions[1].uuid"),
    ("size smaller than content", part(1, size="2MiB"), "partitions[1].size"),
    ("size not a sector multiple", part(1, size="1000"), "partitions[1].size"),
    ("size garbage", part(1, size="big"), "partitions[1].size"),
    ("unknown format", output(format="vhd"), "output.format"),
    ("unknown compression", output(compression="lz5"), "output.compression"),
    ("same label twice", part(0, label="NIXOS"), ""),  # replaced below
    ("contents with ..", part(1, contents="/../etc"), "partitions[1].contents"),
    ("contents escapes by symlink", escaping_contents, "partitions[1].contents"),
    ("contents missing in source", part(1, contents="/nonexistent"), "partitions[1].contents"),
    ("missing source", lambda d, _: d["source"].update(path="nope"), "source.path"),
    ("source is a file", source_file, "source.path"),
    (
        "overlapping fixed partitions",
        lambda d, _: (
            d["disks"][0]["partitions"][0].update(size="64MiB", start="1MiB"),
            d["disks"][0]["partitions"][1].update(size="64MiB", start="32MiB"),
        ),
        "partitions[1].start",
    ),
    ("start not aligned", part(0, start="1000KiB"), "partitions[0].start"),
    ("unknown key", part(1, colour="blue"), "partitions[1].colour"),
    ("unknown top-level key", lambda d, _: d.update(extra=1), "extra"),
    ("wrong version", lambda d, _: d.update(version=2), "version"),
    (
        "squashfs label",
        lambda d, _: d["disks"][0]["partitions"][1].update(filesystem="squashfs"),
        "partitions[1].label",
    ),
    ("esp not vfat", part(0, filesystem="ext4", label="esp"), "partitions[0].filesystem"),
    ("mbr with five partitions", five_mbr, "disks[0].partitions"),
    (
        "bios-boot on mbr",
        lambda d, _: (
            d["disks"][0].update(table="mbr"),
            d["disks"][0]["partitions"].insert(0, {"role": "bios-boot", "filesystem": "none"}),
        ),
        "partitions[0].role",
    ),
    ("output under /dev", output(path="/dev/sda"), "output.path"),
    ("alignment not a power of two", disk(alignment="3MiB"), "disks[0].alignment"),
    ("erofs level without lz4hc", erofs_root(compressor="lz4", level=3), "erofs"),
    (
        "swap without size",
        lambda d, _: d["disks"][0]["partitions"].append({"role": "swap", "filesystem": "swap"}),
        "partitions[2].size",
    ),
    ("bare image with two partitions", disk(table="none"), "disks[0].partitions"),
    ("gpt name too long", part(1, name="x" * 37), "partitions[1].name"),
    (
        "extra file missing",
        lambda d, _: d["source"].update(files=[{"source": "nope.txt", "target": "/etc/nope"}]),
        "source.files[0].source",
    ),
    ("extra file relative target", extra_file(target="etc/motd"), "source.files[0].target"),
    ("extra file bad mode", extra_file(mode="999"), "source.files[0].mode"),
    ("two disks one output", two_disks_same_output, "disks[1].output.path"),
    ("headroom garbage", part(1, headroom="lots"), "partitions[1].headroom"),
    (
        "squashfs block size",
        lambda d, _: (
            d["disks"][0]["partitions"][1].update(
                filesystem="squashfs", label=None, squashfs={"block_size": "3000"}
            )
            or d["disks"][0]["partitions"][1].pop("label")
        ),
        "squashfs.block_size",
    ),
    ("fat32 too small", part(0, size="8MiB", vfat={"fat_size": 32}), "vfat.fat_size"),
    ("disk smaller than partitions", disk(size="4MiB"), "disks[0].size"),
    ("ext4 block size", part(1, ext4={"block_size": 3000}), "ext4.block_size"),
    ("no disks", lambda d, _: d.update(disks=[]), "disks"),
    ("output folder missing", output(path="no/such/dir/out.qcow2"), "output.path"),
    # another filesystem's options are refused, naming the table (they were ignored)
    ("ext4 options on vfat", part(0, ext4={"block_size": 1024}), "partitions[0].ext4"),
    ("squashfs options on ext4", part(1, squashfs={"compressor": "xz"}), "partitions[1].squashfs"),
    ("unknown filesystem", part(1, filesystem="ntfs"), "partitions[1].filesystem"),
]
CASES[10] = (
    "same label twice",
    lambda d, _: d["disks"][0]["partitions"].append(
        {"role": "data", "filesystem": "ext4", "empty": True, "size": "8MiB", "label": "nixos"}
    ),
    "partitions[2].label",
)


def write(tmp: Path, example_root: Path, mutate: Mutation) -> Path:
    (tmp / "root").symlink_to(example_root)
    data = copy.deepcopy(BASE)
    mutate(data, tmp)
    path = tmp / "profile.toml"
    path.write_text(tomli_w.dumps(data))
    return path


# Cases that depend on the installed erofs-utils: each release gets the branch it has.
_EROFS = erofs_features()
if "dedupe" not in _EROFS.extended:  # 1.5 accepts -Ededupe and silently ignores it
    CASES.append(("erofs dedupe ignored by tool", erofs_root(dedupe=True), "erofs.dedupe"))
if _EROFS.label:  # native -L (1.8: at most 15 bytes), which the profile's 16 can exceed
    CASES.append(
        (
            "erofs label over -L's limit",
            lambda d, _: d["disks"][0]["partitions"][1].update(
                filesystem="erofs", label="x" * (_EROFS.label_max + 1)
            ),
            "partitions[1].label",
        )
    )


def test_erofs_release_cases_are_the_ones_this_release_needs() -> None:
    """Says which branch ran: a version-dependent case is never skipped without a word."""
    names = {c[0] for c in CASES}
    assert ("erofs dedupe ignored by tool" in names) == (_EROFS.version < (1, 6)), _EROFS
    assert ("erofs label over -L's limit" in names) == _EROFS.label, _EROFS


def test_at_least_25_cases() -> None:
    assert len({c[0] for c in CASES}) >= 25


def test_base_profile_is_valid(tmp_path: Path, example_root: Path, capsys: Any) -> None:
    path = write(tmp_path, example_root, lambda d, _: None)
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("name", "mutate", "field"), CASES, ids=[c[0] for c in CASES])
def test_invalid_profile(
    name: str, mutate: Mutation, field: str, tmp_path: Path, example_root: Path, capsys: Any
) -> None:
    path = write(tmp_path, example_root, mutate)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("diskwright:")]
    assert len(lines) == 1, err
    assert field in lines[0], err
    assert "Traceback" not in err
    assert " — " in lines[0] or "use one of" in lines[0], f"no fix offered: {err}"
    # build refuses the same way and writes nothing
    assert main(["build", str(path)]) == 2
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_toml_syntax_error(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('version = 1\nname = "x\n')
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "TOML syntax error" in err and "line 2" in err and "Traceback" not in err


def test_missing_profile_file(tmp_path: Path, capsys: Any) -> None:
    assert main(["validate", str(tmp_path / "nope.toml")]) == 2
    assert "no such profile file" in capsys.readouterr().err


def test_no_traceback_in_a_real_process(tmp_path: Path, example_root: Path, cli: Any) -> None:
    path = write(tmp_path, example_root, part(1, label="a-very-long-label-x"))
    r = cli("build", path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "disks[0].partitions[1].label" in r.stderr
