"""Stage 2: what needs the disk beyond the model (sources, sizes, tool features)."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from ..boot import steps as boot
from ..errors import ProfileError, ProfileErrors
from ..fs import builder_for
from ..layout import PartInfo, orphan_files, resolve, writable_holder
from ..profile import Profile, Table
from ..scan import Scan
from ..source import image_source
from ..units import format_size, parse_size
from .contexts import contexts
from .estimate import estimate


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
            if info.subtree is None:
                continue
            real = (root / info.subtree.lstrip("/")).resolve()
            base = root.resolve()
            if info.part.contents is None:  # the mount point names the subtree: same check
                if real != base and base not in real.parents:
                    errors.append(
                        ProfileError(
                            f"{info.where}.mount_point",
                            f"{info.subtree} in the source leads outside it (through a symlink)",
                            "set contents to a directory inside the source tree, or make the "
                            "partition empty",
                        )
                    )
                elif not scan.has_dir(info.subtree) and not _filled_anyway(profile, scan, info):
                    errors.append(_missing_mount_point(root, info.where, info.subtree))
                continue
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
    errors += _overlay_problems(infos)
    errors += image_source(profile, scan).check()
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
        if root is not None and root.is_dir() and parent.is_dir():
            real_parent = parent.resolve()
            for info in infos:
                if info.subtree is None:
                    continue
                sub = (root / info.subtree.lstrip("/")).resolve()
                if real_parent == sub or sub in real_parent.parents:
                    errors.append(
                        ProfileError(
                            f"disks[{d}].output.path",
                            f"{parent} is inside the source tree that {info.where} reads; the "
                            "image would contain the build's own files",
                            "write the output outside the source tree",
                        )
                    )
                    break
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


def _filled_anyway(profile: Profile, scan: Scan, info: PartInfo) -> bool:
    """Staging makes the folder when extra files land in it; the boot loader's files fill
    an ESP the source has no folder for (/efi on a tree without one)."""
    if info.files:
        return True
    s = boot.setup(profile, scan)
    return s is not None and s.esp is not None and s.esp.key == info.key


def _missing_mount_point(root: Path, where: str, subtree: str) -> ProfileError:
    """A mount point the source lacks would give each filesystem's tool a missing folder
    to read (mkfs.ext4, mkfs.erofs, mksquashfs and mkfs.btrfs all fail on it, mcopy
    copies nothing): it is most likely a typo, so validation says so rather than guess."""
    path = root / subtree.lstrip("/")
    try:
        st = path.lstat()
    except OSError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        what = f"{subtree} in the source is a symlink (to {os.readlink(path)}), not a folder"
        fix = "name the real folder with contents, or set empty = true for an empty filesystem"
    elif st is not None:
        what = f"{subtree} in the source is a file, not a folder"
        fix = "choose a mount point that is a folder, or set empty = true"
    else:
        what = f"{subtree} does not exist in the source {root}"
        fix = (f"create the folder {path} with the files this partition should hold, name "
               "another folder with contents, or set empty = true for an empty filesystem")
    return ProfileError(f"{where}.mount_point", what, fix)


def _target_problems(root: Path, i: int, target: str) -> list[ProfileError]:
    """A target must not pass through a symlink or a file of the source tree, nor land
    on a folder: staging would have to follow the link (out of the tree) or fail."""
    where = f"source.files[{i}].target"
    cur = root
    parts = PurePosixPath(target).parts[1:]
    for name in parts:
        if len(os.fsencode(name)) > 255:
            return [ProfileError(where, f"{name[:40]}… is {len(os.fsencode(name))} bytes long; "
                                 "no filesystem here stores a name over 255 bytes",
                                 "shorten that part of the target")]
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


def _overlay_problems(infos: list[PartInfo]) -> list[ProfileError]:
    """An overlay's writable folder must sit on a writable filesystem (or be a tmpfs)."""
    errors = []
    for info in infos:
        ov = info.part.overlay
        if ov is None:
            continue
        holder = writable_holder(infos, ov.writable)
        if holder is not None and holder.part.rules.read_only and not ov.tmpfs:
            errors.append(
                ProfileError(
                    f"{info.where}.overlay.writable",
                    f"{ov.writable} is on {holder.where} ({holder.part.filesystem}), "
                    "which is read-only",
                    "mount a writable volume (ext4) at it, or set tmpfs = true",
                )
            )
    return errors
