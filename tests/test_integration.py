"""Build every example with the real tools, then open each image again with the real tools
and compare it with the source tree: contents, modes, links, owners, labels, UUIDs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from imagecheck import blkid, cut, extract, manifest, partitions, run, to_raw
from testkit import EXAMPLES, leftovers, run_cli

from diskwright.core.layout import disk_id, resolve
from diskwright.core.profile import load_profile

pytestmark = pytest.mark.integration
STORE = "nix/store"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, example_root: Path) -> Path:
    """All four examples built once into one folder."""
    d = tmp_path_factory.mktemp("built")
    for toml in EXAMPLES.glob("*.toml"):
        shutil.copy(toml, d / toml.name)
    (d / "root").symlink_to(example_root)
    for name in ("vm-disk", "sd-card", "microvm-store", "squashfs-store"):
        r = run_cli("build", d / f"{name}.toml")
        assert r.returncode == 0, r.stderr
    return d


def _sub(m: dict, prefix: str) -> dict:
    return {k[len(prefix) + 1 :]: v for k, v in m.items() if k.startswith(prefix + "/")}


def test_no_workspace_left(built: Path) -> None:
    assert leftovers(built) == []


def test_vm_disk(built: Path, example_root: Path, tmp_path: Path) -> None:
    profile = load_profile(built / "vm-disk.toml")
    infos = resolve(profile)
    raw = to_raw(built / "vm-disk.qcow2", tmp_path / "vm.raw")
    run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, built / "vm-disk.qcow2")
    table = partitions(raw)
    assert table["label"] == "gpt"
    assert table["id"] == disk_id(profile, 0)
    esp_p, root_p = table["partitions"]
    assert esp_p["type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    assert root_p["type"] == "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
    assert (esp_p["name"], root_p["name"]) == ("ESP", "nixos")
    assert esp_p["uuid"] == infos[0].partuuid and root_p["uuid"] == infos[1].partuuid
    assert esp_p["start"] % 2048 == 0 and root_p["start"] % 2048 == 0
    esp = cut(raw, esp_p["start"], esp_p["size"], tmp_path / "esp.img")
    root = cut(raw, root_p["start"], root_p["size"], tmp_path / "root.img")
    b = blkid(esp)
    assert (b["TYPE"], b["LABEL"]) == ("vfat", "ESP")
    assert b["UUID"].replace("-", "") == infos[0].fs_uuid
    b = blkid(root)
    assert (b["TYPE"], b["LABEL"], b["UUID"]) == ("ext4", "nixos", infos[1].fs_uuid)
    run("fsck.vfat", "-n", esp)
    run("e2fsck", "-n", "-f", root)
    assert "has_journal" in run("dumpe2fs", "-h", root), "a tiny root lost its journal"
    src = manifest(example_root)
    # the ESP holds /boot's files (FAT has no modes or links)
    got = manifest(extract("vfat", esp, tmp_path / "esp"), modes=False)
    want = {k: v for k, v in manifest(example_root / "boot", modes=False).items()}
    assert {k: v.detail for k, v in got.items()} == {k: v.detail for k, v in want.items()}
    # the root holds everything else; /boot is an empty mount point
    got = manifest(extract("ext4", root, tmp_path / "root"))
    want = {k: v for k, v in src.items() if not k.startswith("boot/")}
    assert got == want
    assert all(e.uid == 0 and e.gid == 0 for e in got.values())
    stat_out = run("debugfs", "-R", "stat /usr/lib/libdemo.so.1", root)
    assert "Links: 2" in stat_out, "the hard link became two files"
    assert "Links: 2" in run("debugfs", "-R", "stat /usr/lib/libdemo.so.1.0", root)


def test_sd_card(built: Path, example_root: Path, tmp_path: Path) -> None:
    raw = to_raw(built / "sd-card.img.zst", tmp_path / "sd.raw")
    table = partitions(raw)
    assert table["label"] == "dos"
    fw_p, root_p = table["partitions"]
    assert (fw_p["type"], root_p["type"]) == ("c", "83")
    assert fw_p["size"] * 512 == 32 * 1024 * 1024
    fw = cut(raw, fw_p["start"], fw_p["size"], tmp_path / "fw.img")
    root = cut(raw, root_p["start"], root_p["size"], tmp_path / "root.img")
    assert blkid(fw)["LABEL"] == "FIRMWARE"
    assert blkid(root)["LABEL"] == "NIXOS_SD"
    assert "has_journal" in run("dumpe2fs", "-h", root)
    got = manifest(extract("ext4", root, tmp_path / "root"))
    assert got == {k: v for k, v in manifest(example_root).items() if not k.startswith("boot/")}
    got = manifest(extract("vfat", fw, tmp_path / "fw"), modes=False)
    assert {k: v.detail for k, v in got.items()} == {
        k: v.detail for k, v in manifest(example_root / "boot", modes=False).items()
    }


def test_microvm_store(built: Path, example_root: Path, tmp_path: Path) -> None:
    profile = load_profile(built / "microvm-store.toml")
    infos = resolve(profile)
    store = built / "microvm-store.erofs"
    b = blkid(store)
    assert (b["TYPE"], b["LABEL"], b["UUID"]) == ("erofs", "nix-store", infos[0].fs_uuid)
    run("fsck.erofs", store)
    got = manifest(extract("erofs", store, tmp_path / "store"))
    assert got == _sub(manifest(example_root), STORE)
    assert all(e.uid == 0 for e in got.values())
    var = built / "microvm-var.img"
    assert var.stat().st_size == 64 * 1024 * 1024
    b = blkid(var)
    assert (b["TYPE"], b["LABEL"], b["UUID"]) == ("ext4", "var", infos[1].fs_uuid)
    assert manifest(extract("ext4", var, tmp_path / "var")) == {}


def test_squashfs_store(built: Path, example_root: Path, tmp_path: Path) -> None:
    img = built / "squashfs-store.squashfs"
    assert blkid(img)["TYPE"] == "squashfs"
    assert "zstd" in run("unsquashfs", "-s", img)
    got = manifest(extract("squashfs", img, tmp_path / "sq"))
    assert got == _sub(manifest(example_root), STORE)


def test_foreign_owners_become_root(tmp_path: Path, example_root: Path) -> None:
    """Files owned by someone else in the source are root's in every image."""
    src = tmp_path / "root"
    shutil.copytree(example_root, src, symlinks=True)
    import os

    for p in (src / "etc/motd", src / "usr/share", src / STORE):
        os.lchown(p, 1234, 1234)
    for name in ("vm-disk", "squashfs-store", "microvm-store"):
        shutil.copy(EXAMPLES / f"{name}.toml", tmp_path / f"{name}.toml")
        r = run_cli("build", tmp_path / f"{name}.toml")
        assert r.returncode == 0, r.stderr
    raw = to_raw(tmp_path / "vm-disk.qcow2", tmp_path / "vm.raw")
    root_p = partitions(raw)["partitions"][1]
    root = cut(raw, root_p["start"], root_p["size"], tmp_path / "root.img")
    for path in ("/etc/motd", "/usr/share", "/nix/store"):
        assert "User:     0   Group:     0" in run("debugfs", "-R", f"stat {path}", root)
    got = manifest(extract("squashfs", tmp_path / "squashfs-store.squashfs", tmp_path / "sq"))
    assert all(e.uid == 0 for e in got.values())
    got = manifest(extract("erofs", tmp_path / "microvm-store.erofs", tmp_path / "er"))
    assert all(e.uid == 0 for e in got.values())


def test_hybrid_mbr(tmp_path: Path, example_root: Path) -> None:
    """table = "hybrid": a GPT as planned plus an MBR mirroring its partitions."""
    (tmp_path / "root").symlink_to(example_root)
    text = (EXAMPLES / "vm-disk.toml").read_text()
    text = text.replace('table = "gpt"', 'table = "hybrid"').replace('format = "qcow2"', "")
    text = text.replace("vm-disk.qcow2", "hybrid.img")
    (tmp_path / "h.toml").write_text(text)
    r = run_cli("build", tmp_path / "h.toml")
    assert r.returncode == 0, r.stderr
    img = tmp_path / "hybrid.img"
    assert partitions(img)["label"] == "gpt"
    mbr = run("sfdisk", "--label", "dos", "--label-nested", "dos", "-d", img, check=False)
    types = [ln.split("type=")[1].split(",")[0].strip() for ln in mbr.splitlines() if "type=" in ln]
    assert "ee" in types and "ef" in types and "83" in types, mbr
