"""From a profile's `[boot]` table and the scanned tree to concrete boot facts.

Which kernel and initrd (found by Debian's /boot/vmlinuz-* + initrd.img-* or a
NixOS system closure's kernel/initrd/init, or named), which partition the
loader reads them from (the ESP, else the partition holding the kernel), what
must be copied there, and the root= argument derived from the profile —
never typed by hand. Estimate, checks and plan all start from `BootSetup`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import ProfileError
from ..layout import PartInfo, disk_id, resolve
from ..profile import Profile, Role, Table
from ..scan import Scan
from . import grub
from .model import Loader, RootBy

_VMLINUZ = re.compile(r"^vmlinuz-(.+)$")
# The filesystems GRUB reads a kernel from without an ESP, and its module for each.
GRUB_FS = {"ext4": "ext2", "vfat": "fat", "btrfs": "btrfs", "squashfs": "squash4",
           "erofs": "erofs"}  # fmt: skip


def grub_find(info: PartInfo) -> str:
    """GRUB's command that makes `info` its root: by filesystem UUID where the filesystem
    has one, else by the partition's place on the disk GRUB booted from."""
    if info.fs_uuid is not None:  # None where the filesystem has none (squashfs) or a random one
        v = info.fs_uuid.lower()
        if info.part.rules.uuid == "vfat":
            v = f"{v[:4]}-{v[4:]}"  # a FAT volume id the way GRUB prints it
        return f"search --no-floppy --fs-uuid --set=root {v}"
    kind = "msdos" if info.disk.table == Table.mbr else "gpt"
    return f"set root=(hd0,{kind}{info.number})"


@dataclass(frozen=True)
class BootFile:
    """A file the loader reads: where it is in the tree and on this machine, and on the
    boot partition."""

    tree_path: str
    host: str
    size: int
    dest: str  # path on the boot partition, "/vmlinuz-6.1.0-amd64"
    copy: bool  # True: the plan copies it there; False: the partition receives it anyway


@dataclass(frozen=True)
class BootSetup:
    loader: Loader
    uefi: bool  # an EFI loader goes on the ESP
    bios: bool  # GRUB's i386-pc core image goes into the bios-boot partition / MBR gap
    esp: PartInfo | None
    boot_part: PartInfo  # kernel and initrd are read from it: the ESP, else the kernel's own
    bios_part: PartInfo | None  # the bios-boot partition (None: MBR gap)
    bios_disk: int
    kernel: BootFile
    initrd: BootFile | None
    init: str | None
    root: str  # "root=PARTUUID=…"
    options: str  # the whole kernel command line
    find_boot: str = ""  # GRUB's command that makes boot_part its root (search or set root=)
    grub_fs: str = "fat"  # GRUB's module that reads boot_part

    @property
    def memdisk(self) -> bool:
        """No ESP: grub.cfg travels inside GRUB's BIOS core image (a memdisk)."""
        return self.esp is None

    @property
    def copies(self) -> list[BootFile]:
        return [f for f in (self.kernel, self.initrd) if f is not None and f.copy]


def _owner(infos: list[PartInfo], tree_path: str) -> PartInfo | None:
    """The partition whose tree holds `tree_path` (the deepest subtree containing it)."""
    p = PurePosixPath(tree_path)
    best: PartInfo | None = None
    for info in infos:
        if info.subtree is None:
            continue
        s = PurePosixPath(info.subtree)
        if s == p or s in p.parents:
            if best is None or len(s.parts) > len(PurePosixPath(best.subtree or "/").parts):
                best = info
    return best


def _host_file(profile: Profile, scan: Scan | None, tree_path: str) -> Path | None:
    """The regular file behind a tree path, never through a symlink out of the source."""
    if scan is not None and scan.closure is not None and tree_path.startswith("/nix/store/"):
        closure = scan.closure
        store = closure.store_dir
        cur = tree_path
        for _ in range(8):  # store symlinks point at other store paths: follow inside the store
            host = closure.physical(cur)
            try:
                if host.is_symlink():
                    target = os.readlink(host)
                    nxt = (
                        target
                        if target.startswith("/")
                        else str(PurePosixPath(cur).parent / target)
                    )
                    nxt = os.path.normpath(nxt)
                    if not nxt.startswith("/nix/store/"):
                        return None
                    cur = nxt
                    continue
                if host.is_file() and str(store) in str(host):
                    return host
            except OSError:
                return None
            return None
        return None
    root = profile.source_root()
    if root is None:
        return None
    host = root / tree_path.lstrip("/")
    try:
        real = host.resolve()
        base = root.resolve()
    except OSError:
        return None
    if base not in real.parents or not real.is_file():
        return None
    return real


def _store_resolve(scan: Scan, link: str) -> str | None:
    """Tree path a closure symlink (e.g. a system's `kernel`) finally names."""
    assert scan.closure is not None
    cur = link
    for _ in range(8):
        host = scan.closure.physical(cur)
        if not host.is_symlink():
            return cur if host.exists() else None
        target = os.readlink(host)
        cur = os.path.normpath(
            target if target.startswith("/") else str(PurePosixPath(cur).parent / target)
        )
        if not cur.startswith("/nix/store/"):
            return None
    return None


@dataclass(frozen=True)
class Found:
    kernel: str | None
    initrd: str | None
    init: str | None
    how: str


def find_kernel(profile: Profile, scan: Scan | None) -> Found:
    """Debian's /boot layout first, then a NixOS system closure (kernel, initrd, init)."""
    root = profile.source_root()
    if root is not None and scan is not None:
        names = scan.top_level("/boot") if scan.has_dir("/boot") else []
        kernels = [
            n for n in names if _VMLINUZ.match(n) and _host_file(profile, scan, f"/boot/{n}")
        ]
        if kernels:
            from ..zfs.kit import _version_key  # here: kit pulls gzip/lzma/cpio into every plan

            best = max(kernels, key=lambda n: _version_key(_VMLINUZ.match(n).group(1)))  # type: ignore[union-attr]
            ver = _VMLINUZ.match(best).group(1)  # type: ignore[union-attr]
            initrd = f"/boot/initrd.img-{ver}"
            has_initrd = f"initrd.img-{ver}" in names and _host_file(profile, scan, initrd)
            return Found(f"/boot/{best}", initrd if has_initrd else None, None, "debian")
    if scan is not None and scan.closure is not None:
        for r in scan.closure.roots:
            host = scan.closure.physical(r)
            if (host / "kernel").is_symlink() or (host / "kernel").is_file():
                if not ((host / "init").exists() or (host / "init").is_symlink()):
                    continue
                kernel = _store_resolve(scan, f"{r}/kernel")
                nix_initrd = (
                    _store_resolve(scan, f"{r}/initrd")
                    if os.path.lexists(host / "initrd")
                    else None
                )
                return Found(kernel, nix_initrd, f"{r}/init", "nixos")
    return Found(None, None, None, "")


def _dest_for(tree_path: str) -> str:
    """Where a copied kernel/initrd goes on the ESP; NixOS' systemd-boot names for store paths."""
    p = PurePosixPath(tree_path)
    if tree_path.startswith("/nix/store/") and len(p.parts) >= 5:
        return f"/EFI/nixos/{p.parts[3]}-{'-'.join(p.parts[4:])}.efi"
    return f"/EFI/diskwright/{p.name}"


def _root_arg(profile: Profile, root: PartInfo, by: RootBy) -> tuple[str | None, str]:
    """(root=… argument or None, why not) for the partition that receives "/"."""
    part = root.part
    pool = getattr(part, "zfs", None) if part.filesystem == "zfs" else None
    if pool is not None:
        for m in pool.mounts():
            if m.path == "/":
                return f"root=ZFS={m.dataset}", ""
        if part.mount_point == "/":
            return f"root=ZFS={pool.pool}", ""
        return None, "no dataset of the pool is mounted at /"
    gpt = root.disk.table in (Table.gpt, Table.hybrid)
    if by == RootBy.auto:
        by = RootBy.partuuid if gpt else (RootBy.label if part.label else RootBy.uuid)
    if by == RootBy.partuuid:
        if gpt:
            assert root.partuuid
            return f"root=PARTUUID={root.partuuid.lower()}", ""
        if root.disk.table == Table.mbr:
            ident = disk_id(profile, root.disk_index).removeprefix("0x").lower()
            return f"root=PARTUUID={ident}-{root.number:02x}", ""
        return None, "a bare filesystem image has no partition"
    if by == RootBy.label:
        if not part.label:
            return None, "the root partition has no label"
        if any(c.isspace() for c in part.label):
            return None, "the root partition's label has a space, which root= cannot hold"
        return f"root=LABEL={part.label}", ""
    if root.fs_uuid is None:
        return None, f"{part.filesystem} has no filesystem UUID"
    return f"root=UUID={root.fs_uuid}", ""


def boot_setup(profile: Profile, scan: Scan | None) -> tuple[BootSetup | None, list[ProfileError]]:
    """What the boot steps do, or the profile errors that stop them (loader none → None, [])."""
    boot = profile.boot
    if boot.loader == Loader.none:
        return None, []
    src = profile.source_root()
    if src is not None and not src.is_dir():
        return None, []  # source.path's own error says it all; nothing to find a kernel in
    errors: list[ProfileError] = []
    infos = resolve(profile)
    esp = next((i for i in infos if i.part.role == Role.esp), None)
    bios_part = next((i for i in infos if i.part.role == Role.bios_boot), None)
    if boot.loader == Loader.systemd_boot and esp is None:
        errors.append(
            ProfileError(
                "boot.loader",
                "systemd-boot is a UEFI loader and needs an ESP",
                'add a partition with role = "esp" and filesystem = "vfat", or use loader = "grub"',
            )
        )
    bios_disk = bios_part.disk_index if bios_part else (esp.disk_index if esp else 0)
    bios = (
        boot.bios
        if boot.bios is not None
        else (
            bios_part is not None
            or (boot.loader == Loader.grub and profile.disks[bios_disk].table == Table.mbr)
            or (boot.loader == Loader.grub and esp is None)  # without an ESP GRUB is BIOS only
        )
    )
    if boot.loader == Loader.grub and esp is None and boot.bios is False:
        errors.append(
            ProfileError(
                "boot.bios",
                "without an ESP GRUB can only boot through BIOS, and bios = false",
                'remove bios = false, or add a partition with role = "esp", filesystem = "vfat"',
            )
        )
    if bios and bios_part is None:
        disk = profile.disks[bios_disk]
        if disk.table != Table.mbr:
            errors.append(
                ProfileError(
                    "boot.bios",
                    f"GRUB for BIOS needs a bios-boot partition on the {disk.table.value} disk "
                    f"{disk.name!r}",
                    'add a partition with role = "bios-boot", filesystem = "none", size = "1MiB" '
                    "(or set bios = false)",
                )
            )
    uefi = esp is not None
    found = find_kernel(profile, scan)
    kernel_path = boot.kernel or found.kernel
    initrd_path = boot.initrd or (found.initrd if boot.kernel is None else None)
    init = boot.init or (found.init if boot.kernel is None else None)
    if kernel_path is None:
        errors.append(
            ProfileError(
                "boot.kernel",
                "no kernel found in the source (no /boot/vmlinuz-*, no NixOS system "
                "closure with kernel and init)",
                'name it, e.g. kernel = "/boot/vmlinuz-6.1.0-amd64", or put one in the tree',
            )
        )
    root_info = next((i for i in infos if i.subtree == "/"), None)
    root_arg: str | None = None
    if root_info is None:
        errors.append(
            ProfileError(
                "boot.root_by",
                "no partition receives the tree's / (nothing to boot into)",
                'give the root partition mount_point = "/"',
            )
        )
    else:
        root_arg, why = _root_arg(profile, root_info, boot.root_by)
        if root_arg is None:
            errors.append(
                ProfileError(
                    "boot.root_by",
                    f"{why}, so root= cannot name {root_info.where}",
                    "choose another root_by (partuuid, label or uuid) or label the partition",
                )
            )
    files: dict[str, BootFile] = {}
    # Without an ESP GRUB reads kernel and initrd where the tree puts them; grub.cfg goes
    # into its core image.
    boot_part = esp
    if esp is None and boot.loader == Loader.grub and kernel_path is not None:
        boot_part = _owner(infos, kernel_path)
        fs = boot_part.part.filesystem if boot_part is not None else None
        module = GRUB_FS.get(fs or "")
        pc = grub.grub_dir("i386-pc")
        if (
            boot_part is None
            or module is None
            or (pc is not None and not (pc / f"{module}.mod").is_file())
        ):
            where = f"{boot_part.where} ({fs})" if boot_part is not None else "no partition"
            readable = ", ".join(
                k for k, m in GRUB_FS.items() if pc is None or (pc / f"{m}.mod").is_file()
            )
            errors.append(
                ProfileError(
                    "boot.kernel",
                    f"GRUB cannot read the kernel {kernel_path} from {where}: without an ESP "
                    f"it reads {readable} here",
                    'add a partition with role = "esp", filesystem = "vfat" for kernel and '
                    "grub.cfg, or put /boot on one of those",
                )
            )
            boot_part = None
        elif (
            initrd_path is not None
            and getattr(_owner(infos, initrd_path), "key", None) != boot_part.key
        ):
            errors.append(
                ProfileError(
                    "boot.initrd",
                    f"the initrd {initrd_path} is on another partition than the kernel "
                    f"({boot_part.where})",
                    "keep kernel and initrd in one folder, or add an ESP",
                )
            )
            boot_part = None
    if kernel_path is not None and boot_part is not None:
        for name, path in (("kernel", kernel_path), ("initrd", initrd_path)):
            if path is None:
                continue
            host = _host_file(profile, scan, path)
            if host is None:
                if scan is not None:
                    errors.append(
                        ProfileError(
                            f"boot.{name}",
                            f"{path} is not a regular file in the source tree",
                            "name a file that exists in the tree (symlinks may not lead out of it)",
                        )
                    )
                continue
            owner = _owner(infos, path)
            size = host.stat().st_size
            if owner is not None and owner.key == boot_part.key:
                assert boot_part.subtree is not None
                rel = "/" + str(PurePosixPath(path).relative_to(boot_part.subtree))
                files[name] = BootFile(path, str(host), size, rel.replace("//", "/"), False)
            else:
                files[name] = BootFile(path, str(host), size, _dest_for(path), True)
    if errors or boot_part is None or "kernel" not in files or root_arg is None:
        return None, errors
    assert root_info is not None
    words = [root_arg]
    fstype = root_info.part.rules.fstype if root_info.part.rules.contents else None
    if fstype:
        words.append(f"rootfstype={fstype}")
    words.append("ro")
    if init:
        words.append(f"init={init}")
    words += boot.cmdline.split()
    return BootSetup(
        loader=boot.loader,
        uefi=uefi,
        bios=bios,
        esp=esp,
        boot_part=boot_part,
        bios_part=bios_part,
        bios_disk=bios_disk,
        kernel=files["kernel"],
        initrd=files.get("initrd"),
        init=init,
        root=root_arg,
        options=" ".join(words),
        find_boot=grub_find(boot_part),
        grub_fs=GRUB_FS.get(boot_part.part.filesystem, "fat"),
    ), []


__all__ = ["BootFile", "BootSetup", "Found", "boot_setup", "find_kernel"]
