"""Issue 8 item 4: layouts a disk cannot hold are validation errors naming the field
(exit 2, nothing written), not tool failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import leftovers, run_cli
from test_hostile import tree

pytestmark = pytest.mark.integration


def gpt_profile(base: Path, parts: list[dict[str, Any]]) -> Path:
    data: dict[str, Any] = {
        "version": 1,
        "name": "hostile",
        "source": {"path": "root"},
        "reproducible": {"source_date_epoch": 1700000000},
        "disks": [{"name": "d", "table": "gpt", "output": {"path": "out.img"},
                   "partitions": parts}],
    }
    path = base / "p.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def test_gpt_with_more_than_128_partitions_is_refused(tmp_path: Path) -> None:
    tree(tmp_path)
    parts = [{"role": "data", "filesystem": "none", "size": "1M"} for _ in range(129)]
    r = run_cli("build", gpt_profile(tmp_path, parts))
    assert r.returncode == 2, r.stderr
    assert "partitions" in r.stderr and "128" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("second", ["/", "//", "/./"])
def test_duplicate_mount_points_are_refused(tmp_path: Path, second: str) -> None:
    tree(tmp_path)
    parts = [{"role": "root", "filesystem": "ext4", "mount_point": "/", "label": "a"},
             {"role": "root", "filesystem": "ext4", "mount_point": second, "label": "b"}]
    r = run_cli("build", gpt_profile(tmp_path, parts))
    assert r.returncode == 2, r.stderr
    assert "partitions[1].mount_point" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["CON", "nul.txt", "Aux", "a:b", "what?", "trailing.",
                                  "x.efi"])
def test_names_fat_cannot_store_are_refused(tmp_path: Path, name: str) -> None:
    """A reserved, invalid or case-clashing name under a vfat partition: exit 2 naming the
    partition's field and the file, before anything is built."""
    root = tree(tmp_path)
    bad = root / "boot/EFI" / (name if name != "x.efi" else "X.EFI")
    bad.write_bytes(b"x")
    parts = [{"role": "esp", "filesystem": "vfat", "mount_point": "/boot", "size": "40M"},
             {"role": "root", "filesystem": "ext4", "mount_point": "/", "label": "root"}]
    r = run_cli("build", gpt_profile(tmp_path, parts))
    assert r.returncode == 2, r.stderr
    assert "partitions[0].mount_point" in r.stderr and bad.name in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


def test_255_byte_names_on_erofs_1_5_are_refused(tmp_path: Path) -> None:
    """erofs-utils 1.5 cannot store a 255-byte name: exit 2 naming the file (254 builds)."""
    from diskwright.core.tools import erofs_features

    if erofs_features().version > (1, 5):
        pytest.skip("this erofs-utils stores 255-byte names")
    from test_hostile import profile

    root = tree(tmp_path)
    (root / "etc" / ("b" * 254)).write_text("ok")
    p = profile(tmp_path, fs="erofs")
    assert run_cli("build", p).returncode == 0
    (tmp_path / "out.img").unlink()
    (root / "etc" / ("a" * 255)).write_text("x")
    r = run_cli("build", p)
    assert r.returncode == 2, r.stderr
    assert "mount_point" in r.stderr and "a" * 255 in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []
