"""Assemble and cache the ZFS helper-VM kit (kernel + initramfs) from host packages.

Why a kit: building a pool needs the real OpenZFS kernel module, which a
rootless build cannot load on the host. So we boot the distribution kernel
that DKMS built zfs.ko for, with a tiny initramfs holding busybox, the ZFS
userland and the modules, and an `/init` that runs exactly one job script.

The initramfs is written as a newc cpio by this module (not by `cpio`), so
it can hold a `/dev/console` node without root, entries are sorted and
mtimes clamped: the same inputs give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..cpio import Tree, write_gzip
from ..errors import BuildFailed, ToolMissing

# Bump when the layout of the initramfs changes in a way the init hash misses.
KIT_FORMAT = 4  # 2: systemd-udevd for whole-disk pools; 3: its rules in /usr/lib/udev; 4: zvol

# Debian packages that live in the `contrib` component.
CONTRIB_PACKAGES = frozenset({"zfs-dkms", "zfsutils-linux"})
ENABLE_CONTRIB = (
    "sudo sed -i 's/^Components: main$/Components: main contrib/' "
    "/etc/apt/sources.list.d/debian.sources"
)

# ZFS userland that goes into the VM: (name, path inside the initramfs).
ZFS_TOOLS = (
    ("zpool", "usr/sbin/zpool"),
    ("zfs", "usr/sbin/zfs"),
    ("zdb", "usr/sbin/zdb"),
    ("mount.zfs", "sbin/mount.zfs"),
)
VM_MODULES = ("zfs", "virtio_pci", "virtio_blk")
# udev in the VM: `zpool create` on a whole disk waits until udev reports the
# partition it wrote (libzfs asks libudev), so a whole-disk pool needs udevd.
# Debian ships udevadm in `udev`, which a minimal root (a container, a fresh
# debootstrap) lacks; without it every whole-disk `zpool create` fails with
# "failed to detect device partitions on '/dev/vdX1': 19", so it is required.
UDEVADM = "udevadm"  # multi-call: systemd-udevd is a link to it
UDEV_PACKAGE = "udev"
UDEV_RULES = ("50-udev-default.rules", "60-block.rules", "60-persistent-storage.rules")
UDEV_RULE_DIRS = (Path("/usr/lib/udev/rules.d"), Path("/lib/udev/rules.d"))
# Where udevd reads its rules depends on how it was built: systemd 252 (Debian
# 12) reads /lib/udev/rules.d, systemd 257 (Debian 13, which dropped split-usr)
# only /usr/lib/udev/rules.d. A rule in the wrong one is silently not there:
# udevd 257 then writes an empty database entry for every device (no links, no
# ID_* properties), and zpool create's wait for the links of the partition it
# made ends in ENODEV. So the guest is merged-/usr like both hosts: the rules
# live in /usr/lib/udev and /lib/udev is a link to it.
UDEV_DIR = "usr/lib/udev"
# OpenZFS's own rule for what a pool's volumes look like on a real system
# (/dev/zvol/POOL/VOL, made by its zvol_id helper), from zfsutils-linux like
# zpool itself: taken with the helper where the host has both.
ZFS_UDEV_RULES = (("60-zvol.rules", "zvol_id"),)
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The guest's /init. It never changes per host: host specifics (module list,
# library path) are data files next to it, so its hash is a stable cache key.
INIT_SCRIPT = r"""#!/bin/busybox sh
# /init of diskwright's ZFS helper VM (written by core/zfs/kit.py).
# Runs /job/job.sh from the disk with serial "job", reports its exit code on
# ttyS1 as DISKWRIGHT-JOB-EXIT=<rc> and powers off. Any failure before that
# prints DISKWRIGHT-INIT-ERROR=<why> on the console and powers off too.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /mnt /job /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/disk/by-id /dev/pts /dev/shm
ln -sf /proc/self/fd /dev/fd
LD_LIBRARY_PATH="$(cat /etc/diskwright/ld-library-path)"
export LD_LIBRARY_PATH

fail() {
  echo "DISKWRIGHT-INIT-ERROR=$*"
  sync
  poweroff -f
  sleep 30
  exit 1
}

cmdline=" $(cat /proc/cmdline) "
echo "diskwright-init: booted"
case "$cmdline" in
  *" diskwright.probe=1 "*) echo "DISKWRIGHT-PROBE-OK"; poweroff -f; sleep 30; exit 1 ;;
esac

while read -r ko; do
  insmod "$ko" || fail "insmod $ko failed"
done < /etc/diskwright/modules
[ -e /dev/zfs ] || fail "no /dev/zfs after loading the zfs module"

# No udev here: wait for the disks, then make the by-id links ourselves.
want=1
for w in $cmdline; do
  case "$w" in diskwright.disks=*) want="${w#diskwright.disks=}" ;; esac
done
n=0
while :; do
  have=0
  for b in /sys/block/vd*; do [ -e "$b/serial" ] && have=$((have + 1)); done
  [ "$have" -ge "$want" ] && break
  n=$((n + 1))
  [ "$n" -ge 200 ] && fail "saw $have of $want virtio disks after 20 s"
  sleep 0.1
done
for b in /sys/block/vd*; do
  d="${b##*/}"
  s="$(cat "$b/serial")"
  [ -n "$s" ] || continue
  ln -sf "../../$d" "/dev/disk/by-id/virtio-$s"
  for p in "$b/$d"*; do
    [ -e "$p/partition" ] || continue
    ln -sf "../../${p##*/}" "/dev/disk/by-id/virtio-$s-part$(cat "$p/partition")"
  done
done
echo "diskwright-init: disks: $(cd /dev/disk/by-id && echo *)"

tar -xf /dev/disk/by-id/virtio-job -C /job || fail "cannot unpack the job tar"
[ -f /job/job.sh ] || fail "the job tar holds no job.sh"
stty -F /dev/ttyS1 raw -echo 115200 2>/dev/null
echo "diskwright-init: job start"
cd /job
sh /job/job.sh </dev/null >/dev/ttyS1 2>&1
rc=$?
cd /
sync
echo "DISKWRIGHT-JOB-EXIT=$rc" >/dev/ttyS1
echo "diskwright-init: job exit $rc"
sync
poweroff -f
sleep 30
"""


@dataclass(frozen=True)
class Kit:
    """A ready helper-VM kit: what qemu needs for `-kernel` and `-initrd`."""

    kernel: Path
    initramfs: Path
    kernel_version: str
    zfs_version: str


@dataclass(frozen=True)
class KitStatus:
    """What `diskwright doctor` reports about the ZFS helper VM."""

    ready: bool  # a kit is cached, or everything needed to build one is installed
    cached: Kit | None
    kernel_version: str | None
    zfs_version: str | None
    missing: list[str] = field(default_factory=list)  # parts, in words
    packages: list[str] = field(default_factory=list)  # Debian packages providing them
    install_command: str | None = None  # exact command for Debian/Ubuntu

    @property
    def summary(self) -> str:
        if self.cached:
            return f"ready (kernel {self.kernel_version}, zfs {self.zfs_version}, cached)"
        if self.ready:
            return f"buildable (kernel {self.kernel_version}, zfs {self.zfs_version})"
        return "missing: " + ", ".join(self.missing)


@dataclass(frozen=True)
class _Sources:
    """Everything on the host the kit is made from."""

    kernel: Path
    kernel_version: str
    modules_dir: Path
    zfs_ko: Path
    zfs_version: str


# ---------------------------------------------------------------- host lookup


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "diskwright" / "zfs-kit"


def which(tool: str) -> str | None:
    """`shutil.which` that also looks in sbin dirs, which a user's PATH may lack."""
    path = os.environ.get("PATH", "")
    return shutil.which(tool, path=f"{path}:{SBIN_PATH}" if path else SBIN_PATH)


def install_command(packages: Iterable[str]) -> str:
    pkgs = sorted(set(packages))
    apt = f"sudo apt-get update && sudo apt-get install -y --no-install-recommends {' '.join(pkgs)}"
    if CONTRIB_PACKAGES & set(pkgs):
        return f"{ENABLE_CONTRIB} && {apt}"
    return apt


def _bzimage_version(path: Path) -> str | None:
    """Read the version string from an x86 bzImage setup header (no tools needed)."""
    try:
        with path.open("rb") as f:
            head = f.read(0x4000)
    except OSError:
        return None
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        return None
    (ptr,) = struct.unpack_from("<H", head, 0x20E)
    start = ptr + 0x200
    if ptr == 0 or start >= len(head):
        return None
    raw = head[start : head.find(b"\0", start)]
    ver = raw.decode("ascii", "replace").split(" ", 1)[0]
    return ver or None


def _find_zfs_ko(modules_dir: Path) -> Path | None:
    preferred = modules_dir / "updates" / "dkms"
    for d in (preferred, modules_dir):
        if not d.is_dir():
            continue
        hits = sorted(
            p for p in d.rglob("zfs.ko*") if re.fullmatch(r"zfs\.ko(\.(xz|zst|gz))?", p.name)
        )
        if hits:
            return hits[0]
    return None


def _version_key(ver: str) -> list[tuple[int, int | str]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+~]", ver)]


def _zfs_module_version(ko: Path) -> str:
    modinfo = which("modinfo")
    if modinfo:
        out = subprocess.run(
            [modinfo, "-F", "version", str(ko)], capture_output=True, text=True, check=False
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().splitlines()[0]
    # Fall back on the .modinfo strings of an uncompressed module.
    if ko.suffix == ".ko":
        m = re.search(rb"\0version=([^\0]+)\0", ko.read_bytes())
        if m:
            return m.group(1).decode("ascii", "replace")
    return "unknown"


def find_sources(kernel: Path | None = None, modules_dir: Path | None = None) -> _Sources:
    """Pick the kernel that has a zfs.ko; overrides are for NixOS/Ubuntu layouts."""
    if modules_dir is not None:
        modules_dir = Path(modules_dir)
        if not modules_dir.is_dir():
            raise ToolMissing("zfs.ko", f"modules directory {modules_dir} does not exist")
        version = modules_dir.name
        if kernel is None:
            kernel = Path("/boot") / f"vmlinuz-{version}"
            if not kernel.is_file():
                raise ToolMissing(
                    "kernel", f"no {kernel}; pass the kernel image for modules {modules_dir}"
                )
    elif kernel is not None:
        version = _bzimage_version(Path(kernel)) or Path(kernel).name.removeprefix("vmlinuz-")
        modules_dir = Path("/lib/modules") / version
    else:
        candidates = sorted(
            (p for p in Path("/boot").glob("vmlinuz-*") if p.is_file()),
            key=lambda p: _version_key(p.name.removeprefix("vmlinuz-")),
            reverse=True,
        )
        if not candidates:
            raise ToolMissing(
                "kernel", "no /boot/vmlinuz-*; " + install_command(["linux-image-amd64"])
            )
        for cand in candidates:
            ver = cand.name.removeprefix("vmlinuz-")
            if _find_zfs_ko(Path("/lib/modules") / ver):
                kernel, version, modules_dir = cand, ver, Path("/lib/modules") / ver
                break
        else:
            vers = ", ".join(c.name.removeprefix("vmlinuz-") for c in candidates)
            raise ToolMissing(
                "zfs.ko",
                f"no zfs module for any installed kernel ({vers}); "
                + install_command(["zfs-dkms", "linux-headers-amd64", "dkms", "build-essential"]),
            )
    kernel = Path(kernel)
    if not kernel.is_file():
        raise ToolMissing("kernel", f"kernel image {kernel} does not exist")
    zfs_ko = _find_zfs_ko(modules_dir)
    if zfs_ko is None:
        raise ToolMissing(
            "zfs.ko",
            f"no zfs.ko under {modules_dir}; "
            + install_command(["zfs-dkms", "linux-headers-amd64", "dkms", "build-essential"]),
        )
    return _Sources(kernel, version, modules_dir, zfs_ko, _zfs_module_version(zfs_ko))


def _tool_paths() -> dict[str, Path]:
    """Host paths of busybox and the ZFS userland, or ToolMissing."""
    found: dict[str, Path] = {}
    bb = which("busybox")
    if bb is None:
        raise ToolMissing("busybox", install_command(["busybox-static"]))
    found["busybox"] = Path(bb)
    for name, _ in ZFS_TOOLS:
        p = which(name)
        if p is None:
            raise ToolMissing(name, install_command(["zfsutils-linux"]))
        found[name] = Path(p)
    udevadm = which(UDEVADM)
    if udevadm is None:
        raise ToolMissing(UDEVADM, install_command([UDEV_PACKAGE]))
    found[UDEVADM] = Path(udevadm)
    return found


def _cache_key(src: _Sources) -> str:
    h = hashlib.sha256()
    h.update(INIT_SCRIPT.encode())
    h.update(f"\0{KIT_FORMAT}\0{src.kernel.resolve()}\0{src.modules_dir.resolve()}".encode())
    udevadm = which(UDEVADM)
    parts = [src.kernel, src.zfs_ko] + ([Path(udevadm)] if udevadm else [])
    for p in parts:  # a reinstall, DKMS rebuild or udev upgrade gives a new kit
        st = p.stat()
        h.update(f"\0{p}\0{st.st_size}\0{int(st.st_mtime)}".encode())
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", f"{src.kernel_version}-zfs-{src.zfs_version}")
    return f"{safe}-{h.hexdigest()[:12]}"


def _load_cached(kit_dir: Path) -> Kit | None:
    manifest = kit_dir / "kit.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    kit = Kit(
        kernel=kit_dir / "vmlinuz",
        initramfs=kit_dir / "initramfs.gz",
        kernel_version=str(data.get("kernel_version", "")),
        zfs_version=str(data.get("zfs_version", "")),
    )
    if kit.kernel.is_file() and kit.initramfs.is_file():
        return kit
    return None


# ---------------------------------------------------------------- assembling


def _libraries(binary: Path) -> list[Path]:
    """Shared objects `ldd` names, including the ld-linux line (no `=>` on it)."""
    ldd = which("ldd")
    if ldd is None:
        raise ToolMissing("ldd", install_command(["libc-bin"]))
    out = subprocess.run([ldd, str(binary)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        if "not a dynamic executable" in out.stdout + out.stderr:
            return []
        raise BuildFailed("zfs-kit", f"ldd {binary} failed", (out.stdout + out.stderr).splitlines())
    libs: list[Path] = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            target = line.split("=>", 1)[1].strip()
            if target.startswith("not found"):
                raise BuildFailed("zfs-kit", f"{binary} needs a library ldd cannot find", [line])
        else:
            target = line  # "/lib64/ld-linux-x86-64.so.2 (0x...)"
        path = target.split(" (", 1)[0].strip()
        if path.startswith("/"):
            libs.append(Path(path))
    return libs


def _module_paths(src: _Sources) -> list[Path]:
    """Host paths of the modules to insmod, dependencies first, each once."""
    modprobe = which("modprobe")
    if modprobe is None:
        raise ToolMissing("modprobe", install_command(["kmod"]))
    md = src.modules_dir
    if md.parent.name != "modules" or md.parent.parent.name != "lib":
        raise BuildFailed(
            "zfs-kit",
            f"modules directory {md} is not laid out as <root>/lib/modules/<version>",
        )
    base = md.parent.parent.parent
    argv = [modprobe, "-S", src.kernel_version, "-C", "/dev/null"]  # no host options
    if base != Path("/"):
        argv += ["-d", str(base)]
    argv += ["--show-depends", "-a", *VM_MODULES]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise BuildFailed("zfs-kit", "modprobe --show-depends failed", out.stderr.splitlines())
    seen: set[Path] = set()
    paths: list[Path] = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "insmod":
            p = Path("/" + parts[1].lstrip("/"))  # "-d /" prints "//lib/..."
            if p not in seen:
                seen.add(p)
                paths.append(p)
    if not any(p.name.startswith("zfs.ko") for p in paths):
        raise BuildFailed(
            "zfs-kit", "modprobe did not resolve the zfs module", out.stdout.splitlines()
        )
    return paths


def _module_bytes(path: Path) -> bytes:
    """Module contents, decompressed: busybox insmod reads plain .ko only."""
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko.zst"):
        zstd = which("zstd")
        if zstd is None:
            raise ToolMissing("zstd", install_command(["zstd"]))
        out = subprocess.run([zstd, "-dc", str(path)], capture_output=True, check=False)
        if out.returncode != 0:
            raise BuildFailed("zfs-kit", f"cannot decompress {path}", [out.stderr.decode()])
        return out.stdout
    return data


def _strip_debug(data: bytes, workdir: Path) -> bytes:
    """DKMS leaves debug info in zfs.ko (tens of MB); the VM does not need it."""
    strip = which("strip")
    if strip is None:
        return data
    tmp = workdir / "strip.ko"
    tmp.write_bytes(data)
    out = subprocess.run([strip, "--strip-debug", str(tmp)], capture_output=True, check=False)
    result = tmp.read_bytes() if out.returncode == 0 else data
    tmp.unlink()
    return result


def _source_date_epoch() -> int:
    try:
        return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    except ValueError:
        return 0


def _assemble(src: _Sources, tools: dict[str, Path], workdir: Path) -> Tree:
    tree = Tree()
    for d in "proc sys dev run mnt job bin sbin usr/bin usr/sbin etc/zfs root".split():
        tree.dir(d)
    tree.dir("tmp", 0o1777)
    tree.chardev("dev/console", 5, 1)
    tree.chardev("dev/null", 1, 3, 0o666)
    tree.file("init", INIT_SCRIPT.encode(), 0o755)
    tree.symlink("etc/mtab", "/proc/self/mounts")
    tree.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    tree.file("etc/group", b"root:x:0:\ndisk:x:6:\ntty:x:5:\nkmem:x:15:\ninput:x:101:\n")

    tree.file("bin/busybox", tools["busybox"].read_bytes(), 0o755)
    libs: dict[str, Path] = {}
    for lib in _libraries(tools["busybox"]):
        libs[str(lib)] = lib
    for name, dest in ZFS_TOOLS:
        tree.file(dest, tools[name].read_bytes(), 0o755)
        for lib in _libraries(tools[name]):
            libs[str(lib)] = lib
    udevadm = tools[UDEVADM]  # whole-disk pools wait for udev
    tree.file("usr/bin/udevadm", udevadm.read_bytes(), 0o755)
    tree.symlink("lib/systemd/systemd-udevd", "/usr/bin/udevadm")
    for lib in _libraries(udevadm):
        libs[str(lib)] = lib
    for rule in UDEV_RULES:
        for rules_dir in UDEV_RULE_DIRS:
            if (rules_dir / rule).is_file():
                tree.file(f"{UDEV_DIR}/rules.d/{rule}", (rules_dir / rule).read_bytes())
                break
        else:  # without its rules udevd makes no links, and whole-disk pools fail later
            raise ToolMissing(f"udev rule {rule}", install_command([UDEV_PACKAGE]))
    for rule, helper in ZFS_UDEV_RULES:
        rule_file = next((d / rule for d in UDEV_RULE_DIRS if (d / rule).is_file()), None)
        prog = next((d.parent / helper for d in UDEV_RULE_DIRS if (d.parent / helper).is_file()),
                    None)  # fmt: skip
        if rule_file is None or prog is None:
            continue
        tree.file(f"{UDEV_DIR}/rules.d/{rule}", rule_file.read_bytes())
        tree.file(f"{UDEV_DIR}/{helper}", prog.read_bytes(), 0o755)
        for lib in _libraries(prog):
            libs[str(lib)] = lib
    tree.symlink("lib/udev", f"/{UDEV_DIR}")  # rules naming /lib/udev/zvol_id (Debian 12)
    tree.dir("run/udev")
    lib_dirs: list[str] = []
    for name, lib in sorted(libs.items()):
        # Stored under the name ldd printed (symlinks resolved to their contents).
        tree.file(name.lstrip("/"), lib.read_bytes(), 0o755)
        d = str(Path(name).parent)
        if d not in lib_dirs:
            lib_dirs.append(d)
    tree.file("etc/diskwright/ld-library-path", (":".join(lib_dirs) + "\n").encode())

    mod_root = f"lib/modules/{src.kernel_version}"
    order: list[str] = []
    for p in _module_paths(src):
        try:
            rel = p.relative_to(src.modules_dir)
        except ValueError:
            rel = Path("extra") / p.name
        name = re.sub(r"\.ko\.(xz|zst|gz)$", ".ko", str(rel))
        data = _strip_debug(_module_bytes(p), workdir)
        tree.file(f"{mod_root}/{name}", data)
        order.append(f"/{mod_root}/{name}")
    tree.file("etc/diskwright/modules", ("\n".join(order) + "\n").encode())
    return tree


def build_kit(
    force: bool = False, kernel: Path | None = None, modules_dir: Path | None = None
) -> Kit:
    """Return the cached kit for this host's kernel and ZFS, building it if needed."""
    src = find_sources(kernel, modules_dir)
    kit_dir = cache_root() / _cache_key(src)
    if not force:
        cached = _load_cached(kit_dir)
        if cached is not None:
            return cached
    tools = _tool_paths()
    kit_dir.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the final place and rename, so a crash or a concurrent
    # build never leaves a half-written kit that looks complete.
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=kit_dir.parent))
    try:
        started = time.monotonic()
        tree = _assemble(src, tools, tmp)
        write_gzip(tree, tmp / "initramfs.gz", _source_date_epoch())
        shutil.copyfile(src.kernel, tmp / "vmlinuz")
        manifest = {
            "format": KIT_FORMAT,
            "kernel_version": src.kernel_version,
            "zfs_version": src.zfs_version,
            "kernel_source": str(src.kernel),
            "modules_dir": str(src.modules_dir),
            "build_seconds": round(time.monotonic() - started, 3),
        }
        (tmp / "kit.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if kit_dir.exists():
            old = kit_dir.with_name(f".old-{kit_dir.name}-{os.getpid()}")
            os.rename(kit_dir, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, kit_dir)
        except OSError:
            # Another process won the race; its kit is as good as ours.
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    kit = _load_cached(kit_dir)
    if kit is None:
        raise BuildFailed("zfs-kit", f"kit in {kit_dir} is incomplete after building it")
    return kit


def kit_status(kernel: Path | None = None, modules_dir: Path | None = None) -> KitStatus:
    """Check, without building, whether the helper VM can run; say what to install."""
    missing: list[str] = []
    packages: list[str] = []

    def need(part: str, *pkgs: str) -> None:
        missing.append(part)
        packages.extend(p for p in pkgs if p not in packages)

    if which("qemu-system-x86_64") is None:
        need("qemu-system-x86_64", "qemu-system-x86")
    if which("busybox") is None:
        need("busybox", "busybox-static")
    for name, _ in ZFS_TOOLS:
        if which(name) is None:
            need(name, "zfsutils-linux")
    if which(UDEVADM) is None:
        need(UDEVADM, UDEV_PACKAGE)
    if which("modprobe") is None:
        need("modprobe", "kmod")
    src: _Sources | None = None
    try:
        src = find_sources(kernel, modules_dir)
    except ToolMissing as e:
        if e.tool == "kernel":
            need("a kernel image (/boot/vmlinuz-*)", "linux-image-amd64")
        else:
            need(
                "zfs.ko for the kernel",
                "zfs-dkms",
                "linux-headers-amd64",
                "dkms",
                "build-essential",
            )
    cached = _load_cached(cache_root() / _cache_key(src)) if src else None
    ready = not missing
    return KitStatus(
        ready=ready,
        cached=cached if ready else None,
        kernel_version=src.kernel_version if src else None,
        zfs_version=src.zfs_version if src else None,
        missing=missing,
        packages=packages,
        install_command=install_command(packages) if packages else None,
    )
