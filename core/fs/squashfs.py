"""squashfs via mksquashfs (or gensquashfs): compressed, read-only, no label."""

from __future__ import annotations

from ..errors import ProfileError
from ..plan import Arg, Step, cmd
from ..tools import squashfs_compressors
from ..units import MiB, parse_size, round_up
from .base import FsSize, PartCtx, auto_or_fixed, owners_unsupported, too_small


class SquashfsBuilder:
    def tools(self, ctx: PartCtx) -> list[str]:
        return [ctx.part.squashfs.tool, "unsquashfs"]

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        opts = ctx.part.squashfs
        errors: list[ProfileError] = []
        if opts.tool == "mksquashfs" and opts.compressor not in squashfs_compressors():
            errors.append(
                ProfileError(
                    f"{ctx.info.where}.squashfs.compressor",
                    f"the installed mksquashfs has no {opts.compressor} compressor",
                    f"choose one of {', '.join(squashfs_compressors())}",
                )
            )
        errors += owners_unsupported(ctx, "squashfs images are all root-owned here")
        return errors + too_small(ctx, self.estimate(ctx))

    def estimate(self, ctx: PartCtx) -> FsSize:
        st = ctx.stats
        opts = ctx.part.squashfs
        bs = parse_size(opts.block_size)
        ratio = ctx.compress_ratio("squashfs", opts.compressor)
        # full blocks and the tails packed into fragment blocks both compress
        data = int(st.bytes * ratio) + (st.files // 32) * 16
        meta = (st.entries * 40 + st.name_bytes + st.symlink_bytes) // 2
        meta += (st.bytes // bs) * 4 + st.files * 8
        content = data + meta
        minimum = round_up(content + 4096, 4096)
        return auto_or_fixed(ctx, minimum, content, align=4096)

    def steps(self, ctx: PartCtx) -> list[Step]:
        opts, info = ctx.part.squashfs, ctx.info
        bs = parse_size(opts.block_size)
        if opts.tool == "gensquashfs":
            argv: list[Arg] = [
                "gensquashfs",
                "--pack-dir",
                ctx.source_dir,
                "--compressor",
                opts.compressor,
                "--block-size",
                str(bs),
                "--num-jobs",
                str(ctx.cpus),
                "--all-root",
                "--defaults",
                f"mtime={ctx.epoch}",
                "--force",
                "--quiet",
                ctx.image,
            ]
        else:
            argv = [
                "mksquashfs",
                ctx.source_dir,
                ctx.image,
                "-noappend",
                "-all-root",
                "-comp",
                opts.compressor,
                "-b",
                str(bs),
                "-processors",
                str(ctx.cpus),
                "-no-progress",
            ]
        steps = [
            ctx.step(
                "mkfs",
                f"Make the squashfs image for {info.where} from {info.subtree}",
                expr=cmd(*argv),
                weight=max(ctx.stats.bytes / MiB / 25, 1),
                comment="every timestamp comes from SOURCE_DATE_EPOCH (mksquashfs refuses "
                "-all-time alongside it)"
                if opts.tool == "mksquashfs"
                else "",
            )
        ]
        return [*steps, *ctx.pad_to_fixed(), ctx.capture_size()]

    def verify(self, ctx: PartCtx) -> list[Step]:
        return [
            Step(
                id=f"{ctx.info.key}-fsck",
                title=f"Check the squashfs image of {ctx.info.where} (unsquashfs -s)",
                phase="verify",
                expr=cmd("unsquashfs", "-s", ctx.image),
                weight=0.1,
            )
        ]
