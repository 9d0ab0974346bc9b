"""The two jobs no packaged tool does, run by the plan as `diskwright helper …`.

- erofs-label: mkfs.erofs 1.5 has no -L; write volume_name into the
  superblock and fix its crc32c so the kernel and blkid accept it.
- check-table: read a disk's table back with `sfdisk -J` and compare it with
  what the plan wrote.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys

EROFS_SUPER_OFFSET = 1024
EROFS_MAGIC = 0xE0F5E1E2
EROFS_FEATURE_COMPAT_SB_CHKSUM = 0x1


def _crc32c_table() -> list[int]:
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c_raw(data: bytes, crc: int = 0xFFFFFFFF) -> int:
    """The kernel's crc32c(seed, …): no final inversion."""
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


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
        checks = [("start", int(start), got.get("start")), ("size", int(size), got.get("size"))]
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
    try:
        if cmd == "erofs-label" and len(args) == 2:
            erofs_set_label(args[0], args[1])
            print(f"label {args[1]!r} written to {args[0]}")
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
