"""ZFS pools in profiles: validation by OpenZFS' rules (fast), and real builds (VM).

The fast tests (no mark) check names, properties, plans, sizes and exports
without booting anything. The `zfs`-marked tests build examples/zfs-root.toml
with real OpenZFS in the helper VM, import the result read-only in a fresh
VM boot of their own, and make builds fail on purpose (a failing job, a hung
VM). Run only those with `pytest -m zfs tests/test_zfs.py`, only the fast ones
with `pytest -m "not zfs" tests/test_zfs.py`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from imagecheck import extract, partitions, to_raw
from testkit import EXAMPLES, leftovers, run_cli

from diskwright.core import exports
from diskwright.core.planner import contexts
from diskwright.core.profile import load_profile
from diskwright.core.scan import scan_tree
from diskwright.core.zfs import props as zprops
from diskwright.core.zfs.model import ZfsPool
from diskwright.core.zfs.size import partition_for, pool_space, usable
from diskwright.tui.cli import main

MiB = 1 << 20
PROFILE = EXAMPLES / "zfs-root.toml"
BASE: dict[str, Any] = tomllib.loads(PROFILE.read_text())
# the tests below are about pools; the example's [boot] table is tests/test_boot.py's
BASE.pop("boot", None)

# ------------------------------------------------------------------ helpers


def zfs(d: dict[str, Any]) -> dict[str, Any]:
    return d["disks"][1]["partitions"][0]["zfs"]


def write_profile(folder: Path, data: dict[str, Any], name: str = "zfs-root.toml") -> Path:
    path = folder / name
    path.write_text(tomli_w.dumps(data))
    return path


def _kit_skip() -> str | None:
    from diskwright.core.zfs.kit import kit_status

    status = kit_status()
    if not status.ready:
        return f"ZFS helper VM unavailable ({', '.join(status.missing)}): {status.install_command}"
    for tool in ("sfdisk", "zdb", "qemu-img"):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            return f"{tool} is not installed"
    return None


@pytest.fixture(scope="module")
def kit() -> object:
    reason = _kit_skip()
    if reason:
        pytest.skip(reason)
    from diskwright.core.zfs.kit import build_kit

    return build_kit()


# ------------------------------------------------------------------ validation (fast)

Mutation = Callable[[dict[str, Any]], object]

# (mutation, the field the message names, words the message holds)
INVALID: dict[str, tuple[Mutation, str, str]] = {
    "pool-reserved-mirror": (
        lambda d: zfs(d).update(pool="mirror"),
        "zfs.pool",
        "vdev keyword",
    ),
    "pool-reserved-raidz-prefix": (
        lambda d: zfs(d).update(pool="raidz2pool"),
        "zfs.pool",
        "starts with 'raidz'",
    ),
    "pool-reserved-draid": (lambda d: zfs(d).update(pool="draid"), "zfs.pool", "vdev keyword"),
    "pool-reserved-spare": (lambda d: zfs(d).update(pool="spares"), "zfs.pool", "'spare'"),
    "pool-reserved-log": (lambda d: zfs(d).update(pool="log"), "zfs.pool", "vdev keyword"),
    "pool-disk-like": (lambda d: zfs(d).update(pool="c0t0d0"), "zfs.pool", "Solaris disk name"),
    "pool-no-letter": (lambda d: zfs(d).update(pool="1tank"), "zfs.pool", "start with a letter"),
    "pool-bad-char": (lambda d: zfs(d).update(pool="ta%nk"), "zfs.pool", "contains '%'"),
    "pool-too-long": (lambda d: zfs(d).update(pool="t" * 240), "zfs.pool", "allows 239"),
    "dataset-outside-pool": (
        lambda d: zfs(d)["datasets"].update({"rpool/x": {}}),
        "zfs.datasets",
        "outside the pool 'tank'",
    ),
    "dataset-snapshot": (
        lambda d: zfs(d)["datasets"].update({"tank/x@snap": {}}),
        "zfs.datasets",
        "marks snapshots",
    ),
    "dataset-empty-part": (
        lambda d: zfs(d)["datasets"].update({"tank//x": {}}),
        "zfs.datasets",
        "empty part",
    ),
    "dataset-bad-char": (
        lambda d: zfs(d)["datasets"].update({"tank/ünï": {}}),
        "zfs.datasets",
        "contains 'ü'",
    ),
    "dataset-256-bytes": (
        lambda d: zfs(d)["datasets"].update({"tank/" + "x" * 251: {}}),
        "zfs.datasets",
        "256 bytes, OpenZFS allows 255",
    ),
    "dataset-dotdot": (
        lambda d: zfs(d)["datasets"].update({"tank/../x": {}}),
        "zfs.datasets",
        "a . or .. part",
    ),
    "dataset-in-volume": (
        lambda d: (
            zfs(d).update(volumes={"tank/swap": {"size": "1GiB"}}),
            zfs(d)["datasets"].update({"tank/swap/x": {}}),
        ),
        "zfs.datasets",
        "inside the volume",
    ),
    "same-mount-point": (
        lambda d: zfs(d)["datasets"].update({"tank/other": {"mount_point": "/home"}}),
        "zfs.datasets",
        "both mount at /home",
    ),
    "files-outside-every-dataset": (
        lambda d: zfs(d)["datasets"].pop("tank/system/root"),
        "zfs.datasets",
        "would be lost",
    ),
    "ashift-17": (
        lambda d: zfs(d)["pool_properties"].update(ashift=17),
        "zfs.pool_properties.ashift",
        "use 9 to 16",
    ),
    "unknown-feature": (
        lambda d: zfs(d)["pool_properties"].update({"feature@warp_drive": "enabled"}),
        "zfs.pool_properties",
        "no feature 'warp_drive'",
    ),
    "feature-on": (
        lambda d: zfs(d)["pool_properties"].update({"feature@zstd_compress": "on"}),
        "zfs.pool_properties",
        "enabled or disabled",
    ),
    "multihost": (
        lambda d: zfs(d)["pool_properties"].update(multihost="on"),
        "zfs.pool_properties.multihost",
        "no hostid",
    ),
    "fs-property-on-pool": (
        lambda d: zfs(d)["pool_properties"].update(compression="lz4"),
        "zfs.pool_properties.compression",
        "move it to filesystem_properties",
    ),
    "pool-property-on-fs": (
        lambda d: zfs(d)["filesystem_properties"].update(ashift=12),
        "zfs.filesystem_properties.ashift",
        "move it to pool_properties",
    ),
    "compression-lz5": (
        lambda d: zfs(d)["filesystem_properties"].update(compression="lz5"),
        "zfs.filesystem_properties.compression",
        "not a valid compression",
    ),
    "acltype-typo": (
        lambda d: zfs(d)["filesystem_properties"].update(acltype="posixacls"),
        "zfs.filesystem_properties.acltype",
        "posix, nfsv4",
    ),
    "xattr-yes": (
        lambda d: zfs(d)["filesystem_properties"].update(xattr="yes"),
        "zfs.filesystem_properties.xattr",
        "on, off, sa, dir",
    ),
    "atime-maybe": (
        lambda d: zfs(d)["filesystem_properties"].update(atime="maybe"),
        "zfs.filesystem_properties.atime",
        "use one of on, off",
    ),
    "relatime-bool-ok-acltype-bool-not": (
        lambda d: zfs(d)["filesystem_properties"].update(relatime=True, acltype=True),
        "zfs.filesystem_properties.acltype",
        "true/false only fit on/off",
    ),
    "dnodesize-3k": (
        lambda d: zfs(d)["filesystem_properties"].update(dnodesize="3k"),
        "zfs.filesystem_properties.dnodesize",
        "legacy, auto, 1k",
    ),
    "normalization-nfd": (
        lambda d: zfs(d)["filesystem_properties"].update(normalization="NFD"),
        "zfs.filesystem_properties.normalization",
        "formD",
    ),
    "canmount-sometimes": (
        lambda d: zfs(d)["filesystem_properties"].update(canmount="sometimes"),
        "zfs.filesystem_properties.canmount",
        "on, off, noauto",
    ),
    "mountpoint-relative": (
        lambda d: zfs(d)["filesystem_properties"].update(mountpoint="srv/x"),
        "zfs.filesystem_properties.mountpoint",
        "not an absolute path",
    ),
    "recordsize-not-power-of-two": (
        lambda d: zfs(d)["filesystem_properties"].update(recordsize="3K"),
        "zfs.filesystem_properties.recordsize",
        "power of two",
    ),
    "property-typo": (
        lambda d: zfs(d)["filesystem_properties"].update(compresion="lz4"),
        "zfs.filesystem_properties.compresion",
        "not a property OpenZFS knows",
    ),
    "user-property-upper-case": (
        lambda d: zfs(d)["filesystem_properties"].update({"Com.Example:x": "1"}),
        "zfs.filesystem_properties",
        "lower-case letters",
    ),
    "encryption": (
        lambda d: zfs(d)["filesystem_properties"].update(encryption="on"),
        "zfs.filesystem_properties.encryption",
        "cannot be given a key",
    ),
    "read-only-property": (
        lambda d: zfs(d)["filesystem_properties"].update(used="1G"),
        "zfs.filesystem_properties.used",
        "reported by OpenZFS",
    ),
    "volume-property-on-fs": (
        lambda d: zfs(d)["filesystem_properties"].update(volblocksize="8K"),
        "zfs.filesystem_properties.volblocksize",
        "does not apply to file systems",
    ),
    "mount-point-and-mountpoint": (
        lambda d: zfs(d)["datasets"]["tank/user/home"]["properties"].update(mountpoint="/h"),
        "zfs.datasets.tank/user/home.mount_point",
        "use one of them",
    ),
    "mountpoint-outside-properties": (
        lambda d: zfs(d)["datasets"]["tank/user/home"].update(mountpoint="/h"),
        "zfs.datasets.tank/user/home.mountpoint",
        "go under properties",
    ),
    "utf8only-off-under-normalization": (
        lambda d: zfs(d)["datasets"]["tank/user/home"]["properties"].update(utf8only="off"),
        "zfs.datasets",
        "needs utf8only=on",
    ),
    "bootfs-unknown": (
        lambda d: zfs(d)["pool_properties"].update(bootfs="tank/nope"),
        "zfs.pool_properties.bootfs",
        "not a dataset of this pool",
    ),
    "version-with-features": (
        lambda d: zfs(d)["pool_properties"].update(
            {"version": 28, "feature@lz4_compress": "enabled"}
        ),
        "zfs.pool_properties.version",
        "no feature flags",
    ),
    "feature-left-out-by-compatibility": (
        lambda d: zfs(d)["pool_properties"].update(compatibility="grub2"),
        "zfs.filesystem_properties.dnodesize",
        "needs the pool feature large_dnode, but compatibility=grub2 leaves it out",
    ),
    "feature-disabled-but-needed": (
        lambda d: zfs(d)["pool_properties"].update({"feature@lz4_compress": "disabled"}),
        "zfs.filesystem_properties.compression",
        "feature@lz4_compress=disabled",
    ),
    "compatibility-unknown": (
        lambda d: zfs(d)["pool_properties"].update(compatibility="grub3"),
        "zfs.pool_properties.compatibility",
        "no feature set 'grub3'",
    ),
    "volume-size": (
        lambda d: zfs(d).update(volumes={"tank/swap": {"size": "1000KiB"}}),
        "zfs.volumes.tank/swap.size",
        "multiple of 16 KiB",
    ),
    "size-below-64MiB": (
        lambda d: d["disks"][1]["partitions"][0].update(size="32MiB"),
        "disks[1].partitions[0].size",
        "64 MiB",
    ),
    "pool-uuid": (
        lambda d: d["disks"][1]["partitions"][0].update(
            uuid="0f2b5a0e-3c1d-4e5f-8a9b-0c1d2e3f4a5b"
        ),
        "disks[1].partitions[0].uuid",
        "random GUID",
    ),
    "zfs-table-on-vfat": (
        lambda d: d["disks"][0]["partitions"][1].update(zfs={"pool": "x"}),
        "disks[0].partitions[1].zfs",
        "pool settings on a vfat partition",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_zfs_input(case: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mutate, field, words = INVALID[case]
    data = copy.deepcopy(BASE)
    mutate(data)
    path = write_profile(workdir, data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("diskwright:")]
    assert len(lines) == 1, err
    assert field in lines[0] and words in lines[0], lines[0]
    assert " — " in lines[0], "every message says how to fix it"
    assert "Traceback" not in err
    assert not any(
        p.name.startswith("zfs-root.") and p.suffix != ".toml" for p in workdir.iterdir()
    )


def test_example_validates(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(workdir / "zfs-root.toml")]) == 0
    assert "valid" in capsys.readouterr().out


def test_valid_inputs_are_normalised() -> None:
    pool = ZfsPool.model_validate(
        {
            "pool": "data pool",  # OpenZFS allows spaces
            "pool_properties": {"ashift": 12, "feature@zstd_compress": "disabled"},
            "filesystem_properties": {
                "atime": False,
                "compression": "zstd-fast-100",
                "com.example:note": "built by diskwright",
                "quota": "1.5G",
            },
            "datasets": {"data pool/a b": {"properties": {"userquota@1000": "1G"}}},
            "volumes": {"data pool/swap": {"size": "64MiB", "sparse": True}},
        }
    )
    assert pool.filesystem_properties["atime"] == "off"
    assert pool.pool_properties["ashift"] == 12
    assert [n.name for n in pool.nodes()] == ["data pool", "data pool/a b", "data pool/swap"]


# ------------------------------------------------------------------ plan (fast)


def _plan_text(workdir: Path, data: dict[str, Any] | None = None) -> str:
    path = write_profile(workdir, data or BASE)
    r = run_cli("plan", path)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _job(plan: str, name: str) -> str:
    m = re.search(rf"cat >\"\$\{{W\}}\"/d1p1\.{name} <<'(\w+)'\n(.*?)\n\1\n", plan, re.S)
    assert m, f"no {name} in the plan"
    return m.group(2)


def test_plan_shows_the_vm_job_as_it_runs(workdir: Path) -> None:
    plan = _plan_text(workdir)
    job = _job(plan, "zfs-build.sh")
    create = re.search(r"^zpool create -t (\S+) -R /mnt \\\n(.*?)^  tank (\S+)$", job, re.S | re.M)
    assert create, job
    tmp, opts, vdev = create.group(1), create.group(2), create.group(3)
    assert tmp != "tank" and len(tmp) <= len("tank")
    assert vdev == "/dev/disk/by-id/virtio-vdev"  # the whole disk: ZFS partitions it itself
    assert job.index("systemd-udevd --daemon") < job.index("udevadm settle") < create.start()
    for opt in (
        "-o ashift=12",
        "-o autotrim=on",
        "-O compression=lz4",
        "-O acltype=posixacl",
        "-O xattr=sa",
        "-O atime=off",
        "-O mountpoint=legacy",
        "-O normalization=formD",
    ):
        assert opt in opts
    created = re.findall(rf"^zfs create -u .*?({tmp}/\S+)", job, re.M)
    assert created == [f"{tmp}/local", f"{tmp}/local/nix", f"{tmp}/system",
                       f"{tmp}/system/root", f"{tmp}/user", f"{tmp}/user/home"]  # fmt: skip
    mounts = re.findall(r"mount -t zfs (\S+) (\S+)$", job, re.M)
    assert mounts == [(f"{tmp}/system/root", "/mnt"), (f"{tmp}/user/home", "/mnt/home"),
                      (f"{tmp}/local/nix", "/mnt/nix")]  # fmt: skip
    assert "tar -xf /dev/disk/by-id/virtio-payload -C /mnt" in job
    assert re.findall(r"^umount (\S+)$", job, re.M) == ["/mnt/nix", "/mnt/home", "/mnt"]
    assert job.rstrip().splitlines()[-2] == f"zpool export {tmp}"
    assert job.index("tar -xf") > job.index("mount -t zfs") and job.index("tar -xf") < job.index(
        "umount"
    )
    # host side: reproducible payload, a blank whole-disk vdev, the VM by the helper, kept
    assert "tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner" in plan
    assert '| sfdisk --no-reread --no-tell-kernel -q "${W}"/d1p1.vdev' not in plan
    assert re.search(r"diskwright helper zfs-vm --job \"\$\{W\}\"/d1p1\.zfs-build\.sh "
                     r"--payload \"\$\{W\}\"/d1p1\.payload\.tar --disk \"\$\{W\}\"/d1p1\.vdev:vdev "
                     r"--timeout \d+", plan)  # fmt: skip
    assert 'mv -f "${W}"/d1p1.vdev "${W}"/d1p1.img' in plan
    assert 'D1P1_BYTES="$(stat -c %s "${W}"/d1p1.img)"' in plan
    # verify: labels, a read-only import in a fresh boot, then the comparison
    assert 'zdb -l "${W}"/d1p1.part1 | diskwright helper zfs-labels tank' in plan
    assert 'zdb -l "${W}"/d1p1.part1 | grep -q \'whole_disk: 1\'' in plan
    verify = _job(plan, "zfs-verify.sh")
    assert "zpool import -d /dev/disk/by-id/virtio-image-part1 -o readonly=on -N -R /mnt tank" in (
        verify
    )
    assert '"${W}"/d1p1.img:image:ro' in plan
    assert "diskwright helper zfs-check --expect" in plan


def test_printed_plan_is_valid_posix_sh(workdir: Path) -> None:
    plan = _plan_text(workdir)
    for shell in ("sh", "dash", "bash"):
        if shutil.which(shell):
            r = subprocess.run([shell, "-n"], input=plan, text=True, capture_output=True)
            assert r.returncode == 0, r.stderr
    for job in ("zfs-build.sh", "zfs-verify.sh"):
        r = subprocess.run(["busybox", "sh", "-n"] if shutil.which("busybox") else ["sh", "-n"],
                           input=_job(plan, job), text=True, capture_output=True)  # fmt: skip
        assert r.returncode == 0, r.stderr


def test_tree_order_and_mount_order() -> None:
    """Parents before children by walking the tree; mounts by path, not by dataset name."""
    pool = ZfsPool.model_validate(
        {
            "pool": "p",
            "filesystem_properties": {"mountpoint": "none"},
            "datasets": {
                "p/a/deep/er": {"mount_point": "/srv/x/y"},
                "p/b": {"mount_point": "/srv"},
                "p/a": {"properties": {"mountpoint": "/srv/x"}},
                "p/zz": {"properties": {"canmount": "off"}},
            },
            "volumes": {"p/a/vol": {"size": "64MiB"}},
        }
    )
    order = [n.name for n in pool.nodes()]
    assert order == ["p", "p/a", "p/a/deep", "p/a/deep/er", "p/a/vol", "p/b", "p/zz"]
    for i, name in enumerate(order[1:], 1):
        assert name.rsplit("/", 1)[0] in order[:i]
    mounts = [(m.path, m.dataset, m.legacy) for m in pool.mounts()]
    assert mounts == [
        ("/srv", "p/b", True),
        ("/srv/x", "p/a", False),
        ("/srv/x/deep", "p/a/deep", False),  # inherits p/a's mountpoint
        ("/srv/x/y", "p/a/deep/er", True),
    ]


def test_plan_of_many_options_and_volumes(workdir: Path) -> None:
    data = copy.deepcopy(BASE)
    zfs(data)["volumes"] = {"tank/swap": {"size": "64MiB", "properties": {"volblocksize": "8K"}}}
    zfs(data)["pool_properties"] |= {"bootfs": "tank/system/root", "compatibility": "grub2"}
    del zfs(data)["filesystem_properties"]["dnodesize"]  # grub2 reads no large dnodes
    job = _job(_plan_text(workdir, data), "zfs-build.sh")
    assert re.search(r"^zfs create -V 67108864 -o volblocksize=8K \w+/swap$", job, re.M)
    assert re.search(r"^zpool set bootfs=\w+/system/root \w+$", job, re.M)
    assert "cat >/etc/zfs/compatibility.d/grub2 <<'DISKWRIGHT_COMPAT'" in job
    assert job.index("compatibility.d/grub2") < job.index("\nzpool create")


# ------------------------------------------------------------------ sizes, catalog, exports


def test_pool_space_matches_openzfs() -> None:
    """`zpool get size` and `zfs get available` measured in the VM, per partition size."""
    measured = {  # MiB: (size, available) in bytes, OpenZFS 2.1.11
        64: (50331648, 24821760),
        128: (117440512, 58376192),
        300: (301989888, 167403520),
        1024: (1006632960, 872046592),
        9000: (9126805504, 8841224192),
    }
    for mib, (size, avail) in measured.items():
        assert pool_space(mib * MiB) == size
        assert avail - MiB < usable(mib * MiB) <= avail  # a little on the safe side
    for need in (0, 10 * MiB, 100 * MiB, 3000 * MiB):
        part = partition_for(need)
        assert usable(part) >= need and part >= 64 * MiB
        assert part == 64 * MiB or usable(part - MiB) < need


def test_estimate_includes_headroom(workdir: Path) -> None:
    profile = load_profile(workdir / "zfs-root.toml")
    scan = scan_tree(profile.source_root())  # type: ignore[arg-type]
    ctx = next(c for c in contexts(profile, scan) if c.part.filesystem == "zfs")
    from diskwright.core.fs import builder_for

    size = builder_for(ctx.part.filesystem).estimate(ctx)
    assert usable(size.image) >= size.content + 256 * MiB  # headroom = "256MiB"
    assert size.image % MiB == 0


def test_release_of_a_pool_comes_from_the_features_it_lists() -> None:
    """`zpool get all` lists every feature its OpenZFS knows: the newest dates the release."""
    v21 = ["size", "feature@lz4_compress", "feature@draid", "feature@zstd_compress"]
    assert zprops.release_of(v21) == "2.1"
    assert zprops.release_of([*v21, "feature@blake3", "feature@fast_dedup"]) == "2.3"
    assert zprops.release_of(["size", "health"]) is None


def test_property_catalog_is_complete() -> None:
    for table in (zprops.POOL_PROPERTIES, zprops.FS_PROPERTIES):
        for name, prop in table.items():
            assert prop.name == name and prop.description
            if prop.closed:
                assert prop.values, name
                for v in prop.values:  # every listed choice passes its own check
                    if table is zprops.POOL_PROPERTIES:
                        zprops.check_pool_property(name, v)
                    elif prop.targets != {"volume"}:
                        zprops.check_fs_property(name, v)
    assert zprops.same_value("acltype", "posixacl", "posix")
    assert zprops.same_value("xattr", "dir", "on")  # OpenZFS 2.1: on is dir
    assert not zprops.same_value("xattr", "sa", "on")
    assert zprops.same_value("xattr", "sa", "on", release="2.3")  # 2.3: on is sa
    assert zprops.same_value("xattr", "sa", "on", release="2.3.9-1")
    assert not zprops.same_value("xattr", "dir", "on", release="2.3")
    assert zprops.same_value("xattr", "dir", "dir", release="2.3")
    assert not zprops.same_value("xattr", "sa", "on", release="2.2.7")
    assert zprops.same_value("compression", "gzip-6", "gzip")
    assert zprops.same_value("quota", "1G", "1073741824")
    assert zprops.same_value("filesystem_limit", "none", str(2**64 - 1))
    assert not zprops.same_value("compression", "lz4", "off")
    assert zprops.same_value("feature@lz4_compress", "enabled", "active", "pool")


def test_exports(workdir: Path) -> None:
    profile = load_profile(workdir / "zfs-root.toml")
    nix = exports.nixos(profile, None)
    for mp, ds in (("/", "tank/system/root"), ("/nix", "tank/local/nix"),
                   ("/home", "tank/user/home")):  # fmt: skip
        assert re.search(
            rf'fileSystems\."{mp}" = \{{\n    device = "{ds}";\n    fsType = "zfs";\n  \}};', nix
        ), nix
    assert 'boot.supportedFilesystems = [ "zfs" ];' in nix
    assert re.search(r'networking\.hostId = "[0-9a-f]{8}";', nix)
    assert "zfsutil" not in nix  # legacy mounts take no options
    rows = exports.parse_fstab(exports.fstab(profile, None))
    zrows = sorted((spec, mp, typ, opts) for spec, mp, typ, opts, _, _ in rows if typ == "zfs")
    assert zrows == [
        ("tank/local/nix", "/nix", "zfs", "defaults"),
        ("tank/system/root", "/", "zfs", "defaults"),
        ("tank/user/home", "/home", "zfs", "defaults"),
    ]


def test_exports_of_zfs_managed_mountpoints(workdir: Path) -> None:
    data = copy.deepcopy(BASE)
    zfs(data)["filesystem_properties"]["mountpoint"] = "/"
    zfs(data)["datasets"] = {"tank/home": {}, "tank/srv": {"properties": {"canmount": "off"}}}
    profile = load_profile(write_profile(workdir, data))
    g = {m.point: m for m in exports.guest(profile, None).mounts if m.fs_type == "zfs"}
    assert set(g) == {"/", "/home"}
    assert g["/home"].options == ("zfsutil",) and g["/"].device == "tank"
    assert "boot.zfs.extraPools" in exports.nixos(profile, None)


def _result_tar(path: Path, files: dict[str, str]) -> None:
    import io
    import tarfile

    with open(path, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        raw.write(b"\0" * 8192)  # the rest of the result disk


def test_check_names_every_mismatch(tmp_path: Path) -> None:
    """zfs-check fails with one line per difference: property, dataset, mount, file."""
    from diskwright.core.zfs.job import expectation_text

    pool = ZfsPool.model_validate(
        {
            "pool": "tank",
            "pool_properties": {"ashift": 12},
            "filesystem_properties": {"compression": "lz4", "mountpoint": "legacy"},
            "datasets": {"tank/root": {"mount_point": "/"}, "tank/home": {"mount_point": "/home"}},
        }
    )
    (tmp_path / "expect.json").write_text(expectation_text(pool, base="/", has_payload=True))
    src = tmp_path / "src"
    (src / "etc").mkdir(parents=True)
    (src / "etc/motd").write_text("hello\n")
    (src / "etc/gone").write_text("lost\n")
    os.chmod(src / "etc/motd", 0o644)
    os.chmod(src / "etc/gone", 0o644)
    os.chmod(src / "etc", 0o755)
    digest = hashlib.sha256(b"HELLO\n").hexdigest()
    _result_tar(
        tmp_path / "result",
        {
            "pool.tsv": "ashift\t9\tlocal\nhealth\tONLINE\t-\n",
            "datasets.tsv": "tank\tfilesystem\ntank/root\tfilesystem\n",
            "props.tsv": "tank\tcompression\toff\tlocal\ntank\tmountpoint\tlegacy\tlocal\n",
            "mounts.txt": "tank/root /mnt zfs ro 0 0\n",
            "files.sha256": f"{digest}  ./etc/motd\n",
            "entries.txt": "755 0 0 directory|./etc\n644 0 0 regular file|./etc/motd\n",
            "links.txt": "",
        },
    )
    r = run_cli(
        "helper", "zfs-check", "--expect", tmp_path / "expect.json",
        "--result", tmp_path / "result", "--source", src,
    )  # fmt: skip
    assert r.returncode == 1
    for words in (
        "pool 'tank': ashift is '9', the profile says '12'",
        "dataset tank/home is missing from the pool",
        "dataset tank: compression is 'off', the profile says 'lz4'",
        "dataset tank/home did not mount at /home (legacy mount)",
        "file /etc/gone is missing from the pool",
        "file /etc/motd differs from the source (sha256)",
        "zfs-check: 6 difference(s) in pool 'tank'",
    ):
        assert words in r.stderr, r.stderr


# ------------------------------------------------------------------ real builds (VM)


def _import_job(parts: int) -> str:
    return f"""set -eu
zpool import -d /dev/disk/by-id/virtio-disk-part{parts} -o readonly=on -N -R /mnt tank
echo "@@ ZFS_LIST"
zfs list -H -p -o name,type,mountpoint -r tank
echo "@@ ZFS_GET"
zfs get -H -p -o name,property,value,source all -r tank
echo "@@ ZPOOL_GET"
zpool get -H -p -o property,value all tank
mount -t zfs -o ro tank/system/root /mnt
mount -t zfs -o ro tank/local/nix /mnt/nix
mount -t zfs -o ro tank/user/home /mnt/home
echo "@@ MOUNTS"
grep ' zfs ' /proc/mounts
echo "@@ FILES"
cd /mnt && find . -type f -exec sha256sum {{}} + | sort
echo "@@ LINKS"
find . -type l | sort | while read -r f; do echo "$f -> $(readlink "$f")"; done
cd /
umount /mnt/home /mnt/nix /mnt
zpool export tank
echo "@@ END"
"""


def _sections(lines: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in lines:
        if line.startswith("@@ "):
            current = line[3:]
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def _source_files(root: Path, skip: str = "boot") -> dict[str, str]:
    files = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] == skip or p.is_symlink() or not p.is_file():
            continue
        files["./" + str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


@pytest.fixture(scope="module")
def built(kit: object, tmp_path_factory: pytest.TempPathFactory, example_root: Path) -> Path:
    """examples/zfs-root.toml's disks and pool, built once by `diskwright build` from the
    example tree (its booting, from the kernel tree, is tests/test_boot.py's)."""
    folder = tmp_path_factory.mktemp("zfs-root")
    data = copy.deepcopy(BASE)
    data["source"]["path"] = "root"
    write_profile(folder, data)
    (folder / "root").symlink_to(example_root)
    r = run_cli("build", folder / "zfs-root.toml", "-v", timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "zfs-check: pool 'tank' imports read-only" in r.stdout + r.stderr
    assert "labels 0 1 2 3 of pool 'tank' are intact" in r.stdout + r.stderr
    return folder


@pytest.mark.zfs
def test_build_imports_in_a_fresh_vm(built: Path, kit: Any, example_root: Path) -> None:
    """The built disk, imported read-only by our own VM job: datasets, properties, files."""
    from diskwright.core.zfs.vm import VmDisk, run_job

    root_disk = built / "zfs-root.root.qcow2"
    assert root_disk.is_file() and leftovers(built) == []
    lines: list[str] = []
    result = asyncio.run(
        run_job(
            kit,
            _import_job(1),
            [VmDisk(root_disk, "disk", readonly=True, format="qcow2")],
            None,
            300,
            lambda stream, line: lines.append(line) if stream == "job" else None,
            workdir=built,
        )
    )
    assert result.ok, result.reason + "\n" + "\n".join(result.last_lines)
    s = _sections(lines)
    datasets = {ln.split("\t")[0]: ln.split("\t")[1:] for ln in s["ZFS_LIST"]}
    assert set(datasets) == {"tank", "tank/local", "tank/local/nix", "tank/system",
                             "tank/system/root", "tank/user", "tank/user/home"}  # fmt: skip
    assert all(v == ["filesystem", "legacy"] for v in datasets.values())
    got = {(n, p): (v, src) for n, p, v, src in (ln.split("\t") for ln in s["ZFS_GET"])}
    assert got[("tank", "compression")] == ("lz4", "local")
    assert got[("tank", "acltype")] == ("posix", "local")  # posixacl, as OpenZFS shows it
    # OpenZFS 2.3 shows xattr=sa as `on` (sa became what on means); 2.1 shows `sa`
    sa_shown = "sa" if zprops.newer_than("2.3", kit.zfs_version) else "on"
    assert got[("tank", "xattr")] == (sa_shown, "local")
    assert zprops.same_value("xattr", "sa", sa_shown,
                             release=zprops.release_of(ln.split("\t")[0] for ln in s["ZPOOL_GET"]))
    assert got[("tank", "atime")] == ("off", "local")
    assert got[("tank", "dnodesize")] == ("auto", "local")
    assert got[("tank", "normalization")][0] == "formD"
    assert got[("tank/system/root", "compression")] == ("lz4", "inherited from tank")
    assert got[("tank/user/home", "quota")] == (str(1 << 30), "local")
    assert got[("tank/local/nix", "com.sun:auto-snapshot")] == ("false", "local")
    pool = dict(ln.split("\t") for ln in s["ZPOOL_GET"])
    assert pool["ashift"] == "12" and pool["autotrim"] == "on" and pool["autoexpand"] == "on"
    assert pool["health"] == "ONLINE" and pool["readonly"] == "on"
    mounts = {ln.split()[1]: ln.split()[0] for ln in s["MOUNTS"]}
    assert mounts == {"/mnt": "tank/system/root", "/mnt/nix": "tank/local/nix",
                      "/mnt/home": "tank/user/home"}  # fmt: skip
    files = {ln.split("  ", 1)[1]: ln.split("  ", 1)[0] for ln in s["FILES"]}
    assert files == _source_files(example_root)
    links = dict(ln.split(" -> ", 1) for ln in s["LINKS"])
    assert links["./lib"] == "usr/lib" and links["./etc/localtime"] == "/usr/share/zoneinfo/UTC"
    assert "END" in s


@pytest.mark.zfs
def test_build_disks_and_labels(built: Path, example_root: Path, tmp_path: Path) -> None:
    """Partition tables as planned, all four labels, the ESP holding /boot."""
    raw = to_raw(built / "zfs-root.root.qcow2", tmp_path / "root.raw")
    table = partitions(raw)
    # the pool owns the whole disk: OpenZFS' own GPT, data in 1, 8 MiB reserved in 9
    part, reserved = table["partitions"]
    assert part["type"] == "6A898CC3-1DD2-11B2-99A6-080020736631" and part["start"] == 2048
    assert reserved["node"].endswith("9") and reserved["size"] == 16384
    img = tmp_path / "pool.img"
    subprocess.run(
        ["dd", f"if={raw}", f"of={img}", "bs=512", f"skip={part['start']}",
         f"count={part['size']}", "conv=sparse", "status=none"],
        check=True,
    )  # fmt: skip
    zdb = shutil.which("zdb", path=os.environ["PATH"] + ":/usr/sbin:/sbin")
    assert zdb
    labels = subprocess.run([zdb, "-l", str(img)], capture_output=True, text=True).stdout
    assert "name: 'tank'" in labels and re.search(r"labels = 0 1 2 3", labels), labels
    assert "whole_disk: 1" in labels, labels
    boot = to_raw(built / "zfs-root.boot.qcow2", tmp_path / "boot.raw")
    esp = next(p for p in partitions(boot)["partitions"] if p["name"] == "ESP")
    esp_img = tmp_path / "esp.img"
    subprocess.run(
        ["dd", f"if={boot}", f"of={esp_img}", "bs=512", f"skip={esp['start']}",
         f"count={esp['size']}", "status=none"],
        check=True,
    )  # fmt: skip
    tree = extract("vfat", esp_img, tmp_path / "esp")
    assert (tree / "EFI/BOOT/BOOTX64.EFI").read_bytes() == (
        example_root / "boot/EFI/BOOT/BOOTX64.EFI"
    ).read_bytes()


@pytest.mark.zfs
def test_whole_disk_pool_grows_with_its_disk(built: Path, kit: Any, tmp_path: Path) -> None:
    """The root qcow2 grown by 1 GiB: ZFS sees the room (whole_disk) and the pool takes it."""
    from diskwright.core.zfs.job import udev_start
    from diskwright.core.zfs.vm import VmDisk, run_job

    disk = tmp_path / "grown.qcow2"
    shutil.copy(built / "zfs-root.root.qcow2", disk)
    subprocess.run(["qemu-img", "resize", "-q", str(disk), "+1G"], check=True)
    dev = "/dev/disk/by-id/virtio-disk-part1"  # online -e names the whole disk, as zed does
    job = "set -eu\n" + "\n".join(udev_start("disk")) + f"""
zpool import -d {dev} -N tank
echo "@@ BEFORE $(zpool list -Hp -o size,expandsize,autoexpand tank)"
zpool online -e tank {dev.removesuffix("-part1")}
udevadm settle --timeout=30
echo "@@ AFTER $(zpool list -Hp -o size tank)"
zpool export tank
"""
    lines: list[str] = []
    result = asyncio.run(
        run_job(kit, job, [VmDisk(disk, "disk", format="qcow2")], None, 300,
                lambda stream, line: lines.append(line) if stream == "job" else None,
                workdir=tmp_path)
    )  # fmt: skip
    assert result.ok, result.reason + "\n" + "\n".join(result.last_lines)
    before = next(ln for ln in lines if ln.startswith("@@ BEFORE")).split()[2:]
    after = int(next(ln for ln in lines if ln.startswith("@@ AFTER")).split()[2])
    size, expand, autoexpand = int(before[0]), int(before[1]), before[2]
    assert autoexpand == "on"
    assert expand > 900 * MiB, before  # a partition-bound pool would see no room at all
    assert after - size > 900 * MiB, (size, after)


@pytest.mark.zfs
def test_printed_plan_builds_with_sh(kit: object, workdir: Path) -> None:
    """`diskwright plan | sh` makes a disk whose pool passes the plan's own checks."""
    data = copy.deepcopy(BASE)
    data["disks"] = [data["disks"][1]]
    data["disks"][0]["output"] = {"path": "root.raw"}
    path = write_profile(workdir, data, "zfs-sh.toml")
    plan = run_cli("plan", path)
    assert plan.returncode == 0, plan.stderr
    r = subprocess.run(["sh", "-s"], input=plan.stdout, text=True, capture_output=True,
                       cwd=workdir, timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "zfs-check: pool 'tank' imports read-only" in r.stdout + r.stderr
    assert (workdir / "root.raw").is_file() and leftovers(workdir) == []


def _failing_build(
    workdir: Path, data: dict[str, Any], name: str
) -> subprocess.CompletedProcess[str]:
    path = write_profile(workdir, data, name)
    r = run_cli("build", path, timeout=600)
    outputs = [workdir / d["output"]["path"] for d in data["disks"]]
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    assert not any(p.exists() for p in outputs), "a failed build left an output"
    assert leftovers(workdir) == []
    return r


@pytest.mark.zfs
def test_failing_job_fails_the_build_with_its_log(kit: object, workdir: Path) -> None:
    """A quota the tree does not fit in: tar fails in the VM, the build fails, nothing is left."""
    src = workdir / "quota-root"
    shutil.copytree(workdir / "root", src, symlinks=True)
    (src / "nix/blob").write_bytes(os.urandom(4 * MiB))
    data = copy.deepcopy(BASE)
    data["source"]["path"] = "quota-root"
    data["disks"] = [data["disks"][1]]
    data["disks"][0]["output"] = {"path": "quota.raw"}
    pool = data["disks"][0]["partitions"][0]["zfs"]
    pool["datasets"]["tank/local/nix"]["properties"]["quota"] = "1M"
    r = _failing_build(workdir, data, "quota.toml")
    assert "d0p1-zfs-build" in r.stderr
    assert "Disk quota exceeded" in r.stderr, r.stderr  # the VM's own last lines
    log = (workdir / "quota.raw.failed.log").read_text()
    assert "FAILED" in log and "zpool create -t" in log and "Disk quota exceeded" in log


@pytest.mark.zfs
def test_helper_vm_step_reports_bytes_copied_into_the_pool(kit: object, workdir: Path) -> None:
    """The helper-VM step's progress: bytes of the tree read into the pool, rising to
    the payload's size, as JSON events of `diskwright build --json` (the wizard's bar
    and the CLI's bar get the same Progress events)."""
    src = workdir / "progress-root"
    shutil.copytree(workdir / "root", src, symlinks=True)
    (src / "var/blob").write_bytes(os.urandom(48 * MiB))  # a few seconds of copying under TCG
    data = copy.deepcopy(BASE)
    data["source"]["path"] = "progress-root"
    data["disks"] = [data["disks"][1]]
    data["disks"][0]["output"] = {"path": "progress.raw"}
    path = write_profile(workdir, data, "progress.toml")
    r = run_cli("build", path, "--json", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    events = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    vm = [e for e in events if e["event"] == "progress" and e["step"].endswith("-zfs-build")]
    done = [e["done"] for e in vm if "done" in e]
    totals = {e["total"] for e in vm if "total" in e}
    assert len(totals) == 1, vm
    total = totals.pop()
    assert total >= 48 * MiB
    assert done == sorted(done) and done[0] == 0 and done[-1] == total, done
    assert any(0 < d < total for d in done), done  # at least one count while tar ran
    overall = [e["overall"] for e in vm]
    assert overall == sorted(overall)
    said = [e["line"] for e in events if e["event"] == "output"]
    assert not any(ln.startswith("diskwright-progress:") for ln in said)  # events, not lines
    assert (workdir / "progress.raw").is_file() and leftovers(workdir) == []


@pytest.mark.zfs
def test_hung_vm_is_stopped_by_the_time_limit(kit: object, workdir: Path) -> None:
    """A VM that outlives its limit is killed: the build fails in time, nothing is left."""
    src = workdir / "big"
    shutil.copytree(workdir / "root", src, symlinks=True)
    (src / "var/blob").write_bytes(os.urandom(96 * MiB))  # > 10 s of copying under TCG
    data = copy.deepcopy(BASE)
    data["source"]["path"] = "big"
    data["disks"] = [data["disks"][1]]
    data["disks"][0]["output"] = {"path": "hung.raw"}
    data["disks"][0]["partitions"][0]["zfs"]["vm_timeout"] = 10
    t0 = time.monotonic()
    r = _failing_build(workdir, data, "hung.toml")
    assert time.monotonic() - t0 < 120
    assert "timed out after 10 s; qemu was killed" in r.stderr, r.stderr
    assert "zpool create" in (workdir / "hung.raw.failed.log").read_text()
    assert _qemu_running(workdir) == []


def _qemu_running(folder: Path) -> list[str]:
    """Command lines of qemu processes that use files in `folder`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in args)
        if "qemu-system" in text and str(folder) in text:
            found.append(text)
    return found


@pytest.mark.zfs
def test_helper_reports_a_hang_and_stops_on_sigterm(kit: object, tmp_path: Path) -> None:
    """The zfs-vm step itself: a job that never ends is timed out with its last lines;
    SIGTERM (how the Runner cancels) stops qemu at once."""
    job = tmp_path / "hang.sh"
    job.write_text("echo 'about to hang'\nsleep 600\n")
    argv = [sys.executable, "-m", "diskwright.tui.cli", "helper", "zfs-vm", "--job", str(job)]
    env = dict(os.environ)
    # 45 s: the helper VM reaches its job in 7–25 s under TCG, depending on the load
    r = subprocess.run([*argv, "--timeout", "45"], capture_output=True, text=True, env=env,
                       timeout=150)  # fmt: skip
    assert r.returncode == 1
    assert "about to hang" in r.stdout
    assert "zfs-vm: timed out after 45 s; qemu was killed" in r.stderr
    proc = subprocess.Popen([*argv, "--timeout", "300"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env,
                            start_new_session=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "about to hang" in line:
                break
        assert _qemu_running(tmp_path), "qemu should be running the job"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        assert time.monotonic() - t0 < 15
    finally:
        if proc.poll() is None:  # the test failed half-way: take qemu down with it
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert _qemu_running(tmp_path) == []
    assert not any(p.name.startswith("diskwright-vm-") for p in tmp_path.iterdir())


def test_kit_without_udevadm_names_the_udev_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """A minimal root lacks `udev`: the kit says so, not a whole-disk pool failing later."""
    from diskwright.core.errors import ToolMissing
    from diskwright.core.zfs import kit

    monkeypatch.setattr(kit, "UDEVADM", "diskwright-no-such-udevadm")
    status = kit.kit_status()
    assert not status.ready
    assert "diskwright-no-such-udevadm" in status.missing
    assert "udev" in status.packages
    if shutil.which("busybox", path=f"{os.environ.get('PATH', '')}:{kit.SBIN_PATH}"):
        with pytest.raises(ToolMissing) as e:
            kit._tool_paths()
        assert e.value.tool == "diskwright-no-such-udevadm"


def test_kit_without_a_udev_rule_names_the_udev_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without its rules udevd makes no /dev/disk links: the kit refuses, naming the package."""
    from diskwright.core.errors import ToolMissing
    from diskwright.core.zfs import kit

    if _kit_skip():
        pytest.skip(_kit_skip() or "")
    monkeypatch.setattr(kit, "UDEV_RULE_DIRS", (tmp_path / "no-rules",))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(ToolMissing) as e:
        kit.build_kit(force=True)
    assert e.value.tool == f"udev rule {kit.UDEV_RULES[0]}"
    assert "udev" in e.value.hint
    assert not any((tmp_path / "cache").rglob("initramfs.gz"))


@pytest.mark.zfs
def test_udev_in_the_vm_applies_its_rules(kit: Any, tmp_path: Path) -> None:
    """udevd in the helper VM finds the host's rules and gives a disk its ID and links.

    systemd 257 (Debian 13) reads rules only from /usr/lib/udev/rules.d; with them
    elsewhere it ran rule-less, every device got an empty entry and whole-disk
    `zpool create` ended in ENODEV waiting for the links of the partition it made.
    """
    from diskwright.core.zfs.vm import VmDisk, run_job

    disk = tmp_path / "probe.raw"
    with disk.open("wb") as f:
        f.truncate(64 * MiB)
    job = """set -eu
/lib/systemd/systemd-udevd --daemon --resolve-names=never
udevadm trigger --action=add --subsystem-match=block
udevadm settle --timeout=30
udevadm info -q property "$(readlink -f /dev/disk/by-id/virtio-probe)" | sed 's/^/@@ /'
"""
    lines: list[str] = []
    result = asyncio.run(
        run_job(kit, job, [VmDisk(disk, "probe")], None, 300,
                lambda stream, line: lines.append(line) if stream == "job" else None,
                workdir=tmp_path)
    )  # fmt: skip
    assert result.ok, result.reason + "\n" + "\n".join(result.last_lines)
    props = dict(ln[3:].split("=", 1) for ln in lines if ln.startswith("@@ ") and "=" in ln)
    assert props.get("ID_SERIAL") == "probe", props  # 60-persistent-storage.rules ran
    assert "/dev/disk/by-id/virtio-probe" in props.get("DEVLINKS", "").split(), props
    assert any(link.startswith("/dev/disk/by-path/") for link in props["DEVLINKS"].split())


@pytest.mark.zfs
def test_edited_pool_builds_and_zfs_agrees_with_the_editor(
    kit: Any, tmp_path: Path, example_root: Path
) -> None:
    """The wizard's tree edits (core/zfs/edit.py) on the example pool, built for real: the
    datasets are the edited ones and `zfs get` reports every value the editor shows as set
    here or inherited from <parent>, from the same place, and its defaults as defaults."""
    from diskwright.core.zfs import edit
    from diskwright.core.zfs.vm import VmDisk, run_job

    data = copy.deepcopy(BASE)
    data["source"]["path"] = "root"
    pool = zfs(data)
    pool = edit.add(pool, "tank/srv")
    pool = edit.set_value(pool, "tank/srv", "recordsize", edit.value_from_text("1M"))
    pool = edit.set_value(pool, "tank/srv", "quota", edit.value_from_text("2G"))
    pool = edit.set_value(pool, "tank/srv", "canmount", "noauto")
    pool = edit.add(pool, "tank/srv/www")
    pool = edit.add(pool, "tank/swap", volume=True, size="64MiB")
    pool = edit.rename(pool, "tank/user", "tank/people")
    pool = edit.remove(pool, "tank/local")
    pool = edit.rename(pool, "tank", "vault")
    data["disks"][1]["partitions"][0]["zfs"] = pool
    data["disks"] = data["disks"][1:]  # the pool disk alone: /boot lands in the pool too
    write_profile(tmp_path, data)
    (tmp_path / "root").symlink_to(example_root)
    r = run_cli("build", tmp_path / "zfs-root.toml", "-v", timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    job = """set -eu
zpool import -d /dev/disk/by-id/virtio-disk-part1 -o readonly=on -N -R /mnt vault
echo "@@ ZFS_LIST"
zfs list -H -p -o name,type -r vault
echo "@@ ZFS_GET"
zfs get -H -o name,property,value,source all -r vault
echo "@@ ZPOOL_GET"
zpool get -H -p -o property,value all vault
zpool export vault
echo "@@ END"
"""
    lines: list[str] = []
    disk = VmDisk(tmp_path / "zfs-root.root.qcow2", "disk", readonly=True, format="qcow2")

    def keep(stream: str, line: str) -> None:
        if stream == "job":
            lines.append(line)

    result = asyncio.run(run_job(kit, job, [disk], None, 300, keep, workdir=tmp_path))
    assert result.ok, result.reason + "\n" + "\n".join(result.last_lines)
    s = _sections(lines)
    assert "END" in s
    listed = dict(ln.split("\t") for ln in s["ZFS_LIST"])
    assert listed == {e.name: e.kind.replace("root", "filesystem") for e in edit.entries(pool)}
    release = zprops.release_of(ln.split("\t")[0] for ln in s["ZPOOL_GET"])
    got = {(n, p): (v, src) for n, p, v, src in (ln.split("\t") for ln in s["ZFS_GET"])}
    checked, wrong = 0, []
    for entry in edit.entries(pool):
        for row in edit.rows(pool, entry.name):
            prop = zprops.FS_PROPERTIES.get(row.key)
            if prop is None and not zprops.is_user_property(row.key):
                continue  # mount_point, size, sparse: profile settings, not properties
            if (entry.name, row.key) not in got or row.value is None:
                if row.source not in ("default", "unset"):
                    wrong.append((entry.name, row, "not in zfs get"))
                continue
            value, source = got[(entry.name, row.key)]
            if row.source in ("local", "inherited") and row.value != "auto":
                if not zprops.same_value(row.key, row.value, value, release=release):
                    wrong.append((entry.name, row, value))
            want = {"local": "local", "inherited": f"inherited from {row.origin}"}.get(
                row.source, "default")  # fmt: skip
            if prop is not None and prop.create_only:
                want = "-"  # set-once properties show no source in zfs get
            if row.key == "mountpoint" and row.source == "default" and value != row.value:
                wrong.append((entry.name, row, value))
            if source != want:
                wrong.append((entry.name, row, value, source))
            checked += 1
    assert not wrong, "\n".join(map(str, wrong))
    assert checked > 100
    assert got[("vault/srv/www", "recordsize")] == ("1M", "inherited from vault/srv")
    assert got[("vault/srv/www", "quota")][1] == "default"  # quota is not inherited
    assert got[("vault/srv/www", "canmount")] == ("on", "default")
