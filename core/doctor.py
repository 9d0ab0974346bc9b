"""`diskwright doctor`: which tools are here, which are missing, how to get each."""

from __future__ import annotations

from dataclasses import dataclass, field

from .fs import SPECS
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
    # each filesystem's own tools first (its module declares them), then the rest
    fs_tools = [t for spec in SPECS for t in spec.tools]
    seen = {t.command for t in fs_tools}
    for tool in [*fs_tools, *(t for t in TOOLS.values() if t.command not in seen)]:
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
    rows += _boot_rows()
    return rows


BOOT_ROWS = ("systemd-boot", "grub i386-pc", "grub x86_64-efi", "ovmf")  # files, not commands


def _boot_rows() -> list[DoctorRow]:
    """Boot loader files and firmware: packages that ship files, not commands on PATH."""
    from .boot import grub
    from .boot.run import ovmf
    from .errors import ToolMissing

    found: list[tuple[str, str, str | None, str]] = [
        ("systemd-boot", "[boot] loader = systemd-boot (UEFI)",
         str(grub.systemd_boot_efi() or "") or None, "systemd-boot"),
        ("grub i386-pc", "[boot] GRUB for BIOS", str(grub.grub_dir("i386-pc") or "") or None,
         "i386-pc"),
        ("grub x86_64-efi", "[boot] GRUB for UEFI",
         str(grub.grub_dir("x86_64-efi") or "") or None, "x86_64-efi"),
    ]  # fmt: skip
    try:
        code = str(ovmf()[0])
    except ToolMissing:
        code = None
    found.append(("ovmf", "diskwright run --firmware uefi", code, "ovmf"))
    return [
        DoctorRow(name, purpose, path is not None, True, path or "missing",
                  {"debian": grub.install_hint(pkg)})
        for name, purpose, path, pkg in found
    ]  # fmt: skip


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
