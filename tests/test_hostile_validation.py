"""Issue 8 item 4: layouts a disk cannot hold are validation errors naming the field
(exit 2, nothing written), not tool failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w
from test_hostile import tree
from testkit import leftovers, run_cli

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


def _two_parts(fs: str, mount: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = {"role": "data", "filesystem": fs, "mount_point": mount}
    if fs != "squashfs":
        data["label"] = "DATA" if fs == "vfat" else "data"
    if fs == "vfat":
        data["size"] = "40M"
    return [{"role": "root", "filesystem": "ext4", "mount_point": "/", "label": "root"}, data]


@pytest.mark.parametrize("fs", ["ext4", "erofs", "squashfs", "btrfs", "vfat"])
def test_mount_point_missing_from_the_source_is_refused(tmp_path: Path, fs: str) -> None:
    """Item 15: a mount point the source lacks is most likely a typo; every filesystem
    refuses it at validation (mkfs.ext4/erofs/btrfs and mksquashfs failed at build time,
    vfat built an empty FAT), naming the field and the fix."""
    tree(tmp_path)
    r = run_cli("build", gpt_profile(tmp_path, _two_parts(fs, "/srv/data")))
    assert r.returncode == 2, r.stderr
    assert "partitions[1].mount_point" in r.stderr and "/srv/data" in r.stderr
    assert "empty = true" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


def test_mount_point_that_is_a_file_is_refused(tmp_path: Path) -> None:
    tree(tmp_path)
    r = run_cli("build", gpt_profile(tmp_path, _two_parts("erofs", "/etc/hostname")))
    assert r.returncode == 2, r.stderr
    assert "partitions[1].mount_point" in r.stderr and "is a file" in r.stderr
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


def test_missing_mount_point_filled_by_extra_files_builds(tmp_path: Path) -> None:
    """Extra files landing under a missing mount point make the folder: it builds, the
    data partition holds the file and the root keeps an empty /srv/data to mount on."""
    import subprocess

    tree(tmp_path)
    (tmp_path / "payload").write_text("extra\n")
    p = gpt_profile(tmp_path, _two_parts("ext4", "/srv/data"))
    text = p.read_text() + '\n[[source.files]]\nsource = "payload"\ntarget = "/srv/data/x"\n'
    p.write_text(text)
    r = run_cli("build", p)
    assert r.returncode == 0, r.stderr
    img = tmp_path / "out.img"
    for part, path, want in ((1, "/srv/data", "directory"), (2, "/x", "regular")):
        sfd = subprocess.run(["sfdisk", "-J", str(img)], capture_output=True, text=True,
                             check=True)
        import json

        start = json.loads(sfd.stdout)["partitiontable"]["partitions"][part - 1]["start"]
        ext = tmp_path / f"p{part}.ext4"
        subprocess.run(["dd", f"if={img}", f"of={ext}", "bs=512", f"skip={start}",
                        "status=none"], check=True)
        st = subprocess.run(["debugfs", "-R", f"stat {path}", str(ext)], capture_output=True,
                            text=True)
        assert f"Type: {want}" in st.stdout, (path, st.stdout, st.stderr)


@pytest.mark.parametrize("target", ["/etc/" + "a" * 300, "/new/" + "b" * 256 + "/x"])
def test_a_target_name_over_255_bytes_is_refused(tmp_path: Path, target: str) -> None:
    """Item 15: a 300-character target part is refused at validation, in an existing folder
    ('File name too long' was shown with 'fix its permissions') or a missing one (mkfs)."""
    from test_hostile import profile

    tree(tmp_path)
    (tmp_path / "payload").write_text("x")
    p = profile(tmp_path, source={"files": [{"source": "payload", "target": target}]})
    r = run_cli("build", p)
    assert r.returncode == 2, r.stderr
    assert "source.files[0].target" in r.stderr and "255 bytes" in r.stderr
    assert "permissions" not in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.img").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("fs", ["vfat", "erofs"])
def test_name_checks_read_the_scan_not_the_tree(tmp_path: Path, fs: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 15 follow-up: the FAT and erofs name checks come from the one scan; validation
    does not list the source again (walking it is an error here), and still finds the name."""
    import os

    from diskwright.core.planner import check_profile
    from diskwright.core.profile import load_profile
    from diskwright.core.source import read_source

    root = tree(tmp_path)
    bad = "CON" if fs == "vfat" else "a" * 255
    (root / "boot/EFI" / bad).write_text("x")
    parts = _two_parts(fs, "/boot")
    prof = load_profile(gpt_profile(tmp_path, parts))
    scan = read_source(prof)

    def no_walk(*_a: object, **_k: object) -> None:
        raise AssertionError("the source tree was listed again")

    monkeypatch.setattr(os, "walk", no_walk)
    monkeypatch.setattr(os, "scandir", no_walk)
    monkeypatch.setattr(os, "listdir", no_walk)
    errors = check_profile(prof, scan)
    if fs == "erofs":
        from diskwright.core.tools import erofs_features

        if erofs_features().version > (1, 5):
            assert errors == []
            return
    assert any(e.field == "disks[0].partitions[1].mount_point" and bad in e.problem
               for e in errors), errors


def test_scan_records_where_links_and_special_files_are(tmp_path: Path) -> None:
    """The vfat check trusts Scan.links/special: they name exactly those entries."""
    import os

    from diskwright.core.scan import scan_tree

    root = tree(tmp_path)
    (root / "boot/EFI/sub").mkdir()
    (root / "boot/EFI/sub/f").write_text("x")
    (root / "boot/EFI/ln").symlink_to("x.efi")
    os.mkfifo(root / "etc/fifo")
    s = scan_tree(root)
    assert s.links == ["boot/EFI/ln"] and s.special == ["etc/fifo"]


@pytest.mark.parametrize("fs", ["erofs", "squashfs", "ext4"])
def test_an_empty_partitions_missing_mount_point_is_made_in_its_parent(
    tmp_path: Path, fs: str
) -> None:
    """An empty partition mounted where the source has no folder: the parent image holds
    the folder (a read-only erofs/squashfs root could never grow one at boot), and the
    source's own files are all there too."""
    import json
    import subprocess

    from imagecheck import extract

    tree(tmp_path)
    root = {"role": "root", "filesystem": fs, "mount_point": "/"}
    data = {"role": "data", "filesystem": "ext4", "mount_point": "/srv/data", "empty": True,
            "size": "16MiB"}
    r = run_cli("build", gpt_profile(tmp_path, [root, data]))
    assert r.returncode == 0, r.stderr
    img = tmp_path / "out.img"
    sfd = json.loads(subprocess.run(["sfdisk", "-J", str(img)], capture_output=True, text=True,
                                    check=True).stdout)["partitiontable"]["partitions"][0]
    part = tmp_path / "p1.img"
    subprocess.run(["dd", f"if={img}", f"of={part}", "bs=512", f"skip={sfd['start']}",
                    f"count={sfd['size']}", "status=none"], check=True)
    got = extract(fs, part, tmp_path / "x")
    assert (got / "srv/data").is_dir() and not any((got / "srv/data").iterdir())
    assert (got / "etc/hostname").read_text() == "hostile\n"
    assert (got / "usr/bin/tool").is_file() and (got / "boot/EFI/x.efi").is_file()
    assert leftovers(tmp_path) == []
