"""[disks.output] is as strict as the rest of the profile: compression_type and
parallel_writes belong to qcow2-compressed whatever their value, and booleans and levels
take TOML's own booleans and integers ("yes", 1, "5" are refused, not coerced); each
error names the field and the fix, exits 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from testkit import run_cli

from diskwright.core.errors import ProfileErrors
from diskwright.core.profile import parse_profile


def _data(**output: object) -> dict[str, object]:
    return {
        "version": 1, "name": "o", "source": {"path": "root"},
        "reproducible": {"source_date_epoch": 1700000000, "seed": "o"},
        "disks": [{
            "name": "d", "table": "gpt",
            "output": {"path": "out.img", **output},
            "partitions": [{"role": "root", "filesystem": "ext4", "mount_point": "/"}],
        }],
    }


def _refused(tmp_path: Path, **output: object) -> tuple[str, str, str]:
    """(field, problem, fix) of the one error, after checking the CLI says it too."""
    with pytest.raises(ProfileErrors) as err:
        parse_profile(_data(**output), tmp_path)
    [one] = err.value.errors
    (tmp_path / "root").mkdir(exist_ok=True)
    p = tmp_path / "p.toml"
    p.write_text(tomli_w.dumps(_data(**output)))
    for command in ("validate", "plan"):
        r = run_cli(command, p)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and str(one) in r.stderr
        assert "qemu-img" not in r.stdout  # no plan printed, so no `-m 16 -W` either
    return one.field, one.problem, one.fix


@pytest.mark.parametrize("fmt", ["qcow2", "raw", "vmdk"])
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("compression_type", "zlib"),
        ("compression_type", "zstd"),
        ("parallel_writes", False),
        ("parallel_writes", True),
    ],
)
def test_qcow2_compressed_keys_elsewhere(tmp_path: Path, fmt: str, key: str, value: object) -> None:
    """Either value of either key is refused on another format, in the same words."""
    field, problem, fix = _refused(tmp_path, format=fmt, **{key: value})
    assert field == "disks[0].output"
    assert problem == f"{key} is for qcow2-compressed"
    assert fix == f'set format = "qcow2-compressed" or remove {key}'


@pytest.mark.parametrize("value", ["yes", "off", "true", 1, 0, 1.0])
def test_parallel_writes_is_a_toml_boolean(tmp_path: Path, value: object) -> None:
    field, problem, fix = _refused(tmp_path, format="qcow2-compressed", parallel_writes=value)
    assert field == "disks[0].output.parallel_writes"
    assert "true or false" in problem + fix and "without quotes" in fix


@pytest.mark.parametrize("value", ["5", 5.0, True])
def test_compression_level_is_a_toml_integer(tmp_path: Path, value: object) -> None:
    field, problem, fix = _refused(tmp_path, compression="zstd", compression_level=value,
                                   path="out.img.zst")
    assert field == "disks[0].output.compression_level"
    assert "whole number" in problem and "without quotes" in fix


@pytest.mark.parametrize(
    "output",
    [
        {"format": "qcow2-compressed"},
        {"format": "qcow2-compressed", "compression_type": "zlib", "parallel_writes": False},
        {"format": "qcow2-compressed", "compression_type": "zstd", "parallel_writes": True},
        {"format": "qcow2"},
        {"format": "raw", "compression": "zstd", "compression_level": 19, "path": "o.img.zst"},
    ],
)
def test_valid_outputs_stay_valid(tmp_path: Path, output: dict[str, object]) -> None:
    out = parse_profile(_data(**output), tmp_path).disks[0].output
    assert (out.compression_type or "zlib") == output.get("compression_type", "zlib")
    assert bool(out.parallel_writes) == output.get("parallel_writes", False)


def test_zstd_level_zero_is_refused(tmp_path: Path) -> None:
    field, problem, _ = _refused(tmp_path, compression="zstd", compression_level=0,
                                 path="out.img.zst")
    assert field == "disks[0].output" and "zstd has levels 1-22" in problem


@pytest.mark.integration
@pytest.mark.parametrize(("comp", "level", "flags"),
                         [("zstd", 20, "--ultra -20"), ("xz", 0, "xz -T0 -0")])
def test_every_level_the_field_takes_runs(tmp_path: Path, comp: str, level: int,
                                          flags: str) -> None:
    """zstd packs at 20-22 only with --ultra (without, -q hid "reduced to 19"); xz takes 0,
    which the field refused although its own error said 0-9."""
    (tmp_path / "root").mkdir()
    (tmp_path / "root/f").write_text("data\n" * 1000)
    out = f"out.img.{'zst' if comp == 'zstd' else 'xz'}"
    data = _data(compression=comp, compression_level=level, path=out)
    p = tmp_path / "p.toml"
    p.write_text(tomli_w.dumps(data))
    plan = run_cli("plan", p)
    assert plan.returncode == 0, plan.stderr
    assert flags in plan.stdout
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr  # the build tests the packed file (zstd -t, xz -t)
