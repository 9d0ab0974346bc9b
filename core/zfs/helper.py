"""`diskwright helper zfs-vm` and `zfs-check`: the two ZFS steps a plan runs on the host.

zfs-vm boots the helper VM for one job script: the plan's step is a plain
command, so `sh plan.sh` runs it like the Runner does. VM lines stream to
stdout (the job) and stderr (kernel and init, prefixed) as they come, so the
build log shows them live; the exit status is the job's. SIGTERM/SIGINT (the
Runner cancels by signalling the step's process group) stop qemu by its own
pid and remove the VM's temporary files before exiting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from ..errors import DiskwrightError

EXIT_CANCELLED = 130
# Where a NixOS or Ubuntu host keeps the kernel and zfs.ko, for every kit lookup.
ENV_KERNEL = "DISKWRIGHT_ZFS_KERNEL"
ENV_MODULES = "DISKWRIGHT_ZFS_MODULES"


def kit_sources() -> tuple[Path | None, Path | None]:
    """The --kernel/--modules overrides from the environment (None = find them)."""
    kernel, modules = os.environ.get(ENV_KERNEL), os.environ.get(ENV_MODULES)
    return (Path(kernel) if kernel else None, Path(modules) if modules else None)


def _disk(text: str) -> tuple[Path, str, bool]:
    """PATH:SERIAL[:ro] — split from the right, so paths may hold colons."""
    parts = text.rsplit(":", 2)
    readonly = False
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        readonly = parts[2] == "ro"
        path, serial = parts[0], parts[1]
    else:
        path, serial = text.rsplit(":", 1) if ":" in text else (text, "")
    if not serial:
        raise argparse.ArgumentTypeError(f"{text!r}: write PATH:SERIAL or PATH:SERIAL:ro")
    return Path(path), serial, readonly


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="diskwright helper zfs-vm",
        description="Run one job script in the ZFS helper VM (busybox sh, real OpenZFS).",
    )
    p.add_argument("--job", required=True, type=Path, help="the shell script to run")
    p.add_argument("--payload", type=Path, help="tar visible as /dev/disk/by-id/virtio-payload")
    p.add_argument("--disk", action="append", default=[], type=_disk, metavar="PATH:SERIAL[:ro]")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole run")
    p.add_argument("--boot-timeout", type=float, default=None, help="seconds until the job starts")
    p.add_argument("--memory", type=int, default=1024, help="MiB")
    p.add_argument("--cpus", type=int, default=2)
    return p


def _say(line: str, *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    try:
        stream.write(line + "\n")
        stream.flush()
    except BrokenPipeError:
        pass


async def _run(args: argparse.Namespace) -> int:
    from .kit import build_kit
    from .vm import VmDisk, accel_probe, run_job

    kernel, modules = kit_sources()
    kit = await asyncio.to_thread(build_kit, False, kernel, modules)
    accel = await asyncio.to_thread(accel_probe, kit)
    mode = "KVM" if "kvm" in accel else "software emulation (TCG)"
    _say(f"zfs-vm: kernel {kit.kernel_version}, OpenZFS {kit.zfs_version}, {mode}", err=True)
    disks = [VmDisk(path.resolve(), serial, readonly=ro) for path, serial, ro in args.disk]
    script = args.job.read_text()

    def on_line(stream: str, line: str) -> None:
        if stream == "job":
            _say(line)
        else:
            _say(f"[vm] {line}", err=True)

    task = asyncio.create_task(
        run_job(
            kit,
            script,
            disks,
            args.payload.resolve() if args.payload else None,
            args.timeout,
            on_line,
            workdir=args.job.resolve().parent,
            accel=accel,
            boot_timeout_s=args.boot_timeout,
            cpus=args.cpus,
            memory_mib=args.memory,
        )
    )
    loop = asyncio.get_running_loop()
    stopped: list[int] = []

    def stop(signum: int) -> None:
        stopped.append(signum)
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)
    try:
        result = await task
    except asyncio.CancelledError:
        _say("zfs-vm: stopped; qemu was killed", err=True)
        return 128 + stopped[0] if stopped else EXIT_CANCELLED
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    if result.ok:
        _say(f"zfs-vm: the job finished in {result.elapsed:.1f} s", err=True)
        return 0
    _say(f"zfs-vm: {result.reason} after {result.elapsed:.1f} s", err=True)
    return result.rc if result.rc else 1


def zfs_vm_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except DiskwrightError as err:
        _say(f"zfs-vm: {err}", err=True)
        return 2 if err.exit_code == 2 else 1
    except (OSError, ValueError) as err:
        _say(f"zfs-vm: {err}", err=True)
        return 1


def zfs_check_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="diskwright helper zfs-check",
        description="Compare the verify VM's findings with the profile and the source.",
    )
    p.add_argument("--expect", required=True, type=Path, help="JSON written by the plan")
    p.add_argument("--result", required=True, type=Path, help="the verify VM's result disk")
    p.add_argument("--source", type=Path, help="the tree that went into the pool")
    args = p.parse_args(argv)
    from .check import run_check

    try:
        ok, report = run_check(args.expect, args.result, args.source)
    except (OSError, ValueError) as err:
        _say(f"zfs-check: {err}", err=True)
        return 1
    _say(report, err=not ok)
    return 0 if ok else 1


def zfs_labels_main(argv: list[str]) -> int:
    """Read `zdb -l` output on stdin: all four labels must be there, naming the pool."""
    if len(argv) != 2:
        _say("usage: zdb -l IMAGE | diskwright helper zfs-labels POOL WHERE", err=True)
        return 2
    pool, where = argv
    text = sys.stdin.read()
    labels: set[int] = set()
    names: set[str] = set()
    current: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("LABEL "):
            tail = line.removeprefix("LABEL ").split()
            current = int(tail[0]) if tail and tail[0].isdigit() else None
        elif line.startswith("labels = "):
            labels.update(int(x) for x in line.removeprefix("labels = ").split() if x.isdigit())
        elif line.startswith("name: ") and current is not None:
            names.add(line.removeprefix("name: ").strip("'"))
            labels.add(current)
    missing = sorted({0, 1, 2, 3} - labels)
    if missing or names != {pool}:
        for raw in text.splitlines()[-30:]:
            _say(raw, err=True)
        if missing:
            _say(f"zfs-labels: {where}: zdb -l finds no label {missing} of pool {pool!r}", err=True)
        else:
            _say(
                f"zfs-labels: {where}: the labels name pool(s) {sorted(names)}, not {pool!r}",
                err=True,
            )
        return 1
    _say(f"zfs-labels: {where}: labels 0 1 2 3 of pool {pool!r} are intact")
    return 0


def zfs_kit_main(argv: list[str]) -> int:
    """`diskwright helper zfs-kit status|build`: check or assemble the helper VM kit."""
    p = argparse.ArgumentParser(
        prog="diskwright helper zfs-kit",
        description="Check or build the ZFS helper VM kit (kernel + initramfs with OpenZFS).",
    )
    p.add_argument("action", choices=("status", "build"), nargs="?", default="status")
    p.add_argument("--kernel", type=Path, help=f"kernel image (or ${ENV_KERNEL})")
    p.add_argument("--modules", type=Path, help=f"/lib/modules/<version> (or ${ENV_MODULES})")
    p.add_argument("--force", action="store_true", help="rebuild even if a kit is cached")
    args = p.parse_args(argv)
    from .kit import build_kit, kit_status

    env_kernel, env_modules = kit_sources()
    kernel, modules = args.kernel or env_kernel, args.modules or env_modules
    try:
        if args.action == "status":
            st = kit_status(kernel, modules)
            _say(f"zfs-kit: {st.summary}")
            if st.install_command:
                _say(f"zfs-kit: install with: {st.install_command}")
            return 0 if st.ready else 1
        import time

        t0 = time.monotonic()
        kit = build_kit(args.force, kernel, modules)
        _say(f"zfs-kit: kernel {kit.kernel_version}, OpenZFS {kit.zfs_version}")
        _say(f"zfs-kit: {kit.kernel}\nzfs-kit: {kit.initramfs} ({time.monotonic() - t0:.1f} s)")
        return 0
    except DiskwrightError as err:
        _say(f"zfs-kit: {err}", err=True)
        return err.exit_code


__all__ = [
    "ENV_KERNEL",
    "ENV_MODULES",
    "zfs_check_main",
    "zfs_kit_main",
    "zfs_labels_main",
    "zfs_vm_main",
]
