"""Boot the ZFS helper VM for one job and stream its output line by line.

The contract with the guest's /init (see kit.py): the job script arrives as a
tar on the virtio disk with serial `job`, an optional payload tar on serial
`payload`, target images on further disks. Kernel and init talk on ttyS0
("console"), the job on ttyS1 ("job"), which ends with the sentinel
`DISKWRIGHT-JOB-EXIT=<rc>`. A job succeeded only if qemu exited 0 AND the
sentinel said 0: a panic reboots (→ qemu exits 0 under -no-reboot) without a
sentinel, a hang is killed by our timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import selectors
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildFailed, ToolMissing
from .kit import Kit, build_kit, install_command, which

INIT_ERROR = "DISKWRIGHT-INIT-ERROR="
PROBE_OK = "DISKWRIGHT-PROBE-OK"
JOB_START = "diskwright-init: job start"
_SENTINEL_RE = re.compile(r"^DISKWRIGHT-JOB-EXIT=(\d+)$")
# virtio-blk serials are at most 20 bytes; keep them safe for by-id names.
_SERIAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$")
RESERVED_SERIALS = frozenset({"job", "payload"})

TCG_ARGS = ("-cpu", "qemu64", "-accel", "tcg,thread=multi,tb-size=512")
KVM_ARGS = ("-cpu", "host", "-accel", "kvm")
KVM_PROBE_TIMEOUT_S = 20.0
TAIL_LINES = 60

OnLine = Callable[[str, str], None]


@dataclass(frozen=True)
class VmDisk:
    """A disk image attached to the VM, visible there as /dev/disk/by-id/virtio-<serial>."""

    path: Path
    serial: str
    readonly: bool = False
    format: str = "raw"

    def __post_init__(self) -> None:
        if not _SERIAL_RE.match(self.serial):
            raise ValueError(
                f"disk serial {self.serial!r}: use 1–20 letters, digits, '.', '_' or '-'"
            )


@dataclass
class JobResult:
    """How one VM run ended. `rc` is the job's own exit code (None if it never reported)."""

    ok: bool
    rc: int | None
    qemu_rc: int | None  # None when we had to kill qemu
    elapsed: float
    reason: str  # empty on success, else why, for a person
    timed_out: bool = False
    last_lines: list[str] = field(default_factory=list)  # "[job] …" / "[console] …"

    def raise_for_status(self, step: str = "zfs-vm") -> None:
        if not self.ok:
            raise BuildFailed(step, self.reason, self.last_lines)


# ---------------------------------------------------------------- job tar


def build_job_tar(
    job_script: str, dest: Path | None = None, files: Mapping[str, bytes] | None = None
) -> bytes:
    """Deterministic tar holding job.sh (+ extra files): sorted, root-owned, clamped mtime."""
    try:
        mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    except ValueError:
        mtime = 0
    members: dict[str, tuple[bytes, int]] = {"job.sh": (job_script.encode(), 0o755)}
    for name, data in (files or {}).items():
        if name.startswith("/") or ".." in Path(name).parts or name == "job.sh":
            raise ValueError(f"job file name {name!r} must be relative and not job.sh")
        members[name] = (data, 0o644)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(members):
            data, mode = members[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    blob = buf.getvalue()
    if dest is not None:
        Path(dest).write_bytes(blob)
    return blob


# ---------------------------------------------------------------- accelerator

_accel_cache: list[str] | None = None


def _cpu_has_virt() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            return bool(flags & {"vmx", "svm"})
    return False


def _kvm_opens() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def _kvm_boots(kit: Kit, qemu: str) -> bool:
    """Boot the kit under KVM with init's probe switch; True if its marker shows in time."""
    argv = [
        qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        *KVM_ARGS, "-smp", "1", "-m", "512",
        "-kernel", str(kit.kernel), "-initrd", str(kit.initramfs),
        "-append", "console=ttyS0,115200 panic=-1 oops=panic diskwright.probe=1",
        "-serial", "stdio",
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + KVM_PROBE_TIMEOUT_S
    seen = b""
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                seen = (seen + chunk)[-4096:]
                if PROBE_OK.encode() in seen:
                    return True
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def accel_probe(kit: Kit | None = None) -> list[str]:
    """qemu accelerator arguments: KVM only where it can really boot our kernel.

    /dev/kvm can exist and open yet be unable to boot a stock kernel (nested
    PVM has no vmx/svm), so KVM needs the CPU flags, an openable /dev/kvm and
    a boot marker within ~20 s. The answer is cached for the process;
    DISKWRIGHT_ACCEL=tcg|kvm overrides it.
    """
    global _accel_cache
    forced = os.environ.get("DISKWRIGHT_ACCEL", "").strip().lower()
    if forced == "tcg":
        return list(TCG_ARGS)
    if forced == "kvm":
        return list(KVM_ARGS)
    if _accel_cache is None:
        result = TCG_ARGS
        qemu = which("qemu-system-x86_64")
        if qemu and _cpu_has_virt() and _kvm_opens():
            if _kvm_boots(kit or build_kit(), qemu):
                result = KVM_ARGS
        _accel_cache = list(result)
    return list(_accel_cache)


# ---------------------------------------------------------------- running


def _drive_path(path: Path) -> str:
    return str(path).replace(",", ",,")  # qemu option syntax escapes commas by doubling


def qemu_argv(
    qemu: str,
    kit: Kit,
    disks: list[VmDisk],
    accel: list[str],
    console_fd: int,
    job_fd: int,
    cpus: int = 2,
    memory_mib: int = 1024,
) -> list[str]:
    """The qemu command line; serial ports write into pipes we inherited to qemu."""
    append = " ".join(
        [
            "console=ttyS0,115200",
            "panic=-1",
            "oops=panic",
            "loglevel=4",
            "mitigations=off",
            f"diskwright.disks={len(disks)}",
        ]
    )
    argv = [
        qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        *accel, "-smp", str(cpus), "-m", str(memory_mib),
        "-kernel", str(kit.kernel), "-initrd", str(kit.initramfs), "-append", append,
        "-serial", f"file:/dev/fd/{console_fd}",
        "-serial", f"file:/dev/fd/{job_fd}",
    ]  # fmt: skip
    for i, d in enumerate(disks):
        opts = f"file={_drive_path(d.path)},format={d.format},if=none,id=d{i}"
        if d.readonly:
            opts += ",readonly=on"
        else:
            # The image is only kept when qemu exits cleanly, and qemu flushes
            # on exit, so guest flushes need not reach the host disk.
            opts += ",cache=unsafe,discard=unmap"
        argv += ["-drive", opts, "-device", f"virtio-blk-pci,drive=d{i},serial={d.serial}"]
    return argv


async def _pump(reader: asyncio.StreamReader, stream: str, sink: OnLine) -> None:
    """Split a byte stream into lines (no length limit; serial CRs dropped)."""
    buf = b""
    while chunk := await reader.read(65536):
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            sink(stream, raw.decode("utf-8", "replace").rstrip("\r"))
    if buf:
        sink(stream, buf.decode("utf-8", "replace").rstrip("\r"))


async def _pipe_reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    return reader, transport


async def run_job(
    kit: Kit,
    job_script: str,
    disks: list[VmDisk],
    payload: Path | None,
    timeout_s: float,
    on_line: OnLine,
    *,
    workdir: Path | None = None,
    accel: list[str] | None = None,
    boot_timeout_s: float | None = None,
    cpus: int = 2,
    memory_mib: int = 1024,
) -> JobResult:
    """Run `job_script` (POSIX sh, busybox) in the helper VM and wait for it.

    `on_line(stream, line)` gets every line live; stream is "console" (kernel,
    init, qemu itself) or "job". Never raises for a failed job: look at
    `JobResult.ok` or call `raise_for_status()`. Cancelling the task kills
    qemu and removes the temporary files (made under `workdir`, else $TMPDIR).
    """
    qemu = which("qemu-system-x86_64")
    if qemu is None:
        raise ToolMissing("qemu-system-x86_64", install_command(["qemu-system-x86"]))
    serials = [d.serial for d in disks]
    if clash := [s for s in serials if s in RESERVED_SERIALS or serials.count(s) > 1]:
        raise ValueError(f"disk serials must be unique and not job/payload: {sorted(set(clash))}")
    if accel is None:
        accel = await asyncio.to_thread(accel_probe, kit)

    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    state: dict[str, object] = {"rc": None, "init_error": None, "panic": False}
    job_started = asyncio.Event()

    def sink(stream: str, line: str) -> None:
        if stream == "job" and (m := _SENTINEL_RE.match(line.strip())):
            state["rc"] = int(m.group(1))
            return
        if stream == "console":
            if line.startswith(INIT_ERROR):
                state["init_error"] = line[len(INIT_ERROR) :]
            elif "Kernel panic" in line:
                state["panic"] = True
            elif line.strip() == JOB_START:
                job_started.set()
        tail.append(f"[{stream}] {line}")
        on_line(stream, line)

    tmp = Path(tempfile.mkdtemp(prefix="diskwright-vm-", dir=workdir))
    fds: list[int] = []
    transports: list[asyncio.BaseTransport] = []
    pumps: list[asyncio.Task[None]] = []
    proc: asyncio.subprocess.Process | None = None
    timed_out = False
    why_killed = ""
    try:
        job_tar = tmp / "job.tar"
        build_job_tar(job_script, job_tar)
        vm_disks = [VmDisk(job_tar, "job", readonly=True)]
        if payload is not None:
            vm_disks.append(VmDisk(Path(payload), "payload", readonly=True))
        vm_disks += disks
        for d in vm_disks:
            if not d.path.is_file():
                raise BuildFailed("zfs-vm", f"disk image {d.path} (serial {d.serial}) is missing")

        con_r, con_w = os.pipe()
        fds += [con_r, con_w]
        job_r, job_w = os.pipe()
        fds += [job_r, job_w]
        argv = qemu_argv(qemu, kit, vm_disks, accel, con_w, job_w, cpus, memory_mib)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            pass_fds=(con_w, job_w),
        )
        # Our copies of the write ends must go, or the readers never see EOF.
        for w in (con_w, job_w):
            os.close(w)
            fds.remove(w)
        for fd, stream in ((con_r, "console"), (job_r, "job")):
            fds.remove(fd)  # the transport owns it from here
            reader, transport = await _pipe_reader(fd)
            transports.append(transport)
            pumps.append(asyncio.create_task(_pump(reader, stream, sink)))
        assert proc.stdout is not None
        pumps.append(asyncio.create_task(_pump(proc.stdout, "console", sink)))

        def pump_done(task: asyncio.Task[None]) -> None:
            # If on_line raised, nobody drains the serial pipes any more and the
            # VM would stall on a full pipe: stop it now; gather() re-raises below.
            if not task.cancelled() and task.exception() is not None:
                assert proc is not None
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()

        for task in pumps:
            task.add_done_callback(pump_done)

        async def watch() -> None:
            assert proc is not None
            if boot_timeout_s is not None:
                try:
                    await asyncio.wait_for(job_started.wait(), boot_timeout_s)
                except TimeoutError:
                    nonlocal why_killed
                    why_killed = f"the VM did not start the job within {boot_timeout_s:g} s"
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await proc.wait()

        try:
            await asyncio.wait_for(watch(), timeout_s)
        except TimeoutError:
            timed_out = True
            why_killed = f"timed out after {timeout_s:g} s"
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        # qemu is gone, so every write end is closed: the pumps reach EOF now.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*pumps), 10)
    finally:
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(BaseException):
                await asyncio.shield(proc.wait())
        for task in pumps:
            task.cancel()
        for transport in transports:
            transport.close()
        for fd in fds:
            os.close(fd)
        shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.monotonic() - started
    qemu_rc = None if why_killed else proc.returncode
    rc = state["rc"] if isinstance(state["rc"], int) else None
    if why_killed:
        reason = why_killed + "; qemu was killed"
    elif rc is None:
        if state["init_error"]:
            reason = f"the VM's init failed: {state['init_error']}"
        elif state["panic"]:
            reason = "the VM's kernel panicked before the job reported its exit code"
        else:
            reason = f"the VM stopped (qemu exit {qemu_rc}) without reporting the job's exit code"
    elif qemu_rc != 0:
        reason = f"qemu exited with status {qemu_rc}"
    elif rc != 0:
        reason = f"the job exited with status {rc}"
    else:
        reason = ""
    return JobResult(
        ok=not reason,
        rc=rc,
        qemu_rc=qemu_rc,
        elapsed=elapsed,
        reason=reason,
        timed_out=timed_out,
        last_lines=list(tail),
    )
