"""Tools are probed, never assumed: each test runs the branch of the release installed here.

Debian 12 has erofs-utils 1.5 (no -L, -E dedupe silently ignored, one-line
compressor list); Debian 13 has 1.8 (-L of at most 15 bytes, dedupe, a new
--help layout). Every test names the branch it took in its assertion messages,
so a run on either release shows what was checked; none skips.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from imagecheck import blkid, extract, manifest
from testkit import run_cli

from diskwright.core.tools import erofs_compressors, erofs_features

pytestmark = pytest.mark.skipif(shutil.which("mkfs.erofs") is None,
                                reason="erofs-utils is not installed (scripts/setup.sh)")

HELP_1_5 = """\
 -zX[,Y]               X=compressor (Y=compression level, optional)
 -C#                   specify the size of compress physical cluster in bytes
Available compressors are: lz4hc, lz4
"""
HELP_1_8 = """\
 -zX[,level=Y]         X=compressor (Y=compression level, Z=dictionary size, optional)
    [,dictsize=Z]      alternative compressors can be separated by colons(:)
    [:...]             supported compressors and their option ranges are:
                         lz4
                         lz4hc
                           [,level=<0-12>]\t\t(default=9)
                         lzma
                           [,level=<0-9,100-109>]\t0-9=normal, 100-109=extreme (default=6)
                           [,dictsize=<dictsize>]\t(default=<auto>, max=8388608)
                         zstd
                           [,level=<0-22>]\t\t(default=3)
 -C#                   specify the size of compress physical cluster in bytes
 -L volume-label       set the volume label (maximum 15 bytes)
"""


def test_compressor_list_in_both_help_layouts() -> None:
    assert erofs_compressors(HELP_1_5) == ("lz4hc", "lz4")
    assert erofs_compressors(HELP_1_8) == ("lz4", "lz4hc", "lzma", "zstd")
    assert erofs_compressors("no list at all") == ("lz4",)


def test_installed_mkfs_erofs_is_probed() -> None:
    """The real tool's help: lz4hc is found on every release (1.8's new layout included)."""
    feats = erofs_features()
    text = subprocess.run(["mkfs.erofs", "--help"], capture_output=True, text=True).stdout
    assert feats.version >= (1, 5), feats
    assert {"lz4", "lz4hc"} <= set(feats.compressors), f"{feats.describe()}: {feats}"
    assert feats.label == (" -L " in text), f"{feats.describe()}: -L probe"
    if feats.label:  # 1.8: "-L volume-label  set the volume label (maximum 15 bytes)"
        assert f"maximum {feats.label_max} bytes" in text or feats.label_max == 16, feats
    else:
        assert feats.label_max == 0


def _store_profile(folder: Path, root: Path, **erofs: Any) -> Path:
    label = erofs.pop("label", "nix-store")
    data = {
        "version": 1,
        "name": "store",
        "source": {"path": str(root)},
        "reproducible": {"source_date_epoch": 1, "seed": "store"},
        "disks": [{
            "name": "store", "table": "none", "output": {"path": "store.erofs"},
            "partitions": [{"role": "store", "filesystem": "erofs", "label": label,
                            "contents": "/nix/store", "mount_point": "/nix/.ro-store",
                            "erofs": {"compressor": "lz4hc", "level": 9} | erofs}],
        }],
    }  # fmt: skip
    path = folder / "store.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def test_erofs_dedupe_and_fragments_follow_the_release(tmp_path: Path, example_root: Path) -> None:
    feats = erofs_features()
    profile = _store_profile(tmp_path, example_root, dedupe=True, fragments=True)
    r = run_cli("build", profile)
    if feats.version < (1, 6):  # the option would be ignored without a word: refused
        assert r.returncode == 2, f"{feats.describe()}: expected a refusal\n{r.stderr}"
        assert "erofs.dedupe" in r.stderr and "upgrade erofs-utils" in r.stderr
        assert not (tmp_path / "store.erofs").exists()
        return
    assert r.returncode == 0, f"{feats.describe()} supports dedupe: {r.stderr}"
    out = tmp_path / "store.erofs"
    subprocess.run(["fsck.erofs", str(out)], check=True, capture_output=True)
    got = manifest(extract("erofs", out, tmp_path / "x"))
    want = manifest(example_root / "nix" / "store")
    assert {k: v.detail for k, v in got.items()} == {k: v.detail for k, v in want.items()}


@pytest.mark.parametrize("label", ["nix-store", "fifteen-bytes-x"])
def test_erofs_label_is_read_back(tmp_path: Path, example_root: Path, label: str) -> None:
    """Native -L where mkfs.erofs has it, else the superblock helper: blkid sees the same."""
    feats = erofs_features()
    r = run_cli("build", _store_profile(tmp_path, example_root, label=label))
    assert r.returncode == 0, r.stderr
    how = "-L" if feats.label else "the superblock helper"
    assert blkid(tmp_path / "store.erofs")["LABEL"] == label, f"{feats.describe()} via {how}"
    plan = run_cli("plan", tmp_path / "store.toml", "--force").stdout
    assert ("erofs-label" in plan) == (not feats.label), f"{feats.describe()} via {how}"


def test_erofs_sixteen_byte_label(tmp_path: Path, example_root: Path) -> None:
    """16 bytes fill the superblock field: 1.5 (helper) takes it, 1.8's -L refuses, so do we."""
    feats = erofs_features()
    label = "sixteen-bytes-xy"
    r = run_cli("build", _store_profile(tmp_path, example_root, label=label))
    if feats.label and feats.label_max < 16:
        assert r.returncode == 2, f"{feats.describe()}: -L takes {feats.label_max} bytes"
        assert "partitions[0].label" in r.stderr and f"at most {feats.label_max}" in r.stderr
    else:
        assert r.returncode == 0, f"{feats.describe()}: {r.stderr}"
        assert blkid(tmp_path / "store.erofs")["LABEL"] == label
