"""ZFS pools are built by real OpenZFS inside a small qemu helper VM.

`kit` assembles the VM (kernel + initramfs with busybox, the ZFS userland and
modules) from host packages and caches it; `vm` boots it for one job script
and streams its output. The ZFS commands themselves come from the Plan.
"""

from .kit import Kit, KitStatus, build_kit, kit_status
from .vm import JobResult, VmDisk, accel_probe, build_job_tar, run_job

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
