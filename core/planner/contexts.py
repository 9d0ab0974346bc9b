"""Stage 1: Profile + Scan → one PartCtx per partition (what lands where, from where).

Every later stage (checks, estimate, plan) reads these contexts, made once:
validate, estimate and make_plan each ask for them, so the last result is kept
and handed out again for the same profile object, unchanged, and the same scan
(a build no longer walks the per-folder entries and extra files three times).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path, PurePosixPath

from ..boot import steps as boot
from ..fs.base import PartCtx
from ..layout import PartInfo, resolve
from ..plan import Arg, ws
from ..profile import Profile, Role
from ..sample import Sample, sample
from ..scan import BLOCK_SIZES, Scan, Stats
from ..source import ImageSource, image_source


def _file_stats(path: Path) -> Stats:
    st = Stats(files=1)
    size = path.stat().st_size
    st.bytes = size
    st.tail_bytes = size % 4096
    st.small_files = 1 if size < 4096 else 0
    st.name_bytes = len(path.name.encode())
    st.blocks = [-(-size // b) * b for b in BLOCK_SIZES]
    return st


def needs_staging(info: PartInfo, src: ImageSource, scan: Scan | None) -> bool:
    """Staged when nested mount points, extra files or the source (a closure) shape the tree,
    or an empty partition's mount point is not in the source."""
    return bool(
        info.subtree is not None
        and (info.exclude or info.files or src.stages(info) or missing_mounts(info, scan))
    )


def missing_mounts(info: PartInfo, scan: Scan | None) -> list[str]:
    """Empty partitions' mount points inside this partition that the source lacks: staging
    makes them, so the empty filesystem has a folder to be mounted on (also read-only)."""
    if scan is None:
        return []
    return [m for m in info.mounts if not scan.has_dir(m)]


_last: tuple[Profile, Scan | None, str, tuple[PartCtx, ...]] | None = None
_last_lock = threading.Lock()


def contexts(profile: Profile, scan: Scan | None) -> list[PartCtx]:
    """One PartCtx per partition; tolerant of a missing scan (the estimate is then 0)."""
    global _last
    key = profile.model_dump_json()  # 0.1 ms: an edited profile is a different one
    with _last_lock:
        hit = _last
    if hit is not None and hit[0] is profile and hit[1] is scan and hit[2] == key:
        return list(hit[3])
    out = make_contexts(profile, scan)
    with _last_lock:
        _last = (profile, scan, key, tuple(out))
    return out


def make_contexts(profile: Profile, scan: Scan | None) -> list[PartCtx]:
    """contexts() without the reuse."""
    out: list[PartCtx] = []
    source = image_source(profile, scan)
    cpus = max(os.cpu_count() or 1, 1)
    for info in resolve(profile):
        stats = Stats()
        src: Arg | None = None
        top: tuple[str, ...] = ()
        dirents: tuple[int, ...] = ()
        if info.subtree is not None and scan is not None and source.has_tree:
            stats = scan.subtree(info.subtree, info.exclude)
            dirents = _dirent_bytes(scan, info.subtree, info.exclude)
            stats.add(source.extra_stats(info))
            names = scan.top_level(info.subtree)
            excluded_top = {
                PurePosixPath(e).relative_to(info.subtree).parts[0] for e in info.exclude
            }
            top = tuple(names)
            if needs_staging(info, source, scan):
                src = ws(f"{info.key}.stage")
                top = tuple(
                    sorted(
                        set(names)
                        | excluded_top
                        | _file_tops(info)
                        | source.extra_tops(info)
                        | {
                            PurePosixPath(m).relative_to(info.subtree).parts[0]
                            for m in missing_mounts(info, scan)
                        }
                    )
                )
            else:
                src = source.physical(info.subtree)
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
            PartCtx(profile, info, stats, src, cpus, top, dirents, _sample_for(scan, info), scan)
        )
    return out


def _sample_for(scan: Scan | None, info: PartInfo) -> Sample | None:
    """Compressibility matters only where something compresses; sampling reads files."""
    wants = info.part.rules.compresses or (
        info.disk.output.compression.value != "none"
        or info.disk.output.format.value in ("qcow2-compressed", "vmdk")  # deflated grains
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
