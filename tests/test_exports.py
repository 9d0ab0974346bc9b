"""Guest exports: the NixOS module evaluates, the fstab reads back, repart accepts the definitions.

Each export is checked with the tool that consumes it where that tool is
installed (nix-instantiate on a throwaway store, findmnt/libmount, systemd-repart),
and against the ids of real images where an id is derived.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from imagecheck import blkid, partitions, run
from make_nix_store import make_demo
from testkit import EXAMPLES, link_example_trees, run_cli

from diskwright.core import exports, tools
from diskwright.core.errors import ProfileError
from diskwright.core.layout import disk_id, resolve
from diskwright.core.planner import make_plan, validate
from diskwright.core.profile import load_profile
from diskwright.core.runner import run_plan
from diskwright.core.source import read_source

HAS_NIX = shutil.which("nix-store") is not None
ALL = sorted(p.stem for p in EXAMPLES.glob("*.toml"))
EVAL_STORE_ARGS = ["--option", "build-users-group", ""]


@pytest.fixture(scope="module")
def examples(
    tmp_path_factory: pytest.TempPathFactory, example_root: Path, boot_trees: dict[str, Path]
) -> Path:
    """Every example profile beside the example trees and (with Nix) the demo store."""
    d = tmp_path_factory.mktemp("examples")
    for toml in EXAMPLES.glob("*.toml"):
        shutil.copy(toml, d / toml.name)
    link_example_trees(d, example_root, boot_trees)
    if HAS_NIX:
        make_demo(d / "nix-demo")
    return d


def loaded(folder: Path, name: str) -> tuple:
    if name.startswith("nix-") and not HAS_NIX:
        pytest.skip("the nix examples need nix-store")
    profile = load_profile(folder / f"{name}.toml")
    scan = read_source(profile)
    validate(profile, scan)
    return profile, scan


def write(tmp: Path, body: str, name: str = "p.toml") -> Path:
    p = tmp / name
    p.write_text("version = 1\nname = \"t\"\n" + body)
    return p


# ------------------------------------------------------------------ NixOS


def _nix(args: list[str], store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nix-instantiate", "--store", str(store), *EVAL_STORE_ARGS, *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("name", ALL)
def test_nixos_module_parses_and_evaluates(name: str, examples: Path, tmp_path: Path) -> None:
    profile, scan = loaded(examples, name)
    text = exports.nixos(profile, scan)
    module = tmp_path / "fs.nix"
    module.write_text(text)
    _structural(text, profile, scan)
    if shutil.which("nix-instantiate") is None:
        pytest.skip("nix-instantiate is not installed; the structural check ran")
    store = tmp_path / "eval-store"  # never the host's /nix
    r = _nix(["--parse", str(module)], store)
    assert r.returncode == 0, r.stderr
    expr = f'(import {module} {{ config.nix.package.out = "/nix-pkg"; }})'
    r = _nix(["--eval", "--strict", "--json", "-E", expr], store)
    assert r.returncode == 0, r.stderr
    value = json.loads(r.stdout)
    g = exports.guest(profile, scan)
    fs = value.get("fileSystems", {})
    assert sorted(fs) == sorted(m.point for m in g.mounts if not m.swap)
    for m in g.mounts:
        if m.swap:
            assert {"device": m.device} in value["swapDevices"]
            continue
        assert fs[m.point]["device"] == m.device
        assert fs[m.point]["fsType"] == m.fs_type
        assert fs[m.point].get("options", []) == list(m.options)
    if g.registration_in_image:
        assert "--load-db < /nix-path-registration" in value["boot"]["postBootCommands"]


def _structural(text: str, profile: object, scan: object) -> None:
    """Without Nix: balanced braces, one attribute per mount, every string closed."""
    body = "\n".join(ln.split("#", 1)[0] if not ln.lstrip().startswith("#") else ""
                     for ln in text.splitlines())
    assert body.count("{") == body.count("}") and body.count("[") == body.count("]")
    assert body.count('"') % 2 == 0
    for m in exports.guest(profile, scan).mounts:  # type: ignore[arg-type]
        if not m.swap:
            assert f"fileSystems.{exports.nix_str(m.point)} = {{" in text


def test_nix_strings_are_escaped() -> None:
    assert exports.nix_str('a"b\\c${d}') == '"a\\"b\\\\c\\${d}"'


# ------------------------------------------------------------------ fstab


@pytest.mark.parametrize("name", ALL)
def test_fstab_reads_back(name: str, examples: Path, tmp_path: Path) -> None:
    profile, scan = loaded(examples, name)
    text = exports.fstab(profile, scan)
    rows = exports.parse_fstab(text)
    g = exports.guest(profile, scan)
    assert len(rows) == len(g.mounts)
    for (spec, point, typ, opts, freq, passno), m in zip(rows, g.mounts, strict=True):
        assert (spec, point, typ) == (m.spec, m.point, m.fs_type)
        want = list(m.options) or ["defaults"]
        assert opts.split(",")[: len(want)] == want
        assert freq == 0 and passno == m.passno
    if shutil.which("findmnt"):
        f = tmp_path / "fstab"
        f.write_text(text)
        out = run("findmnt", "--fstab", "--tab-file", f, "-J", "-o", "SOURCE,TARGET,FSTYPE,OPTIONS")
        found = json.loads(out)["filesystems"] if out.strip() else []
        assert [(x["source"], x["target"], x["fstype"], x["options"]) for x in found] == [
            (r[0], r[1], r[2], r[3]) for r in rows]


def test_fstab_escapes_spaces(tmp_path: Path) -> None:
    p = write(tmp_path, """
[[disks]]
name = "d"
table = "none"
[disks.output]
path = "d.img"
[[disks.partitions]]
role = "data"
filesystem = "ext4"
label = "my data"
mount_point = "/srv/my data"
empty = true
""")
    profile = load_profile(p)
    text = exports.fstab(profile, None)
    assert "LABEL=my\\040data  /srv/my\\040data" in text
    assert exports.parse_fstab(text)[0][:2] == ("LABEL=my data", "/srv/my data")
    assert 'device = "/dev/disk/by-label/my\\\\x20data";' in exports.nixos(profile, None)


# ------------------------------------------------------------------ devices


def test_device_fallbacks(tmp_path: Path) -> None:
    """Label, then a unique GPT name, then partition UUID, then filesystem UUID, then a guess."""
    p = write(tmp_path, """
[[disks]]
name = "g"
table = "gpt"
[disks.output]
path = "g.img"
[[disks.partitions]]
role = "data"
filesystem = "ext4"
mount_point = "/a"
empty = true
size = "32MiB"
[[disks.partitions]]
role = "data"
filesystem = "ext4"
mount_point = "/b"
empty = true
size = "32MiB"
[[disks.partitions]]
role = "swap"
filesystem = "swap"
name = "myswap"
size = "32MiB"
[[disks]]
name = "m"
table = "mbr"
[disks.output]
path = "m.img"
[[disks.partitions]]
role = "data"
filesystem = "ext4"
mount_point = "/c"
empty = true
size = "32MiB"
[[disks]]
name = "v"
table = "none"
[disks.output]
path = "v.img"
[[disks.partitions]]
role = "data"
filesystem = "vfat"
mount_point = "/d"
empty = true
size = "32MiB"
""")
    profile = load_profile(p)
    infos = resolve(profile)
    g = {m.point: m for m in exports.guest(profile, None).mounts}
    assert g["/a"].spec == f"PARTUUID={infos[0].partuuid.lower()}"  # two "data" names
    assert g["/b"].spec == f"PARTUUID={infos[1].partuuid.lower()}"
    assert g["none"].spec == "PARTLABEL=myswap" and g["none"].swap
    assert g["/c"].spec == f"PARTUUID={disk_id(profile, 1)[2:]}-01"
    vf = infos[4].fs_uuid
    assert g["/d"].spec == f"UUID={vf[:4]}-{vf[4:]}"


@pytest.mark.integration
def test_device_ids_match_built_images(tmp_path: Path) -> None:
    """The ids the exports name are the ones blkid reads from the built images."""
    p = write(tmp_path, """
[[disks]]
name = "m"
table = "mbr"
[disks.output]
path = "m.img"
[[disks.partitions]]
role = "data"
filesystem = "ext4"
mount_point = "/c"
empty = true
size = "32MiB"
[[disks]]
name = "v"
table = "none"
[disks.output]
path = "v.img"
[[disks.partitions]]
role = "data"
filesystem = "vfat"
mount_point = "/d"
empty = true
size = "32MiB"
""")
    profile = load_profile(p)
    validate(profile, None)
    run_plan(make_plan(profile, None))
    g = {m.point: m for m in exports.guest(profile, None).mounts}
    pt = run("blkid", "-p", "-o", "export", tmp_path / "m.img")
    ptuuid = next(ln.split("=", 1)[1] for ln in pt.splitlines() if ln.startswith("PTUUID="))
    assert g["/c"].spec == f"PARTUUID={ptuuid}-01"
    assert g["/d"].spec == f"UUID={blkid(tmp_path / 'v.img')['UUID']}"


def test_squashfs_without_table_gets_a_device_guess(examples: Path) -> None:
    profile, scan = loaded(examples, "squashfs-store")
    (m,) = exports.guest(profile, scan).mounts
    assert m.device == "/dev/vda" and "guessed" in m.comment


# ------------------------------------------------------------------ overlay


@pytest.mark.skipif(not HAS_NIX, reason="needs nix-store")
def test_store_overlay_like_microvm(examples: Path) -> None:
    profile, scan = loaded(examples, "nix-microvm")
    g = {m.point: m for m in exports.guest(profile, scan).mounts}
    ov = g["/nix/store"]
    assert ov.fs_type == "overlay" and ov.options == (
        "lowerdir=/nix/.ro-store", "upperdir=/nix/.rw-store/store",
        "workdir=/nix/.rw-store/work")
    assert ov.depends == ("/nix/.ro-store", "/nix/.rw-store")
    assert g["/nix/.ro-store"].needed_for_boot and g["/nix/.rw-store"].needed_for_boot
    text = exports.nixos(profile, scan)
    # NixOS mounts /var in stage 1 by itself; the store's own mounts must say so
    assert text.count("neededForBoot = true;") == 2
    assert "regInfo" in text and "nix-path-registration" in text
    tab = exports.fstab(profile, scan)
    assert "x-systemd.requires-mounts-for=/nix/.rw-store" in tab


@pytest.mark.skipif(not HAS_NIX, reason="needs nix-store")
def test_overlay_on_tmpfs(examples: Path) -> None:
    profile, scan = loaded(examples, "nix-store-erofs")
    g = {m.point: m for m in exports.guest(profile, scan).mounts}
    assert g["/nix/.rw-store"].fs_type == "tmpfs" and g["/nix/.rw-store"].needed_for_boot


def test_overlay_on_a_read_only_partition_is_refused(tmp_path: Path, example_root: Path) -> None:
    (tmp_path / "root").symlink_to(example_root)
    p = write(tmp_path, """
[source]
path = "root"
[[disks]]
name = "s"
table = "gpt"
[disks.output]
path = "s.img"
[[disks.partitions]]
role = "store"
filesystem = "erofs"
contents = "/nix/store"
mount_point = "/nix/.ro-store"
[disks.partitions.overlay]
writable = "/nix/.rw-store"
[[disks.partitions]]
role = "data"
filesystem = "squashfs"
contents = "/etc"
mount_point = "/nix"
""")
    profile = load_profile(p)
    scan = read_source(profile)
    from diskwright.core.planner import check_profile

    errs = check_profile(profile, scan)
    assert [e.field for e in errs] == ["disks[0].partitions[0].overlay.writable"]
    with pytest.raises(ProfileError):
        exports.nixos(profile, scan)


def test_zfs_datasets_are_mounted(tmp_path: Path) -> None:
    p = write(tmp_path, """
[[disks]]
name = "z"
table = "gpt"
[disks.output]
path = "z.img"
[[disks.partitions]]
role = "zfs"
filesystem = "zfs"
[disks.partitions.zfs]
pool = "rpool"
[disks.partitions.zfs.datasets."rpool/root"]
mount_point = "/"
[disks.partitions.zfs.datasets."rpool/home"]
properties = { mountpoint = "/home" }
[disks.partitions.zfs.datasets."rpool/nomount"]
properties = { mountpoint = "none" }
""")
    profile = load_profile(p)
    g = {m.point: m for m in exports.guest(profile, None).mounts}
    assert {"/", "/home"} <= set(g)  # (the pool root mounts at /rpool unless told not to)
    assert g["/"].device == "rpool/root" and g["/"].fs_type == "zfs"
    assert "zfsutil" in g["/home"].options


# ------------------------------------------------------------------ repart


REPART = shutil.which("systemd-repart")


def _repart(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-repart", *args], capture_output=True, text=True)


@pytest.mark.skipif(REPART is None, reason="needs systemd-repart")
@pytest.mark.parametrize("name", [n for n in ALL if n in ("vm-disk", "sd-card")])
def test_repart_dry_run_accepts_definitions(name: str, examples: Path, tmp_path: Path) -> None:
    profile, scan = loaded(examples, name)
    defs = tmp_path / "repart.d"
    written = exports.write_repart(profile, scan, defs)
    assert written
    size = exports.repart_size(profile, scan, 0)
    image = tmp_path / "disk.raw"
    image.write_bytes(b"")
    os.truncate(image, size)
    r = _repart(["--dry-run=yes", "--empty=allow", f"--definitions={defs}", str(image)])
    assert r.returncode == 0, r.stderr
    for bad in ("Unknown key", "Failed to parse", "ignoring"):
        assert bad not in r.stderr, r.stderr
    assert image.stat().st_size == size and partitions_or_none(image) is None  # untouched


def partitions_or_none(image: Path) -> object:
    r = subprocess.run(["sfdisk", "-J", str(image)], capture_output=True, text=True)
    return json.loads(r.stdout)["partitiontable"] if r.returncode == 0 else None


@pytest.mark.skipif(REPART is None or not HAS_NIX, reason="needs systemd-repart and nix-store")
def test_repart_with_a_closure_dry_run(examples: Path, tmp_path: Path) -> None:
    """A GPT root with a closure: one CopyFiles= per store path, accepted by repart."""
    p = write(examples, """
[source]
store = "nix-demo"
closure = ["nix-demo/result"]
registration = "both"
[[disks]]
name = "vmc"
table = "gpt"
[disks.output]
path = "vmc.raw"
[[disks.partitions]]
role = "root"
filesystem = "ext4"
label = "nixos"
mount_point = "/"
""", name="closure-gpt.toml")
    profile = load_profile(p)
    scan = read_source(profile)
    validate(profile, scan)
    (text,) = exports.repart_files(profile, scan).values()
    copies = [ln for ln in text.splitlines() if ln.startswith("CopyFiles=")]
    assert len(copies) == len(scan.closure.paths) + 1  # + the registration
    assert all(":/nix/store/" in c for c in copies[:-1])
    assert copies[-1].endswith(":/nix-path-registration")
    defs = tmp_path / "d"
    exports.write_repart(profile, scan, defs)
    image = tmp_path / "disk.raw"
    image.write_bytes(b"")
    os.truncate(image, exports.repart_size(profile, scan, 0))
    r = _repart(["--dry-run=yes", "--empty=allow", f"--definitions={defs}", str(image)])
    assert r.returncode == 0, r.stderr


@pytest.mark.integration
@pytest.mark.skipif(REPART is None or os.geteuid() != 0,
                    reason="repart 252 fills partitions through loop mounts: needs root")
def test_repart_makes_the_same_table(tmp_path: Path, example_root: Path) -> None:
    """Applied for real, the definitions give the partition table diskwright builds."""
    (tmp_path / "root").symlink_to(example_root)
    p = write(tmp_path, """
[source]
path = "root"
[[disks]]
name = "vm"
table = "gpt"
[disks.output]
path = "vm.raw"
[[disks.partitions]]
role = "root"
filesystem = "ext4"
label = "nixos"
mount_point = "/"
[[disks.partitions]]
role = "swap"
filesystem = "swap"
label = "swap"
size = "16MiB"
""")
    profile = load_profile(p)
    scan = read_source(profile)
    validate(profile, scan)
    run_plan(make_plan(profile, scan))
    ours = partitions(tmp_path / "vm.raw")["partitions"]
    defs = tmp_path / "d"
    exports.write_repart(profile, scan, defs)
    image = tmp_path / "repart.raw"
    size = exports.repart_size(profile, scan, 0)
    r = _repart(["--dry-run=no", "--empty=create", f"--size={size}", f"--definitions={defs}",
                 str(image)])
    assert r.returncode == 0, r.stderr
    theirs = partitions(image)["partitions"]
    key = ("type", "uuid", "name")
    assert [tuple(x.get(k) for k in key) for x in theirs] == [
        tuple(x.get(k) for k in key) for x in ours]
    # the root filesystem got the tree's files (debugfs reads it without a mount)
    start, sectors = theirs[0]["start"], theirs[0]["size"]
    from imagecheck import cut

    rootfs = cut(image, start, sectors, tmp_path / "rootfs.img")
    listing = run("debugfs", "-R", "ls -p /etc", rootfs)
    assert "/hostname/" in listing and "/os-release/" in listing


def _size_min(text: str) -> int:
    return int(next(ln for ln in text.splitlines() if ln.startswith("SizeMinBytes="))
               .split("=", 1)[1])


@pytest.mark.skipif(REPART is None, reason="needs systemd-repart")
def test_repart_minimum_is_asked_from_the_installed_repart(examples: Path) -> None:
    """systemd-repart formats ext4 no smaller than 1 MiB in 252 (Debian 12) but 32 MiB in
    257 (Debian 13), and refuses a smaller SizeMaxBytes= rather than saying why: the
    definitions ask for the larger of 257's minimum and the installed repart's answer, so
    they fit whichever systemd-repart reads them (made on Debian 12, used on 13)."""
    version = tools.repart_version()
    floor = tools.repart_min_size("ext4", "root-x86-64")
    assert floor is not None
    if version == 252:
        assert floor == 1 << 20
    elif version >= 257:
        assert floor == 32 << 20
    # (other versions: whatever they answer, the definitions must follow it)
    profile, scan = loaded(examples, "sd-card")
    root = next(t for n, t in exports.repart_files(profile, scan).items() if "nixos-sd" in n)
    from diskwright.core.planner import estimate

    ours = estimate(profile, scan).disks[0].parts[1].image
    least = max(floor, 32 << 20)
    assert _size_min(root) == max(-(-ours // 4096) * 4096, least)
    raised = "makes ext4 no smaller than 32.0 MiB" in root
    assert raised == (least > ours), root


def test_repart_without_repart_uses_the_largest_known_minimum(
    examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No systemd-repart here to ask: 257's minima, which every version accepts."""
    monkeypatch.setattr(tools, "repart_version", lambda: 0)
    profile, scan = loaded(examples, "sd-card")
    root = next(t for n, t in exports.repart_files(profile, scan).items() if "nixos-sd" in n)
    assert _size_min(root) == 32 << 20
    assert "systemd-repart 257 makes ext4 no smaller than 32.0 MiB" in root
    assert exports.repart_size(profile, scan, 0) >= (2 + 32 + 32) << 20


def test_repart_text_splits_back_into_files(examples: Path) -> None:
    profile, scan = loaded(examples, "vm-disk")
    assert exports.split_repart(exports.repart(profile, scan)) == exports.repart_files(profile,
                                                                                        scan)


def test_repart_skips_bare_images_and_folders_per_disk(examples: Path) -> None:
    profile, scan = loaded(examples, "microvm-store")
    assert exports.repart_files(profile, scan) == {}
    assert "bare filesystem without a partition table" in exports.repart(profile, scan)


def test_repart_nested_mount_points_are_made_empty(examples: Path) -> None:
    profile, scan = loaded(examples, "vm-disk")
    files = exports.repart_files(profile, scan)
    root = next(t for n, t in files.items() if "nixos" in n)
    assert "MakeDirectories=/boot" in root
    assert not any(ln.endswith(":/boot") for ln in root.splitlines())


# ------------------------------------------------------------------ front door


def test_unknown_kind_is_a_profile_error(examples: Path) -> None:
    profile, scan = loaded(examples, "vm-disk")
    with pytest.raises(ProfileError) as err:
        exports.export(profile, scan, "grub")
    assert err.value.field == "--as"


@pytest.mark.parametrize("kind", exports.KINDS)
def test_cli_export_matches_core(kind: str, examples: Path) -> None:
    r = run_cli("export", "--as", kind, examples / "vm-disk.toml")
    assert r.returncode == 0, r.stderr
    profile, scan = loaded(examples, "vm-disk")
    assert r.stdout == exports.export(profile, scan, kind)
