"""The two jobs no packaged tool does, run by the plan as `diskwright helper …`.

- commit: put the finished images in place, all or none (core/commit.py).
- place: put an extra file into a staging tree without following a symlink.
- erofs-label: mkfs.erofs 1.5 has no -L; write volume_name into the
  superblock and fix its crc32c so the kernel and blkid accept it.
- check-table: read a disk's table back with `sfdisk -J` and compare it with
  what the plan wrote.
- zfs-vm, zfs-check, zfs-labels, zfs-kit: the ZFS helper VM (core/zfs/helper.py).
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

from .crc32c import crc32c_raw

EROFS_SUPER_OFFSET = 1024
EROFS_MAGIC = 0xE0F5E1E2
EROFS_FEATURE_COMPAT_SB_CHKSUM = 0x1


def erofs_set_label(path: str, label: str) -> None:
    raw = label.encode()
    if len(raw) > 16:
        raise ValueError("erofs labels hold at most 16 bytes")
    with open(path, "r+b") as f:
        f.seek(EROFS_SUPER_OFFSET)
        sb = bytearray(f.read(128))
        magic, _csum, compat, blkszbits = struct.unpack_from("<IIIB", sb, 0)
        if magic != EROFS_MAGIC:
            raise ValueError(f"{path} is not an erofs image")
        block = 1 << blkszbits
        f.seek(EROFS_SUPER_OFFSET)
        rest = bytearray(f.read(block - EROFS_SUPER_OFFSET))
        rest[64:80] = raw.ljust(16, b"\0")
        if compat & EROFS_FEATURE_COMPAT_SB_CHKSUM:
            rest[4:8] = b"\0\0\0\0"
            struct.pack_into("<I", rest, 4, crc32c_raw(bytes(rest)))
        f.seek(EROFS_SUPER_OFFSET)
        f.write(rest)


def used_inodes(image: str) -> list[int]:
    """Inodes in use, from dumpe2fs' per-group free lists (root and from 11 on)."""
    out = subprocess.run(["dumpe2fs", image], capture_output=True, text=True, check=True).stdout
    ipg = int(re.search(r"^Inodes per group:\s*(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    used: list[int] = []
    for g, free_text in enumerate(re.findall(r"^  Free inodes: ?(.*)$", out, re.M)):
        free: set[int] = set()
        for part in filter(None, (x.strip() for x in free_text.split(","))):
            a, _, b = part.partition("-")
            free.update(range(int(a), int(b or a) + 1))
        used += [i for i in range(g * ipg + 1, (g + 1) * ipg + 1) if i not in free]
    return [i for i in used if i == 2 or i >= 11]


def debugfs_pin_lines(
    inos: list[int], epoch: int, owners: bool, crtime: bool = True
) -> list[str]:
    """The debugfs script that pins these inodes (what core/ext4_pin writes directly)."""
    fields = ("mtime", "atime", "ctime", "crtime") if crtime else ("mtime", "atime", "ctime")
    lines = []
    for ino in inos:
        lines += [f"sif <{ino}> {f} @{epoch}" for f in fields]
        if owners:
            lines += [f"sif <{ino}> uid 0", f"sif <{ino}> gid 0"]
    return lines


def ext4_pin(image: str, epoch: int, owners: bool, mapped: list[str]) -> int:
    """Set every inode's times (and owners): in the inode tables, else one debugfs script.

    mkfs.ext4 -d copies the source's times (1.47.1+: those before
    SOURCE_DATE_EPOCH), so without this two builds differ. core/ext4_pin writes
    the bytes debugfs' `sif` would; owners given by path (PATH:UID:GID) still go
    through debugfs, they are few.
    """
    from .ext4_pin import inode_size, pin

    lines = []
    count = pin(image, epoch, owners, progress=True)
    if count is None:  # a layout the in-place writer does not handle: debugfs, slower
        inos = used_inodes(image)
        count = len(inos)
        lines = debugfs_pin_lines(inos, epoch, owners, crtime=inode_size(image) > 128)
    for item in mapped:  # PATH:UID:GID, the path may itself hold colons
        path, uid, gid = item.rsplit(":", 2)
        lines += [f'sif "{path}" uid {uid}', f'sif "{path}" gid {gid}']
    done = f"{image}: times of {count} inodes set to {epoch}"
    if not lines:
        print(done)
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        script = f.name
    try:
        r = subprocess.run(["debugfs", "-w", "-f", script, image], capture_output=True, text=True)
    finally:
        os.unlink(script)
    errors = [ln for ln in r.stderr.splitlines() if ln and not ln.startswith("debugfs ")]
    for ln in errors[:20]:
        print(ln, file=sys.stderr)
    print(done)
    return 1 if r.returncode or errors else 0


def check_table(disk: str, label: str, label_id: str, parts: list[str]) -> list[str]:
    """Differences between the table on `disk` and the expectation (empty = match)."""
    out = subprocess.run(["sfdisk", "-J", disk], capture_output=True, text=True, check=True)
    table = json.loads(out.stdout)["partitiontable"]
    problems = []
    if table.get("label") != label:
        problems.append(f"label is {table.get('label')}, expected {label}")
    got_id = str(table.get("id", "")).lower()
    if got_id != label_id.lower():
        problems.append(f"disk id is {got_id}, expected {label_id.lower()}")
    found = table.get("partitions", [])
    if len(found) != len(parts):
        problems.append(f"{len(found)} partitions, expected {len(parts)}")
    for i, (want, got) in enumerate(zip(parts, found, strict=False), 1):
        start, size, typ, uuid, name = want.split(":", 4)
        checks: list[tuple[str, object, object]] = [
            ("start", int(start), got.get("start")),
            ("size", int(size), got.get("size")),
        ]
        got_type = str(got.get("type", "")).lower()
        if label == "dos":  # sfdisk -J prints MBR types without leading zeros
            typ, got_type = f"{int(typ, 16):x}", f"{int(got_type or '0', 16):x}"
        checks.append(("type", typ.lower(), got_type))
        if uuid:
            checks.append(("uuid", uuid.lower(), str(got.get("uuid", "")).lower()))
        if name:
            checks.append(("name", name, got.get("name", "")))
        for what, exp, actual in checks:
            if exp != actual:
                problems.append(f"partition {i}: {what} is {actual!r}, expected {exp!r}")
    return problems


def main(argv: list[str]) -> int:
    if not argv:
        print(
            "usage: diskwright helper erofs-label IMG LABEL | check-table DISK ...", file=sys.stderr
        )
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd in ("zfs-vm", "zfs-check", "zfs-labels", "zfs-kit"):  # the ZFS helper VM
        from .zfs import helper as zfs_helper

        return {
            "zfs-vm": zfs_helper.zfs_vm_main,
            "zfs-check": zfs_helper.zfs_check_main,
            "zfs-labels": zfs_helper.zfs_labels_main,
            "zfs-kit": zfs_helper.zfs_kit_main,
        }[cmd](args)
    if cmd in ("grub-bios-install", "grub-bios-check"):  # core/boot: GRUB on a disk file
        from .boot.grub import bios_main

        return bios_main(cmd, args)
    if cmd == "lock":
        from .shlock import main as lock_main

        return lock_main(args)
    if cmd == "commit":
        from .commit import main as commit_main

        return commit_main(args)
    try:
        if cmd == "erofs-label" and len(args) == 2:
            erofs_set_label(args[0], args[1])
            print(f"label {args[1]!r} written to {args[0]}")
            return 0
        if cmd == "ext4-pin" and len(args) >= 2:
            owners = "--owners" in args
            rest = [a for a in args[2:] if a != "--owners"]
            return ext4_pin(args[0], int(args[1]), owners, rest)
        if cmd == "fat-fill" and len(args) == 3:
            from .fat_fill import main as fat_fill_main

            return fat_fill_main(args)
        if cmd == "ext4-split" and len(args) in (4, 5):
            from .ext4_split import split_main

            return split_main(args)
        if cmd == "ext4-merge" and len(args) == 3:
            from .ext4_split import merge

            return merge(args[0], args[1], int(args[2]))
        if cmd == "place" and len(args) == 4:
            from .safefs import UnsafePath, place_file

            try:
                place_file(args[0], args[1], args[2], int(args[3], 8))
            except UnsafePath as err:
                print(f"helper place: {err}", file=sys.stderr)
                return 1
            return 0
        if cmd == "check-table" and len(args) >= 3:
            problems = check_table(args[0], args[1], args[2], args[3:])
            for p in problems:
                print(p, file=sys.stderr)
            if not problems:
                print(f"{args[0]}: {args[1]} table with {len(args) - 3} partitions as planned")
            return 1 if problems else 0
    except (OSError, ValueError, subprocess.CalledProcessError) as err:
        print(f"helper {cmd}: {err}", file=sys.stderr)
        return 1
    print(f"helper: unknown command or arguments: {' '.join(argv)}", file=sys.stderr)
    return 2
