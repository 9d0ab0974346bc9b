"""`diskwright run`: boot the built disks in QEMU — the user's smoke test and the tests' proof.

OVMF for UEFI (its VARS file copied per run, since firmware writes it),
SeaBIOS for BIOS; the disks attached with snapshot=on so a boot never
changes an output; the serial console streamed line by line to the caller.
KVM only when the ZFS helper VM's probe shows it can boot a guest (nested
PVM has /dev/kvm but cannot), software emulation otherwise — with one vCPU,
which boots the demo disk ~6 s sooner under UEFI than two on a busy 2-core
host (measured: 20 s vs 26 s). With `expect`,
success is that text on the console; the guest stopping or the timeout
passing first is a failure that carries the console's last lines.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DiskwrightError, ProfileError, ToolMissing
from ..output import FORMATS
from ..profile import Compression, Profile
from ..zfs import vm as zvm
from ..zfs.kit import which
from . import grub

OVMF_PAIRS = (
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
    ("/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"),
    ("/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd"),
)
TAIL = 30
RUN_PREFIX = "diskwright-run-"


@dataclass
class RunResult:
    ok: bool
    reason: str
    elapsed: float
    seen_at: float | None = None  # seconds from start to the expected text
    qemu_rc: int | None = None
    last_lines: list[str] = field(default_factory=list)


def ovmf() -> tuple[Path, Path]:
    env_code, env_vars = (
        os.environ.get("DISKWRIGHT_OVMF_CODE"),
        os.environ.get("DISKWRIGHT_OVMF_VARS"),
    )
    pairs = ([(env_code, env_vars)] if env_code and env_vars else []) + list(OVMF_PAIRS)
    for code, vars_ in pairs:
        if Path(code).is_file() and Path(vars_).is_file():
            return Path(code), Path(vars_)
    raise ToolMissing("OVMF", grub.install_hint("ovmf"))


def disks_of(profile: Profile) -> list[tuple[Path, str]]:
    """The built outputs, boot disk first as the profile lists them, with qemu format names."""
    out: list[tuple[Path, str]] = []
    for d, disk in enumerate(profile.disks):
        path = profile.resolve(disk.output.path)
        if disk.output.compression != Compression.none:
            raise ProfileError(
                f"disks[{d}].output.compression",
                f"{path.name} is {disk.output.compression.value}-compressed; QEMU cannot boot it",
                'decompress it first, or build with compression = "none"',
            )
        if not path.is_file():
            raise ProfileError(
                f"disks[{d}].output.path",
                f"{path} does not exist",
                "build it first: diskwright build PROFILE",
            )
        out.append((path, FORMATS[disk.output.format].qemu or "raw"))
    return out


def accel() -> list[str]:
    """KVM only where a real boot shows it works; otherwise TCG."""
    if os.environ.get("DISKWRIGHT_ACCEL") or (zvm._cpu_has_virt() and zvm._kvm_opens()):
        with contextlib.suppress(DiskwrightError, OSError):
            return zvm.accel_probe()
    return list(zvm.TCG_ARGS)


def _clean_stale(base: Path) -> None:
    """Remove run folders whose qemu died with them (killed runs leave OVMF VARS copies)."""
    for p in base.glob(f"{RUN_PREFIX}*"):
        try:
            pid = int(p.name.removeprefix(RUN_PREFIX).split("-")[0])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except PermissionError:
            pass


def qemu_argv(
    qemu: str,
    disks: list[tuple[Path, str]],
    firmware: str,
    accel_args: list[str],
    memory: int,
    vars_copy: Path | None,
    interactive: bool,
) -> list[str]:
    argv = [
        qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-machine", "q35", *accel_args, "-smp", "2" if "kvm" in accel_args else "1",
        "-m", str(memory),
        "-serial", "mon:stdio" if interactive else "stdio",
    ]  # fmt: skip
    if firmware == "uefi":
        code, _ = ovmf()
        assert vars_copy is not None
        argv += [
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={zvm._drive_path(code)}",
            "-drive", f"if=pflash,format=raw,unit=1,file={zvm._drive_path(vars_copy)}",
        ]  # fmt: skip
    for i, (path, fmt) in enumerate(disks):
        argv += [
            "-drive", f"file={zvm._drive_path(path)},format={fmt},if=none,id=d{i},snapshot=on",
            "-device", f"virtio-blk-pci,drive=d{i},bootindex={i}",
        ]  # fmt: skip
    return argv


def run(
    disks: list[tuple[Path, str]],
    *,
    firmware: str = "uefi",
    expect: str | None = None,
    timeout: float | None = None,
    memory: int = 512,
    on_line: Callable[[str], None] | None = None,
    accel_args: list[str] | None = None,
) -> RunResult:
    """Boot `disks`; with `expect`, stop as soon as that text shows on the serial console."""
    qemu = which("qemu-system-x86_64")
    if qemu is None:
        raise ToolMissing(
            "qemu-system-x86_64", grub.install_hint("ovmf").replace("ovmf", "qemu-system-x86 ovmf")
        )
    if firmware not in ("uefi", "bios"):
        raise ProfileError("--firmware", f"{firmware!r} is not a firmware", "use uefi or bios")
    if firmware == "uefi":
        ovmf()
    base = Path(tempfile.gettempdir())
    _clean_stale(base)
    work = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-", dir=base))
    interactive = expect is None and on_line is None
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL)
    proc: subprocess.Popen[bytes] | None = None
    try:
        vars_copy = None
        if firmware == "uefi":
            vars_copy = work / "OVMF_VARS.fd"
            shutil.copyfile(ovmf()[1], vars_copy)
        argv = qemu_argv(
            qemu, disks, firmware, accel_args or accel(), memory, vars_copy, interactive
        )
        if interactive:
            proc = subprocess.Popen(argv)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return RunResult(
                    False, f"timed out after {timeout:g} s", time.monotonic() - started
                )
            return RunResult(
                rc == 0,
                "" if rc == 0 else f"qemu exited with status {rc}",
                time.monotonic() - started,
                qemu_rc=rc,
            )
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert proc.stdout is not None
        deadline = None if timeout is None else started + timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return RunResult(
                        False,
                        f"{expect!r} did not appear within {timeout:g} s",
                        time.monotonic() - started,
                        last_lines=list(tail),
                    )
                if not sel.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    tail.append(line)
                    if on_line:
                        on_line(line)
                    if expect is not None and expect in line:
                        return RunResult(
                            True,
                            "",
                            time.monotonic() - started,
                            seen_at=time.monotonic() - started,
                            last_lines=list(tail),
                        )
        if buf:
            line = buf.decode("utf-8", "replace").rstrip("\r")
            tail.append(line)
            if on_line:
                on_line(line)
            if expect is not None and expect in line:
                return RunResult(
                    True,
                    "",
                    time.monotonic() - started,
                    seen_at=time.monotonic() - started,
                    last_lines=list(tail),
                )
        rc = proc.wait()
        if expect is None:
            return RunResult(
                rc == 0,
                "" if rc == 0 else f"qemu exited with status {rc}",
                time.monotonic() - started,
                qemu_rc=rc,
                last_lines=list(tail),
            )
        return RunResult(
            False,
            f"the guest stopped (qemu exit {rc}) before {expect!r} appeared",
            time.monotonic() - started,
            qemu_rc=rc,
            last_lines=list(tail),
        )
    finally:
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if interactive:
                    proc.kill()
                else:
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(work, ignore_errors=True)


__all__ = ["RunResult", "disks_of", "ovmf", "qemu_argv", "run"]
