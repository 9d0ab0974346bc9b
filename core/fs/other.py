"""Partitions without file contents: swap and raw ones (bios-boot)."""

from __future__ import annotations

from typing import Literal

from ..errors import ProfileError
from ..model import FsRules, PartitionBase, Role
from ..plan import Arg, Step, cmd
from ..tools import Tool
from ..units import MiB
from .base import FsSize, FsSpec, PartCtx


class SwapPartition(PartitionBase):
    rules = FsRules(
        label_bytes=16,
        fstype="swap",
        contents=False,
        swap=True,
        role=Role.swap,
        role_error='filesystem: a swap partition needs filesystem = "swap"',
    )
    filesystem: Literal["swap"]


class NonePartition(PartitionBase):
    rules = FsRules(
        label_bytes=None,
        uuid="none",
        contents=False,
        role=Role.bios_boot,
        role_error='filesystem: a bios-boot partition holds no filesystem; use "none"',
        bare=False,  # raw space is no image of its own: "a bare image needs a filesystem"
    )
    filesystem: Literal["none"]


class SwapBuilder:
    def tools(self, ctx: PartCtx) -> list[str]:
        return ["mkswap"]

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        if ctx.fixed_size() is None:
            return [
                ProfileError(
                    f"{ctx.info.where}.size",
                    "swap has no content to size it by",
                    'give a fixed size, e.g. size = "1GiB"',
                )
            ]
        if (ctx.fixed_size() or 0) < 40960:
            return [
                ProfileError(
                    f"{ctx.info.where}.size", "swap needs at least 40 KiB", "raise the size"
                )
            ]
        return []

    def estimate(self, ctx: PartCtx) -> FsSize:
        size = ctx.fixed_size() or MiB
        return FsSize(content=0, minimum=40960, image=size, fixed=True)

    def steps(self, ctx: PartCtx) -> list[Step]:
        size = self.estimate(ctx).image
        argv: list[Arg] = ["mkswap", "-U", ctx.info.fs_uuid or ""]
        if ctx.part.label:
            argv += ["-L", ctx.part.label]
        return [
            ctx.step(
                "alloc",
                f"Allocate the swap area of the {ctx.info.spoken}",
                expr=cmd("truncate", "-s", str(size), ctx.image),
                weight=0.01,
            ),
            ctx.step("mkswap", "Write the swap signature", expr=cmd(*argv, ctx.image), weight=0.05),
            ctx.capture_size(),
        ]

    def verify(self, ctx: PartCtx) -> list[Step]:
        return []


class NoneBuilder:
    """bios-boot and other raw partitions: zeros of the given size (1 MiB for auto)."""

    def tools(self, ctx: PartCtx) -> list[str]:
        return []

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        return []

    def estimate(self, ctx: PartCtx) -> FsSize:
        size = ctx.fixed_size() or MiB
        return FsSize(content=0, minimum=size, image=size, fixed=True)

    def steps(self, ctx: PartCtx) -> list[Step]:
        return [
            ctx.step(
                "alloc",
                f"Allocate the empty {ctx.part.role.value} partition",
                expr=cmd("truncate", "-s", str(self.estimate(ctx).image), ctx.image),
                weight=0.01,
            ),
            ctx.capture_size(),
        ]

    def verify(self, ctx: PartCtx) -> list[Step]:
        return []


SWAP = FsSpec(
    name="swap",
    title="swap — swap space for the guest",
    help="Swap space for the guest. Holds no files; give it a fixed size.",
    partition=SwapPartition,
    builder=SwapBuilder(),
    tools=(
        Tool("mkswap", "swap partitions", "util-linux", "util-linux", "util-linux", "util-linux"),
    ),
)
NONE = FsSpec(
    name="none",
    title="none — raw space (bios-boot)",
    help="No filesystem: raw space of the given size, e.g. the bios-boot partition GRUB uses.",
    partition=NonePartition,
    builder=NoneBuilder(),
)
