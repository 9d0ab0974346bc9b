"""The `[boot]` table of a profile: how the disks start.

Only choices live here; what they mean for a given tree (which kernel, which
root= argument) is worked out in core/boot/find.py and core/boot/entries.py,
so a profile never has to repeat what the source already says.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Loader(StrEnum):
    systemd_boot = "systemd-boot"  # UEFI only; BIOS through GRUB when a bios-boot partition exists
    grub = "grub"  # BIOS through the bios-boot partition (or MBR gap), UEFI when there is an ESP
    none = "none"


class RootBy(StrEnum):
    """How root= names the root device on the kernel command line."""

    auto = "auto"  # partuuid on GPT, else label, else uuid; a ZFS root names its dataset
    partuuid = "partuuid"
    label = "label"
    uuid = "uuid"


_BAD_CMDLINE = re.compile(r"[\x00-\x1f\x7f\"\\]")


def _image_path(v: str | None, what: str) -> str | None:
    if v is None:
        return v
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ValueError(f"{what} cannot contain control characters or newlines")
    p = PurePosixPath(v)
    if not p.is_absolute() or ".." in p.parts or str(p) == "/":
        raise ValueError(
            f"{what} is not an absolute file path inside the image; write it like "
            "/boot/vmlinuz-6.1.0-amd64"
        )
    if any(c.isspace() for c in v):
        raise ValueError(f"{what} cannot contain spaces (boot loaders split on them); rename it")
    return str(p)


class Boot(BaseModel):
    """How the disks boot. Kernel, initrd and init default to what the source holds."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    loader: Loader = Field(
        default=Loader.none,
        description="systemd-boot (UEFI), grub (BIOS, and UEFI with an ESP) or none",
    )
    kernel: str | None = Field(
        default=None,
        description="Kernel inside the image tree (default: the newest /boot/vmlinuz-*, or a "
        "NixOS system closure's kernel)",
    )
    initrd: str | None = Field(
        default=None,
        description="Initrd inside the image tree (default: the kernel's /boot/initrd.img-*, "
        "or the closure's initrd)",
    )
    init: str | None = Field(
        default=None,
        description="init= for the kernel (default: a NixOS closure's init; else none)",
    )
    cmdline: str = Field(
        default="console=ttyS0,115200",
        description="Kernel arguments besides root= and init= (which are derived)",
    )
    root_by: RootBy = Field(
        default=RootBy.auto,
        description="How root= names the root partition: auto, partuuid, label or uuid",
    )
    bios: bool | None = Field(
        default=None,
        description="Install GRUB for BIOS too (default: when a bios-boot partition exists)",
    )
    title: str = Field(default="Linux", description="The menu entry's title")
    timeout: int = Field(default=0, ge=0, le=600, description="Menu timeout in seconds")

    @field_validator("kernel")
    @classmethod
    def _kernel(cls, v: str | None) -> str | None:
        return _image_path(v, "kernel")

    @field_validator("initrd")
    @classmethod
    def _initrd(cls, v: str | None) -> str | None:
        return _image_path(v, "initrd")

    @field_validator("init")
    @classmethod
    def _init(cls, v: str | None) -> str | None:
        return _image_path(v, "init")

    @field_validator("cmdline")
    @classmethod
    def _cmdline(cls, v: str) -> str:
        if _BAD_CMDLINE.search(v):
            raise ValueError(
                "cmdline cannot contain control characters, quotes or backslashes; "
                "write plain words like console=ttyS0,115200 quiet"
            )
        for word in v.split():
            if word.startswith(("root=", "init=")):
                raise ValueError(
                    f"cmdline: {word.split('=')[0]}= is derived from the profile; remove "
                    f"{word!r} (set boot.root_by or boot.init instead)"
                )
        if len(v.encode()) > 1024:
            raise ValueError("cmdline is longer than 1024 bytes; shorten it")
        return " ".join(v.split())

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        if _BAD_CMDLINE.search(v) or "'" in v or not v.strip():
            raise ValueError("title cannot be empty or contain quotes, backslashes or newlines")
        return v

    @model_validator(mode="after")
    def _loader(self) -> Boot:
        if self.loader == Loader.none:
            for name in ("kernel", "initrd", "init"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f'{name}: nothing boots with loader = "none"; set loader to '
                        '"systemd-boot" or "grub", or remove it'
                    )
            if self.bios:
                raise ValueError('bios: GRUB for BIOS needs loader = "grub" or "systemd-boot"')
        return self


__all__ = ["Boot", "Loader", "RootBy"]
