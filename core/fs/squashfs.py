"""squashfs via mksquashfs (or gensquashfs): compressed, read-only, no label."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..errors import ProfileError
from ..model import FsRules, PartitionBase, strict
from ..plan import Arg, Step, cmd, cost
from ..progress import MKSQUASHFS
from ..tools import Tool, squashfs_compressors
from ..units import MiB, parse_size, round_up
from .base import (
    FieldWords,
    FsSize,
    FsSpec,
    PartCtx,
    auto_or_fixed,
    owners_unsupported,
    too_small,
)


class SquashfsOptions(BaseModel):
    """The [squashfs] table of a squashfs partition."""

    model_config = strict()
    compressor: Literal["gzip", "xz", "zstd", "lz4", "lzo"] = "zstd"
    block_size: str = "128KiB"
    tool: Literal["mksquashfs", "gensquashfs"] = "mksquashfs"

    @field_validator("block_size")
    @classmethod
    def _bs(cls, v: str) -> str:
        n = parse_size(v)
        if n < 4096 or n > MiB or n & (n - 1):
            raise ValueError(
                "squashfs block_size is not a power of two from 4KiB to 1MiB; use e.g. 128KiB"
            )
        return v


class SquashfsPartition(PartitionBase):
    rules = FsRules(
        root_owned=True,
        label_bytes=None,
        no_label="squashfs has no label at all (use erofs or ext4 for one)",
        uuid="none",
        read_only=True,
        fstype="squashfs",
        may_be_empty=False,
        compresses=True,
    )
    filesystem: Literal["squashfs"]
    squashfs: SquashfsOptions = Field(default_factory=SquashfsOptions)


class SquashfsBuilder:
    def tools(self, ctx: PartCtx) -> list[str]:
        return [ctx.options(SquashfsOptions).tool, "unsquashfs"]

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        opts = ctx.options(SquashfsOptions)
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
        opts = ctx.options(SquashfsOptions)
        bs = parse_size(opts.block_size)
        ratio = ctx.compress_ratio("squashfs", opts.compressor)
        # full blocks and the tails packed into fragment blocks both compress
        data = int(max(0, st.bytes - st.hole_bytes) * ratio) + (st.files // 32) * 16  # holes: 0
        meta = (st.entries * 40 + st.name_bytes + st.symlink_bytes) // 2
        meta += (st.bytes // bs) * 4 + st.files * 8
        content = data + meta
        minimum = round_up(content + 4096, 4096)
        return auto_or_fixed(ctx, minimum, content, align=4096)

    def steps(self, ctx: PartCtx) -> list[Step]:
        opts, info = ctx.options(SquashfsOptions), ctx.info
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
                "-progress",  # its bar moves the step's (off a terminal, now and then)
            ]
        steps = [
            ctx.step(
                "mkfs",
                f"Make the squashfs image for the {info.spoken} from {info.subtree}",
                expr=cmd(*argv),
                weight=cost(ctx.stats.bytes, 15, 0.3),  # 120 MiB in 8 s here (gzip, 2 cores)
                progress=MKSQUASHFS if opts.tool == "mksquashfs" else None,
                comment="every timestamp comes from SOURCE_DATE_EPOCH (mksquashfs refuses "
                "-all-time alongside it)"
                if opts.tool == "mksquashfs"
                else "",
            )
        ]
        return [*steps, *ctx.pad_to_fixed(), ctx.capture_size()]

    def verify(self, ctx: PartCtx) -> list[Step]:
        return ctx.check_step(
            "squashfs image", "unsquashfs -s", cmd("unsquashfs", "-s", ctx.image), weight=0.1
        )


SPEC = FsSpec(
    name="squashfs",
    title="squashfs — read-only, strongly compressed",
    help="Read-only and strongly compressed (zstd, xz, gzip…). The smallest images, "
    "for live media and stores. Has no label; random reads are slower than erofs.",
    partition=SquashfsPartition,
    builder=SquashfsBuilder(),
    options=SquashfsOptions,
    options_title="squashfs options",
    form_title="squashfs options (compression)",
    advice="read-only, smallest; no label. For live media.",
    tools=(
        Tool(
            "mksquashfs",
            "squashfs images",
            "squashfs-tools",
            "squashfs-tools",
            "squashfs-tools",
            "squashfsTools",
        ),
        Tool(
            "unsquashfs",
            "checking squashfs",
            "squashfs-tools",
            "squashfs-tools",
            "squashfs-tools",
            "squashfsTools",
        ),
        Tool(
            "gensquashfs",
            "squashfs from a pack file",
            "squashfs-tools-ng",
            "squashfs-tools-ng",
            "squashfs-tools-ng",
            "squashfs-tools-ng",
            optional=True,
        ),
    ),
    fields={
        "compressor": FieldWords(
            "Compressor",
            "zstd: small and quick (usual); xz: smallest",
            ("zstd", "xz", "gzip", "lz4", "lzo"),
            explain={"zstd": "good ratio, fast (usual)", "xz": "smallest, slowest",
                     "gzip": "most compatible", "lz4": "fastest, biggest",
                     "lzo": "fast, older kernels"},
            plain="squashfs compression:",
        ),
        "block_size": FieldWords(
            "Block size",
            "bigger blocks compress better, random reads get slower",
            ("4KiB", "8KiB", "16KiB", "32KiB", "64KiB", "128KiB", "256KiB", "512KiB", "1MiB"),
        ),
        "tool": FieldWords(
            "Tool", "mksquashfs (usual) or gensquashfs", ("mksquashfs", "gensquashfs")
        ),
    },
)
