"""The guest side of a ZFS pool: which datasets mount where, and what NixOS needs.

core/exports.py turns these entries into `fileSystems`/fstab lines, the way
make-zfs-image writes filesystem-config.nix: one `fsType = "zfs"` entry per
mounted dataset. Legacy mounts (mountpoint=legacy) take no options; datasets
ZFS mounts itself are listed with `zfsutil`, as NixOS asks for those.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..layout import PartInfo, resolve
from ..model import GuestMount, Profile, Table, derive_hex
from .model import ZfsPool


@dataclass(frozen=True)
class ZfsMount(GuestMount):
    """One dataset the guest mounts (its device is the dataset's name)."""

    legacy: bool = False


def pool_of(info: PartInfo) -> ZfsPool | None:
    """The pool settings of a zfs partition (only its class has the [zfs] table)."""
    pool = getattr(info.part, "zfs", None) if info.part.filesystem == "zfs" else None
    return pool if isinstance(pool, ZfsPool) else None


def pool_name(info: PartInfo) -> str:
    pool = pool_of(info)
    return pool.pool if pool is not None else "rpool"


def zfs_mounts(info: PartInfo) -> list[ZfsMount]:
    """The pool's mounted datasets in mount order, parents first."""
    pool = pool_of(info)
    if pool is None:
        return []
    out = []
    for m in pool.mounts():
        how = "legacy mount" if m.legacy else "mountpoint property, mounted by ZFS"
        out.append(
            ZfsMount(
                point=m.path,
                device=m.dataset,
                fs_type="zfs",
                options=() if m.legacy else ("zfsutil",),
                legacy=m.legacy,
                comment=f"{info.where}: ZFS dataset {m.dataset} ({how})",
            )
        )
    return out


def zfs_parts(profile: Profile) -> list[PartInfo]:
    return [i for i in resolve(profile) if pool_of(i) is not None]


def host_id(profile: Profile) -> str:
    """networking.hostId for the guest: 8 hex digits, stable for the profile's seed.

    The pool was exported by a VM without a hostid, so it imports on any host;
    NixOS only insists that some hostId is set.
    """
    return derive_hex(profile, 8, "zfs-hostid")


def nixos_lines(profile: Profile) -> list[str]:
    """Module lines (two-space indented) for boot.zfs and networking.hostId, or none."""
    parts = zfs_parts(profile)
    if not parts:
        return []
    out = [
        "  # ZFS, as make-zfs-image's filesystem-config.nix sets it up:",
        '  boot.supportedFilesystems = [ "zfs" ];',
        f'  networking.hostId = "{host_id(profile)}"; # any 8 hex digits; pools were exported',
    ]
    if all(i.disk.table in (Table.gpt, Table.hybrid) for i in parts):
        out.append(
            '  boot.zfs.devNodes = "/dev/disk/by-partuuid"; # found even without disk serials'
        )
    extra = [pool_name(i) for i in parts if not any(m.legacy for m in zfs_mounts(i))]
    if extra:
        names = " ".join(f'"{p}"' for p in extra)
        out.append(f"  boot.zfs.extraPools = [ {names} ]; # no fileSystems entry imports these")
    for i in parts:
        pool = pool_of(i)
        assert pool is not None
        if pool.pool_properties.get("autotrim") != "on":
            out.append(f"  # pool {pool.pool!r}: services.zfs.trim.enable = true; trims weekly")
    return out


def fstab_notes(profile: Profile) -> list[str]:
    """Comment lines for an fstab: what has to happen before the zfs lines mount."""
    out = []
    for i in zfs_parts(profile):
        pool = pool_name(i)
        out.append(
            f"{i.where}: import pool {pool!r} before these mounts (zfs-import-scan.service "
            f"or `zpool import {pool}`); datasets with zfsutil are ZFS-managed mountpoints"
        )
    return out


__all__ = ["ZfsMount", "fstab_notes", "host_id", "nixos_lines", "pool_name", "zfs_mounts"]
