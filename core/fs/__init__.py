"""One module per filesystem; adding a filesystem touches one place: REGISTRY."""

from __future__ import annotations

from core.fs.base import FsBuilder, FsSize, PartCtx
from core.fs.erofs import ErofsBuilder
from core.fs.ext4 import Ext4Builder
from core.fs.other import NoneBuilder, SwapBuilder
from core.fs.squashfs import SquashfsBuilder
from core.fs.vfat import VfatBuilder
from core.fs.zfs import ZfsBuilder
from core.profile import Filesystem

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
