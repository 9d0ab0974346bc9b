"""Partitions without file contents: swap and raw ones (bios-boot)."""

from __future__ import annotations

from ..errors import ProfileError
from ..plan import Arg, Step, cmd
from ..units import MiB
from .base import FsSize, PartCtx


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
                f"Allocate the swap area of {ctx.info.where}",
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
