"""Disks that boot: the [boot] table, the plan's boot steps, real boots in QEMU.

Boots run under software emulation (TCG) with a timeout each: UEFI +
systemd-boot, BIOS + GRUB, UEFI + GRUB, a negative case (the root's label
changed after the build, so the initramfs cannot find it), and two builds
of the bootable example compared byte for byte.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from testkit import EXAMPLES, processes_matching, run_cli, sha256

from diskwright.core.boot import grub
from diskwright.core.boot.demo import make_demo_tree
from diskwright.core.boot.resolve import boot_setup
from diskwright.core.cpio import Tree, records
from diskwright.core.errors import ProfileErrors, ToolMissing
from diskwright.core.plan import render_script
from diskwright.core.planner import check_profile, make_plan
from diskwright.core.profile import load_profile, parse_profile
from diskwright.core.source import read_source

MARKER = "boot-disk: root reached"
BOOT_TIMEOUT = 240


def _boot_tools_reason() -> str | None:
    if grub.which_mkimage() is None or grub.grub_dir("i386-pc") is None:
        return "GRUB is not installed: " + grub.install_hint("grub-mkimage", "i386-pc")
    if grub.grub_dir("x86_64-efi") is None:
        return "GRUB EFI is not installed: " + grub.install_hint("x86_64-efi")
    if grub.systemd_boot_efi() is None:
        return "systemd-boot-efi is not installed: " + grub.install_hint("systemd-boot")
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86 is not installed"
    return None


@pytest.fixture(scope="session")
def boot_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return make_demo_tree(tmp_path_factory.mktemp("boot") / "boot-root", marker=MARKER)
    except ToolMissing as err:
        pytest.skip(str(err))


@pytest.fixture
def boot_dir(tmp_path: Path, boot_root: Path) -> Path:
    shutil.copy(EXAMPLES / "boot-disk.toml", tmp_path / "boot-disk.toml")
    (tmp_path / "boot-root").symlink_to(boot_root)
    return tmp_path


def _profile(boot_dir: Path, name: str = "boot-disk.toml", **boot: object):  # type: ignore[no-untyped-def]
    p = load_profile(boot_dir / name)
    for k, v in boot.items():
        setattr(p.boot, k, v)
    return p


# ------------------------------------------------------------------ model, plan


def test_boot_table_explains_bad_input() -> None:
    base = {
        "disks": [
            {
                "output": {"path": "x.img"},
                "partitions": [{"role": "root", "filesystem": "ext4", "mount_point": "/"}],
            }
        ]
    }
    with pytest.raises(ProfileErrors) as e:
        parse_profile({**base, "boot": {"loader": "none", "kernel": "/boot/vmlinuz"}})
    assert "boot.kernel" in str(e.value) and "loader" in str(e.value)
    with pytest.raises(ProfileErrors) as e:
        parse_profile({**base, "boot": {"loader": "grub", "cmdline": "root=/dev/sda1 quiet"}})
    assert "boot.cmdline" in str(e.value) and "derived" in str(e.value)
    with pytest.raises(ProfileErrors) as e:
        parse_profile({**base, "boot": {"loader": "lilo"}})
    assert "boot.loader" in str(e.value)


def test_boot_without_esp_names_the_fix(boot_dir: Path) -> None:
    p = load_profile(boot_dir / "boot-disk.toml")
    p.disks[0].partitions = [p.disks[0].partitions[2]]
    errors = check_profile(p, read_source(p))
    text = "\n".join(map(str, errors))
    assert "boot.loader: systemd-boot is a UEFI loader and needs an ESP" in text
    assert "boot.bios" not in text  # no bios-boot partition: BIOS is not asked for


def test_kernel_and_root_found_from_the_tree(boot_dir: Path, boot_root: Path) -> None:
    p = load_profile(boot_dir / "boot-disk.toml")
    s, errors = boot_setup(p, read_source(p))
    assert errors == [] and s is not None
    ver = next(boot_root.glob("boot/vmlinuz-*")).name.removeprefix("vmlinuz-")
    assert s.kernel.dest == f"/vmlinuz-{ver}" and not s.kernel.copy  # the ESP holds /boot
    assert s.initrd is not None and s.initrd.dest == f"/initrd.img-{ver}"
    from diskwright.core.layout import resolve

    root = resolve(p)[2]
    assert s.root == f"root=PARTUUID={root.partuuid.lower()}"  # type: ignore[union-attr]
    assert s.options.startswith(s.root + " rootfstype=ext4 ro console=ttyS0")
    assert s.uefi and s.bios and s.bios_part is not None
    p.boot.root_by = "label"  # type: ignore[assignment]
    s2, _ = boot_setup(p, read_source(p))
    assert s2 is not None and s2.root == "root=LABEL=boot-root"


def test_kernel_outside_the_esp_is_copied_there(boot_dir: Path) -> None:
    p = load_profile(boot_dir / "boot-disk.toml")
    p.disks[0].partitions[1].mount_point = "/efi"  # the ESP no longer receives /boot
    (boot_dir / "boot-root").resolve()
    s, errors = boot_setup(p, read_source(p))
    assert s is not None, errors
    assert s.kernel.copy and s.kernel.dest.startswith("/EFI/diskwright/vmlinuz-")


@pytest.mark.skipif(_boot_tools_reason() is not None, reason=str(_boot_tools_reason()))
def test_plan_shows_every_boot_step(boot_dir: Path) -> None:
    p = load_profile(boot_dir / "boot-disk.toml")
    plan = make_plan(p, read_source(p))
    ids = [s.id for s in plan.steps]
    for want in (
        "boot-sd-boot",
        "boot-loader-conf",
        "boot-bls-entry",
        "boot-grub-cfg",
        "boot-esp-copy",
        "boot-grub-core",
        "boot-grub-bios",
        "boot-check-esp",
        "boot-check-bios",
    ):
        assert want in ids
    assert (
        ids.index("boot-grub-bios") < ids.index("disk0-convert") if "disk0-convert" in ids else True
    )
    script = render_script(plan)
    assert "grub-mkimage -O i386-pc" in script
    assert "diskwright helper grub-bios-install" in script
    assert "options root=PARTUUID=" in script


# ------------------------------------------------------------------ pieces


def test_cpio_is_newc_and_sorted(tmp_path: Path) -> None:
    t = Tree()
    t.file("b/x", b"hello", 0o644)
    t.chardev("dev/console", 5, 1)
    t.symlink("a", "b/x")
    data = b"".join(records(t, 1700000000))
    out = tmp_path / "x"
    out.mkdir()
    r = (
        subprocess.run(["cpio", "-t"], input=data, capture_output=True, check=False)
        if shutil.which("cpio")
        else None
    )
    if r is not None:
        assert r.stdout.decode().split() == ["a", "b", "b/x", "dev", "dev/console"]
    assert data.startswith(b"070701") and data.count(b"TRAILER!!!") == 1
    assert data == b"".join(records(t, 1700000000))


@pytest.mark.skipif(_boot_tools_reason() is not None, reason=str(_boot_tools_reason()))
def test_bios_install_keeps_the_table_and_patches_pointers(tmp_path: Path) -> None:
    disk = tmp_path / "d.raw"
    subprocess.run(["truncate", "-s", "8M", disk], check=True)
    subprocess.run(
        ["sfdisk", "-q", disk],
        input="label: gpt\nstart=2048, size=2048, "
        "type=21686148-6449-6E6F-744E-656564454649\nstart=4096, type=linux\n",
        text=True,
        check=True,
    )
    before = disk.read_bytes()[:4096]
    early = tmp_path / "e.cfg"
    early.write_text("set prefix=(hd0,gpt2)/grub\n")
    core = tmp_path / "core.img"
    d = grub.grub_dir("i386-pc")
    subprocess.run(
        [
            "grub-mkimage",
            "-O",
            "i386-pc",
            "-d",
            str(d),
            "-o",
            core,
            "-c",
            early,
            "-p",
            "/grub",
            *grub.GRUB_MODULES["i386-pc"],
        ],
        check=True,
    )
    grub.bios_install(disk, d / "boot.img", core, 2048, 2048)  # type: ignore[operator]
    after = disk.read_bytes()
    assert after[440:4096] == before[440:4096]  # signature, partition table, GPT untouched
    assert after[:440] != before[:440]
    assert struct.unpack_from("<Q", after, 0x5C)[0] == 2048
    assert struct.unpack_from("<Q", after, 2048 * 512 + 0x1F4)[0] == 2049
    r = subprocess.run(["sfdisk", "-J", disk], capture_output=True, text=True, check=True)
    assert '"start": 2048' in r.stdout and '"start": 4096' in r.stdout
    small = tmp_path / "small.raw"
    small.write_bytes(before + b"\0" * (1 << 20))
    with pytest.raises(Exception, match="bios-boot room holds 10"):
        grub.bios_install(small, d / "boot.img", core, 2048, 10)  # type: ignore[operator]


# ------------------------------------------------------------------ real boots

boots = pytest.mark.skipif(_boot_tools_reason() is not None, reason=str(_boot_tools_reason()))


def _build(boot_dir: Path, profile: str = "boot-disk.toml", *extra: str) -> None:
    r = run_cli("build", profile, *extra, cwd=boot_dir, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def _run(
    boot_dir: Path, firmware: str, profile: str = "boot-disk.toml", expect: str = MARKER
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "run",
        profile,
        "--firmware",
        firmware,
        "--expect",
        expect,
        "--timeout",
        str(BOOT_TIMEOUT),
        cwd=boot_dir,
        timeout=BOOT_TIMEOUT + 60,
    )


@pytest.mark.boot
@boots
def test_boots_with_systemd_boot_uefi_and_grub_bios(boot_dir: Path) -> None:
    _build(boot_dir)
    r = _run(boot_dir, "uefi")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert f"diskwright-init: {MARKER}" in r.stdout
    r = _run(boot_dir, "bios")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "diskwright-initrd: root=PARTUUID=" in r.stdout


@pytest.mark.boot
@boots
def test_boots_with_grub_uefi(boot_dir: Path) -> None:
    text = (boot_dir / "boot-disk.toml").read_text()
    text = text.replace('loader = "systemd-boot"', 'loader = "grub"\nroot_by = "label"')
    text = text.replace('path = "boot-disk.qcow2"', 'path = "grub-disk.qcow2"')
    (boot_dir / "grub-disk.toml").write_text(text)
    _build(boot_dir, "grub-disk.toml")
    r = _run(boot_dir, "uefi", "grub-disk.toml")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "diskwright-initrd: root=LABEL=boot-root" in r.stdout


@pytest.mark.boot
@boots
def test_wrong_root_label_fails_with_the_guests_last_lines(boot_dir: Path) -> None:
    text = (boot_dir / "boot-disk.toml").read_text()
    text = text.replace('cmdline = "console', 'root_by = "label"\ncmdline = "console')
    text = text.replace('format = "qcow2"', 'format = "raw"').replace("boot-disk.qcow2", "bad.raw")
    (boot_dir / "bad.toml").write_text(text)
    _build(boot_dir, "bad.toml")
    # relabel the root filesystem with the real tool, so root=LABEL=boot-root finds nothing
    p = load_profile(boot_dir / "bad.toml")
    from diskwright.core.planner import estimate

    part = estimate(p, read_source(p)).disks[0].parts[2]
    fs = boot_dir / "root.ext4"
    subprocess.run(
        [
            "dd",
            f"if={boot_dir / 'bad.raw'}",
            f"of={fs}",
            "bs=1M",
            f"skip={part.start // (1 << 20)}",
            f"count={part.size // (1 << 20)}",
            "status=none",
        ],
        check=True,
    )
    subprocess.run(["tune2fs", "-L", "other", fs], check=True, capture_output=True)
    subprocess.run(
        [
            "dd",
            f"if={fs}",
            f"of={boot_dir / 'bad.raw'}",
            "bs=1M",
            f"seek={part.start // (1 << 20)}",
            "conv=notrunc",
            "status=none",
        ],
        check=True,
    )
    r = _run(boot_dir, "bios", "bad.toml")
    assert r.returncode == 1
    assert "before 'boot-disk: root reached' appeared" in r.stderr
    assert "root device LABEL=boot-root not found" in r.stderr  # the guest's last lines


@pytest.mark.boot
@boots
def test_two_builds_of_the_bootable_example_are_identical(boot_dir: Path) -> None:
    _build(boot_dir)
    first = sha256(boot_dir / "boot-disk.qcow2")
    (boot_dir / "boot-disk.qcow2").rename(boot_dir / "first.qcow2")
    _build(boot_dir)
    assert sha256(boot_dir / "boot-disk.qcow2") == first
    # and `diskwright plan | sh` (grub-mkimage, mcopy, the MBR patch as printed) gives them too
    (boot_dir / "boot-disk.qcow2").unlink()
    plan = run_cli("plan", "boot-disk.toml", cwd=boot_dir)
    assert plan.returncode == 0, plan.stderr
    r = subprocess.run(["sh", "-s"], input=plan.stdout, text=True, capture_output=True,
                       cwd="/", timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert sha256(boot_dir / "boot-disk.qcow2") == first


ZFS_MARKER = "zfs-boot: root reached"


@pytest.fixture(scope="module")
def zfs_boot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from diskwright.core.zfs.kit import kit_status

    status = kit_status()
    if not status.ready:
        pytest.skip(f"ZFS helper VM unavailable: {status.install_command}")
    folder = tmp_path_factory.mktemp("zfs-root")
    shutil.copy(EXAMPLES / "zfs-root.toml", folder / "zfs-root.toml")
    make_demo_tree(folder / "zfs-boot-root", marker=ZFS_MARKER, zfs=True)
    return folder


@pytest.mark.boot
@pytest.mark.zfs
@boots
def test_zfs_root_boots_from_a_whole_disk_pool(zfs_boot_dir: Path) -> None:
    """examples/zfs-root.toml: GRUB (BIOS) → kernel + ZFS initramfs from the ESP → import tank
    (three datasets, whole disk) → its /sbin/init."""
    r = run_cli("build", "zfs-root.toml", cwd=zfs_boot_dir, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "say whole_disk: 1" in r.stdout + r.stderr
    r = _run(zfs_boot_dir, "bios", "zfs-root.toml", ZFS_MARKER)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "diskwright-initrd: root=ZFS=tank/system/root" in r.stdout


NIX_MARKER = "nixos closure: init reached"


@pytest.fixture(scope="module")
def nixos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chroot store with a NixOS-like system closure: kernel, initrd, init (host kernel)."""
    if shutil.which("nix-store") is None:
        pytest.skip("nix-store is not installed (nix-bin)")
    from make_nix_store import PathSpec, write_paths

    from diskwright.core.boot.demo import host_kernel, initramfs_tree
    from diskwright.core.cpio import write_gzip

    try:
        k = host_kernel()
    except ToolMissing as err:
        pytest.skip(str(err))
    folder = tmp_path_factory.mktemp("nixos")
    work = folder / "work"
    work.mkdir()
    write_gzip(initramfs_tree(k, work=work), work / "initrd", 1)
    busybox = shutil.which("busybox")
    assert busybox
    specs = [
        PathSpec("busybox-1.35", {"bin/busybox": Path(busybox).read_bytes()},
                 executable={"bin/busybox"}),
        PathSpec(f"linux-{k.version}", {"bzImage": k.path.read_bytes()}),
        PathSpec("initrd-linux", {"initrd": (work / "initrd").read_bytes()}),
        PathSpec("nixos-system-demo", {
            "kernel": f"->@linux-{k.version}@/bzImage",
            "initrd": "->@initrd-linux@/initrd",
            "init": "#!@busybox-1.35@/bin/busybox sh\n"
                    f"@busybox-1.35@/bin/busybox echo 'diskwright-init: {NIX_MARKER}'\n"
                    "@busybox-1.35@/bin/busybox poweroff -f\n",
        }, refs=["busybox-1.35", f"linux-{k.version}", "initrd-linux"], executable={"init"}),
    ]  # fmt: skip
    made = write_paths(folder / "store", specs)
    (folder / "result").symlink_to(made["nixos-system-demo"].path)
    (folder / "nixos.toml").write_text(
        (EXAMPLES / "boot-disk.toml").read_text()
        .replace('path = "boot-root"', 'store = "store"\nclosure = ["result"]')
        .replace('mount_point = "/boot"', 'mount_point = "/boot"\nempty = true')
        .replace("boot-disk.qcow2", "nixos.qcow2")
    )  # fmt: skip
    return folder


def test_nixos_closure_entries_point_at_its_kernel_initrd_and_init(nixos_dir: Path) -> None:
    p = load_profile(nixos_dir / "nixos.toml")
    s, errors = boot_setup(p, read_source(p))
    assert s is not None, errors
    system = Path(p.resolve("result")).readlink()
    assert s.init == f"{system}/init" and f"init={system}/init" in s.options
    assert s.kernel.tree_path.startswith("/nix/store/") and s.kernel.copy
    assert s.kernel.dest.startswith("/EFI/nixos/") and s.kernel.dest.endswith("-bzImage.efi")
    assert s.initrd is not None and s.initrd.dest.endswith("-initrd-linux-initrd.efi")


@pytest.mark.boot
@pytest.mark.nix
@boots
def test_nixos_closure_boots_with_systemd_boot(nixos_dir: Path) -> None:
    _build(nixos_dir, "nixos.toml")
    r = _run(nixos_dir, "uefi", "nixos.toml", NIX_MARKER)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr


@pytest.mark.boot
@boots
def test_run_timeout_kills_qemu_and_cleans_up(boot_dir: Path, tmp_path: Path) -> None:
    import time

    _build(boot_dir)
    runs = tmp_path / "runs"
    runs.mkdir()
    t0 = time.monotonic()
    r = run_cli("run", "boot-disk.toml", "--expect", "never printed", "--timeout", "5",
                cwd=boot_dir, timeout=120, env={"TMPDIR": str(runs)})  # fmt: skip
    assert r.returncode == 1 and time.monotonic() - t0 < 60
    assert "'never printed' did not appear within 5 s" in r.stderr
    assert list(runs.iterdir()) == []  # the OVMF VARS copy and its folder are gone
    assert processes_matching(str(boot_dir / "boot-disk.qcow2")) == []


def test_run_explains_a_missing_or_compressed_output(boot_dir: Path) -> None:
    r = run_cli("run", "boot-disk.toml", cwd=boot_dir)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "boot-disk.qcow2 does not exist" in r.stderr and "diskwright build" in r.stderr


def test_boot_problems_name_the_field_and_the_fix(boot_dir: Path, tmp_path: Path) -> None:
    def errors(**boot: object) -> str:
        p = load_profile(boot_dir / "boot-disk.toml")
        for k, v in boot.items():
            setattr(p.boot, k, v)
        return "\n".join(map(str, check_profile(p, read_source(p))))

    text = errors(kernel="/boot/vmlinuz-none")
    assert "boot.kernel: /boot/vmlinuz-none is not a regular file in the source tree" in text
    p = load_profile(boot_dir / "boot-disk.toml")
    p.disks[0].partitions[2].label = None
    p.boot.root_by = "label"  # type: ignore[assignment]
    text = "\n".join(map(str, check_profile(p, read_source(p))))
    assert "boot.root_by: the root partition has no label" in text and "root_by" in text


def test_a_kernel_symlink_out_of_the_tree_is_never_followed(tmp_path: Path) -> None:
    tree = tmp_path / "boot-root"
    (tree / "boot").mkdir(parents=True)
    (tree / "boot/vmlinuz-9.9").symlink_to("/etc/passwd")  # a hostile tree
    shutil.copy(EXAMPLES / "boot-disk.toml", tmp_path / "boot-disk.toml")
    p = load_profile(tmp_path / "boot-disk.toml")
    s, errors = boot_setup(p, read_source(p))
    assert s is None
    assert any(e.field == "boot.kernel" for e in errors), errors
    p.boot.kernel = "/boot/vmlinuz-9.9"
    s, errors = boot_setup(p, read_source(p))
    assert s is None and "not a regular file in the source tree" in str(errors[0])


@pytest.mark.boot
@boots
@pytest.mark.parametrize("root_by", ["auto", "partuuid"])
def test_mbr_disk_boots_grub_from_the_gap_before_the_first_partition(
    boot_dir: Path, root_by: str
) -> None:
    """An SD-card style MBR disk (no bios-boot partition): GRUB's core image in sectors 1…2047.

    root= by label (the default on MBR) and by the MBR PARTUUID (disk signature + number),
    which the demo initramfs reads from the disk as the kernel names it."""
    text = (boot_dir / "boot-disk.toml").read_text()
    text = text.replace('loader = "systemd-boot"', f'loader = "grub"\nroot_by = "{root_by}"')
    text = text.replace('table = "gpt"', 'table = "mbr"').replace("boot-disk.qcow2", "mbr.img")
    text = text.replace('format = "qcow2"', 'format = "raw"')
    text = text.replace('[[disks.partitions]]\nrole = "bios-boot"\nfilesystem = "none"\n'
                        'size = "1MiB"\n\n', "")  # fmt: skip
    (boot_dir / "mbr.toml").write_text(text)
    p = load_profile(boot_dir / "mbr.toml")
    s, errors = boot_setup(p, read_source(p))
    assert s is not None and s.bios and s.bios_part is None, errors
    if root_by == "auto":
        assert s.root == "root=LABEL=boot-root"
    else:
        assert re.fullmatch(r"root=PARTUUID=[0-9a-f]{8}-0[1-4]", s.root), s.root
    _build(boot_dir, "mbr.toml")
    raw = (boot_dir / "mbr.img").read_bytes()[: 2048 * 512]
    assert struct.unpack_from("<Q", raw, 0x5C)[0] == 1 and raw[510:512] == b"\x55\xaa"
    r = _run(boot_dir, "bios", "mbr.toml")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr


# ------------------------------------------------------------------ GRUB without an ESP

ESP_PART = ('[[disks.partitions]]\nrole = "esp"\nfilesystem = "vfat"\nmount_point = "/boot"\n'
            'label = "ESP"\n\n')  # fmt: skip
BIOS_PART = '[[disks.partitions]]\nrole = "bios-boot"\nfilesystem = "none"\nsize = "1MiB"\n\n'


def _no_esp(boot_dir: Path, table: str, name: str = "noesp") -> str:
    """The boot example as a classic BIOS disk: GRUB, no ESP, /boot inside the ext4 root."""
    text = (boot_dir / "boot-disk.toml").read_text()
    assert ESP_PART in text and BIOS_PART in text
    text = text.replace(ESP_PART, "").replace('loader = "systemd-boot"', 'loader = "grub"')
    text = text.replace("boot-disk.qcow2", f"{name}.img").replace('format = "qcow2"',
                                                                  'format = "raw"')
    if table == "mbr":
        text = text.replace('table = "gpt"', 'table = "mbr"').replace(BIOS_PART, "")
    (boot_dir / f"{name}.toml").write_text(text)
    return f"{name}.toml"


@pytest.mark.parametrize("table", ["gpt", "mbr"])
def test_grub_without_an_esp_reads_the_kernel_from_the_root(boot_dir: Path, table: str) -> None:
    """No ESP: grub.cfg travels in the core image's memdisk; the kernel stays in the ext4."""
    p = load_profile(boot_dir / _no_esp(boot_dir, table))
    s, errors = boot_setup(p, read_source(p))
    assert s is not None, errors
    assert s.memdisk and s.bios and not s.uefi and s.grub_fs == "ext2"
    assert s.boot_part.part.filesystem == "ext4" and not s.copies
    assert s.kernel.dest.startswith("/boot/vmlinuz-")  # a path inside the root filesystem
    assert s.find_boot == f"search --no-floppy --fs-uuid --set=root {s.boot_part.fs_uuid}"
    script = render_script(make_plan(p, read_source(p)))
    mkimage = next(ln for ln in script.splitlines() if ln.startswith("grub-mkimage -O i386-pc"))
    assert " -m " in mkimage and " memdisk tar" in mkimage
    assert "mcopy" not in script and "set prefix=(memdisk)/grub" in script


def test_grub_without_an_esp_names_what_it_cannot_do(boot_dir: Path) -> None:
    p = load_profile(boot_dir / _no_esp(boot_dir, "gpt"))
    p.boot.bios = False
    text = "\n".join(map(str, check_profile(p, read_source(p))))
    assert "boot.bios: without an ESP GRUB can only boot through BIOS" in text
    p = load_profile(boot_dir / _no_esp(boot_dir, "gpt"))
    p.disks[0].partitions = [p.disks[0].partitions[1]]  # the bios-boot partition dropped
    text = "\n".join(map(str, check_profile(p, read_source(p))))
    assert "boot.bios: GRUB for BIOS needs a bios-boot partition" in text
    pc = grub.grub_dir("i386-pc")
    if pc is not None and not (pc / "erofs.mod").is_file():  # GRUB < 2.12 reads no erofs
        text = (boot_dir / _no_esp(boot_dir, "mbr")).read_text()
        text = text.replace('filesystem = "ext4"', 'filesystem = "erofs"')
        (boot_dir / "ro.toml").write_text(text)
        p = load_profile(boot_dir / "ro.toml")
        text = "\n".join(map(str, check_profile(p, read_source(p))))
        assert "boot.kernel: GRUB cannot read the kernel /boot/vmlinuz-" in text, text
        assert "(erofs)" in text and "ext4" in text and 'role = "esp"' in text


@pytest.mark.boot
@boots
@pytest.mark.parametrize("table", ["gpt", "mbr"])
def test_grub_without_an_esp_boots_bios(boot_dir: Path, table: str) -> None:
    name = _no_esp(boot_dir, table)
    _build(boot_dir, name)
    first = sha256(boot_dir / "noesp.img")
    r = _run(boot_dir, "bios", name)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    if table == "mbr":
        _build(boot_dir, name, "--force")
        assert sha256(boot_dir / "noesp.img") == first  # memdisk tar and core image reproducible
