"""crc32c (Castagnoli), table-driven: the erofs superblock and ext4 inode checksums.

Its own module so core.helpers and core.ext4_pin both use it without importing each other.
"""

from __future__ import annotations


def _crc32c_table() -> list[int]:
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = _crc32c_table()


def crc32c_raw(data: bytes, crc: int = 0xFFFFFFFF) -> int:
    """The kernel's crc32c(seed, …): no final inversion."""
    table = TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


__all__ = ["TABLE", "crc32c_raw"]
