"""The real programs diskwright drives: where they come from and what they can do.

Features are probed from the installed tool (help text, version), never assumed:
Debian 12 ships older versions than NixOS, Arch or Fedora.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import DiskwrightError, ToolMissing


@dataclass(frozen=True)
class Tool:
    command: str
    purpose: str
    debian: str
    fedora: str
    arch: str
    nix: str
    optional: bool = False

    def install_hint(self) -> str:
        return f"install it with: sudo apt-get install {self.debian}   (Debian/Ubuntu)"

    def all_hints(self) -> dict[str, str]:
        return {
            "debian": f"sudo apt-get install {self.debian}",
            "fedora": f"sudo dnf install {self.fedora}",
            "arch": f"sudo pacman -S {self.arch}",
            "nix": f"nix-shell -p {self.nix}",
        }


# What every profile may need; each filesystem module declares its own tools
# (core/fs/<name>.py), which core.fs registers here for hints and the doctor.
TOOLS: dict[str, Tool] = {
    t.command: t
    for t in [
        Tool("sfdisk", "partition tables", "fdisk", "util-linux", "util-linux", "util-linux"),
        Tool("sgdisk", "hybrid MBR", "gdisk", "gdisk", "gptfdisk", "gptfdisk"),
        Tool("qemu-img", "output formats", "qemu-utils", "qemu-img", "qemu-img", "qemu-utils"),
        Tool("zstd", "zstd compression", "zstd", "zstd", "zstd", "zstd"),
        Tool("xz", "xz compression", "xz-utils", "xz", "xz", "xz"),
        Tool(
            "blkid",
            "reading labels back",
            "util-linux",
            "util-linux",
            "util-linux",
            "util-linux",
            optional=True,
        ),
        Tool("nix-store", "Nix closures", "nix-bin", "nix", "nix", "nix", optional=True),
        Tool(
            "grub-mkimage",
            "GRUB boot loader images ([boot])",
            "grub-common grub-pc-bin grub-efi-amd64-bin",
            "grub2-tools grub2-pc-modules grub2-efi-x64-modules",
            "grub",
            "grub2",
            optional=True,
        ),
    ]
}


def register_tools(tools: Iterable[Tool]) -> None:
    """Add a filesystem's tools (called once by core.fs for every module it registers)."""
    for t in tools:
        TOOLS.setdefault(t.command, t)


def which(command: str) -> str | None:
    found = shutil.which(command)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin"):  # e2fsprogs/dosfstools live in sbin on Debian
        p = f"{d}/{command}"
        if shutil.which(p):
            return p
    return None


def require(command: str) -> str:
    path = which(command)
    if path is None:
        tool = TOOLS.get(command)
        hint = tool.install_hint() if tool else "install it and put it on PATH"
        raise ToolMissing(command, hint)
    return path


# A probe's answer shapes the plan, so a slow machine must never turn into a different
# answer: a probe gets this long (a hang limit, not a speed limit) and then an error.
PROBE_PATIENCE = 300


def probe(args: list[str]) -> subprocess.CompletedProcess[str] | None:
    """Ask an installed tool about itself; None when it cannot be started at all."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=PROBE_PATIENCE,
                              check=False)
    except OSError:
        return None
    except subprocess.TimeoutExpired:
        raise DiskwrightError(
            f"{' '.join(args)}: no answer within {PROBE_PATIENCE} s, so diskwright cannot tell "
            "what the installed tool supports; check that it runs (and the machine is not "
            "stalled), then try again") from None


def _run(args: list[str]) -> str:
    p = probe(args)
    return "" if p is None else p.stdout + p.stderr


@dataclass(frozen=True)
class ErofsFeatures:
    version: tuple[int, ...]
    label: bool  # -L
    compressors: tuple[str, ...]
    extended: tuple[str, ...]  # -E options that really take effect
    label_max: int = 0  # bytes -L takes, as its help says (1.8: 15); 0 without -L
    workers: bool = False  # --workers=N: multi-threaded compression (erofs-utils 1.8+)

    def describe(self) -> str:
        return "mkfs.erofs " + ".".join(map(str, self.version))


@functools.cache
def erofs_features() -> ErofsFeatures:
    """What the installed mkfs.erofs really supports (1.5 ignores unknown -E silently)."""
    if which("mkfs.erofs") is None:
        return ErofsFeatures((0,), False, (), ())
    help_text = _run(["mkfs.erofs", "--help"])
    banner = _run(["mkfs.erofs"])
    m = re.search(r"mkfs\.erofs\s+(?:\(erofs-utils\)\s+)?v?(\d+(?:\.\d+)*)", banner + help_text)
    version = tuple(int(x) for x in m.group(1).split(".")) if m else (0,)
    extended = ["ztailpacking"] if version >= (1, 5) else []
    if version >= (1, 6):
        extended += ["dedupe", "fragments"]
    label = re.search(r"^\s*-L\b.*?(?:maximum\s+(\d+)\s+bytes)?\)?\s*$", help_text, re.M)
    return ErofsFeatures(
        version=version,
        label=bool(label),
        compressors=erofs_compressors(help_text),
        extended=tuple(extended),
        label_max=(int(label.group(1)) if label.group(1) else 16) if label else 0,
        workers="--workers" in help_text,
    )


def erofs_compressors(help_text: str) -> tuple[str, ...]:
    """The compressors `mkfs.erofs --help` lists, in either format it has used.

    Up to 1.7: `Available compressors are: lz4hc, lz4`. From 1.8: after
    `supported compressors and their option ranges are:`, one name per line,
    each followed by its indented `[,level=…]` lines.
    """
    old = re.search(r"Available compressors are:\s*(.*)", help_text)
    if old:
        return tuple(c.strip() for c in old.group(1).split(",") if c.strip())
    lines = help_text.splitlines()
    start = next((i for i, ln in enumerate(lines) if "supported compressors" in ln), None)
    if start is None:
        return ("lz4",)  # the one every erofs-utils with compression has
    found: list[str] = []
    for ln in lines[start + 1 :]:
        if re.match(r"^\s{0,4}-", ln):  # the next option: the list is over
            break
        m = re.match(r"^\s+([a-z][a-z0-9]*)\s*$", ln)
        if m:
            found.append(m.group(1))
    return tuple(found) or ("lz4",)


@functools.cache
def squashfs_compressors() -> tuple[str, ...]:
    text = _run(["mksquashfs", "-help"])
    found = [
        c for c in ("gzip", "lzo", "lz4", "xz", "zstd") if re.search(rf"^\s*{c}\b", text, re.M)
    ]
    return tuple(found) or ("gzip",)


# What systemd-repart 257 (Debian 13) asks at least for a partition it formats
# (its minimal_size_by_fs_name): the largest minima known, which every version accepts,
# so exported definitions fit whichever systemd-repart reads them.
REPART_KNOWN_MINIMA = {"ext4": 32 << 20, "btrfs": 256 << 20, "xfs": 300 << 20}


@functools.cache
def repart_version() -> int:
    """The installed systemd-repart's systemd version (252, 257, …); 0 when missing."""
    if which("systemd-repart") is None:
        return 0
    m = re.search(r"^systemd (\d+)", _run(["systemd-repart", "--version"]), re.M)
    return int(m.group(1)) if m else 0


@functools.cache
def repart_min_size(fstype: str, part_type: str) -> int | None:
    """The smallest partition the installed systemd-repart makes with Format=`fstype`.

    Versions differ and say so only by refusing (ext4: 1 MiB in 252, 32 MiB in 257;
    xfs 14 MiB → 300 MiB), so repart is asked itself: a dry run of one partition
    with SizeMaxBytes=4096 on a sparse scratch file, whose JSON gives the size it
    raised it to. None when no systemd-repart is installed or it would not answer
    (Format=erofs/squashfs need CopyFiles=; they have no minimum of their own).
    """
    import json
    import os
    import tempfile

    exe = which("systemd-repart")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory(prefix="diskwright-repart-") as tmp:
        defs = os.path.join(tmp, "d")
        os.mkdir(defs)
        with open(os.path.join(defs, "10-probe.conf"), "w", encoding="utf-8") as f:
            f.write(f"[Partition]\nType={part_type}\nFormat={fstype}\n"
                    "SizeMinBytes=4096\nSizeMaxBytes=4096\n")
        image = os.path.join(tmp, "disk.raw")
        with open(image, "wb") as f:
            f.truncate(1 << 30)
        p = probe([exe, "--dry-run=yes", "--empty=allow", "--json=short", "--no-pager",
                   f"--definitions={defs}", image])
        if p is None:
            return None
    try:
        rows = json.loads(p.stdout)
        return int(rows[0]["raw_size"])
    except (ValueError, LookupError, TypeError):
        return None
