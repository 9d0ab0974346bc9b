"""Pin every inode's times (and owners) of an unmounted ext4 image, in place.

`mkfs.ext4 -d` copies the source's times (from 1.47.1, those before
SOURCE_DATE_EPOCH: bench/RESULTS.md), so two builds differ until every inode's
times are set to the epoch (its crtime past 2038 also lacks the epoch bits).
debugfs does it with one `sif` per field and inode (0.7 s for 20,000 inodes);
this writes the same bytes straight into the inode tables (about 5x faster).
The inode checksum (crc32c) is updated without knowing its seed: a CRC is
linear, so flipping bits at fixed offsets of a fixed-length inode flips a
fixed set of checksum bits, which `_Delta` tabulates once per offset. Images
this does not understand (meta_bg, odd inode sizes) are left to debugfs:
`pin` returns None.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

from .crc32c import TABLE as _TABLE
from .progress import Reporter

SUPER = 1024
MAGIC = 0xEF53
INCOMPAT_META_BG = 0x10
INCOMPAT_64BIT = 0x80
RO_COMPAT_METADATA_CSUM = 0x400
BG_INODE_UNINIT = 0x1
EPOCH_MASK = 0x3

# inode fields (offsets in the on-disk inode)
UID, GID, ATIME, CTIME, MTIME = 0x02, 0x18, 0x08, 0x0C, 0x10
UID_HIGH, GID_HIGH, CSUM_LO = 0x78, 0x7A, 0x7C
EXTRA_ISIZE, CSUM_HI = 0x80, 0x82
CTIME_EXTRA, MTIME_EXTRA, ATIME_EXTRA = 0x84, 0x88, 0x8C
CRTIME, CRTIME_EXTRA = 0x90, 0x94  # mkfs writes the epoch's low word without its epoch bits
EXTRAS = (CTIME_EXTRA, MTIME_EXTRA, ATIME_EXTRA, CRTIME_EXTRA)


def _delta_tables(size: int, offset: int) -> list[bytes]:
    """For a byte at `offset` of a `size`-byte message: 4 translate tables, value → crc byte.

    Entry v of table j is byte j of crc32c(0, m) where m is zero but for v at
    `offset`; a CRC is linear, so XORing such values gives the checksum's change.
    """
    basis = []
    for bit in range(8):
        crc = _TABLE[1 << bit]
        for _ in range(size - 1 - offset):
            crc = _TABLE[crc & 0xFF] ^ (crc >> 8)
        basis.append(crc)
    crcs = [0] * 256
    for v in range(1, 256):
        low = v & -v
        crcs[v] = crcs[v ^ low] ^ basis[low.bit_length() - 1]
    return [bytes(c >> (8 * j) & 0xFF for c in crcs) for j in range(4)]


def _time_words(epoch: int) -> tuple[int, int]:
    """The low word and epoch bits debugfs' `sif … @epoch` stores."""
    low = epoch & 0xFFFFFFFF
    signed = low - (1 << 32) if low & 0x80000000 else low
    return low, ((epoch - signed) >> 32) & EPOCH_MASK


def _runs(bitmap: bytes, count: int) -> Iterator[tuple[int, int]]:
    """[start, end) index runs of the set bits among the first `count` of a bitmap."""
    bits = bin(int.from_bytes(bitmap[: count // 8], "little"))[2:][::-1]
    for m in re.finditer("1+", bits):
        yield m.start(), m.end()


_XOR = [bytes(v ^ c for v in range(256)) for c in range(256)]


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(len(a), "little")


class _Fields:
    """The byte columns one pin writes: offset → new byte (or the epoch bits kept)."""

    def __init__(self, isize: int, epoch: int, owners: bool, csum: bool) -> None:
        low, high = _time_words(epoch)
        self.set: dict[int, int] = {}
        for off in (ATIME, CTIME, MTIME, CRTIME):
            self.set.update({off + k: low >> (8 * k) & 0xFF for k in range(4)})
        if owners:
            for off in (UID, GID, UID_HIGH, GID_HIGH):
                self.set.update({off: 0, off + 1: 0})
        self.high = high
        self.tables = (
            {
                off: _delta_tables(isize, off)
                for off in (*self.set, *EXTRAS)
            }
            if csum
            else {}
        )

    def apply(self, table: bytearray, isize: int, start: int, end: int) -> bool:
        """Pin inodes [start, end) of `table`; False if one has short extra fields."""
        n = end - start

        def col(off: int) -> bytes:
            return bytes(table[off + start * isize : off + end * isize : isize])

        extra = col(EXTRA_ISIZE)
        if min(extra) < CRTIME_EXTRA + 4 - EXTRA_ISIZE or any(col(EXTRA_ISIZE + 1)):
            return False
        change = [0, 0, 0, 0]

        def account(off: int, diff: bytes) -> None:
            if off in self.tables:
                for j, t in enumerate(self.tables[off]):
                    change[j] ^= int.from_bytes(diff.translate(t), "little")

        for off, value in self.set.items():
            old = col(off)
            account(off, old.translate(_XOR[value]))
            table[off + start * isize : off + end * isize : isize] = bytes([value]) * n
        keep = bytes(v & ~EPOCH_MASK & 0xFF for v in range(256))
        for off in EXTRAS:
            old = col(off)
            new = old.translate(keep).translate(_XOR[self.high])
            account(off, _xor(old, new))
            table[off + start * isize : off + end * isize : isize] = new
        if self.tables:
            for j, off in enumerate((CSUM_LO, CSUM_LO + 1, CSUM_HI, CSUM_HI + 1)):
                delta = change[j].to_bytes(n, "little")
                table[off + start * isize : off + end * isize : isize] = _xor(col(off), delta)
        return True


def inode_size(image: str) -> int:
    """The on-disk inode size (128 has no crtime: debugfs is not asked to set one)."""
    with open(image, "rb") as f:
        f.seek(SUPER)
        sb = f.read(1024)
    rev = struct.unpack_from("<I", sb, 0x4C)[0]
    return 128 if rev == 0 else int(struct.unpack_from("<H", sb, 0x58)[0])


def pin(image: str, epoch: int, owners: bool, progress: bool = False) -> int | None:
    """Set times (and uid/gid 0) of every used inode; the count, or None to use debugfs.

    `progress`: say the bytes of inode tables gone through on stderr (the step's bar)."""
    with open(image, "r+b") as f:
        f.seek(SUPER)
        sb = f.read(1024)
        if struct.unpack_from("<H", sb, 0x38)[0] != MAGIC:
            raise ValueError(f"{image} is not an ext4 image")
        inodes, first_data = (
            struct.unpack_from("<I", sb, 0)[0],
            struct.unpack_from("<I", sb, 0x14)[0],
        )
        block = 1024 << struct.unpack_from("<I", sb, 0x18)[0]
        ipg = struct.unpack_from("<I", sb, 0x28)[0]
        rev = struct.unpack_from("<I", sb, 0x4C)[0]
        first_ino, isize = (11, 128) if rev == 0 else struct.unpack_from("<IH", sb, 0x54)
        incompat, ro_compat = struct.unpack_from("<II", sb, 0x60)
        desc = struct.unpack_from("<H", sb, 0xFE)[0] if incompat & INCOMPAT_64BIT else 32
        if incompat & INCOMPAT_META_BG or isize < 256 or ipg % 8:
            return None
        groups = -(-inodes // ipg)
        f.seek((first_data + 1) * block)
        gdt = f.read(groups * desc)
        fields = _Fields(isize, epoch, owners, bool(ro_compat & RO_COMPAT_METADATA_CSUM))
        count = 0
        report = Reporter(groups * ipg * isize) if progress else None
        for g in range(groups):
            if report is not None:
                report(g * ipg * isize)
            d = gdt[g * desc : (g + 1) * desc]
            if struct.unpack_from("<H", d, 0x12)[0] & BG_INODE_UNINIT:
                continue
            bitmap_at, table_at = struct.unpack_from("<II", d, 0x4)
            if desc >= 64:
                bitmap_at |= struct.unpack_from("<I", d, 0x24)[0] << 32
                table_at |= struct.unpack_from("<I", d, 0x28)[0] << 32
            f.seek(bitmap_at * block)
            bitmap = f.read(block)
            # the root (2) and every inode from the first non-reserved one on
            skip = 0 if g else first_ino - 1
            runs = [(max(a, skip), b) for a, b in _runs(bitmap, ipg) if b > skip]
            if g == 0 and bitmap[0] & 2:
                runs.insert(0, (1, 2))
            if not runs:
                continue
            f.seek(table_at * block)
            table = bytearray(f.read(runs[-1][1] * isize))
            for a, b in runs:
                if not fields.apply(table, isize, a, b):
                    return None
                count += b - a
            f.seek(table_at * block)
            f.write(table)
        if report is not None:
            report.finish()
        return count
