"""A tiny bootable tree: the host's Debian kernel, a busybox initramfs and an init that reports.

Used by the bootable examples and the boot tests. The initramfs (a newc cpio
written in Python) loads virtio and ext4 — and, for a ZFS root, OpenZFS —
finds the root the kernel command line names (root=PARTUUID=, LABEL=,
UUID=, /dev/… or ZFS=pool/dataset) without udev, mounts it read-only and
switches to its init. That init prints the line stored in the root
filesystem's /etc/diskwright-boot-marker and powers off, so a boot proves
that loader, kernel, initrd and root filesystem all work together.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..cpio import Tree, write_gzip
from ..errors import BuildFailed, ToolMissing
from ..zfs import kit as zkit

MARKER_FILE = "etc/diskwright-boot-marker"
BASE_MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "crc32c_generic", "ext4")
ZFS_MODULES = ("zfs",)

# The initramfs' /init: busybox sh, no udev.
INITRD_INIT = r"""#!/bin/busybox sh
# /init of diskwright's demo initramfs (core/boot/demo.py).
/bin/busybox mkdir -p /proc /sys /dev /newroot /bin /sbin /usr/bin /usr/sbin /tmp
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
LD_LIBRARY_PATH="$(cat /etc/diskwright/ld-library-path 2>/dev/null)"
export LD_LIBRARY_PATH
echo "diskwright-initrd: started"

fail() {
  echo "diskwright-initrd: $*"
  echo "diskwright-initrd: block devices: $(cd /sys/class/block && echo *)"
  sync
  poweroff -f
  sleep 30
}

while read -r ko; do
  [ -n "$ko" ] && { insmod "$ko" || echo "diskwright-initrd: insmod $ko failed"; }
done </etc/diskwright/modules

root="" fstype="" init=/sbin/init
for w in $(cat /proc/cmdline); do
  case "$w" in
    root=*) root="${w#root=}" ;;
    rootfstype=*) fstype="${w#rootfstype=}" ;;
    init=*) init="${w#init=}" ;;
  esac
done
[ -n "$root" ] || fail "no root= on the kernel command line"
echo "diskwright-initrd: root=$root"

# The PARTUUID the kernel gives partition $2 of disk $1: on GPT (its header at LBA 1) the
# entry's unique GUID (entries at LBA 2, 128 bytes each); on MBR the disk signature (bytes
# 440-443, little-endian) and the partition number, SSSSSSSS-PP.
partuuid_of() {
  if [ "$(dd if="/dev/$1" bs=8 skip=64 count=1 2>/dev/null)" = "EFI PART" ]; then
    dd if="/dev/$1" bs=128 skip=$((8 + $2 - 1)) count=1 2>/dev/null |
      od -An -tx1 -v -j16 -N16 |
      awk '{ printf "%s%s%s%s-%s%s-%s%s-%s%s-%s%s%s%s%s%s\n",
             $4, $3, $2, $1, $6, $5, $8, $7, $9, $10, $11, $12, $13, $14, $15, $16 }'
  else
    dd if="/dev/$1" bs=4 skip=110 count=1 2>/dev/null | od -An -tx1 -v |
      awk -v n="$2" '{ printf "%s%s%s%s-%02x\n", $4, $3, $2, $1, n }'
  fi
}

find_root() {
  case "$root" in
    PARTUUID=*)
      want="$(echo "${root#PARTUUID=}" | tr A-F a-f)"
      for p in /sys/class/block/*; do
        [ -e "$p/partition" ] || continue
        disk="$(basename "$(dirname "$(readlink -f "$p")")")"
        got="$(partuuid_of "$disk" "$(cat "$p/partition")")"
        [ "$got" = "$want" ] && { echo "/dev/${p##*/}"; return; }
      done ;;
    LABEL=*|UUID=*) findfs "$root" 2>/dev/null ;;
    /dev/*) [ -b "$root" ] && echo "$root" ;;
  esac
}

case "$root" in
  ZFS=*)
    ds="${root#ZFS=}"
    pool="${ds%%/*}"
    n=0
    until zpool import -N -d /dev "$pool"; do
      n=$((n + 1))
      [ "$n" -ge 20 ] && fail "cannot import ZFS pool $pool"
      sleep 0.5
    done
    mount -t zfs -o ro,zfsutil "$ds" /newroot 2>/dev/null || mount -t zfs -o ro "$ds" /newroot \
      || fail "cannot mount ZFS dataset $ds"
    ;;
  *)
    n=0
    dev=""
    while [ -z "$dev" ]; do
      dev="$(find_root)"
      [ -n "$dev" ] && break
      n=$((n + 1))
      [ "$n" -ge 50 ] && fail "root device $root not found"
      sleep 0.2
    done
    echo "diskwright-initrd: root device $dev"
    if [ -n "$fstype" ]; then
      mount -t "$fstype" -o ro "$dev" /newroot || fail "cannot mount $dev ($fstype)"
    else
      mount -o ro "$dev" /newroot || fail "cannot mount $dev"
    fi
    ;;
esac
[ -x "/newroot$init" ] || [ -L "/newroot$init" ] || fail "no $init in the root filesystem"
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
umount /sys /proc
exec switch_root /newroot "$init"
"""

# The root filesystem's /sbin/init.
ROOT_INIT = r"""#!/bin/sh
# /sbin/init of diskwright's demo root (core/boot/demo.py): report and power off.
export PATH=/bin:/sbin
mount -t proc proc /proc 2>/dev/null
echo "diskwright-init: $(cat /etc/diskwright-boot-marker)"
sync
poweroff -f
sleep 30
"""


@dataclass(frozen=True)
class HostKernel:
    path: Path
    version: str
    modules_dir: Path


def host_kernel() -> HostKernel:
    """The newest /boot/vmlinuz-* with its /lib/modules folder (Debian's linux-image)."""
    cands = sorted(
        (p for p in Path("/boot").glob("vmlinuz-*") if p.is_file()),
        key=lambda p: zkit._version_key(p.name.removeprefix("vmlinuz-")),
        reverse=True,
    )
    for p in cands:
        ver = p.name.removeprefix("vmlinuz-")
        md = Path("/lib/modules") / ver
        if (md / "modules.dep").is_file():
            return HostKernel(p, ver, md)
    raise ToolMissing(
        "kernel", "no /boot/vmlinuz-* with modules; " + zkit.install_command(["linux-image-amd64"])
    )


def _module_paths(k: HostKernel, names: tuple[str, ...]) -> list[Path]:
    modprobe = zkit.which("modprobe")
    if modprobe is None:
        raise ToolMissing("modprobe", zkit.install_command(["kmod"]))
    argv = [modprobe, "-S", k.version, "-C", "/dev/null", "--show-depends", "-a", *names]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise BuildFailed("boot-demo", "modprobe --show-depends failed", out.stderr.splitlines())
    seen: list[Path] = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "insmod":
            p = Path("/" + parts[1].lstrip("/"))
            if p not in seen:
                seen.append(p)
    return seen


def _add_binary(tree: Tree, src: Path, dest: str, libs: dict[str, Path]) -> None:
    tree.file(dest, src.read_bytes(), 0o755)
    for lib in zkit._libraries(src):
        libs[str(lib)] = lib


def initramfs_tree(k: HostKernel, *, zfs: bool = False, work: Path) -> Tree:
    """The demo initramfs: busybox, modules in load order, the /init above (+ OpenZFS)."""
    bb = zkit.which("busybox")
    if bb is None:
        raise ToolMissing("busybox", zkit.install_command(["busybox-static"]))
    tree = Tree()
    for d in ("proc", "sys", "dev", "newroot", "tmp", "run", "etc/zfs"):
        tree.dir(d)
    tree.chardev("dev/console", 5, 1)
    tree.chardev("dev/null", 1, 3, 0o666)
    tree.file("init", INITRD_INIT.encode(), 0o755)
    tree.symlink("etc/mtab", "/proc/self/mounts")
    tree.file("bin/busybox", Path(bb).read_bytes(), 0o755)
    libs: dict[str, Path] = {}
    names: tuple[str, ...] = BASE_MODULES
    if zfs:
        names = BASE_MODULES + ZFS_MODULES
        for name, dest in zkit.ZFS_TOOLS:
            tool = zkit.which(name)
            if tool is None:
                raise ToolMissing(name, zkit.install_command(["zfsutils-linux"]))
            _add_binary(tree, Path(tool), dest, libs)
    lib_dirs: list[str] = []
    for name, lib in sorted(libs.items()):
        tree.file(name, lib.read_bytes(), 0o755)
        d = str(Path(name).parent)
        if d not in lib_dirs:
            lib_dirs.append(d)
    tree.file("etc/diskwright/ld-library-path", (":".join(lib_dirs) + "\n").encode())
    order: list[str] = []
    for p in _module_paths(k, names):
        try:
            rel = str(p.relative_to(k.modules_dir))
        except ValueError:
            rel = "extra/" + p.name
        rel = re.sub(r"\.ko\.(xz|zst|gz)$", ".ko", rel)
        data = zkit._module_bytes(p)
        if zfs:
            data = zkit._strip_debug(data, work)
        tree.file(f"lib/modules/{k.version}/{rel}", data)
        order.append(f"/lib/modules/{k.version}/{rel}")
    tree.file("etc/diskwright/modules", ("\n".join(order) + "\n").encode())
    return tree


def make_demo_tree(dest: Path, *, marker: str, zfs: bool = False, mtime: int = 1700000000) -> Path:
    """Write the demo root tree to `dest` (replacing it): /boot kernel + initrd, busybox root."""
    k = host_kernel()
    bb = zkit.which("busybox")
    if bb is None:
        raise ToolMissing("busybox", zkit.install_command(["busybox-static"]))
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "boot").mkdir(parents=True)
    shutil.copyfile(k.path, dest / "boot" / f"vmlinuz-{k.version}")
    work = dest / ".work"
    work.mkdir()
    try:
        tree = initramfs_tree(k, zfs=zfs, work=work)
        write_gzip(tree, dest / "boot" / f"initrd.img-{k.version}", mtime)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "nix", "home"):
        (dest / d).mkdir(exist_ok=True)
    shutil.copyfile(bb, dest / "bin" / "busybox")
    (dest / "bin" / "busybox").chmod(0o755)
    for applet in ("sh", "mount", "cat", "echo", "poweroff", "sync", "sleep"):
        (dest / "bin" / applet).symlink_to("busybox")
    (dest / "sbin" / "init").write_text(ROOT_INIT)
    (dest / "sbin" / "init").chmod(0o755)
    (dest / MARKER_FILE).write_text(marker + "\n")
    for p in sorted(dest.rglob("*"), reverse=True):
        os.utime(p, (mtime, mtime), follow_symlinks=False)
    os.utime(dest, (mtime, mtime))
    return dest


__all__ = ["HostKernel", "host_kernel", "initramfs_tree", "make_demo_tree"]
