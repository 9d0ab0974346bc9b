#!/usr/bin/env python3
"""Create the small example root tree (git cannot store its hard link).

It holds what a real root has and what trips image tools up: /boot for the
ESP, a Nix store, symlinks (relative and absolute), a hard link, an
executable, a file name with spaces and one that is not ASCII. Times are
fixed so every machine makes the same tree.

    python3 examples/make_root.py [DEST] [--force]     (default: examples/root)

A DEST that exists is replaced only with --force (or when it is the default),
since making the tree starts by deleting it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MTIME = 1700000000  # 2023-11-14, fixed so the tree is the same everywhere
STORE = "nix/store"
HELLO = "0wydaqlq4pb1ff2ml9gp7pyhwf5a0vqd-hello-2.12.1"
GLIBC = "9lkkrlb8rhhn9x4cfcq2r8bq3hkxzxzl-glibc-2.39"

FILES: dict[str, tuple[str | bytes, int]] = {
    "boot/EFI/BOOT/BOOTX64.EFI": (b"MZ" + bytes(range(256)) * 64, 0o644),
    "boot/loader/loader.conf": ("timeout 3\ndefault diskwright.conf\n", 0o644),
    "boot/loader/entries/diskwright.conf": (
        "title diskwright example\nlinux /EFI/diskwright/bzImage\noptions root=LABEL=nixos\n",
        0o644,
    ),
    "etc/hostname": ("diskwright-example\n", 0o644),
    "etc/os-release": ('NAME="diskwright example"\nID=diskwright\n', 0o644),
    "etc/motd": ("Built by diskwright.\n", 0o644),
    "bin/hello": ("#!/bin/sh\necho 'Hello from a diskwright image'\n", 0o755),
    "usr/share/doc/example/file with spaces.txt": ("spaces are fine\n", 0o644),
    "usr/share/doc/example/ünïcødé-名前.txt": ("non-ASCII names survive\n", 0o644),
    "usr/lib/libdemo.so.1.0": (b"\x7fELF" + b"\x00" * 4092 + b"demo" * 2048, 0o755),
    "var/lib/empty/.keep": ("", 0o644),
    f"{STORE}/{HELLO}/bin/hello": ("#!/bin/sh\necho hello\n", 0o555),
    f"{STORE}/{HELLO}/share/man/man1/hello.1": (".TH HELLO 1\n" * 200, 0o444),
    f"{STORE}/{GLIBC}/lib/libc.so.6": (bytes(range(256)) * 1024, 0o555),
    f"{STORE}/{GLIBC}/share/locale/C.UTF-8": ("LC_ALL\n" * 1000, 0o444),
}
SYMLINKS = {
    "lib": "usr/lib",
    "etc/localtime": "/usr/share/zoneinfo/UTC",
    "usr/lib/libdemo.so": "libdemo.so.1.0",
    f"{STORE}/{HELLO}/lib": f"/nix/store/{GLIBC}/lib",
}
HARDLINKS = {"usr/lib/libdemo.so.1": "usr/lib/libdemo.so.1.0"}


def make_root(dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    for rel, (content, mode) in FILES.items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            p.write_text(content, encoding="utf-8")
        else:
            p.write_bytes(content)
        p.chmod(mode)
    for rel, target in SYMLINKS.items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.symlink_to(target)
    for rel, target in HARDLINKS.items():
        os.link(dest / target, dest / rel)
    for dirpath, dirnames, filenames in os.walk(dest, topdown=False):
        for name in filenames + dirnames:
            os.utime(Path(dirpath) / name, (MTIME, MTIME), follow_symlinks=False)
        os.chmod(dirpath, 0o755)
        os.utime(dirpath, (MTIME, MTIME))
    return dest


def main() -> None:
    from _dest import dest_parser, parse_dest  # examples/_dest.py, beside this script

    default = Path(__file__).parent / "root"
    target: Path = parse_dest(dest_parser(__doc__, default, "the tree"), default).dest
    make_root(target)
    print(f"example root tree written to {target}")


if __name__ == "__main__":
    main()
