"""qcow2-compressed: zlib by default (same command as always), zstd clusters on request,
parallel writes only when asked (not byte-reproducible); checked with qemu-img."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import tomli_w
from imagecheck import run
from testkit import EXAMPLES, run_cli, sha256

pytestmark = pytest.mark.integration


def _profile(folder: Path, example_root: Path, **output: object) -> Path:
    base = tomllib.loads((EXAMPLES / "vm-disk.toml").read_text())
    base["disks"][0]["output"] = {"path": "disk.qcow2", "format": "qcow2-compressed", **output}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "root").symlink_to(example_root)
    p = folder / "p.toml"
    p.write_text(tomli_w.dumps(base))
    return p


def _ctype(image: Path) -> str:
    info = json.loads(run("qemu-img", "info", "--output=json", image))
    return str(info["format-specific"]["data"]["compression-type"])


def test_default_is_zlib_single_writer(tmp_path: Path, example_root: Path) -> None:
    plan = run_cli("plan", _profile(tmp_path, example_root))
    assert plan.returncode == 0, plan.stderr
    line = next(ln for ln in plan.stdout.splitlines() if ln.startswith("qemu-img convert"))
    assert " -c " in line and "compression_type" not in line and " -W" not in line


def test_zstd_reproducible(tmp_path: Path, example_root: Path) -> None:
    outs = []
    for name in ("a", "b"):
        r = run_cli("build", _profile(tmp_path / name, example_root, compression_type="zstd"))
        assert r.returncode == 0, r.stderr
        outs.append(tmp_path / name / "disk.qcow2")
    assert _ctype(outs[0]) == "zstd"
    assert sha256(outs[0]) == sha256(outs[1])
    run("qemu-img", "check", outs[0])


def test_parallel_writes_same_content(tmp_path: Path, example_root: Path) -> None:
    a = _profile(tmp_path / "a", example_root, compression_type="zstd", parallel_writes=True)
    plan = run_cli("plan", a)
    assert "-m 16 -W" in plan.stdout and "out-of-order" in plan.stdout
    b = _profile(tmp_path / "b", example_root)
    for p in (a, b):
        r = run_cli("build", p)
        assert r.returncode == 0, r.stderr
    qa, qb = tmp_path / "a/disk.qcow2", tmp_path / "b/disk.qcow2"
    assert (_ctype(qa), _ctype(qb)) == ("zstd", "zlib")
    run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", qa, qb)


@pytest.mark.parametrize("field", ["compression_type", "parallel_writes"])
def test_only_for_qcow2_compressed(tmp_path: Path, example_root: Path, field: str) -> None:
    value = "zstd" if field == "compression_type" else True
    p = _profile(tmp_path, example_root, format="qcow2", **{field: value})
    r = run_cli("validate", p)
    assert r.returncode == 2
    assert field in r.stderr and "qcow2-compressed" in r.stderr
    assert "Traceback" not in r.stderr
