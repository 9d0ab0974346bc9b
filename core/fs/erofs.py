"""erofs via mkfs.erofs: compressed, read-only, the modern Nix-store image.

Options the installed mkfs.erofs would silently ignore (1.5 accepts any -E)
are refused at validation instead of being passed and not taking effect.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from ..errors import ProfileError
from ..model import FsRules, PartitionBase, strict
from ..plan import Arg, Step, cmd, cost
from ..progress import erofs_files
from ..tools import Tool, erofs_features
from ..units import round_up
from .base import (
    FieldWords,
    FsSize,
    FsSpec,
    PartCtx,
    auto_or_fixed,
    owners_unsupported,
    too_small,
)


class ErofsOptions(BaseModel):
    """The [erofs] table of an erofs partition."""

    model_config = strict()
    compressor: Literal["none", "lz4", "lz4hc"] = "lz4hc"
    level: int | None = Field(default=None, ge=0, le=12, description="lz4hc level 0-12")
    tail_packing: bool = True
    dedupe: bool = False
    fragments: bool = False

    @model_validator(mode="after")
    def _level(self) -> ErofsOptions:
        if self.level is not None and self.compressor != "lz4hc":
            raise ValueError("level only applies to the lz4hc compressor; remove it or use lz4hc")
        return self


class ErofsPartition(PartitionBase):
    rules = FsRules(label_bytes=16, read_only=True, fstype="erofs", may_be_empty=False,
                    compresses=True, root_owned=True,
                    repart_note="Format=erofs needs a systemd-repart newer than 252")
    filesystem: Literal["erofs"]
    erofs: ErofsOptions = Field(default_factory=ErofsOptions)


BLOCK = 4096


ZEROS_PACK = 226  # bytes of zeros per byte of image (erofs-utils 1.5, lz4 and lz4hc, measured)


class ErofsBuilder:
    def tools(self, ctx: PartCtx) -> list[str]:
        tools = ["mkfs.erofs", "fsck.erofs"]
        if ctx.part.label and not erofs_features().label:
            tools.append("diskwright")
        return tools

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        feats = erofs_features()
        opts = ctx.options(ErofsOptions)
        errors: list[ProfileError] = []
        where = f"{ctx.info.where}.erofs"
        if feats.version == (0,):
            return errors  # the tool is missing: preflight says how to install it
        if opts.compressor != "none" and opts.compressor not in feats.compressors:
            errors.append(
                ProfileError(
                    f"{where}.compressor",
                    f"{feats.describe()} has no {opts.compressor} compressor "
                    f"(it has {', '.join(feats.compressors) or 'none'})",
                    "choose one of those or upgrade erofs-utils",
                )
            )
        for flag in ("dedupe", "fragments"):
            if getattr(opts, flag) and flag not in feats.extended:
                errors.append(
                    ProfileError(
                        f"{where}.{flag}",
                        f"{feats.describe()} would silently ignore -E{flag} "
                        "(it needs erofs-utils 1.6 or newer)",
                        f"set {flag} = false or upgrade erofs-utils",
                    )
                )
        label = ctx.part.label
        if label and feats.label and len(label.encode()) > feats.label_max:
            errors.append(
                ProfileError(
                    f"{ctx.info.where}.label",
                    f"{label!r} is {len(label.encode())} bytes; {feats.describe()} -L takes at "
                    f"most {feats.label_max}",
                    f"shorten the label to {feats.label_max} bytes",
                )
            )
        errors += owners_unsupported(ctx, "erofs images here are all root-owned")
        if feats.version <= (1, 5):
            errors += _long_names(ctx, feats.describe())
        return errors + too_small(ctx, self.estimate(ctx))

    def estimate(self, ctx: PartCtx) -> FsSize:
        st = ctx.stats
        opts = ctx.options(ErofsOptions)
        ratio = ctx.compress_ratio("erofs", opts.compressor)
        full_blocks = st.bytes - st.tail_bytes
        if opts.compressor == "none":
            data = st.rounded(BLOCK) if not opts.tail_packing else full_blocks + st.tail_bytes
        else:
            # compressed clusters; packed tails are compressed too (inline after the
            # inode), unpacked small files take a block each
            # holes are zeros to mkfs.erofs: 1 GiB of them packs into 4.5 MiB (lz4, lz4hc)
            holes = st.hole_bytes
            data = (
                int(max(0, st.bytes - holes) * ratio)
                if opts.tail_packing
                else int(max(0, full_blocks - holes) * ratio) + st.small_files * BLOCK
            ) + holes // ZEROS_PACK
        # inodes (32-64 bytes compact/extended) + directory blocks + symlinks
        meta = st.entries * 64 + st.name_bytes + st.entries * 12 + st.dirs * 256
        meta += st.symlink_bytes + st.files * 16
        content = data + meta
        minimum = round_up(content + 2 * BLOCK, BLOCK)
        return auto_or_fixed(ctx, minimum, content, align=BLOCK)

    def steps(self, ctx: PartCtx) -> list[Step]:
        opts, info = ctx.options(ErofsOptions), ctx.info
        feats = erofs_features()
        # with SOURCE_DATE_EPOCH set, mkfs.erofs 1.5 writes ~1% larger images than with -T
        argv: list[Arg] = ["env", "-u", "SOURCE_DATE_EPOCH", "mkfs.erofs"]
        if opts.compressor != "none":
            z = opts.compressor + (f",{opts.level}" if opts.level is not None else "")
            argv.append(f"-z{z}")
        ext = [
            e
            for e in ("ztailpacking", "dedupe", "fragments")
            if getattr(opts, {"ztailpacking": "tail_packing"}.get(e, e))
        ]
        if ext:
            argv.append("-E" + ",".join(ext))
        assert info.fs_uuid
        argv += ["-T", str(ctx.epoch), "-U", info.fs_uuid, "--all-root"]
        if ctx.part.label and feats.label:
            argv += ["-L", ctx.part.label]
        threads, workers = "uncompressed", 1
        if opts.compressor != "none":
            if feats.workers and ctx.cpus > 1:
                argv.append(f"--workers={ctx.cpus}")
                threads, workers = f"{ctx.cpus} compression threads", ctx.cpus
            else:
                threads = f"one thread: {feats.describe()} has no --workers, 1.8 has"
        argv += [ctx.image, ctx.source_dir]
        steps = [
            ctx.step(
                "mkfs",
                f"Make the erofs image for the {info.spoken} from {info.subtree} ({threads})",
                expr=cmd(*argv),
                # measured here: lz4hc 1.6 MiB/s a thread (120 MiB in 76 s), none ~60 MiB/s
                weight=cost(ctx.stats.bytes, 60 if opts.compressor == "none" else 2 * workers, 0.3),
                progress=erofs_files(ctx.source_dir, ctx.stats.bytes),
            )
        ]
        if ctx.part.label and not feats.label:
            steps.append(
                ctx.step(
                    "label",
                    f"Write the label into the superblock ({feats.describe()} has no -L)",
                    expr=cmd("diskwright", "helper", "erofs-label", ctx.image, ctx.part.label),
                    weight=0.01,
                )
            )
        return [*steps, *ctx.pad_to_fixed(), ctx.capture_size()]

    def verify(self, ctx: PartCtx) -> list[Step]:
        return ctx.check_step(
            "erofs image", "fsck.erofs", cmd("fsck.erofs", ctx.image), weight=0.3
        )


SPEC = FsSpec(
    name="erofs",
    title="erofs — read-only, compressed, fast to read",
    help="Read-only and compressed (lz4/lz4hc), very fast to mount and read. Made for "
    "a Nix store or an immutable root; the guest cannot write to it.",
    partition=ErofsPartition,
    builder=ErofsBuilder(),
    options=ErofsOptions,
    options_title="erofs options",
    form_title="erofs options (compression)",
    advice="read-only and compressed; fast. Great for a Nix store.",
    tools=(
        Tool(
            "mkfs.erofs", "erofs images", "erofs-utils", "erofs-utils", "erofs-utils", "erofs-utils"
        ),
        Tool(
            "fsck.erofs",
            "checking erofs",
            "erofs-utils",
            "erofs-utils",
            "erofs-utils",
            "erofs-utils",
        ),
    ),
    fields={
        "compressor": FieldWords(
            "Compressor",
            "lz4hc: smaller images, same fast reads (usual)",
            ("lz4hc", "lz4", "none"),
            explain={"lz4hc": "smaller images, same fast reads (usual)",
                     "lz4": "fastest to build", "none": "no compression"},
            plain="erofs compression:",
        ),
        "level": FieldWords("lz4hc level", "0-12; only for lz4hc"),
        "tail_packing": FieldWords("Tail packing", "pack file tails together (smaller)"),
        "dedupe": FieldWords("Dedupe", "share identical data blocks (needs erofs-utils ≥ 1.6)"),
        "fragments": FieldWords("Fragments", "pack small files together (needs erofs-utils ≥ 1.6)"),
    },
)


def _long_names(ctx: PartCtx, tool: str) -> list[ProfileError]:
    """erofs-utils 1.5 fails on a 255-byte name ("Could not format the device: [Error 2]"),
    though Linux allows it: refuse it at validation, naming the file, from the scan's
    listing (no second walk; a name under 64 characters cannot be 255 bytes)."""
    sub = ctx.info.subtree or "/"
    names = [(t, PurePosixPath(t).name) for t in (f.target for f in ctx.info.files)]
    names += [(str(PurePosixPath(sub) / folder / n), n) for folder, n in ctx.source_names()
              if len(n) >= 64 and len(os.fsencode(n)) >= 255]
    field = ctx.contents_field
    return [
        ProfileError(field, f"{path!r} has a 255-byte name, which {tool} cannot store",
                     "shorten the name to 254 bytes or upgrade erofs-utils")
        for path, name in names if len(os.fsencode(name)) >= 255
    ][:5]
