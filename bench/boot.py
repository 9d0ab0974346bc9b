"""Benchmark bootable disks: build time, and boot-to-marker time per loader and firmware.

Why: `diskwright run --expect` is the smoke test users and CI wait on; under
software emulation (TCG) its time is dominated by firmware and the loader
reading the kernel, so the boot tests' timeouts and the README's numbers
come from here.

    python bench/boot.py [--runs 2] [--keep DIR] [--zfs]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from diskwright.core.boot.demo import make_demo_tree
from diskwright.core.boot.run import disks_of, run
from diskwright.core.profile import load_profile

REPO = Path(__file__).resolve().parent.parent

MARKER = "boot-disk: root reached"
ZFS_MARKER = "zfs-boot: root reached"


def build(folder: Path, profile: str) -> float:
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "diskwright.tui.cli", "build", profile, "--force"],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        sys.exit(f"build of {profile} failed:\n{r.stderr[-2000:]}")
    return time.monotonic() - t0


def boot(folder: Path, profile: str, firmware: str, marker: str) -> float:
    p = load_profile(folder / profile)
    res = run(disks_of(p), firmware=firmware, expect=marker, timeout=600, on_line=lambda _: None)
    if not res.ok:
        sys.exit(f"{profile} {firmware}: {res.reason}\n" + "\n".join(res.last_lines[-10:]))
    assert res.seen_at is not None
    return res.seen_at


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--zfs", action="store_true", help="also the ZFS root (needs the ZFS kit)")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="diskwright-bench-boot-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copy(REPO / "examples/boot-disk.toml", folder / "boot-disk.toml")
        text = (folder / "boot-disk.toml").read_text()
        (folder / "grub-disk.toml").write_text(
            text.replace('loader = "systemd-boot"', 'loader = "grub"').replace(
                "boot-disk.qcow2", "grub-disk.qcow2"
            )
        )
        make_demo_tree(folder / "boot-root", marker=MARKER)
        rows = [("build boot-disk.toml", [build(folder, "boot-disk.toml")])]
        rows.append(("build grub-disk.toml", [build(folder, "grub-disk.toml")]))
        cases = [
            ("systemd-boot, UEFI (OVMF)", "boot-disk.toml", "uefi", MARKER),
            ("GRUB, BIOS (SeaBIOS)", "boot-disk.toml", "bios", MARKER),
            ("GRUB, UEFI (OVMF)", "grub-disk.toml", "uefi", MARKER),
        ]
        if args.zfs:
            shutil.copy(REPO / "examples/zfs-root.toml", folder / "zfs-root.toml")
            make_demo_tree(folder / "zfs-boot-root", marker=ZFS_MARKER, zfs=True)
            rows.append(("build zfs-root.toml", [build(folder, "zfs-root.toml")]))
            cases.append(("ZFS root, GRUB, BIOS", "zfs-root.toml", "bios", ZFS_MARKER))
        for title, profile, firmware, marker in cases:
            rows.append(
                (
                    f"boot to marker: {title}",
                    [boot(folder, profile, firmware, marker) for _ in range(args.runs)],
                )
            )
        load = os.getloadavg()[0]
        print(f"# {platform.node()}, {os.cpu_count()} CPUs, load {load:.1f}, software emulation")
        print("| what | median s | runs |")
        print("|---|---|---|")
        for title, times in rows:
            print(
                f"| {title} | {statistics.median(times):.1f} | "
                f"{', '.join(f'{t:.1f}' for t in times)} |"
            )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
