"""The filesystems diskwright makes: one module each, and this registry of them.

A module (core/fs/<name>.py) declares everything about its filesystem in one
FsSpec: its partition class (options table, label/UUID rules, read-only or
not, the guest's fstype), the builder (size model, steps, checks) and its tools
and field words. Adding a filesystem is a new module and one line in SPECS.
"""

from __future__ import annotations

from ..model import register_roles
from ..tools import register_tools
from . import btrfs, erofs, ext4, other, squashfs, vfat, zfs
from .base import FieldWords, FsBuilder, FsSize, FsSpec, GuestMount, PartCtx

SPECS: tuple[FsSpec, ...] = (
    ext4.SPEC,
    erofs.SPEC,
    squashfs.SPEC,
    vfat.SPEC,
    other.SWAP,
    other.NONE,
    zfs.SPEC,
    btrfs.SPEC,
)
REGISTRY: dict[str, FsSpec] = {s.name: s for s in SPECS}
DEFAULT_FS: str = ext4.SPEC.name  # a new partition's filesystem: the least surprising one
register_tools(t for s in SPECS for t in s.tools)
register_roles((s.name, s.rules) for s in SPECS)


def spec_for(fs: str) -> FsSpec:
    return REGISTRY[fs]


def builder_for(fs: str) -> FsBuilder:
    return REGISTRY[fs].builder


__all__ = [
    "DEFAULT_FS",
    "REGISTRY",
    "SPECS",
    "FieldWords",
    "FsBuilder",
    "FsSize",
    "FsSpec",
    "GuestMount",
    "PartCtx",
    "builder_for",
    "spec_for",
]
