"""GRUB and systemd-boot files on this machine, and GRUB's BIOS install done on a disk file.

`bios_install` does what `grub-bios-setup` does for a GPT disk with a
bios-boot partition (or an MBR disk's gap before the first partition), on
an image file without root or loop devices: the core image goes into the
partition, boot.img's first 440 bytes into the MBR — the partition table
and disk signature after byte 440 stay untouched — and the two sector
pointers are patched: boot.img's kernel sector (0x5c) names the core image's
first sector, and the blocklist at the end of that sector (diskboot.img,
0x1f4) names where the rest starts. grub-mkimage already stores the length.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from ..errors import BuildFailed

SECTOR = 512
MBR_CODE = 440  # boot code; the disk signature and partition table follow
BPB = (0x03, 0x5A)  # a possible DOS BPB, kept from the disk as grub-bios-setup does
KERNEL_SECTOR = 0x5C  # boot.img: LBA of the core image's first sector (8 bytes)
BOOT_DRIVE = 0x64  # 0xff = use the drive the BIOS booted from
DRIVE_CHECK = 0x66  # a jmp grub-bios-setup replaces with two nops for hard disks
BLOCKLIST = SECTOR - 12  # diskboot.img: {start u64, len u16, segment u16}
CORE_MAX = 0x78000 - 0x8000  # what boot.img can load below 480 KiB

GRUB_DIRS = ("/usr/lib/grub", "/usr/share/grub2", "/usr/lib/grub2", "/usr/share/grub")
SYSTEMD_BOOT = (
    "/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
    "/usr/share/systemd/bootctl/systemd-bootx64.efi",
)
GRUB_MODULES_COMMON = (
    "part_gpt", "part_msdos", "fat", "ext2", "search", "search_fs_uuid", "normal", "linux",
    "configfile", "echo", "test", "serial", "terminal",
)  # fmt: skip
GRUB_MODULES = {
    "i386-pc": ("biosdisk", *GRUB_MODULES_COMMON),
    "x86_64-efi": (*GRUB_MODULES_COMMON, "efi_gop"),
}
PACKAGES = {
    "i386-pc": "grub-pc-bin",
    "x86_64-efi": "grub-efi-amd64-bin",
    "grub-mkimage": "grub-common",
    "systemd-boot": "systemd-boot-efi",
    "ovmf": "ovmf",
}


def install_hint(*what: str) -> str:
    pkgs = " ".join(sorted({PACKAGES[w] for w in what}))
    return (
        f"install it with: sudo apt-get install --no-install-recommends {pkgs} (Debian/Ubuntu; "
        "only these file packages — never grub-pc, grub-efi-amd64 or systemd-boot, which "
        "would configure this machine's own boot)"
    )


def grub_dir(platform: str) -> Path | None:
    """GRUB's module folder for `platform` (i386-pc, x86_64-efi); DISKWRIGHT_GRUB_DIR overrides."""
    base = os.environ.get("DISKWRIGHT_GRUB_DIR")
    for d in ([base] if base else []) + list(GRUB_DIRS):
        p = Path(d) / platform
        if (p / "moddep.lst").is_file():
            return p
    return None


def which_mkimage() -> str | None:
    from ..tools import which

    return which("grub-mkimage")


def systemd_boot_efi() -> Path | None:
    env = os.environ.get("DISKWRIGHT_SYSTEMD_BOOT")
    for p in ([env] if env else []) + list(SYSTEMD_BOOT):
        if Path(p).is_file():
            return Path(p)
    return None


def module_bytes(platform: str) -> int:
    """About how big a core image with our modules gets (uncompressed, the EFI case)."""
    d = grub_dir(platform)
    if d is None:
        return 1 << 20
    total = (d / "kernel.img").stat().st_size if (d / "kernel.img").is_file() else 0
    deps: set[str] = set(GRUB_MODULES[platform])
    lines = (d / "moddep.lst").read_text().splitlines()
    table = {ln.split(":")[0]: ln.split(":")[1].split() for ln in lines if ":" in ln}
    todo = list(deps)
    while todo:
        for dep in table.get(todo.pop(), []):
            if dep not in deps:
                deps.add(dep)
                todo.append(dep)
    for m in deps:
        f = d / f"{m}.mod"
        if f.is_file():
            total += f.stat().st_size
    return total + 64 * 1024


def bios_install(disk: Path, boot_img: Path, core_img: Path, start: int, room: int) -> None:
    """Put GRUB's BIOS boot code on `disk`: core image at sector `start` (`room` sectors)."""
    boot = boot_img.read_bytes()
    core = bytearray(core_img.read_bytes())
    if len(boot) != SECTOR or boot[510:512] != b"\x55\xaa":
        raise BuildFailed("grub-bios", f"{boot_img} is not a 512-byte GRUB boot.img")
    nsec = -(-len(core) // SECTOR)
    if nsec > room:
        raise BuildFailed(
            "grub-bios",
            f"the core image needs {nsec} sectors but the bios-boot room holds {room}; "
            "make the bios-boot partition bigger (1MiB is plenty)",
        )
    if len(core) > CORE_MAX:
        raise BuildFailed("grub-bios", f"the core image ({len(core)} bytes) is too big to load")
    (length, segment) = struct.unpack_from("<HH", core, BLOCKLIST + 8)
    if length != nsec - 1 or segment != 0x820:
        raise BuildFailed(
            "grub-bios",
            f"{core_img} does not look like grub-mkimage -O i386-pc output "
            f"(blocklist length {length}, segment {segment:#x})",
        )
    struct.pack_into("<Q", core, BLOCKLIST, start + 1)
    core += b"\0" * (nsec * SECTOR - len(core))
    with disk.open("r+b") as f:
        mbr = bytearray(f.read(SECTOR))
        if len(mbr) != SECTOR or mbr[510:512] != b"\x55\xaa":
            raise BuildFailed("grub-bios", f"{disk} has no partition table (no 55 aa signature)")
        code = bytearray(boot[:MBR_CODE])
        code[BPB[0] : BPB[1]] = mbr[BPB[0] : BPB[1]]
        struct.pack_into("<Q", code, KERNEL_SECTOR, start)
        code[BOOT_DRIVE] = 0xFF
        code[DRIVE_CHECK : DRIVE_CHECK + 2] = b"\x90\x90"
        f.seek(start * SECTOR)
        f.write(core)
        f.seek(0)
        f.write(code)
    check_bios(disk, core_img, start)


def check_bios(disk: Path, core_img: Path, start: int) -> None:
    """Read the MBR and core image back: pointers, signature, bytes."""
    core = core_img.read_bytes()
    with disk.open("rb") as f:
        mbr = f.read(SECTOR)
        f.seek(start * SECTOR)
        on_disk = f.read(len(core))
    (kernel_sector,) = struct.unpack_from("<Q", mbr, KERNEL_SECTOR)
    (first,) = struct.unpack_from("<Q", on_disk, BLOCKLIST)
    problems = []
    if mbr[510:512] != b"\x55\xaa":
        problems.append("the MBR signature is gone")
    if kernel_sector != start:
        problems.append(f"boot.img points at sector {kernel_sector}, not {start}")
    if first != start + 1:
        problems.append(f"the blocklist starts at {first}, not {start + 1}")
    if on_disk[SECTOR:] != core[SECTOR:]:
        problems.append("the core image on the disk differs from grub-mkimage's")
    if problems:
        raise BuildFailed("grub-bios", "; ".join(problems))


__all__ = [
    "bios_install",
    "bios_main",
    "check_bios",
    "grub_dir",
    "install_hint",
    "systemd_boot_efi",
]


def bios_main(cmd: str, args: list[str]) -> int:
    """`diskwright helper grub-bios-install DISK BOOT_IMG CORE_IMG START ROOM` (or -check)."""
    import sys

    try:
        if cmd == "grub-bios-install" and len(args) == 5:
            bios_install(Path(args[0]), Path(args[1]), Path(args[2]), int(args[3]), int(args[4]))
            print(f"GRUB boot code in the MBR of {args[0]}, core image at sector {args[3]}")
            return 0
        if cmd == "grub-bios-check" and len(args) == 3:
            check_bios(Path(args[0]), Path(args[1]), int(args[2]))
            print(f"{args[0]}: MBR boot code and core image at sector {args[2]} as planned")
            return 0
    except (OSError, ValueError, BuildFailed) as err:
        print(f"helper {cmd}: {err}", file=sys.stderr)
        return 1
    print(f"helper {cmd}: wrong arguments: {' '.join(args)}", file=sys.stderr)
    return 2
