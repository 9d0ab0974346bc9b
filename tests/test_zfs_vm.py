"""The ZFS helper VM, for real: kit, a pool built in qemu, and every way a job can end.

Each VM boot costs ~7 s under software emulation, so the file boots as few
VMs as it can while still covering success, job failure, hang, panic and
cancellation.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import diskwright.core.zfs.vm as zvm
from diskwright.core.zfs.job import udev_start
from diskwright.core.zfs.kit import Kit, build_kit, kit_status
from diskwright.core.zfs.vm import JobResult, VmDisk, accel_probe, build_job_tar, run_job

pytestmark = pytest.mark.zfs

ZFS_PART_TYPE = "6A898CC3-1DD2-11B2-99A6-080020736631"  # sgdisk BF01, "Solaris /usr & Apple ZFS"
MiB = 1024 * 1024


def _skip_reason() -> str | None:
    status = kit_status()
    if not status.ready:
        return (
            f"ZFS helper-VM packages missing ({', '.join(status.missing)}); "
            f"install with: {status.install_command}"
        )
    for tool in ("sfdisk", "zdb"):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            return f"{tool} is not installed"
    return None


@pytest.fixture(scope="module")
def kit() -> Kit:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    return build_kit()


def _tool(name: str) -> str:
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    assert path, name
    return path


def _gpt_disk(path: Path, size: int) -> tuple[int, int]:
    """Sparse raw disk with one GPT partition written by sfdisk; returns (offset, size)."""
    with path.open("wb") as f:
        f.truncate(size)
    script = f"label: gpt\nstart=2048, type={ZFS_PART_TYPE}, name=zfs\n"
    subprocess.run([_tool("sfdisk"), "-q", str(path)], input=script, text=True, check=True)
    out = subprocess.run(
        [_tool("sfdisk"), "-J", str(path)], capture_output=True, text=True, check=True
    ).stdout
    part = json.loads(out)["partitiontable"]["partitions"][0]
    return part["start"] * 512, part["size"] * 512


def _extract_sparse(src: Path, offset: int, size: int, dest: Path) -> None:
    """Copy a byte range into its own sparse file (zdb reads labels from whole files)."""
    with src.open("rb") as fi, dest.open("wb") as fo:
        fi.seek(offset)
        done = 0
        while done < size:
            chunk = fi.read(min(MiB, size - done))
            if chunk.count(0) == len(chunk):
                fo.seek(len(chunk), os.SEEK_CUR)
            else:
                fo.write(chunk)
            done += len(chunk)
        fo.truncate(size)


def _payload_tar(dest: Path) -> dict[str, bytes]:
    files = {
        "etc/hostname": b"zfs-test\n",
        "srv/data/big.bin": bytes(range(256)) * 4096,  # 1 MiB, compressible
        "srv/data/notes.txt": "héllo wörld\n".encode() * 100,
    }
    with tarfile.open(dest, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("srv/current")
        link.type, link.linkname = tarfile.SYMTYPE, "data"
        tar.addfile(link)
    return files


class Lines:
    """on_line sink that records both streams and can signal a given job line."""

    def __init__(self, wait_for: str | None = None) -> None:
        self.job: list[str] = []
        self.console: list[str] = []
        self.wait_for = wait_for
        self.seen = asyncio.Event()

    def __call__(self, stream: str, line: str) -> None:
        (self.job if stream == "job" else self.console).append(line)
        if stream == "job" and self.wait_for and line.strip() == self.wait_for:
            self.seen.set()


def _qemu_pids_using(path: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and str(path).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _assert_clean(workdir: Path) -> None:
    assert _qemu_pids_using(workdir) == []
    assert list(workdir.iterdir()) == []


# ---------------------------------------------------------------- no VM needed


def test_job_tar_is_deterministic(tmp_path: Path) -> None:
    a = build_job_tar("echo hi\n", tmp_path / "a.tar", files={"b/x.txt": b"x"})
    b = build_job_tar("echo hi\n", files={"b/x.txt": b"x"})
    assert a == b == (tmp_path / "a.tar").read_bytes()
    assert len(a) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(a)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["job.sh"].mode == 0o755 and members["job.sh"].uid == 0
    with pytest.raises(ValueError):
        build_job_tar("true", files={"../evil": b""})


def test_disk_serials_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        VmDisk(tmp_path / "x.img", "has space")
    with pytest.raises(ValueError):
        VmDisk(tmp_path / "x.img", "a" * 21)


def test_initramfs_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c1"))
    one = build_kit()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c2"))
    two = build_kit(force=True)
    assert one.initramfs != two.initramfs
    assert one.initramfs.read_bytes() == two.initramfs.read_bytes()
    assert str(tmp_path / "c1" / "diskwright" / "zfs-kit") in str(one.initramfs)
    status = kit_status()
    assert status.ready and status.cached == two and not status.install_command


# ---------------------------------------------------------------- real VM runs


async def test_builds_real_pool_on_partition(kit: Kit, tmp_path: Path) -> None:
    disk = tmp_path / "root.img"
    offset, size = _gpt_disk(disk, 256 * MiB)
    payload = tmp_path / "payload.tar"
    files = _payload_tar(payload)
    job = """set -eu
zpool create -t dwtmp -R /mnt -o ashift=12 -O compression=lz4 -O mountpoint=none \\
    dwtest /dev/disk/by-id/virtio-root-part1
zfs create -o mountpoint=/data dwtmp/data
tar -xf /dev/disk/by-id/virtio-payload -C /mnt/data
echo "compression=$(zfs get -H -o value compression dwtmp/data)"
cat /mnt/data/etc/hostname
readlink /mnt/data/srv/current
zpool export dwtmp
echo exported
"""
    lines = Lines()
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = await run_job(kit, job, [VmDisk(disk, "root")], payload, 180, lines, workdir=workdir)
    assert result.ok, (result.reason, result.last_lines)
    assert result.rc == 0 and result.qemu_rc == 0
    assert lines.job[-1] == "exported"
    assert "compression=lz4" in lines.job
    assert "zfs-test" in lines.job and "data" in lines.job
    assert any("job start" in line for line in lines.console)
    _assert_clean(workdir)

    # Check the pool on the host, without a VM: labels and datasets.
    pooldir = tmp_path / "pool"
    pooldir.mkdir()
    part = pooldir / "part.img"
    _extract_sparse(disk, offset, size, part)
    labels = subprocess.run(
        [_tool("zdb"), "-l", str(part)], capture_output=True, text=True, check=True
    ).stdout
    # zdb prints identical labels once, as "labels = 0 1 2 3".
    found = {
        int(n)
        for line in labels.splitlines()
        if line.strip().startswith("labels =")
        for n in line.split("=", 1)[1].split()
    }
    assert found == {0, 1, 2, 3}, labels
    assert "name: 'dwtest'" in labels
    assert "failed to unpack" not in labels
    datasets = subprocess.run(
        [_tool("zdb"), "-e", "-p", str(pooldir), "-d", "dwtest"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Dataset dwtest [ZPL]" in datasets, datasets
    assert "Dataset dwtest/data [ZPL]" in datasets, datasets
    assert len(files) == 3


async def test_udev_in_the_vm_links_volumes_as_a_real_system(kit: Kit, tmp_path: Path) -> None:
    """A volume made in the VM gets /dev/zvol/POOL/VOL from OpenZFS's own udev rule.

    The kit carries 60-zvol.rules with zvol_id; udev_start() fails the job at once
    if udevd applied no rules (systemd 257 reads none from /lib/udev).
    """
    disk = tmp_path / "pool.img"
    _gpt_disk(disk, 128 * MiB)
    job = "\n".join(
        ["set -eu", *udev_start("pool"),
         "zpool create -t dwtmp -O mountpoint=none dwtest /dev/disk/by-id/virtio-pool-part1",
         "zfs create -V 16M dwtmp/vol",
         "udevadm settle --timeout=30",
         "v=/dev/zvol/dwtmp/vol",
         "echo \"@@ $(readlink -f $v) $(udevadm info -q name $v)\"",
         "zpool export dwtmp"]
    ) + "\n"  # fmt: skip
    lines = Lines()
    result = await run_job(kit, job, [VmDisk(disk, "pool")], None, 240, lines, workdir=tmp_path)
    assert result.ok, (result.reason, result.last_lines)
    found = [line.split()[1:] for line in lines.job if line.startswith("@@ ")]
    assert found and found[0][0].startswith("/dev/zd") and found[0][1].startswith("zd"), found


async def test_failing_job_reports_its_rc_and_output(kit: Kit, tmp_path: Path) -> None:
    lines = Lines()
    result = await run_job(kit, "echo about-to-fail\nexit 3\n", [], None, 120, lines)
    assert isinstance(result, JobResult)
    assert not result.ok
    assert result.rc == 3 and result.qemu_rc == 0
    assert "status 3" in result.reason
    assert lines.job == ["about-to-fail"]
    assert "[job] about-to-fail" in result.last_lines


async def test_hung_job_is_killed_after_timeout(kit: Kit, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    lines = Lines()
    # 45 s: the VM reaches its job in 7–25 s under TCG, depending on the load
    result = await run_job(kit, "echo sleeping\nsleep 1000\n", [], None, 45, lines, workdir=workdir)
    assert not result.ok and result.timed_out
    assert result.rc is None and result.qemu_rc is None
    assert "timed out" in result.reason
    assert lines.job == ["sleeping"], "the job should have been running when killed"
    assert 45 <= result.elapsed < 60
    _assert_clean(workdir)


async def test_kernel_panic_is_a_failure(kit: Kit, tmp_path: Path) -> None:
    lines = Lines()
    result = await run_job(kit, "echo c > /proc/sysrq-trigger\nsleep 100\n", [], None, 120, lines)
    assert not result.ok and not result.timed_out
    assert result.rc is None
    assert "panic" in result.reason
    assert any("Kernel panic" in line for line in result.last_lines)


async def test_cancel_kills_qemu_and_cleans_up(kit: Kit, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    lines = Lines(wait_for="running")
    task = asyncio.create_task(
        run_job(kit, "echo running\nsleep 1000\n", [], None, 300, lines, workdir=workdir)
    )
    await asyncio.wait_for(lines.seen.wait(), 120)
    assert _qemu_pids_using(workdir), "qemu should be running now"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _assert_clean(workdir)


async def test_on_line_error_stops_the_vm(kit: Kit, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()

    def explode(stream: str, line: str) -> None:
        raise RuntimeError(f"consumer broke on {stream}: {line}")

    with pytest.raises(RuntimeError, match="consumer broke"):
        await run_job(kit, "sleep 1000\n", [], None, 300, explode, workdir=workdir)
    _assert_clean(workdir)


def test_accel_probe_without_vmx_is_instant_tcg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISKWRIGHT_ACCEL", raising=False)
    if zvm._cpu_has_virt():
        pytest.skip("this CPU has vmx/svm: the probe boots a VM here")
    monkeypatch.setattr(zvm, "_accel_cache", None)

    def booted(*_: object) -> bool:  # "instant" means this: no VM is booted to find out
        raise AssertionError("the probe booted a VM on a CPU without vmx/svm")

    monkeypatch.setattr(zvm, "_kvm_boots", booted)
    args = accel_probe()
    assert "tcg,thread=multi,tb-size=512" in args and "qemu64" in args
    monkeypatch.setenv("DISKWRIGHT_ACCEL", "kvm")
    assert "kvm" in accel_probe()
