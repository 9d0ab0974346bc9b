"""Benchmark the ZFS helper VM: kit build, boot-to-poweroff overhead, copy throughput.

Why: under software emulation (TCG) the VM dominates a ZFS build's time, so
the size estimates and progress weights for ZFS steps come from these numbers.

    python bench/zfs_vm.py [--size-mb 500] [--boots 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diskwright.core.zfs.kit import Kit, build_kit
from diskwright.core.zfs.vm import VmDisk, accel_probe, run_job

MiB = 1024 * 1024
ZFS_PART_TYPE = "6A898CC3-1DD2-11B2-99A6-080020736631"
WORDS = (
    b"store nix derivation output closure kernel module initrd systemd unit "
    b"service socket target mount path timer slice scope device swap automount "
)


def make_tree(root: Path, total: int, random_share: float, seed: int = 7) -> tuple[int, int]:
    """A deterministic tree like a system closure: many small files, a few big ones;
    `random_share` of the files are random (already compressed), the rest text."""
    rng = random.Random(seed)
    done = files = 0
    while done < total:
        size = min(
            int(rng.lognormvariate(9.5, 2.0)) + 1,  # median ~13 KiB, long tail
            8 * MiB,
            total - done,
        )
        d = root / f"d{files // 200:03d}" / f"s{files % 7}"
        d.mkdir(parents=True, exist_ok=True)
        if rng.random() < random_share:
            data = rng.randbytes(size)
        else:
            data = (WORDS * (size // len(WORDS) + 1))[:size]
        (d / f"f{files:05d}.bin").write_bytes(data)
        done += size
        files += 1
    return files, done


def gpt_disk(path: Path, size: int) -> None:
    with path.open("wb") as f:
        f.truncate(size)
    script = f"label: gpt\nstart=2048, type={ZFS_PART_TYPE}, name=zfs\n"
    subprocess.run(["sfdisk", "-q", str(path)], input=script, text=True, check=True)


async def boot_overhead(kit: Kit, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        r = await run_job(kit, "true\n", [], None, 120, lambda _stream, _line: None)
        r.raise_for_status("empty job")
        times.append(r.elapsed)
    return times


async def copy_run(kit: Kit, tmp: Path, size_mb: int, random_share: float) -> dict[str, float]:
    tree = tmp / "tree"
    t0 = time.monotonic()
    nfiles, nbytes = make_tree(tree, size_mb * MiB, random_share)
    t_gen = time.monotonic() - t0
    payload = tmp / "payload.tar"
    t0 = time.monotonic()
    subprocess.run(
        ["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0",
         "-cf", str(payload), "-C", str(tree), "."],
        check=True,
    )  # fmt: skip
    t_tar = time.monotonic() - t0
    disk = tmp / "root.img"
    gpt_disk(disk, max(2048 * MiB, 3 * nbytes))
    job = """set -eu
zpool create -t bench -R /mnt -o ashift=12 -O compression=lz4 -O atime=off \\
    -O mountpoint=none tank /dev/disk/by-id/virtio-root-part1
zfs create -o mountpoint=/data bench/data
echo COPY-START
tar -xf /dev/disk/by-id/virtio-payload -C /mnt/data
sync
echo COPY-END
zfs get -H -o property,value used,logicalused,compressratio bench/data
zpool export bench
"""
    marks: dict[str, float] = {}
    out: list[str] = []

    def on_line(stream: str, line: str) -> None:
        if stream == "job":
            if line in ("COPY-START", "COPY-END"):
                marks[line] = time.monotonic()
            else:
                out.append(line)

    r = await run_job(kit, job, [VmDisk(disk, "root")], payload, 3600, on_line, workdir=tmp)
    r.raise_for_status("copy job")
    copy_s = marks["COPY-END"] - marks["COPY-START"]
    for line in out:
        print("   ", line.replace("\t", " "))
    return {
        "files": nfiles,
        "bytes": nbytes,
        "tar_bytes": payload.stat().st_size,
        "gen_s": t_gen,
        "tar_s": t_tar,
        "copy_s": copy_s,
        "job_s": r.elapsed,
        "disk_used": os.stat(disk).st_blocks * 512,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--boots", type=int, default=3)
    ap.add_argument(
        "--random-share", type=float, default=0.5, help="share of incompressible files (0–1)"
    )
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="diskwright-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        # Cold kit build in a throwaway cache, then the normal cached lookup.
        saved = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
        t0 = time.monotonic()
        cold = build_kit(force=True)
        t_build = time.monotonic() - t0
        size = cold.initramfs.stat().st_size
        if saved is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = saved
        t0 = time.monotonic()
        kit = build_kit()
        t_cached = time.monotonic() - t0
        accel = accel_probe(kit)
        print(f"kit: kernel {kit.kernel_version}, zfs {kit.zfs_version}")
        print(f"kit build (cold): {t_build:.2f} s, initramfs {size / MiB:.1f} MiB ({size} B)")
        print(f"kit lookup (cached): {t_cached * 1000:.0f} ms")
        print(f"accelerator: {' '.join(accel)}")

        boots = asyncio.run(boot_overhead(kit, args.boots))
        print(
            f"boot-to-poweroff, empty job ({len(boots)} runs): "
            f"min {min(boots):.2f} s, median {statistics.median(boots):.2f} s, "
            f"max {max(boots):.2f} s"
        )

        res = asyncio.run(copy_run(kit, tmp, args.size_mb, args.random_share))
        mb = res["bytes"] / 1e6
        print(
            f"tree: {res['files']} files, {mb:.0f} MB, {args.random_share:.0%} random "
            f"(generated in {res['gen_s']:.1f} s, "
            f"tar {res['tar_bytes'] / 1e6:.0f} MB in {res['tar_s']:.1f} s)"
        )
        print(
            f"copy into lz4 pool: {res['copy_s']:.1f} s = {mb / res['copy_s']:.1f} MB/s "
            f"(whole job incl. boot, create, export: {res['job_s']:.1f} s = "
            f"{mb / res['job_s']:.1f} MB/s); disk image uses {res['disk_used'] / 1e6:.0f} MB"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
