"""Sizes as people write them ("512MiB", "8G", "1.5 GiB") and back."""

from __future__ import annotations

import re

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

_UNITS = {
    "": 1,
    "b": 1,
    "k": KiB,
    "kib": KiB,
    "kb": 1000,
    "m": MiB,
    "mib": MiB,
    "mb": 1000**2,
    "g": GiB,
    "gib": GiB,
    "gb": 1000**3,
    "t": TiB,
    "tib": TiB,
    "tb": 1000**4,
    "s": 512,  # sectors
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


MAX_SIZE = 1 << 63  # what a signed 64-bit offset (lseek, sfdisk, qemu-img) can reach


def parse_size(text: str | int) -> int:
    """Bytes from "512MiB", "8G", "4096", "100s"; K/M/G are binary like dd and sfdisk."""
    if isinstance(text, bool):
        raise ValueError("a size must be a number with a unit, like 512MiB")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a size cannot be negative")
        if text >= MAX_SIZE:
            raise ValueError("a size larger than 8 EiB is more than any image can hold")
        return text
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size; write it like 512MiB, 8G or 4096")
    number, unit = m.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown unit {unit!r} in {text!r}; use B, KiB, MiB, GiB or TiB")
    value = float(number) * factor
    if not value < MAX_SIZE:  # also inf and nan: hundreds of digits overflow a float
        raise ValueError(f"{text[:40]!r} is larger than 8 EiB, more than any image can hold")
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)


def format_size(n: int | float) -> str:
    """Short binary size for people: 1.5 GiB, 312 MiB, 4.0 KiB."""
    n = float(n)
    for unit, factor in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(n) >= factor:
            value = n / factor
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(n)} B"


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple
