"""Resolved facts about each partition that estimate, plan and exports share.

A profile says "auto" and leaves ids unset; this module turns that into the
concrete ids (derived from the seed), the subtree each partition receives and
the nested subtrees it must leave empty because another partition owns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from .model import (
    GPT_TYPES,
    MBR_TYPES,
    Disk,
    FileMapping,
    PartitionBase,
    Profile,
    Role,
    Table,
    derive_hex,
    derive_uuid,
)


@dataclass(frozen=True)
class PartInfo:
    disk_index: int
    index: int  # 0-based within the disk
    disk: Disk
    part: PartitionBase
    key: str  # "d0p1": workspace file names and shell variable prefixes
    where: str  # "disks[0].partitions[1]" for messages
    fs_uuid: str | None
    partuuid: str | None
    gpt_type: str | None
    mbr_type: str | None
    part_name: str | None
    subtree: str | None  # absolute path in the source tree, None = empty
    exclude: tuple[str, ...]  # absolute source paths owned by other partitions
    files: tuple[FileMapping, ...]  # extra files that land in this partition
    # mount points of empty partitions inside this one's subtree: the folder must exist
    # here (a read-only parent cannot grow one at boot)
    mounts: tuple[str, ...] = ()

    @property
    def spoken(self) -> str:
        """The partition as a person names it: "root partition, ext4 'nixos', on disk vm".

        For step titles and prose; `where` stays the field path for errors and tags.
        """
        label = getattr(self.part, "label", None)
        named = f" '{label}'" if label else ""
        return (f"{self.part.role.value} partition, {self.part.filesystem}{named}, "
                f"on disk {self.disk.name}")

    @property
    def var(self) -> str:
        return self.key.upper()

    @property
    def number(self) -> int:
        return self.index + 1


def _is_under(path: str, parent: str) -> bool:
    p, q = PurePosixPath(path), PurePosixPath(parent)
    return p != q and (q == PurePosixPath("/") or q in p.parents)


def _fs_uuid(profile: Profile, d: int, i: int, part: PartitionBase) -> str | None:
    kind = part.rules.uuid
    if kind in ("none", "random"):
        return None
    if part.uuid:
        return part.uuid
    if kind == "vfat":
        return derive_hex(profile, 8, "vfat", d, i).upper()
    return derive_uuid(profile, "fs", d, i)


def disk_id(profile: Profile, d: int) -> str:
    disk = profile.disks[d]
    if disk.uuid:
        return disk.uuid
    if disk.table == Table.mbr:
        return "0x" + derive_hex(profile, 8, "mbr", d)
    return derive_uuid(profile, "disk", d).upper()


def resolve(profile: Profile) -> list[PartInfo]:
    """Every partition of every disk, with ids filled in and ownership of subtrees decided."""
    parts: list[tuple[int, int, PartitionBase]] = [
        (d, i, p) for d, disk in enumerate(profile.disks) for i, p in enumerate(disk.partitions)
    ]
    subtrees = {(d, i): p.source_subtree() for d, i, p in parts}
    out: list[PartInfo] = []
    for d, i, part in parts:
        disk = profile.disks[d]
        sub = subtrees[(d, i)]
        exclude: list[str] = []
        mounts: list[str] = []
        if sub is not None:
            for key, other in subtrees.items():
                if key != (d, i) and other is not None and _is_under(other, sub):
                    exclude.append(other)
            for d2, i2, other_part in parts:
                mp = other_part.mount_point
                if subtrees[(d2, i2)] is None and mp and (d2, i2) != (d, i) and _is_under(mp, sub):
                    mounts.append(mp)
        # the deepest partition whose subtree contains the target receives a file
        files = []
        for fm in profile.source.files:
            owners = [
                (len(PurePosixPath(s).parts), k)
                for k, s in subtrees.items()
                if s is not None and (_is_under(fm.target, s))
            ]
            if owners and max(owners)[1] == (d, i):
                files.append(fm)
        gpt = disk.table in (Table.gpt, Table.hybrid)
        out.append(
            PartInfo(
                disk_index=d,
                index=i,
                disk=disk,
                part=part,
                key=f"d{d}p{i + 1}",
                where=f"disks[{d}].partitions[{i}]",
                fs_uuid=_fs_uuid(profile, d, i, part),
                partuuid=(part.partuuid or derive_uuid(profile, "part", d, i)).upper()
                if gpt
                else None,
                gpt_type=(part.gpt_type or GPT_TYPES[part.role]) if gpt else None,
                mbr_type=_mbr_type(part) if disk.table in (Table.mbr, Table.hybrid) else None,
                part_name=(part.name or part.label or part.role.value) if gpt else None,
                subtree=sub,
                exclude=tuple(sorted(set(exclude))),
                files=tuple(files),
                mounts=tuple(sorted(set(mounts))),
            )
        )
    return out


def _mbr_type(part: PartitionBase) -> str:
    if part.role == Role.data and part.rules.mbr_data_type is not None:
        return part.rules.mbr_data_type
    return MBR_TYPES.get(part.role, "83")


def orphan_files(profile: Profile) -> list[FileMapping]:
    """Extra files whose target no partition receives."""
    infos = resolve(profile)
    placed = {id(f) for info in infos for f in info.files}
    return [f for f in profile.source.files if id(f) not in placed]


def writable_holder(infos: list[PartInfo], path: str) -> PartInfo | None:
    """The partition mounted deepest at or above `path` in the guest."""
    best: tuple[int, PartInfo] | None = None
    p = PurePosixPath(path)
    for info in infos:
        mp = info.part.mount_point
        if mp is None:
            continue
        m = PurePosixPath(mp)
        if m == p or m in p.parents:
            depth = len(m.parts)
            if best is None or depth > best[0]:
                best = (depth, info)
    return best[1] if best else None
