"""One module per filesystem; adding a filesystem touches one place: REGISTRY."""

from __future__ import annotations

from diskwright.core.fs.base import FsBuilder, FsSize, PartCtx
from diskwright.core.fs.erofs import ErofsBuilder
from diskwright.core.fs.ext4 import Ext4Builder
from diskwright.core.fs.other import NoneBuilder, SwapBuilder
from diskwright.core.fs.squashfs import SquashfsBuilder
from diskwright.core.fs.vfat import VfatBuilder
from diskwright.core.fs.zfs import ZfsBuilder
from diskwright.core.profile import Filesystem

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
