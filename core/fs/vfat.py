"""vfat (the ESP): mkfs.vfat --invariant, filled by fat_fill.py in one pass: no mount, no root."""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import ProfileError
from ..fat_fill import entries_needed
from ..model import FsRules, PartitionBase, Role, strict
from ..plan import Arg, Step, cmd, cost
from ..tools import Tool
from ..units import MiB, format_size, round_up
from .base import FieldWords, FsSize, FsSpec, PartCtx, owners_unsupported, too_small


class VfatOptions(BaseModel):
    """The [vfat] table of a vfat partition."""

    model_config = strict()
    fat_size: Literal["auto", 12, 16, 32] = "auto"


class VfatPartition(PartitionBase):
    rules = FsRules(
        label_bytes=11,
        label_re=re.compile(r"^[A-Z0-9 !#$%&'()\-@^_`{}~]+$"),
        label_hint="upper-case letters, digits, spaces and - _",
        uuid="vfat",
        fstype="vfat",
        esp_options=("fmask=0077", "dmask=0077"),  # the ESP's keys: root's alone
        mbr_data_type="0c",  # FAT32 (LBA): what cameras and other OSes look for
        role=Role.esp,
        role_error='filesystem: an ESP must be vfat; set filesystem = "vfat"',
    )
    filesystem: Literal["vfat"]
    vfat: VfatOptions = Field(default_factory=VfatOptions)


SECTOR = 512
FAT12_MAX = 4084
FAT16_MAX = 65524
FAT32_MIN = 65525


def fat_geometry(size: int, forced: int | None = None) -> tuple[int, int]:
    """(FAT bits, cluster bytes) for an image of `size` bytes; chosen, not left to mkfs."""
    sectors = size // SECTOR
    bits = forced
    if bits is None:
        if sectors <= FAT12_MAX or size < fat16_minimum():  # too few clusters for FAT16
            bits = 12
        elif size < 256 * MiB:
            bits = 16
        else:
            bits = 32
    cluster = SECTOR
    if bits == 12:
        while size // cluster > FAT12_MAX and cluster < 64 * 1024:
            cluster *= 2
    elif bits == 16:
        while size // cluster > FAT16_MAX and cluster < 64 * 1024:
            cluster *= 2
    else:
        cluster = 4096 if size >= 512 * MiB else SECTOR
        while size // cluster < FAT32_MIN and cluster > SECTOR:
            cluster //= 2
    return bits, cluster


def fat16_minimum() -> int:
    """mkfs.vfat refuses FAT16 with fewer than 4,085 clusters (2 MiB is just short of it)."""
    return round_up((FAT12_MAX + 1 + 200) * SECTOR, MiB)


def fat32_minimum() -> int:
    return round_up((FAT32_MIN + 2000) * SECTOR, MiB)


def _link_targets(ctx: PartCtx) -> list[int]:
    """The sizes of the files the partition's symlinks name (0: not a file in the tree).

    FAT has no symlinks, so fat-fill stores each target's file again; targets outside
    the tree or not files are refused by the check. Nothing outside is stat'ed. A
    relative link to a file the scan listed costs one readlink; only the rest (links to
    links, through linked folders) are resolved on disk, as fat-fill resolves them.
    """
    scan = ctx.scan
    if scan is None:
        return [0] * ctx.stats.symlinks
    top = (ctx.info.subtree or "/").strip("/")
    base = os.path.join(scan.root, top)
    root = os.path.realpath(base)
    listed: dict[str, dict[str, int]] = {}  # folder key → {name: size}, made when asked

    def scanned(key: str) -> int | None:
        folder, _, name = key.rpartition("/")
        if folder not in listed:
            names, sizes = scan.files.get(folder, ([], []))
            listed[folder] = dict(zip(names, sizes, strict=True))
        return listed[folder].get(name)

    sizes = []
    for rel in scan.paths_under(scan.links, ctx.info.subtree or "/", ctx.info.exclude):
        size: int | None = None
        with contextlib.suppress(OSError):
            to = os.readlink(os.path.join(base, rel))
            key = posixpath.normpath(posixpath.join(posixpath.dirname(rel), to))
            if not to.startswith("/") and key != ".." and not key.startswith("../"):
                size = scanned(f"{top}/{key}" if top else key)
        if size is None:
            target = os.path.realpath(os.path.join(base, rel))
            size = 0
            if target.startswith(root + os.sep):
                with contextlib.suppress(OSError):
                    size = os.stat(target).st_size
        sizes.append(size)
    return sizes


def _content(ctx: PartCtx, cluster: int, links: list[int]) -> int:
    st = ctx.stats
    # a hard link is one more copy in FAT; rounding adds less than a cluster a file
    files = st.rounded(cluster) + st.hardlink_bytes + st.hardlinks * cluster
    files += sum(round_up(n, cluster) if n else cluster for n in links)
    dir_entries = 32 * (2 * st.entries + st.name_bytes // 13 + 2 * st.dirs)
    dirs = st.dirs * cluster + round_up(dir_entries, cluster)
    return files + dirs


def _overhead(size: int, bits: int, cluster: int) -> int:
    clusters = size // cluster
    fat = round_up(-(-(clusters + 2) * bits // 8), SECTOR) * 2
    reserved = 32 * SECTOR if bits == 32 else SECTOR
    root = 0 if bits == 32 else 512 * 32
    return fat + reserved + root + cluster * 2


class VfatBuilder:
    def tools(self, ctx: PartCtx) -> list[str]:
        return ["mkfs.vfat", "fsck.vfat", "diskwright"]

    def _forced(self, ctx: PartCtx) -> int | None:
        f = ctx.options(VfatOptions).fat_size
        return None if f == "auto" else int(f)

    def estimate(self, ctx: PartCtx) -> FsSize:
        forced = self._forced(ctx)
        fixed = ctx.fixed_size()
        guess = max(MiB, round_up(ctx.stats.bytes, MiB))
        links = _link_targets(ctx)
        for _ in range(8):  # cluster size depends on the size and vice versa: iterate
            bits, cluster = fat_geometry(guess, forced)
            content = _content(ctx, cluster, links)
            minimum = content + _overhead(guess, bits, cluster)
            want = round_up(minimum + ctx.part.headroom_for(minimum), MiB)
            if forced == 32:
                want = max(want, fat32_minimum())
            elif forced == 16:
                want = max(want, fat16_minimum())
            if want <= guess:
                break
            guess = want
        if fixed is not None:
            bits, cluster = fat_geometry(fixed, forced)
            content = _content(ctx, cluster, links)
            minimum = content + _overhead(fixed, bits, cluster)
            return FsSize(content=content, minimum=minimum, image=fixed, fixed=True)
        return FsSize(content=content, minimum=minimum, image=guess, fixed=False)

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        size = self.estimate(ctx)
        errors = too_small(ctx, size)
        forced = self._forced(ctx)
        least = {32: fat32_minimum(), 16: fat16_minimum()}.get(forced or 0, 0)
        if size.image < least:
            errors.append(
                ProfileError(
                    f"{ctx.info.where}.vfat.fat_size",
                    f"FAT{forced} needs at least {format_size(least)}; "
                    f"{ctx.part.size} is too small",
                    'raise the size or set fat_size = "auto"',
                )
            )
        errors += owners_unsupported(ctx, "vfat has no file owners")
        errors += _name_problems(ctx)
        bits, _ = fat_geometry(size.image, forced)
        if bits != 32 and not errors:
            errors += _root_problems(ctx, bits, size.image)
        return errors

    def steps(self, ctx: PartCtx) -> list[Step]:
        info, part = ctx.info, ctx.part
        size = self.estimate(ctx)
        bits, cluster = fat_geometry(size.image, self._forced(ctx))
        argv: list[Arg] = ["mkfs.vfat", "--invariant", "-i", info.fs_uuid or "0"]
        if part.label:
            argv += ["-n", part.label]
        argv += ["-F", str(bits), "-S", str(SECTOR), "-s", str(cluster // SECTOR), ctx.image]
        steps = [
            ctx.step(
                "alloc",
                f"Allocate the {format_size(size.image)} FAT image for the {info.spoken}",
                expr=cmd("truncate", "-s", str(size.image), ctx.image),
                weight=0.01,
            ),
            ctx.step(
                "mkfs",
                f"Make the FAT{bits} filesystem (cluster {cluster} bytes)",
                expr=cmd(*argv),
                weight=0.1,
            ),
        ]
        if ctx.src is not None and ctx.top:
            steps.append(
                ctx.step(
                    "copy",
                    f"Write {info.subtree} into the FAT image (entries, FAT and data in one pass)",
                    expr=cmd(
                        "diskwright", "helper", "fat-fill", ctx.image, ctx.src, str(ctx.epoch)
                    ),
                    weight=cost(ctx.stats.bytes, 70, 0.1 + ctx.stats.entries / 20000),
                    comment=(
                        "mkfs.vfat made the filesystem; diskwright writes the tree linearly "
                        "(mcopy is superlinear in a folder's size); fsck.vfat checks it below"
                    ),
                )
            )
        return [*steps, ctx.capture_size()]

    def verify(self, ctx: PartCtx) -> list[Step]:
        return ctx.check_step(
            "FAT filesystem", "fsck.vfat -n", cmd("fsck.vfat", "-n", ctx.image), weight=0.1
        )


def data_layout(ctx: PartCtx, size: int) -> tuple[int, tuple[int, ...]]:
    """Where the files start (measured with mkfs.vfat): two FATs (about 1 byte a KiB
    each) and the root folder first."""
    return size // 512 + 16 * 1024, (0,)


SPEC = FsSpec(
    name="vfat",
    title="vfat — FAT, what firmware reads (the ESP)",
    help="FAT: readable by firmware and every OS. Required for the EFI System Partition; "
    "keeps no owners, permissions or symlinks.",
    partition=VfatPartition,
    builder=VfatBuilder(),
    options=VfatOptions,
    options_title="vfat options",
    advice="what firmware reads. The EFI System Partition must be vfat.",
    layout=data_layout,
    tools=(
        Tool(
            "mkfs.vfat",
            "ESP / FAT filesystems",
            "dosfstools",
            "dosfstools",
            "dosfstools",
            "dosfstools",
        ),
        Tool("fsck.vfat", "checking FAT", "dosfstools", "dosfstools", "dosfstools", "dosfstools"),
        Tool("mcopy", "copying files into FAT", "mtools", "mtools", "mtools", "mtools"),
        Tool("mmd", "making FAT folders", "mtools", "mtools", "mtools", "mtools"),
    ),
    fields={
        "fat_size": FieldWords(
            "FAT size",
            "auto picks what fits; some firmware wants FAT32",
            ("auto", "12", "16", "32"),
            titles={"auto": "auto (by size)", "12": "FAT12", "16": "FAT16", "32": "FAT32"},
        ),
    },
)


FAT_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                *(f"LPT{i}" for i in range(1, 10))}
FAT_BAD_CHARS = set('"*/:<>?\\|') | {chr(c) for c in range(32)}


def fat_name_problem(name: str) -> str | None:
    """Why FAT cannot store `name` as itself (None: it can)."""
    if name.split(".", 1)[0].upper() in FAT_RESERVED:
        return "is a reserved device name on FAT"
    if bad := sorted(set(name) & FAT_BAD_CHARS):
        return f"holds {''.join(bad)!r}, which FAT does not allow"
    if name.endswith((".", " ")):
        return "ends in a dot or a space, which FAT drops"
    try:
        units = len(name.encode("utf-16-le")) // 2
    except UnicodeEncodeError:
        return "is not valid UTF-8, so FAT cannot store it"
    if units > 255:
        return "is longer than FAT's 255 characters"
    return None


def _name_problems(ctx: PartCtx) -> list[ProfileError]:
    """Names FAT would refuse or silently change, found before the build from the scan's
    listing (no second walk of the tree; a symlink's own name, never its target)."""
    field, sub = ctx.contents_field, ctx.info.subtree or "/"
    errors: list[ProfileError] = []
    seen: dict[tuple[str, str], str] = {}
    for folder, name in ctx.source_names():
        why = fat_name_problem(name)
        other = seen.setdefault((folder, name.casefold()), name)
        if why is None and other != name:
            why = f"would collide with {other!r}: FAT ignores case"
        if why is not None:
            shown = f"{folder}/{name}" if folder else name
            errors.append(ProfileError(
                field, f"{shown!r} under {sub} {why}",
                "rename it in the source, or use ext4/erofs for this partition"))
            if len(errors) >= 5:
                return errors
    errors += _target_problems(ctx, seen)
    return (errors + _entry_problems(ctx))[:5]


# mkfs.vfat (dosfstools 4.2) gives a floppy-sized image its floppy's root folder, any
# other FAT12/16 image 512 entries (measured).
FLOPPY_ROOT = {368640: 112, 737280: 112, 1228800: 224, 1474560: 224, 2949120: 224}


def _root_problems(ctx: PartCtx, bits: int, size: int) -> list[ProfileError]:
    """FAT12/16's root folder has a fixed number of entries (long names take several):
    refuse a tree that would overflow it here, not at the fill step."""
    sub = PurePosixPath(ctx.info.subtree or "/")
    # the top folder's own listing, not a walk of the whole subtree (the name checks did that)
    top = str(sub).strip("/")
    names = list(ctx.scan.children.get(top, ())) if ctx.scan and ctx.info.subtree else []
    for fm in ctx.info.files:
        parts = PurePosixPath(fm.target).relative_to(sub).parts
        names += parts[:1]
    need = entries_needed(list(dict.fromkeys(names))) + (1 if ctx.part.label else 0)
    room = FLOPPY_ROOT.get(size, 512)
    if need <= room:
        return []
    field = f"{ctx.info.where}.vfat.fat_size"
    return [ProfileError(
        field if ctx.options(VfatOptions).fat_size != "auto" else ctx.contents_field,
        f"the top folder of {ctx.info.subtree or '/'} needs {need} FAT{bits} root entries "
        f"(long names take several); FAT{bits}'s root folder holds {room}",
        "move files into a subfolder, or use FAT32: vfat.fat_size = 32 (at least "
        f"{format_size(fat32_minimum())})")]


def _target_problems(ctx: PartCtx, seen: dict[tuple[str, str], str]) -> list[ProfileError]:
    """Extra files' target names, as FAT would store them (fat-fill refused them late)."""
    errors: list[ProfileError] = []
    sub = PurePosixPath(ctx.info.subtree or "/")
    for fm in ctx.info.files:
        i = next(n for n, f in enumerate(ctx.profile.source.files) if f is fm)
        parts = PurePosixPath(fm.target).relative_to(sub).parts
        for n, name in enumerate(parts):
            folder = "/".join(parts[:n])
            why = fat_name_problem(name)
            other = seen.get((folder, name.casefold()), name)
            if why is None and other != name:
                why = f"would collide with {other!r} in the source: FAT ignores case"
            if why is not None:
                errors.append(ProfileError(
                    f"source.files[{i}].target", f"{name!r} {why}",
                    "choose a name FAT can hold, or put the file on an ext4/erofs partition"))
                break
    return errors


def _entry_problems(ctx: PartCtx) -> list[ProfileError]:
    """Special files and symlinks FAT cannot hold: fat-fill follows a symlink only to a
    regular file inside the partition's own tree. The scan says where they are; only
    those entries are looked at (their targets resolved), never the whole tree again."""
    scan, sub = ctx.scan, ctx.info.subtree
    root = ctx.profile.source_root()
    if scan is None or sub is None or root is None or not scan.links + scan.special:
        return []
    field, top = ctx.contents_field, os.path.join(root, sub.lstrip("/"))
    real_top = os.path.realpath(top)
    excluded = [os.path.join(real_top, os.path.relpath(e, sub)) for e in ctx.info.exclude]
    errors: list[ProfileError] = []
    for rel in scan.paths_under(scan.special, sub, ctx.info.exclude):
        errors.append(ProfileError(
            field, f"{rel!r} under {sub} is a special file (FIFO, socket or device); FAT "
            "holds only files and folders", "remove it from the source, or use ext4/erofs"))
        if len(errors) >= 5:
            return errors
    for rel in scan.paths_under(scan.links, sub, ctx.info.exclude):
        target = os.path.realpath(os.path.join(top, rel))
        inside = target.startswith(real_top + os.sep) and not any(
            target == e or target.startswith(e + os.sep) for e in excluded)
        if not inside or not os.path.isfile(target) or os.path.islink(target):
            errors.append(ProfileError(
                field, f"{rel!r} under {sub} is a symlink FAT cannot hold (it points to a "
                "folder, outside the partition's tree or nowhere)",
                "replace it with the file itself in the source, or use ext4/erofs"))
            if len(errors) >= 5:
                break
    return errors
