"""One module per filesystem; adding a filesystem touches one place: REGISTRY."""

from __future__ import annotations

from ..profile import Filesystem
from .base import FsBuilder, FsSize, PartCtx
from .erofs import ErofsBuilder
from .ext4 import Ext4Builder
from .other import NoneBuilder, SwapBuilder
from .squashfs import SquashfsBuilder
from .vfat import VfatBuilder
from .zfs import ZfsBuilder

REGISTRY: dict[Filesystem, FsBuilder] = {
    Filesystem.ext4: Ext4Builder(),
    Filesystem.erofs: ErofsBuilder(),
    Filesystem.squashfs: SquashfsBuilder(),
    Filesystem.vfat: VfatBuilder(),
    Filesystem.swap: SwapBuilder(),
    Filesystem.none: NoneBuilder(),
    Filesystem.zfs: ZfsBuilder(),
}


def builder_for(fs: Filesystem) -> FsBuilder:
    return REGISTRY[fs]


__all__ = ["REGISTRY", "FsBuilder", "FsSize", "PartCtx", "builder_for"]
