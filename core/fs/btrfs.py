"""btrfs via mkfs.btrfs --rootdir: read-write, copy-on-write, made without root.

btrfs-progs 6.2 (Debian 12) stamps each build with the time and fresh chunk
and device ids, so two builds hold the same files but not the same bytes: the
rules say so and the preview and README repeat it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import ProfileError
from ..model import FsRules, PartitionBase, strict
from ..plan import Arg, Step, cmd
from ..tools import Tool, _run
from ..units import MiB, round_up
from .base import FieldWords, FsSize, FsSpec, PartCtx, owners_unsupported, too_small


class BtrfsOptions(BaseModel):
    """The [btrfs] table of a btrfs partition."""

    model_config = strict()
    metadata: Literal["single", "dup"] = "single"
    checksum: Literal["crc32c", "xxhash", "sha256", "blake2"] = "crc32c"


class BtrfsPartition(PartitionBase):
    rules = FsRules(
        label_bytes=255,  # BTRFS_LABEL_SIZE is 256 with the closing NUL
        fstype="btrfs",
        byte_reproducible=False,
    )
    filesystem: Literal["btrfs"]
    btrfs: BtrfsOptions = Field(default_factory=BtrfsOptions)


@cache
def btrfs_version() -> tuple[int, ...]:
    """The installed btrfs-progs version, (0,) when mkfs.btrfs is missing."""
    m = re.search(r"btrfs-progs v(\d+)(?:\.(\d+))?", _run(["mkfs.btrfs", "--version"]))
    return tuple(int(g) for g in m.groups() if g) if m else (0,)


# What an empty filesystem takes with --shrink: system, metadata and data chunks.
_BASE = {"single": 14 * MiB, "dup": 101 * MiB}


class BtrfsBuilder:
    def tools(self, ctx: PartCtx) -> list[str]:
        return ["mkfs.btrfs", "btrfs"]

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        errors: list[ProfileError] = []
        version = btrfs_version()
        if version != (0,) and version < (5, 15):
            errors.append(
                ProfileError(
                    f"{ctx.info.where}.filesystem",
                    f"btrfs-progs {'.'.join(map(str, version))} cannot shrink a --rootdir "
                    "image reliably",
                    "install btrfs-progs 5.15 or newer",
                )
            )
        if ctx.fixed_size() is None and ctx.part.headroom != "auto":
            errors.append(
                ProfileError(
                    f"{ctx.info.where}.headroom",
                    "an auto-sized btrfs image is shrunk to its content (mkfs.btrfs --shrink) "
                    "and cannot be grown without mounting it",
                    'remove headroom, or give a fixed size such as size = "1GiB"',
                )
            )
        errors += owners_unsupported(ctx, "btrfs images keep the source's owners here")
        return errors + too_small(ctx, self.estimate(ctx))

    def estimate(self, ctx: PartCtx) -> FsSize:
        st = ctx.stats
        opts = ctx.options(BtrfsOptions)
        copies = 2 if opts.metadata == "dup" else 1
        # btrfs-progs 6.2 and 6.14 --rootdir read every byte and write it, holes too (a 1 GiB
        # file holding 4 bytes made a 1.19 GiB image, like a dense one): no hole_bytes
        # taken off here, unlike ext4 and squashfs (upstream added hole detection in
        # 2026; count holes out only once a probed release keeps them)
        data = st.bytes + st.files * 2048  # 4 KiB sectors, half a sector lost per file
        meta = (st.entries * 400 + st.name_bytes * 2 + st.symlink_bytes) * copies
        content = data + meta
        # --rootdir allocates data chunks ahead of what it fills; measured with --shrink
        # on 6.2: 16/32/64/128/256/1024 MiB of data gave 36/66/109/181/325/1189 MiB
        # images (slack 6-151 MiB); the old content/8 gave 87 MiB for 64 MiB
        slack = min(data, data * 15 // 100 + 24 * MiB) + meta // 8
        minimum = round_up(_BASE[opts.metadata] + content + slack, MiB)
        fixed = ctx.fixed_size()
        if fixed is not None:
            return FsSize(content=content, minimum=minimum, image=fixed, fixed=True)
        return FsSize(content=content, minimum=minimum, image=minimum, fixed=False)

    def steps(self, ctx: PartCtx) -> list[Step]:
        opts, info, size = ctx.options(BtrfsOptions), ctx.info, self.estimate(ctx)
        argv: list[Arg] = ["mkfs.btrfs", "-q", "-f", "-m", opts.metadata, "-d", "single"]
        argv += ["--checksum", opts.checksum]
        if ctx.part.label:
            argv += ["-L", ctx.part.label]
        if info.fs_uuid:
            argv += ["-U", info.fs_uuid]
        if ctx.src is not None:
            argv += ["-r", ctx.source_dir]
        if not size.fixed:
            argv.append("--shrink")
        alloc = size.image if size.fixed else 0
        return [
            ctx.step(
                "alloc",
                f"Allocate the btrfs image of the {info.spoken}",
                expr=cmd("truncate", "-s", str(alloc), ctx.image),
                weight=0.01,
            ),
            ctx.step(
                "mkfs",
                f"Make the btrfs filesystem for the {info.spoken}"
                + (f" from {info.subtree}" if info.subtree else " (empty)"),
                expr=cmd(*argv, ctx.image),
                weight=max(ctx.stats.bytes / MiB / 40, 1),
                comment="not byte-reproducible: btrfs-progs stamps each build's time and ids"
                + ("" if size.fixed else "; auto = --shrink, the smallest image, no headroom"),
            ),
            ctx.capture_size(),
        ]

    def verify(self, ctx: PartCtx) -> list[Step]:
        return ctx.check_step(
            "btrfs filesystem", "btrfs check", cmd("btrfs", "check", "--readonly", ctx.image),
            weight=max(ctx.stats.bytes / MiB / 400, 0.2),
        )


SPEC = FsSpec(
    name="btrfs",
    title="btrfs — read-write, copy-on-write, snapshots",
    help="Read-write copy-on-write filesystem with checksums and snapshots. Made without "
    "root by mkfs.btrfs --rootdir; not byte-reproducible (same files, different bytes).",
    partition=BtrfsPartition,
    builder=BtrfsBuilder(),
    options=BtrfsOptions,
    options_title="btrfs options",
    advice="writable, copy-on-write, checksummed; not byte-reproducible.",
    tools=(
        Tool(
            "mkfs.btrfs",
            "btrfs filesystems",
            "btrfs-progs",
            "btrfs-progs",
            "btrfs-progs",
            "btrfs-progs",
        ),
        Tool("btrfs", "checking btrfs", "btrfs-progs", "btrfs-progs", "btrfs-progs", "btrfs-progs"),
    ),
    fields={
        "metadata": FieldWords(
            "Metadata",
            "single: smallest image; dup: two copies of the metadata",
            ("single", "dup"),
            plain="btrfs metadata:",
        ),
        "checksum": FieldWords(
            "Checksum",
            "crc32c is usual and fastest; sha256/blake2 for strong checksums",
            ("crc32c", "xxhash", "sha256", "blake2"),
            plain="btrfs checksum:",
        ),
    },
)
