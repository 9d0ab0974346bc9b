"""ZFS pools are built by real OpenZFS inside a small qemu helper VM.

`kit` assembles the VM (kernel + initramfs with busybox, the ZFS userland and
modules) from host packages and caches it; `vm` boots it for one job script
and streams its output. The ZFS commands themselves come from the Plan.

The names below load on first use: core/fs/zfs imports this package's job and
model modules for every plan, and kit/vm pull asyncio, tarfile and lzma in
(about 40 ms of every start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .kit import Kit, KitStatus, build_kit, kit_status
    from .vm import JobResult, VmDisk, accel_probe, build_job_tar, run_job

_FROM = {"Kit": "kit", "KitStatus": "kit", "build_kit": "kit", "kit_status": "kit"}
_FROM |= dict.fromkeys(("JobResult", "VmDisk", "accel_probe", "build_job_tar", "run_job"), "vm")


def __getattr__(name: str) -> Any:
    if name in _FROM:
        return getattr(importlib.import_module(f".{_FROM[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "JobResult",
    "Kit",
    "KitStatus",
    "VmDisk",
    "accel_probe",
    "build_job_tar",
    "build_kit",
    "kit_status",
    "run_job",
]
