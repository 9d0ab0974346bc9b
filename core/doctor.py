"""`diskwright doctor`: which tools are here, which are missing, how to get each."""

from __future__ import annotations

from dataclasses import dataclass, field

from .tools import TOOLS, erofs_features, which


@dataclass(frozen=True)
class DoctorRow:
    name: str
    purpose: str
    ok: bool
    optional: bool
    detail: str
    hints: dict[str, str] = field(default_factory=dict)


def report() -> list[DoctorRow]:
    rows: list[DoctorRow] = []
    for tool in TOOLS.values():
        path = which(tool.command)
        detail = path or "missing"
        if tool.command == "mkfs.erofs" and path:
            f = erofs_features()
            detail += f" ({f.describe()}; label {'-L' if f.label else 'via superblock'})"
        rows.append(
            DoctorRow(
                tool.command,
                tool.purpose,
                path is not None,
                tool.optional,
                detail,
                tool.all_hints(),
            )
        )
    rows += _zfs_rows()
    return rows


def _zfs_rows() -> list[DoctorRow]:
    from .zfs.kit import kit_status

    try:
        from .zfs.helper import kit_sources

        st = kit_status(*kit_sources())
    except Exception as err:  # the kit probe must never break doctor
        return [DoctorRow("zfs-kit", "ZFS helper VM", False, True, f"unknown ({err})")]
    ok = bool(getattr(st, "ready", False) or getattr(st, "present", False))
    detail = str(getattr(st, "summary", "") or getattr(st, "message", "") or st)
    hint = getattr(st, "install_command", None)
    hints = {"debian": str(hint)} if hint else {}
    return [DoctorRow("zfs-kit", "ZFS pools (helper VM)", ok, True, detail, hints)]
