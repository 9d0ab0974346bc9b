"""Profile + Scan → per-partition contexts → checks, Estimate and Plan.

All three views come from the same contexts, so what the estimate promises,
what validation refuses and what the plan runs never drift apart.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import nix
from .boot import steps as boot
from .disk import assemble_steps, check_table_step, disk_file, layout
from .errors import ProfileError, ProfileErrors
from .fs import builder_for
from .fs.base import FsSize, PartCtx
from .layout import PartInfo, orphan_files, resolve
from .output import FORMATS, output_steps
from .plan import And, Arg, Cmd, Or, Pipe, Plan, Step, Word, cmd, ws
from .profile import Compression, Profile, Role, Table
from .sample import Sample, sample
from .scan import BLOCK_SIZES, Scan, Stats
from .units import MiB, format_size, parse_size

# ------------------------------------------------------------------ contexts


def _file_stats(path: Path) -> Stats:
    st = Stats(files=1)
    size = path.stat().st_size
    st.bytes = size
    st.tail_bytes = size % 4096
    st.small_files = 1 if size < 4096 else 0
    st.name_bytes = len(path.name.encode())
    st.blocks = [-(-size // b) * b for b in BLOCK_SIZES]
    return st


def needs_staging(info: PartInfo, scan: Scan | None = None) -> bool:
    """Staged when nested mount points, extra files or a Nix closure shape the tree."""
    return bool(
        info.subtree is not None and (info.exclude or info.files or nix.stages_closure(info, scan))
    )


def contexts(profile: Profile, scan: Scan | None) -> list[PartCtx]:
    """One PartCtx per partition; tolerant of a missing scan (the estimate is then 0)."""
    out: list[PartCtx] = []
    root = profile.source_root()
    cpus = max(os.cpu_count() or 1, 1)
    for info in resolve(profile):
        stats = Stats()
        src: Arg | None = None
        top: tuple[str, ...] = ()
        dirents: tuple[int, ...] = ()
        if (
            info.subtree is not None
            and scan is not None
            and (root is not None or nix.has_closure(scan))
        ):
            stats = scan.subtree(info.subtree, info.exclude)
            dirents = _dirent_bytes(scan, info.subtree, info.exclude)
            stats.add(nix.registration_stats(profile, scan, info))
            names = scan.top_level(info.subtree)
            excluded_top = {
                PurePosixPath(e).relative_to(info.subtree).parts[0] for e in info.exclude
            }
            top = tuple(names)
            if needs_staging(info, scan):
                src = ws(f"{info.key}.stage")
                top = tuple(
                    sorted(
                        set(names)
                        | excluded_top
                        | _file_tops(info)
                        | nix.extra_tops(profile, scan, info)
                    )
                )
            else:
                src = nix.physical(profile, scan, info.subtree)
        elif info.subtree is not None and info.files:
            src = ws(f"{info.key}.stage")
            top = tuple(sorted(_file_tops(info)))
        for fm in info.files:
            try:
                stats.add(_file_stats(profile.resolve(fm.source)))
            except OSError:
                pass  # reported by check_profile
        if info.part.role == Role.esp and (extra := boot.esp_stats(profile, scan, info)):
            stats.add(extra)
        out.append(
            PartCtx(profile, info, stats, src, cpus, top, dirents, _sample_for(scan, info))
        )
    return out


def _sample_for(scan: Scan | None, info: PartInfo) -> Sample | None:
    """Compressibility matters only where something compresses; sampling reads files."""
    wants = info.part.filesystem in ("erofs", "squashfs", "zfs") or (
        info.disk.output.compression.value != "none"
        or info.disk.output.format.value == "qcow2-compressed"
    )
    if scan is None or not wants or getattr(scan, "root", None) is None:
        return None
    return sample(scan)


def _dirent_bytes(scan: Scan, subtree: str, exclude: tuple[str, ...]) -> tuple[int, ...]:
    """Bytes of directory entries per directory (8-byte header + name, 4-aligned)."""
    base = subtree.strip("/")
    prefix = base + "/" if base else ""
    excl = [e.strip("/") for e in exclude]
    out = []
    for key, st in scan.dirs.items():
        if key != base and not key.startswith(prefix):
            continue
        if any(key == e or key.startswith(e + "/") for e in excl):
            out.append(0)  # an empty mount point
            continue
        out.append(st.name_bytes + 10 * len(scan.children.get(key, ())))
    return tuple(out)


def _file_tops(info: PartInfo) -> set[str]:
    sub = info.subtree or "/"
    return {PurePosixPath(fm.target).relative_to(sub).parts[0] for fm in info.files}


# ------------------------------------------------------------------ checks


def check_profile(profile: Profile, scan: Scan | None) -> list[ProfileError]:
    """Everything that needs the disk (sources, sizes, tool features) beyond the model."""
    errors: list[ProfileError] = []
    root = profile.source_root()
    infos = resolve(profile)
    wants_source = any(i.subtree is not None for i in infos)
    if root is None:
        if (
            wants_source
            and not profile.source.closure
            and any(i.subtree and not i.files for i in infos)
        ):
            errors.append(
                ProfileError(
                    "source.path",
                    "partitions take files from the source, but no source is set",
                    "set source.path to a directory, or mark the partitions empty = true",
                )
            )
    elif not root.exists():
        errors.append(
            ProfileError("source.path", f"{root} does not exist", "point it at a directory")
        )
    elif not root.is_dir():
        errors.append(
            ProfileError(
                "source.path",
                f"{root} is a file, not a directory",
                "point it at the directory to put in the image",
            )
        )
    elif scan is not None:
        for bad in scan.unreadable[:5]:
            errors.append(
                ProfileError(
                    "source.path",
                    f"cannot read {bad}",
                    "fix its permissions or run as a user who can read it",
                )
            )
        for info in infos:
            if info.subtree is None or info.part.contents is None:
                continue
            real = (root / info.subtree.lstrip("/")).resolve()
            base = root.resolve()
            if real != base and base not in real.parents:
                errors.append(
                    ProfileError(
                        f"{info.where}.contents",
                        f"{info.subtree} leads outside the source (through a symlink)",
                        "name a directory inside the source tree",
                    )
                )
            elif not scan.has_dir(info.subtree):
                errors.append(
                    ProfileError(
                        f"{info.where}.contents",
                        f"{info.subtree} is not a directory in the source {root}",
                        "name a directory that exists in the source tree",
                    )
                )
    for i, fm in enumerate(profile.source.files):
        p = profile.resolve(fm.source)
        if not p.is_file():
            errors.append(
                ProfileError(
                    f"source.files[{i}].source",
                    f"{p} is not a file" if p.exists() else f"{p} does not exist",
                    "point it at an existing file",
                )
            )
    if root is not None and root.is_dir():
        for i, fm in enumerate(profile.source.files):
            errors += _target_problems(root, i, fm.target)
    for fm in orphan_files(profile):
        errors.append(
            ProfileError(
                "source.files",
                f"no partition receives {fm.target}",
                "give a partition a mount point or contents that contains it",
            )
        )
    errors += nix.check(profile, scan)
    errors += boot.check(profile, scan)
    if errors:
        return errors
    ctxs = contexts(profile, scan)
    for ctx in ctxs:
        errors += builder_for(ctx.part.filesystem).check(ctx)
    for d, disk in enumerate(profile.disks):
        if disk.size != "auto" and disk.table != Table.none:
            est = estimate(profile, scan, ctxs).disks[d]
            if est.needed > parse_size(disk.size):
                errors.append(
                    ProfileError(
                        f"disks[{d}].size",
                        f"{disk.size} is smaller than the partitions need "
                        f"({format_size(est.needed)})",
                        f"raise it to at least {format_size(est.needed)} or use auto",
                    )
                )
        parent = profile.resolve(disk.output.path).parent
        if not parent.is_dir():
            errors.append(
                ProfileError(
                    f"disks[{d}].output.path",
                    f"the folder {parent} does not exist",
                    "create it or choose another output path",
                )
            )
        if disk.table == Table.none and disk.size != "auto":
            errors.append(
                ProfileError(
                    f"disks[{d}].size",
                    "a bare filesystem image takes its size from the partition",
                    "set the partition's size instead",
                )
            )
    return errors


def _target_problems(root: Path, i: int, target: str) -> list[ProfileError]:
    """A target must not pass through a symlink or a file of the source tree, nor land
    on a folder: staging would have to follow the link (out of the tree) or fail."""
    where = f"source.files[{i}].target"
    cur = root
    parts = PurePosixPath(target).parts[1:]
    for n, name in enumerate(parts):
        cur = cur / name
        shown = "/" + "/".join(parts[: n + 1])
        try:
            st = cur.lstat()
        except FileNotFoundError:
            return []  # staging makes the missing folders
        except OSError as err:
            return [ProfileError(where, f"cannot inspect {shown} in the source ({err.strerror})",
                                 "fix its permissions")]
        last = n == len(parts) - 1
        if last:
            if stat.S_ISDIR(st.st_mode):
                return [ProfileError(where, f"{shown} is a folder in the source tree",
                                     "name a file path (e.g. add the file name)")]
            return []
        if stat.S_ISLNK(st.st_mode):
            link = os.readlink(cur)
            return [ProfileError(where, f"{shown} in the source is a symlink (to {link}); "
                                 "a file is never placed through a symlink",
                                 "name the real folder the file belongs in")]
        if not stat.S_ISDIR(st.st_mode):
            return [ProfileError(where, f"{shown} in the source is a file, not a folder",
                                 "choose a target whose parent is a folder")]
    return []


def validate(profile: Profile, scan: Scan | None) -> None:
    errors = check_profile(profile, scan)
    if errors:
        raise ProfileErrors(errors)


# ------------------------------------------------------------------ estimate


@dataclass(frozen=True)
class PartEstimate:
    key: str
    where: str
    role: str
    filesystem: str
    label: str | None
    mount_point: str | None
    files: int
    content: int
    minimum: int
    image: int
    start: int
    size: int
    fixed: bool


@dataclass(frozen=True)
class DiskEstimate:
    index: int
    name: str
    table: str
    parts: list[PartEstimate]
    needed: int
    disk_bytes: int
    output_path: str
    output_format: str
    compression: str
    output_bytes: int


@dataclass(frozen=True)
class Estimate:
    disks: list[DiskEstimate]
    source_files: int = 0
    source_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def total_output(self) -> int:
        return sum(d.output_bytes for d in self.disks)

    @property
    def total_disk(self) -> int:
        return sum(d.disk_bytes for d in self.disks)


_PACK_RATIO = {"zstd": 0.5, "xz": 0.42}


def estimate(profile: Profile, scan: Scan | None, ctxs: list[PartCtx] | None = None) -> Estimate:
    """Pure arithmetic over scan and profile: cheap enough for every keystroke."""
    ctxs = ctxs if ctxs is not None else contexts(profile, scan)
    disks: list[DiskEstimate] = []
    for d, disk in enumerate(profile.disks):
        mine = [c for c in ctxs if c.info.disk_index == d]
        sizes: list[FsSize] = [builder_for(c.part.filesystem).estimate(c) for c in mine]
        places, total = layout(disk, [s.image for s in sizes])
        needed = layout(disk.model_copy(update={"size": "auto"}), [s.image for s in sizes])[1]
        parts = [
            PartEstimate(
                key=c.info.key,
                where=c.info.where,
                role=c.part.role.value,
                filesystem=c.part.filesystem,
                label=c.part.label,
                mount_point=c.part.mount_point,
                files=c.stats.files,
                content=s.content,
                minimum=s.minimum,
                image=s.image,
                start=p.start,
                size=p.size,
                fixed=s.fixed,
            )
            for c, s, p in zip(mine, sizes, places, strict=True)
        ]
        # qcow2 and compressors store data only: journals and inode tables are zeros
        data = sum(min(s.content, s.image) for s in sizes)
        fmt = disk.output.format
        samples = [c.sample for c in mine if c.sample is not None]
        zlib = samples[0].ratio("output", "zlib") if samples else 0.5
        out = FORMATS[fmt].estimate(total, data, len(sizes), zlib)
        if disk.output.compression != Compression.none:
            comp = disk.output.compression.value
            ratio = samples[0].ratio("output", comp) if samples else _PACK_RATIO[comp]
            out = int(min(out, data + MiB) * ratio)
        disks.append(
            DiskEstimate(
                index=d,
                name=disk.name,
                table=disk.table.value,
                parts=parts,
                needed=needed,
                disk_bytes=total,
                output_path=str(profile.resolve(disk.output.path)),
                output_format=fmt.value,
                compression=disk.output.compression.value,
                output_bytes=out,
            )
        )
    total_stats = scan.total() if scan is not None else Stats()
    warnings = []
    for c in ctxs:
        if c.part.role == Role.esp and c.info.subtree and scan and not scan.has_dir(c.info.subtree):
            warnings.append(f"{c.info.where}: the source has no {c.info.subtree}; the ESP is empty")
    return Estimate(disks, total_stats.files, total_stats.bytes, warnings)


# ------------------------------------------------------------------ plan


def _staging_steps(profile: Profile, scan: Scan | None, ctx: PartCtx) -> list[Step]:
    """Hard-link farm of the subtree minus nested mount points, plus extra files.

    No file data is copied where hard links work; a copy (reflink where the
    filesystem can) is the fallback when the workspace is on another device.
    """
    info = ctx.info
    assert isinstance(ctx.src, Word)
    stage = ctx.src
    root = profile.source_root()
    steps: list[Step] = []
    sid = info.key

    def st(suffix: str, title: str, expr: object, weight: float = 0.05) -> Step:
        return Step(
            id=f"{sid}-{suffix}",
            title=title,
            phase="prepare",
            expr=expr,  # type: ignore[arg-type]
            weight=weight,
        )

    steps.append(st("stage-dir", f"Make the staging folder for {info.where}", cmd("mkdir", stage)))
    has_tree = scan is not None and (root is not None or nix.has_closure(scan))
    if has_tree and scan is not None and scan.has_dir(info.subtree or "/"):
        # None: a folder only staging makes (a Nix closure's /nix/store and its parents)
        sub = nix.physical(profile, scan, info.subtree or "/")
        n = 0

        def link_level(src_dir: str | None, rel: str) -> None:
            nonlocal n
            image_dir = str(PurePosixPath(info.subtree or "/") / rel) if rel else info.subtree
            if nix.is_closure_dir(scan, image_dir or "/"):
                n += 1
                steps.extend(nix.link_closure_steps(f"{sid}-{n}", scan, _join(stage, rel)))
                return
            names = scan.top_level(image_dir or "/")
            deeper = {
                PurePosixPath(e).relative_to(image_dir or "/").parts[0]: e
                for e in info.exclude
                if PurePosixPath(image_dir or "/") in PurePosixPath(e).parents
            }
            for x in names:  # folders holding the closure's path are made, then filled
                if x not in deeper and nix.synthetic_under(scan, f"{image_dir}/{x}"):
                    deeper[x] = ""
            plain = [x for x in names if x not in deeper]
            target = _join(stage, rel)
            if plain:
                n += 1
                srcs = [f"{src_dir}/{x}" for x in plain]
                steps.append(
                    st(
                        f"link{n}",
                        f"Hard-link {'/' + rel if rel else info.subtree} into staging",
                        Or(
                            cmd("cp", "-al", "--", *srcs, target, quiet_stderr=True),
                            cmd("cp", "-a", "--reflink=auto", "--", *srcs, target),
                        ),
                        max(0.1, len(plain) / 1000),
                    )
                )
            for name, excl in sorted(deeper.items()):
                child_rel = f"{rel}/{name}" if rel else name
                child_image_path = str(PurePosixPath(image_dir or "/") / name)
                child_src = nix.physical(profile, scan, child_image_path)
                exists = scan.has_dir(child_image_path)
                n += 1
                child_image = str(PurePosixPath(image_dir or "/") / name)
                title = (
                    f"Keep {child_image} as an empty mount point"
                    if child_image == excl
                    else f"Make {child_image} in staging"
                )
                steps.append(st(f"mkdir{n}", title, cmd("mkdir", _join(stage, child_rel)), 0.01))
                if child_image != excl and exists:
                    link_level(child_src, child_rel)
                if exists and child_src is not None:
                    n += 1
                    steps.append(
                        st(
                            f"attrs{n}",
                            f"Copy the mode of {child_rel}",
                            cmd("chmod", f"--reference={child_src}", _join(stage, child_rel)),
                            0.01,
                        )
                    )

        link_level(sub, "")
    for i, fm in enumerate(info.files):
        rel = str(PurePosixPath(fm.target).relative_to(info.subtree or "/"))
        # never through a symlink: a link in the tree must not redirect the write to the host
        steps.append(
            st(
                f"file{i}",
                f"Place {fm.target} (mode {fm.mode})",
                cmd("diskwright", "helper", "place", stage, rel,
                    str(profile.resolve(fm.source)), fm.mode),
                0.02,
            )
        )
    if nix.registration_plan(profile).image_key == info.key and nix.has_closure(scan):
        steps += nix.registration_stage_steps(sid, stage, ctx.epoch)
    src_root = nix.physical(profile, scan, info.subtree or "/") if has_tree else None
    if src_root is not None and scan is not None and scan.has_dir(info.subtree or "/"):
        steps.append(
            st(
                "stage-root",
                "Give the staging root the source's mode",
                cmd("chmod", f"--reference={src_root}", stage),
                0.01,
            )
        )
    return steps


def _join(base: Word, rel: str) -> Word:
    return Word((*base.parts, "/" + rel)) if rel else base


def _guard(path: str) -> Or:
    return Or(
        cmd("test", "!", "-e", path),
        cmd(
            "sh",
            "-c",
            'echo "$1 exists; refusing to replace it (use --force)" >&2; exit 1',
            "guard",
            path,
        ),
    )


def make_plan(profile: Profile, scan: Scan | None, *, force: bool = False) -> Plan:
    """The ordered steps that build every disk of the profile."""
    ctxs = contexts(profile, scan)
    outputs = [str(profile.resolve(d.output.path)) for d in profile.disks]
    workspace_parent = str(Path(outputs[0]).parent)
    steps: list[Step] = []
    if not force:
        for i, out in enumerate(outputs):
            steps.append(
                Step(
                    id=f"disk{i}-guard",
                    title=f"Refuse to replace an existing {out}",
                    phase="prepare",
                    expr=_guard(out),
                    weight=0.01,
                )
            )
    reg_guards, reg_finish, reg_outputs = nix.finish_steps(
        profile, scan, force=force, workspace_parent=workspace_parent
    )
    steps += reg_guards
    steps += nix.prepare_steps(profile, scan)
    for ctx in ctxs:
        if needs_staging(ctx.info, scan):
            steps += _staging_steps(profile, scan, ctx)
    for ctx in ctxs:
        steps += builder_for(ctx.part.filesystem).steps(ctx)
    steps += boot.esp_steps(profile, scan)
    steps += nix.unstage_steps(
        profile, scan, [c.info.key for c in ctxs if needs_staging(c.info, scan)]
    )
    finals: list[Word] = []
    for d, disk in enumerate(profile.disks):
        mine = [c.info for c in ctxs if c.info.disk_index == d]
        steps += assemble_steps(profile, d, mine)
        steps += boot.disk_steps(profile, scan, d)
        raw = disk_file(d) if disk.table != Table.none else ws(f"{mine[0].key}.img")
        conv, final = output_steps(d, disk, raw)
        steps += conv
        finals.append(final)
    for ctx in ctxs:
        steps += builder_for(ctx.part.filesystem).verify(ctx)
    steps += boot.verify_steps(profile, scan)
    for d, disk in enumerate(profile.disks):
        if disk.table != Table.none:
            steps.append(
                check_table_step(profile, d, [c.info for c in ctxs if c.info.disk_index == d])
            )
    # All or nothing: copies into other folders land as .partial first; the renames
    # that make outputs appear come last, together, and a rename does not fail halfway.
    sources_for: list[object] = []
    for d, (final, out) in enumerate(zip(finals, outputs, strict=True)):
        if str(Path(out).parent) == workspace_parent:
            sources_for.append(final)
            continue
        partial = str(Path(out).parent / f".diskwright-{Path(out).name}.partial")
        steps.append(
            Step(
                id=f"disk{d}-stage-out",
                title=f"Copy the finished image next to {out} (as .partial)",
                phase="finish",
                expr=cmd("cp", "--sparse=always", final, partial),
                weight=0.3,
            )
        )
        sources_for.append(partial)
    for d, (src, out) in enumerate(zip(sources_for, outputs, strict=True)):
        steps.append(
            Step(
                id=f"disk{d}-finish",
                title=f"Move the finished image to {out}",
                phase="finish",
                expr=cmd("mv", "-f", src, out),  # type: ignore[arg-type]
                weight=0.05,
            )
        )
    steps += reg_finish
    tools = sorted(
        {t for c in ctxs for t in builder_for(c.part.filesystem).tools(c)} | _plan_tools(steps)
    )
    est = estimate(profile, scan, ctxs)
    return Plan(
        steps=steps,
        outputs=outputs + reg_outputs,
        workspace_parent=workspace_parent,
        env={
            "SOURCE_DATE_EPOCH": str(profile.reproducible.source_date_epoch),
            "LC_ALL": "C",
            "TZ": "UTC",
        },
        warnings=list(est.warnings),
        force=force,
        tools=tools,
        # images + raw disks + converted outputs all sit in the workspace at once
        space_needed=sum(p.image for d in est.disks for p in d.parts)
        + sum(d.disk_bytes + d.output_bytes for d in est.disks),
        sources=([str(profile.source_root())] if profile.source_root() else []) + nix.sources(scan),
    )


def _plan_tools(steps: list[Step]) -> set[str]:
    found: set[str] = set()

    def walk(e: object) -> None:
        if isinstance(e, Cmd):
            if e.argv and isinstance(e.argv[0], str):
                found.add(e.argv[0])
        elif isinstance(e, Pipe):
            for part in e.cmds:
                walk(part)
        elif isinstance(e, And):
            for item in e.items:
                walk(item)
        elif isinstance(e, Or):
            walk(e.first)
            walk(e.then)

    for s in steps:
        if s.expr is not None:
            walk(s.expr)
    basic = {
        "sh",
        "test",
        "mv",
        "cp",
        "mkdir",
        "rm",
        "chmod",
        "touch",
        "find",
        "truncate",
        "printf",
        "dd",
        "stat",
        "sed",
        "env",
    }
    return found - basic


__all__ = ["Estimate", "check_profile", "contexts", "estimate", "make_plan", "validate"]
