"""Stage 3: pure arithmetic over the contexts — cheap enough for every keystroke."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..disk import layout
from ..fs import builder_for, spec_for
from ..fs.base import FsSize, PartCtx
from ..output import FORMATS, cluster_ratio, name_warning
from ..profile import Compression, Format, Profile, Role
from ..scan import Scan, Stats
from .contexts import contexts


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
_ZERO_SHRINK = {"zstd": 32768, "xz": 6600}


def _layout(c: PartCtx, size: int) -> tuple[int, tuple[int, ...]]:
    """Where a partition's files start and where its metadata lies, as its filesystem
    module declares (FsSpec.layout)."""
    declared = spec_for(c.part.filesystem).layout
    return declared(c, size) if declared is not None else (0, (0,))


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
        if fmt == Format.qcow2_compressed:  # the clusters' own compressor, as qemu-img runs it
            kind = disk.output.compression_type or "zlib"
            ratio = cluster_ratio(samples[0] if samples else None, kind)
        else:  # vmdk's deflated grains
            ratio = samples[0].ratio("output", "zlib") if samples else 0.5
        extents = [
            (p.start, p.size, min(s.content, s.image), *_layout(c, p.size))
            for c, s, p in zip(mine, sizes, places, strict=True)
        ]
        gpt = disk.table.value in ("gpt", "hybrid")
        out = FORMATS[fmt].estimate(total, data, extents, ratio, gpt)
        if disk.output.compression != Compression.none:
            comp = disk.output.compression.value
            pack = samples[0].ratio("output", comp) if samples else _PACK_RATIO[comp]
            # the content packs at the sample's ratio; the zeros around it nearly vanish
            # (measured: 100 MiB of zeros is 3.3 KiB as zstd -3, 15.8 KiB as xz -6)
            packed = min(out, data)
            out = int(packed * pack) + (out - packed) // _ZERO_SHRINK[comp] + 64
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
        if c.part.rules.root_owned and scan is not None and scan.setid:
            warnings += _setid_warning(c, scan)
    for d, disk in enumerate(profile.disks):
        if (said := name_warning(disk.output)) is not None:
            warnings.append(f"disks[{d}].output.path: {said}")
    return Estimate(disks, total_stats.files, total_stats.bytes, warnings)


def _setid_warning(c: PartCtx, scan: Scan) -> list[str]:
    """Set-ID files of other users become set-ID root where every file is given to root:
    meant for a rootfs unpacked without root, a surprise anywhere else, so said, not refused."""
    sub = (c.info.subtree or "/").strip("/")
    mine = [f"{sub}/{p}".lstrip("/") for p in scan.paths_under(scan.setid, sub, c.info.exclude)]
    if not mine:
        return []
    more = f" (and {len(mine) - 1} more)" if len(mine) > 1 else ""
    return [f"{c.info.where}: /{mine[0]}{more} is set-user/group-ID but owned by another "
            "user or group; this filesystem gives every file to root, so it becomes set-ID "
            "root. If that is not meant, clear the bit in the source (chmod u-s,g-s)"]
