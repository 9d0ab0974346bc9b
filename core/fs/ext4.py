"""ext4 via `mkfs.ext4 -d`, shrunk with `resize2fs -M` and grown by the headroom.

"auto" is the minimum plus the headroom — not a fudge factor. mkfs starts at
the modelled minimum (the blocks the tree fills plus the group metadata
mke2fs lays out for that size, plus 2%), because resize2fs' own minimum is
conservative by whole block groups when data needs more groups than inodes
do; resize2fs -M then shrinks whatever the model overshot.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import DiskwrightError, ProfileError
from ..ext4_split import is_big
from ..model import FsRules, PartitionBase, strict
from ..plan import And, Arg, Arith, Expr, Or, Pipe, Step, Var, cmd, cost
from ..tools import Tool, probe, which
from ..units import MiB, parse_size, round_up
from .base import FieldWords, FsSize, FsSpec, PartCtx, auto_or_fixed, too_small


class Ext4Options(BaseModel):
    """The [ext4] table of an ext4 partition."""

    model_config = strict()
    block_size: Literal[1024, 2048, 4096] = 4096
    inode_ratio: int = Field(default=16384, ge=1024, le=67108864)
    reserved_percent: float = Field(default=0, ge=0, le=50)


class Ext4Partition(PartitionBase):
    rules = FsRules(label_bytes=16, fstype="ext4", root_owned=True)
    filesystem: Literal["ext4"]
    ext4: Ext4Options = Field(default_factory=Ext4Options)


# No release is linear in a folder's size: 1.47.3 links each entry after searching only the
# folder's last block (EXT2FS_LINK_APPEND), yet an 18,000-entry folder still took 12.5 s on
# 1.47.4 against 0.5 s for the same files in 180 folders (bench/RESULTS.md), so big folders
# are split on every release. A release measured linear should be exempted in
# splits_big_folders: there the split and merge would cost more than they save.
# mke2fs reads SOURCE_DATE_EPOCH, as a ceiling only: not enough to drop the pin (bench/RESULTS.md)
SDE_VERSION = (1, 47, 1)

INODE_SIZE = 256
FIRST_INO = 11


def default_journal_blocks(blocks: int) -> int:
    """e2fsprogs' ext2fs_default_journal_size, in filesystem blocks."""
    table = [
        (2048, 0),
        (32768, 1024),
        (256 * 1024, 4096),
        (512 * 1024, 8192),
        (4096 * 1024, 16384),
        (8192 * 1024, 32768),
        (16384 * 1024, 65536),
        (32768 * 1024, 131072),
    ]
    for limit, size in table:
        if blocks < limit:
            return size
    return 262144


def journal_blocks_for(ctx: PartCtx) -> int:
    """The journal mke2fs would pick for the final size, passed explicitly (-J size=)."""
    b = ctx.options(Ext4Options).block_size
    data = max(0, ctx.stats.rounded(b) - ctx.stats.hole_bytes) // b  # holes stay holes
    return max(default_journal_blocks(int(data * 1.1) + 1024), 1024)


def _has_super(group: int) -> bool:
    """sparse_super: groups 0, 1 and powers of 3, 5 and 7 hold superblock copies."""
    if group <= 1:
        return True
    for base in (3, 5, 7):
        n = base
        while n < group:
            n *= base
        if n == group:
            return True
    return False


@dataclass(frozen=True)
class Geometry:
    """What mke2fs lays out for a given size: enough to count metadata blocks."""

    blocks: int
    block: int
    groups: int
    ipg: int  # inodes per group
    itb: int  # inode-table blocks per group
    gdt: int  # descriptor blocks + reserved GDT blocks (in groups with a superblock)

    @classmethod
    def for_size(cls, blocks: int, block: int, ratio: int) -> Geometry:
        bpg = 8 * block
        groups = max(-(-blocks // bpg), 1)
        per_block = block // INODE_SIZE
        ipg = round_up(-(-(blocks * block // ratio) // groups), per_block)
        ipg = min(max(ipg, per_block), bpg)
        desc = -(-groups // (block // 64))
        reach = min(0xFFFFFFFF, blocks * 1024)
        reach_groups = -(-reach // bpg)
        reserved = min(-(-reach_groups // (block // 64)) - desc, block // 4)
        return cls(blocks, block, groups, ipg, ipg * INODE_SIZE // block, desc + max(reserved, 0))

    def overhead(self, group: int) -> int:
        extra = 1 + self.gdt if _has_super(group) else 0
        return self.itb + 2 + extra


def used_blocks(ctx: PartCtx) -> tuple[int, int]:
    """(blocks mkfs.ext4 -d fills outside group metadata, inodes it uses)."""
    st = ctx.stats
    b = ctx.options(Ext4Options).block_size
    data = max(0, st.rounded(b) - st.hole_bytes) // b  # mke2fs -d keeps holes
    dirs = sum(-(-(d + 24) // (b - 12)) for d in ctx.dirents) or st.dirs
    dirs += sum(1 for d in ctx.dirents if d + 24 > b - 12)  # htree root of big folders
    links = st.symlink_bytes // 200  # targets over 59 bytes need a block
    extent = data // (8 * b * 4)  # files crossing many groups need an extent block
    used = data + dirs + links + extent + journal_blocks_for(ctx) + orphan_blocks_for(ctx) + 4
    inodes = st.files + st.dirs + st.symlinks + st.specials + FIRST_INO
    return used, inodes


@functools.cache
def mke2fs_features() -> frozenset[str]:
    """The features the installed mkfs.ext4 turns on by itself (its mke2fs.conf).

    Asked by making a scratch 16 MiB filesystem and reading it back, since the
    defaults are the distribution's: e2fsprogs 1.47.2 on Debian 13 adds orphan_file
    (a file of 32+ written blocks in every filesystem), 1.47.0 on Debian 12 does not.
    """
    import tempfile

    mkfs, dumpe2fs = which("mkfs.ext4"), which("dumpe2fs")
    if mkfs is None or dumpe2fs is None:
        return frozenset()
    # one scratch file, not a folder: removing it lists nothing (validation walks no tree)
    with tempfile.NamedTemporaryFile(prefix="diskwright-mke2fs-", suffix=".ext4") as f:
        img = f.name
        made = probe([mkfs, "-q", "-F", "-b", "4096", img, "16M"])
        p = probe([dumpe2fs, "-h", img]) if made is not None and made.returncode == 0 else None
    m = re.search(r"^Filesystem features:\s*(.*)$", p.stdout, re.M) if p is not None else None
    if m is None:
        raise DiskwrightError(
            f"{mkfs} could not make a 16 MiB scratch filesystem to learn its default features "
            f"({(made.stderr if made is not None else 'it did not start').strip()[:200]}); "
            "diskwright needs them to size ext4 (is the temporary folder full or read-only?)")
    return frozenset(m.group(1).split())


def orphan_blocks_for(ctx: PartCtx) -> int:
    """The orphan file's blocks in this partition's filesystem (0 where mke2fs makes none)."""
    b = ctx.options(Ext4Options).block_size
    fixed = ctx.fixed_size()
    data = max(0, ctx.stats.rounded(b) - ctx.stats.hole_bytes) // b
    return orphan_file_blocks(fixed // b if fixed is not None else data + data // 10 + 2048)


def orphan_file_blocks(blocks: int) -> int:
    """Blocks of the orphan file mke2fs makes in a `blocks`-block filesystem, 0 without one
    (e2fsprogs' ext2fs_default_orphan_file_blocks: 32, then 1/4096 of it, at most 512)."""
    if "orphan_file" not in mke2fs_features():
        return 0
    if blocks < 128 * 1024:
        return 32
    return min(blocks // 4096, 512)


def tight_blocks(ctx: PartCtx) -> int:
    """The smallest filesystem that holds the tree, plus 2% for what the model misses."""
    opts = ctx.options(Ext4Options)
    b = opts.block_size
    bpg = 8 * b
    used, inodes = used_blocks(ctx)
    blocks = max(used + used // 10, inodes * opts.inode_ratio // b, 2048)
    need = blocks
    for _ in range(6):  # the metadata depends on the size: settle it
        geo = Geometry.for_size(blocks, b, opts.inode_ratio)
        groups = max(-(-inodes // geo.ipg), 1)
        while groups * bpg - sum(geo.overhead(g) for g in range(groups)) < used:
            groups += 1
        need = used + sum(geo.overhead(g) for g in range(groups)) + 50
        need = max(need, inodes * opts.inode_ratio // b)
        if abs(need - blocks) < 16:
            break
        blocks = need
    # mke2fs makes no journal under 2048 blocks and wants it under half the free space
    need = max(need, 2048 + 64, used + journal_blocks_for(ctx) + 64)
    return round_up(need + need // 50 + 256, 256)


FLEX_BG = 16  # mke2fs' default flex_bg size: a flex group's tables sit in its first group


def shrunk_blocks(ctx: PartCtx) -> int:
    """What `resize2fs -M` leaves of the filesystem mkfs made at tight_blocks.

    resize2fs keeps the inodes per group, so a tree needing more inodes than data
    (many small files) shrinks below the size mke2fs needed for its default inode
    ratio: whole groups for the inodes, the last one as full as the data makes it.
    This follows calculate_minimum_resize_size of resize2fs 1.47 for the usual case
    (flex_bg, no meta_bg); it is within 1% of what resize2fs printed on the bench trees.
    """
    opts = ctx.options(Ext4Options)
    b = opts.block_size
    bpg = 8 * b
    blocks = tight_blocks(ctx)
    used, inodes = used_blocks(ctx)
    geo = Geometry.for_size(blocks, b, opts.inode_ratio)
    data = used + min((blocks - used) // 500, -(-used // ((b - 12) // 12)))  # extent margin
    groups = min(max(-(-inodes // geo.ipg), 1), geo.groups)

    def capacity(n: int) -> int:  # the tables of a flex group's later groups count too
        flex = min(-(-n // FLEX_BG) * FLEX_BG, geo.groups)
        return n * bpg - sum(geo.overhead(g) for g in range(flex))

    while groups < geo.groups and capacity(groups) < data:
        groups += 1
    last_start = sum(bpg - geo.overhead(g) for g in range(groups - 1))
    first = 0 if groups - 1 < FLEX_BG else groups - 1
    overhead = sum(geo.overhead(g) for g in range(first, groups)) + 50
    if last_start < data:
        overhead += max(data - last_start, 50)
    need = (groups - 1) * bpg + overhead
    if need >= blocks:
        return blocks
    return need + (blocks - need) // 1024  # resize2fs' extent-tree margin


@functools.cache
def e2fsprogs_version() -> tuple[int, ...]:
    """The installed e2fsprogs (mke2fs -V), (0,) when it cannot be read."""
    p = probe(["mke2fs", "-V"])
    if p is None:
        return (0,)
    m = re.search(r"mke2fs (\d+(?:\.\d+)+)", p.stdout + p.stderr)
    return tuple(int(x) for x in m.group(1).split(".")) if m else (0,)


def splits_big_folders(ctx: PartCtx) -> bool:
    """Split-then-merge where a folder is big enough for mkfs.ext4 -d's quadratic cost."""
    if ctx.src is None:
        return False
    b = ctx.options(Ext4Options).block_size
    return any(is_big(d, b) for d in ctx.dirents)


def has_multi_block_folder(ctx: PartCtx) -> bool:
    """Whether any folder may span 2+ blocks, so e2fsck -D has something to index.

    `dirents` counts 10 bytes per entry; a real one takes up to 11 (4-byte
    alignment), and every entry adds at least 11 to the count, hence d // 11.
    The 24 are "." and "..", the 20 root's lost+found, the 12 the checksum tail.
    Unknown folders (no dirents) count as big.
    """
    b = ctx.options(Ext4Options).block_size
    return not ctx.dirents or any(d + d // 11 + 1 + 24 + 20 > b - 12 for d in ctx.dirents)


def _version(v: tuple[int, ...]) -> str:
    return ".".join(map(str, v))


def pin_reason(version: tuple[int, ...]) -> str:
    """Why the pin step runs on this e2fsprogs: the preview says which case applies.

    Measured with bench/ext4_sde.py on 1.47.0 and 1.47.2: from 1.47.1 mkfs.ext4 -d
    lowers every time after SOURCE_DATE_EPOCH to it but keeps earlier ones, so
    an old mtime stays (the pin writes the epoch) and an old atime stays until
    a build's own read moves it (the next build then differs).
    """
    v = f"e2fsprogs {_version(version)}" if version > (0,) else "this e2fsprogs"
    if version >= SDE_VERSION:
        return (
            f"{v} takes SOURCE_DATE_EPOCH only as a ceiling: source times before it stay "
            "(old mtimes; old atimes until a build reads the file), so it alone gives "
            "neither the epoch nor the same bytes twice"
        )
    return (
        f"{v} ignores SOURCE_DATE_EPOCH: mkfs.ext4 -d copies atime, ctime and mtime "
        "from the source"
    )


class Ext4Builder:
    def tools(self, ctx: PartCtx) -> list[str]:
        # no fakeroot as an ordinary user: the pin makes every owner root (_normalize_steps)
        return ["mkfs.ext4", "e2fsck", "resize2fs", "dumpe2fs", "debugfs", "diskwright"]

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        return too_small(ctx, self.estimate(ctx))

    def estimate(self, ctx: PartCtx) -> FsSize:
        b = ctx.options(Ext4Options).block_size
        used, _ = used_blocks(ctx)
        # the journal and the orphan file are the filesystem's, not the tree's
        content = (used - journal_blocks_for(ctx) - orphan_blocks_for(ctx)) * b
        size = auto_or_fixed(ctx, tight_blocks(ctx) * b, content)
        if size.fixed:
            return size
        # mkfs starts at tight_blocks (`steps`); the smallest image is what resize2fs -M
        # leaves of that, and the image that plus the headroom
        shrunk = shrunk_blocks(ctx) * b
        image = round_up(shrunk + ctx.part.headroom_for(shrunk), MiB)
        return FsSize(content=size.content, minimum=shrunk, image=image, fixed=False)

    def _normalize_steps(self, ctx: PartCtx, env: dict[str, str]) -> list[Step]:
        """Pin every timestamp (and, where needed, owner) in the inode tables, or with debugfs.

        mkfs.ext4 -d copies the source's times (1.47.1+: those before
        SOURCE_DATE_EPOCH), and staging by hard links changes ctime, so without
        this two builds differ; the step's comment says why on the installed
        release. As an ordinary user mkfs runs without fakeroot and copies the
        user's ids; `--owners` makes them root here. fakeroot nearly doubled
        mkfs' CPU time (1.8 s vs 0.9 s for 20,000 files), and fakeroot 1.31
        answers every xattr query with "none": the image lost the user.* and
        security.capability attributes a root build keeps. Now both builds give
        the same bytes.
        """
        argv: list[Arg] = ["diskwright", "helper", "ext4-pin", ctx.image, str(ctx.epoch)]
        if ctx.stats.not_root or os.geteuid() != 0:
            argv.append("--owners")
        for fm in ctx.info.files:
            if fm.user or fm.group:
                rel = "/" + str(PurePosixPath(fm.target).relative_to(ctx.info.subtree or "/"))
                argv.append(f"{rel}:{fm.user}:{fm.group}")
        return [
            ctx.step(
                "times",
                f"Set every timestamp to {ctx.epoch}"
                + (" and owners to root" if "--owners" in argv else "")
                + " (in the inode tables)",
                expr=cmd(*argv, env=env),
                weight=max(ctx.stats.entries / 80000, 0.1),
                comment=pin_reason(e2fsprogs_version()),
            )
        ]

    def _split_steps(self, ctx: PartCtx, tree: Arg, in_place: bool) -> list[Step]:
        """Big folders go into one-block parts first, so mkfs -d never searches long ones."""
        v = _version(e2fsprogs_version())
        argv: list[Arg] = ["diskwright", "helper", "ext4-split", ctx.source_dir, tree]
        argv += [ctx.work_file("merge"), str(ctx.options(Ext4Options).block_size)]
        if in_place:
            argv.append("--in-place")
        return [
            ctx.step(
                "split",
                "Split big folders into one-block parts "
                + ("in the staging copy" if in_place else "in a hard-link mirror"),
                expr=cmd(*argv),
                weight=max(ctx.stats.entries / 50000, 0.1),
                comment=(
                    f"mkfs.ext4 -d of e2fsprogs {v} goes through a whole folder for each new "
                    "entry (quadratic, 1.47.4 too): the parts are merged back with debugfs "
                    "once the folders are htree-indexed"
                ),
            )
        ]

    def _index_step(self, ctx: PartCtx, env: dict[str, str], suffix: str) -> Step:
        """Every multi-block folder htree-indexed: mke2fs -d leaves them all linear."""
        return ctx.step(
            suffix,
            "Index every multi-block folder (e2fsck -fyD)"
            + (" so the merge inserts by hash" if suffix == "index-parts" else ""),
            # exit 1 = "file system modified", which -D always is; 2+ is a failure
            expr=cmd(
                "sh",
                "-c",
                'e2fsck -fyD "$1"; test "$?" -le 1',
                "index",
                ctx.image,
                env={**env, "E2FSCK_TIME": str(ctx.epoch)},
            ),
            weight=max(ctx.stats.entries / 100000, 0.1),
        )

    def steps(self, ctx: PartCtx) -> list[Step]:
        part, opts, info = ctx.part, ctx.options(Ext4Options), ctx.info
        b = opts.block_size
        size = self.estimate(ctx)
        argv: list[Arg] = ["mkfs.ext4", "-F", "-b", str(b), "-i", str(opts.inode_ratio)]
        argv += ["-I", str(INODE_SIZE), "-m", f"{opts.reserved_percent:g}"]
        if not size.fixed:
            argv += ["-J", f"size={max(journal_blocks_for(ctx) * b // MiB, 1)}"]
        if part.label:
            argv += ["-L", part.label]
        assert info.fs_uuid
        argv += ["-U", info.fs_uuid, "-E", f"hash_seed={info.fs_uuid},root_owner=0:0"]
        split = splits_big_folders(ctx)
        in_place = ctx.src == ctx.work_file("stage")
        tree = ctx.src if in_place or not split else ctx.work_file("split")
        if tree is not None:
            argv += ["-d", tree]
        argv.append(ctx.image)
        env = {"E2FSPROGS_FAKE_TIME": str(ctx.epoch)}
        title = f"Make the ext4 filesystem for the {info.spoken}" + (
            f" from {info.subtree}" if info.subtree else " (empty)"
        )
        if size.fixed:
            mkfs: Expr = cmd(*argv, f"{size.image // 1024}k", env=env)
            comment = ""
        else:
            tight = tight_blocks(ctx) * b
            loose = round_up(tight + tight // 2 + 16 * MiB, MiB)
            mkfs = Or(
                cmd(*argv, f"{tight // 1024}k", env=env),
                And((cmd("rm", "-f", ctx.image), cmd(*argv, f"{loose // 1024}k", env=env))),
            )
            comment = (
                f"sized to the modelled minimum ({tight // MiB} MiB); if the tree does not fit, "
                f"again at {loose // MiB} MiB — resize2fs -M then finds the real minimum"
            )
        steps = self._split_steps(ctx, tree, in_place) if split and tree is not None else []
        steps += [
            ctx.step(
                "mkfs",
                title,
                expr=mkfs,
                weight=max(ctx.stats.bytes / MiB / 40, 1),
                comment=comment,
            )
        ]
        if split:
            steps.append(self._index_step(ctx, env, "index-parts"))
            steps.append(
                ctx.step(
                    "merge",
                    "Move the split entries back into their indexed folders (debugfs ln)",
                    expr=cmd(
                        "diskwright",
                        "helper",
                        "ext4-merge",
                        ctx.image,
                        ctx.work_file("merge"),
                        str(ctx.epoch),
                        env=env,
                    ),
                    weight=max(ctx.stats.entries / 40000, 0.1),
                )
            )
        if ctx.src is not None:
            # one-block folders: -D would only cost a full e2fsck pass (0.3 s on a big tree)
            if split or has_multi_block_folder(ctx):
                steps.append(self._index_step(ctx, env, "index"))
            steps += self._normalize_steps(ctx, env)
        if not size.fixed:
            var = info.var
            steps += [
                ctx.step(
                    "shrink",
                    "Shrink to the minimum size (resize2fs -M)",
                    expr=cmd("resize2fs", "-M", ctx.image, env=env),
                    weight=cost(ctx.stats.bytes, 1000, 0.05),  # 0.04 s for 120 MiB
                ),
                ctx.step(
                    "min",
                    "Read the minimum block count",
                    kind="capture",
                    capture=f"{var}_MIN",
                    expr=Pipe(
                        (
                            cmd("dumpe2fs", "-h", ctx.image, quiet_stderr=True),
                            cmd("sed", "-n", "s/^Block count: *//p"),
                        )
                    ),
                    weight=0.01,
                ),
                ctx.step(
                    "target",
                    f"Add the headroom ({part.headroom}) and round to 1 MiB",
                    kind="capture",
                    capture=f"{var}_BLOCKS",
                    value=_headroom_arith(Var(f"{var}_MIN"), part.headroom, b),
                    weight=0.01,
                ),
                ctx.step(
                    "grow",
                    "Grow the filesystem by the headroom",
                    expr=_and(
                        cmd("truncate", "-s", Arith((Var(f"{var}_BLOCKS"), f" * {b}")), ctx.image),
                        cmd("resize2fs", ctx.image, env=env),
                    ),
                    weight=0.05,
                ),
            ]
        steps.append(ctx.capture_size())
        return steps

    def verify(self, ctx: PartCtx) -> list[Step]:
        return ctx.check_step(
            "ext4 filesystem", "e2fsck -n -f", cmd("e2fsck", "-n", "-f", ctx.image),
            weight=max(ctx.stats.bytes / MiB / 400, 0.2),
        )


def _and(*items: Expr) -> And:
    return And(tuple(items))


def _headroom_arith(min_var: Var, headroom: str, block: int) -> Arith:
    """Blocks = minimum + headroom, rounded up to whole MiB, in shell arithmetic."""
    per_mib = MiB // block
    if headroom == "auto":
        grown: tuple[str | Var, ...] = ("(", min_var, " + ", min_var, " / 10)")
    elif headroom.endswith("%"):
        permille = round(float(headroom[:-1]) * 10)
        grown = ("(", min_var, " + ", min_var, f" * {permille} / 1000)")
    else:
        extra = -(-parse_size(headroom) // block)
        grown = ("(", min_var, f" + {extra})")
    return Arith(("(", *grown, f" + {per_mib - 1}) / {per_mib} * {per_mib}"))


def data_layout(ctx: PartCtx, size: int) -> tuple[int, tuple[int, ...]]:
    """Where the files start and where metadata lies (measured with e2fsprogs 1.47):
    superblock, bitmaps and the inode table (256 B an inode) first, then the journal
    (zeros but its superblock), then the orphan file where mke2fs makes one (1.47.2:
    every block of it written), then files."""
    opts = ctx.options(Ext4Options)
    b = opts.block_size
    table = size // opts.inode_ratio * 256  # mkfs.ext4 -I 256
    orphan_at = table + journal_blocks_for(ctx) * b
    orphan = range(orphan_at, orphan_at + orphan_blocks_for(ctx) * b, b)
    return orphan.stop, (0, 64 * 1024, 128 * 1024, table + 128 * 1024, *orphan)


SPEC = FsSpec(
    name="ext4",
    title="ext4 — read-write Linux filesystem",
    help="Read-write Linux filesystem. The safe default for a root or data partition: "
    "the guest can write to it, grow it and fsck it.",
    partition=Ext4Partition,
    builder=Ext4Builder(),
    options=Ext4Options,
    options_title="ext4 options",
    advice="the guest can write to it. Use it for `/` and data volumes.",
    layout=data_layout,
    tools=(
        Tool("mkfs.ext4", "ext4 filesystems", "e2fsprogs", "e2fsprogs", "e2fsprogs", "e2fsprogs"),
        Tool("e2fsck", "checking ext4", "e2fsprogs", "e2fsprogs", "e2fsprogs", "e2fsprogs"),
        Tool(
            "resize2fs", "shrinking ext4 to fit", "e2fsprogs", "e2fsprogs", "e2fsprogs", "e2fsprogs"
        ),
        Tool("dumpe2fs", "reading ext4 sizes", "e2fsprogs", "e2fsprogs", "e2fsprogs", "e2fsprogs"),
        Tool(
            "debugfs", "fixing ext4 ownership", "e2fsprogs", "e2fsprogs", "e2fsprogs", "e2fsprogs"
        ),
    ),
    fields={
        "block_size": FieldWords(
            "Block size",
            "4096 bytes is usual; 1024 for tiny images",
            ("4096", "2048", "1024"),
            titles={"4096": "4096 bytes (usual)", "2048": "2048 bytes",
                    "1024": "1024 bytes (tiny images)"},
        ),
        "inode_ratio": FieldWords(
            "Bytes/inode", "one inode per this many bytes; lower it for many small files"
        ),
        "reserved_percent": FieldWords("Reserved %", "space only root may use; 0 for images"),
    },
)
