"""Stage 4: the staged tree of a partition that needs one (nested mounts, files, a closure)."""

from __future__ import annotations

import os
import shlex
from pathlib import PurePosixPath

from ..fs.base import PartCtx
from ..layout import resolve
from ..plan import Expr, Or, Step, Word, cmd
from ..profile import Profile
from ..scan import Scan
from ..source import ImageSource
from .contexts import missing_mounts


def staging_steps(
    profile: Profile, scan: Scan | None, source: ImageSource, ctx: PartCtx
) -> list[Step]:
    """Hard-link farm of the subtree minus nested mount points, plus extra files.

    No file data is copied where hard links work; a copy (reflink where the
    filesystem can) is the fallback when the workspace is on another device.
    """
    info = ctx.info
    assert isinstance(ctx.src, Word)
    stage = ctx.src
    steps: list[Step] = []
    sid = info.key

    def st(suffix: str, title: str, expr: Expr, weight: float = 0.05) -> Step:
        return Step(
            id=f"{sid}-{suffix}",
            title=title,
            phase="prepare",
            expr=expr,
            weight=weight,
        )

    steps.append(st("stage-dir", f"Make the staging folder for the {info.spoken}",
                    cmd("mkdir", stage)))
    has_tree = source.has_tree
    if has_tree and scan is not None and scan.has_dir(info.subtree or "/"):
        # None: a folder only staging makes (a Nix closure's /nix/store and its parents)
        sub = source.physical(info.subtree or "/")
        n = 0

        def link_level(src_dir: str | None, rel: str) -> None:
            nonlocal n
            image_dir = str(PurePosixPath(info.subtree or "/") / rel) if rel else info.subtree
            if source.fills(image_dir or "/"):
                n += 1
                steps.extend(source.fill_steps(f"{sid}-{n}", _join(stage, rel)))
                return
            names = scan.top_level(image_dir or "/")
            deeper = {
                PurePosixPath(e).relative_to(image_dir or "/").parts[0]: e
                for e in info.exclude
                if PurePosixPath(image_dir or "/") in PurePosixPath(e).parents
            }
            for x in names:  # folders holding the closure's path are made, then filled
                if x not in deeper and source.made_by_staging(f"{image_dir}/{x}"):
                    deeper[x] = ""
            plain = [x for x in names if x not in deeper]
            target = _join(stage, rel)
            batches = _batches([f"{src_dir}/{x}" for x in plain])
            for b, srcs in enumerate(batches, 1):
                n += 1
                what = f"Hard-link {'/' + rel if rel else info.subtree} into staging"
                if len(batches) > 1:
                    what += f" (batch {b} of {len(batches)})"
                steps.append(
                    st(
                        f"link{n}",
                        what,
                        Or(
                            cmd("cp", "-al", "--", *srcs, target, quiet_stderr=True),
                            cmd("cp", "-a", "--reflink=auto", "--", *srcs, target),
                        ),
                        max(0.1, len(srcs) / 1000),
                    )
                )
            for name, excl in sorted(deeper.items()):
                child_rel = f"{rel}/{name}" if rel else name
                child_image_path = str(PurePosixPath(image_dir or "/") / name)
                child_src = source.physical(child_image_path)
                exists = scan.has_dir(child_image_path)
                n += 1
                child_image = str(PurePosixPath(image_dir or "/") / name)
                title = (
                    f"Keep {child_image} as an empty mount point"
                    if child_image == excl
                    else f"Make {child_image} in staging"
                )
                steps.append(st(f"mkdir{n}", title, cmd("mkdir", _join(stage, child_rel)), 0.01))
                if child_image != excl:  # a folder the source lacks still holds the
                    link_level(child_src, child_rel)  # deeper mount points under it
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
    for i, m in enumerate(missing_mounts(info, scan)):
        rel = str(PurePosixPath(m).relative_to(info.subtree or "/"))
        steps.append(
            st(f"mount{i}", f"Make {m}, where the empty {_spoken_at(profile, m)} is mounted",
               cmd("mkdir", "-p", _join(stage, rel)), 0.01)
        )
    steps += source.stage_steps(ctx)
    src_root = source.physical(info.subtree or "/") if has_tree else None
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


# bytes of source paths one `cp` is given: far under Linux's 128 KiB for one argument (the
# runner's `sh -c` text holds the step, both commands) and its 2 MiB for all of them
BATCH_BYTES = 48 * 1024


def _batches(paths: list[str]) -> list[list[str]]:
    """The paths in order, cut so no command line of a step outgrows what exec takes."""
    out: list[list[str]] = []
    size = BATCH_BYTES
    for p in paths:
        n = len(os.fsencode(shlex.quote(p))) + 1  # as the step's text quotes it
        if size + n > BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(p)
        size += n
    return out


def _spoken_at(profile: Profile, mount: str) -> str:
    """The empty partition mounted at `mount`, as a person names it."""
    return next((i.spoken for i in resolve(profile) if i.part.mount_point == mount), "partition")


def _join(base: Word, rel: str) -> Word:
    return Word((*base.parts, "/" + rel)) if rel else base
