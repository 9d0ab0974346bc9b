"""ext4 via `mkfs.ext4 -d`, shrunk with `resize2fs -M` and grown by the headroom.

"auto" is the real minimum resize2fs finds plus the headroom — not a fudge
factor — so the same tree always gives the same size, and the estimate below
models what resize2fs will find.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from core.errors import ProfileError
from core.fs.base import FsSize, PartCtx, auto_or_fixed, too_small
from core.plan import And, Arith, Expr, Pipe, Step, Var, cmd
from core.units import MiB, parse_size, round_up

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


def _sparse_backups(groups: int) -> int:
    """Groups holding a superblock copy with sparse_super: 0, 1 and powers of 3, 5, 7."""
    found = {0, 1} if groups > 1 else {0}
    for base in (3, 5, 7):
        n = base
        while n < groups:
            found.add(n)
            n *= base
    return len([g for g in found if g < groups])


def journal_blocks_for(ctx: PartCtx) -> int:
    b = ctx.part.ext4.block_size
    data = ctx.stats.rounded(b) // b
    return max(default_journal_blocks(int(data * 1.1) + 1024), 1024)


def min_blocks(ctx: PartCtx) -> tuple[int, int]:
    """(minimum blocks resize2fs -M arrives at, content blocks) for this tree."""
    st = ctx.stats
    opts = ctx.part.ext4
    b = opts.block_size
    bpg = 8 * b
    ipg = round_up(max(bpg * b // opts.inode_ratio, 16), b // INODE_SIZE)
    itb = ipg * INODE_SIZE // b
    inodes = st.files + st.dirs + st.symlinks + st.specials + FIRST_INO
    data = st.rounded(b) // b
    # one block per directory, more for big ones (8-byte header + name, 4-aligned)
    dir_bytes = st.name_bytes + 12 * (st.entries + st.hardlinks) + 24 * st.dirs
    dirs = st.dirs + dir_bytes // b
    # symlinks over 59 bytes need a block; extents beyond 4 per file need a tree block
    links = st.symlink_bytes // 200
    extent = data // (bpg * 4)
    journal = journal_blocks_for(ctx)
    used = data + dirs + links + extent + journal + 1  # +1: lost+found
    groups = max(-(-inodes // ipg), 1)
    desc_per_block = b // 64
    while True:
        gdt = -(-groups // desc_per_block)
        overhead = groups * (itb + 2) + _sparse_backups(groups) * (1 + gdt + 64)
        if groups * bpg >= used + overhead:
            break
        groups += 1
    total = used + overhead
    margin = min(total // 500, -(-data // (b // 12 - 1)))
    return total + margin + 64, data + dirs + links


class Ext4Builder:
    def tools(self, ctx: PartCtx) -> list[str]:
        tools = ["mkfs.ext4", "e2fsck", "resize2fs", "dumpe2fs"]
        if os.geteuid() != 0:
            tools.append("fakeroot")
        return [*tools, "debugfs", "find"]

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        return too_small(ctx, self.estimate(ctx))

    def estimate(self, ctx: PartCtx) -> FsSize:
        b = ctx.part.ext4.block_size
        blocks, content = min_blocks(ctx)
        return auto_or_fixed(ctx, blocks * b, content * b)

    def _normalize_steps(self, ctx: PartCtx, env: dict[str, str]) -> list[Step]:
        """Pin every timestamp (and, where needed, owner) with debugfs.

        mkfs.ext4 -d copies atime/ctime from the source, and staging by hard
        links changes ctime, so without this two builds differ. The script is
        made at build time with find, so the plan stays short for big trees.
        """
        e = f"@{ctx.epoch}"
        fields = ["mtime", "atime", "ctime"]
        if ctx.stats.not_root or os.geteuid() != 0:
            fields += ["uid", "gid"]
        values = {"uid": "0", "gid": "0"}
        fmt = "".join(f'sif "/%P" {f} {values.get(f, e)}\\n' for f in fields)
        head = "".join(f"sif / {f} {values.get(f, e)}\n" for f in fields)
        for fm in ctx.info.files:
            if fm.user or fm.group:
                rel = "/" + str(PurePosixPath(fm.target).relative_to(ctx.info.subtree or "/"))
                head += f'sif "{rel}" uid {fm.user}\nsif "{rel}" gid {fm.group}\n'
        script = ctx.work_file("debugfs")
        extra = ctx.work_file("debugfs-extra")
        return [
            ctx.step(
                "times-list",
                "List every entry for pinning times and owners",
                expr=cmd(
                    "find",
                    ctx.src,
                    "-mindepth",
                    "1",
                    "-printf",
                    fmt.replace("\\\\", "\\"),
                    stdout=script,
                ),
                weight=max(ctx.stats.entries / 40000, 0.05),
            ),
            ctx.step(
                "times-extra",
                "Add the root folder and mapped owners",
                kind="write",
                path=extra,
                content=head,
                weight=0.01,
            ),
            ctx.step(
                "times",
                f"Set every timestamp to {ctx.epoch} and owners to root (debugfs)",
                expr=And(
                    (
                        cmd("debugfs", "-w", "-f", script, ctx.image, env=env),
                        cmd("debugfs", "-w", "-f", extra, ctx.image, env=env),
                    )
                ),
                weight=max(ctx.stats.entries / 20000, 0.1),
            ),
        ]

    def steps(self, ctx: PartCtx) -> list[Step]:
        part, opts, info = ctx.part, ctx.part.ext4, ctx.info
        b = opts.block_size
        size = self.estimate(ctx)
        initial = size.image if size.fixed else round_up(int(size.minimum * 1.25) + 16 * MiB, MiB)
        argv: list[object] = ["mkfs.ext4", "-F", "-b", str(b), "-i", str(opts.inode_ratio)]
        argv += ["-I", str(INODE_SIZE), "-m", f"{opts.reserved_percent:g}"]
        if not size.fixed:
            argv += ["-J", f"size={max(journal_blocks_for(ctx) * b // MiB, 1)}"]
        if part.label:
            argv += ["-L", part.label]
        assert info.fs_uuid
        argv += ["-U", info.fs_uuid, "-E", f"hash_seed={info.fs_uuid},root_owner=0:0"]
        if ctx.src is not None:
            argv += ["-d", ctx.src]
        argv += [ctx.image, f"{initial // 1024}k"]
        env = {"E2FSPROGS_FAKE_TIME": str(ctx.epoch)}
        if os.geteuid() != 0:
            argv.insert(0, "fakeroot")
        steps = [
            ctx.step(
                "mkfs",
                f"Make the ext4 filesystem for {info.where}"
                + (f" from {info.subtree}" if info.subtree else " (empty)"),
                expr=cmd(*argv, env=env),  # type: ignore[arg-type]
                weight=max(ctx.stats.bytes / MiB / 40, 1),
                produces=(f"{info.key}.img",),
            )
        ]
        if ctx.src is not None:
            steps += self._normalize_steps(ctx, env)
        if not size.fixed:
            var = info.var
            steps += [
                ctx.step(
                    "shrink",
                    "Shrink to the minimum size (resize2fs -M)",
                    expr=cmd("resize2fs", "-M", ctx.image, env=env),
                    weight=max(ctx.stats.bytes / MiB / 200, 0.5),
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
                    weight=0.3,
                ),
            ]
        steps.append(ctx.capture_size())
        return steps

    def verify(self, ctx: PartCtx) -> list[Step]:
        return [
            Step(
                id=f"{ctx.info.key}-fsck",
                title=f"Check the ext4 filesystem of {ctx.info.where} (e2fsck -n -f)",
                phase="verify",
                expr=cmd("e2fsck", "-n", "-f", ctx.image),
                weight=max(ctx.stats.bytes / MiB / 400, 0.2),
            )
        ]


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
