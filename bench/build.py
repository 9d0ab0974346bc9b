#!/usr/bin/env python3
"""Build speed against the bare mkfs command, and estimate against actual size.

    python3 bench/build.py [--files 40000] [--gib 1.0] [--keep DIR]

Generates a tree of about 1 GiB in 40,000 files (half random, half text, so
compressors have real work), then for ext4, erofs and squashfs times
`diskwright build` (everything: staging, mkfs, shrink, checks, rename) against
the bare mkfs command on the same tree, and compares each estimate with the
size that came out. Targets: build ≤ 1.10× bare mkfs; estimate within 5%
(ext4, vfat, disk) and 15% (erofs, squashfs). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from diskwright.core.planner import estimate  # noqa: E402
from diskwright.core.profile import load_profile  # noqa: E402
from diskwright.core.scan import scan_tree  # noqa: E402

WORDS = b"disk image filesystem partition erofs squashfs ext4 store closure nix boot ".split()


def make_tree(root: Path, files: int, total: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    per_dir = 100
    mean = total / files
    sizes = [max(0, int(rng.lognormvariate(0, 1.2) * mean / 2.05)) for _ in range(files)]
    scale = total / max(sum(sizes), 1)
    text = b" ".join(rng.choice(WORDS) for _ in range(200_000))
    for i, size in enumerate(sizes):
        d = root / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(parents=True)
        n = int(size * scale)
        if i % 2:
            data = rng.randbytes(n)
        else:
            reps = text * (n // len(text) + 1)
            start = rng.randrange(0, len(text))
            data = reps[start : start + n] if n < len(text) else reps[:n]
        (d / f"file{i:05d}.dat").write_bytes(data)
    (root / "boot").mkdir()
    for i in range(20):
        (root / "boot" / f"kernel{i}").write_bytes(rng.randbytes(2 << 20))


def build_timed(prof: Path) -> tuple[float, float]:
    """(whole build, of which verification) seconds, from the --json step events."""
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "diskwright.tui.cli", "build", str(prof), "--force", "--json"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total = time.monotonic() - t0
    import json

    phases = {}
    verify = 0.0
    for line in out.splitlines():
        ev = json.loads(line)
        if ev["event"] == "step":
            phases[ev["id"]] = ev["title"]
        if ev["event"] == "done" and (
            "fsck" in ev["id"] or "compare" in ev["id"] or "check" in ev["id"]
        ):
            verify += ev["seconds"]
    return total, verify


def timed(argv: list[str], **kw: object) -> float:
    t0 = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.monotonic() - t0


def profile(
    tmp: Path,
    name: str,
    part: dict[str, object],
    table: str = "none",
    extra: list[dict[str, object]] | None = None,
) -> Path:
    data = {
        "version": 1,
        "name": name,
        "source": {"path": str(tmp / "tree")},
        "disks": [
            {
                "name": name,
                "table": table,
                "output": {"path": str(tmp / f"{name}.img")},
                "partitions": [*(extra or []), part],
            }
        ],
    }
    p = tmp / f"{name}.toml"
    p.write_text(tomli_w.dumps(data))
    return p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=40_000)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dw-bench-", dir=args.keep or "/var/tmp"))
    try:
        t0 = time.monotonic()
        make_tree(tmp / "tree", args.files, int(args.gib * (1 << 30)))
        gen = time.monotonic() - t0
        scan = scan_tree(tmp / "tree")
        total = scan.total()
        print(
            f"tree: {total.files} files, {total.bytes / (1 << 20):.0f} MiB "
            f"(generated in {gen:.0f} s, scanned in {scan.seconds:.2f} s)"
        )
        rows = []
        cases = [
            (
                "ext4",
                {"role": "root", "filesystem": "ext4", "mount_point": "/", "label": "root"},
                lambda img, size: [
                    "mkfs.ext4",
                    "-q",
                    "-F",
                    "-d",
                    str(tmp / "tree"),
                    img,
                    f"{size // 1024}k",
                ],
                0.05,
            ),
            (
                "erofs",
                {"role": "store", "filesystem": "erofs", "contents": "/"},
                lambda img, size: ["mkfs.erofs", "-zlz4hc", img, str(tmp / "tree")],
                0.15,
            ),
            (
                "squashfs",
                {"role": "store", "filesystem": "squashfs", "contents": "/"},
                lambda img, size: [
                    "mksquashfs",
                    str(tmp / "tree"),
                    img,
                    "-comp",
                    "zstd",
                    "-noappend",
                    "-no-progress",
                    "-quiet",
                ],
                0.15,
            ),
        ]
        for name, part, bare, tol in cases:
            prof = profile(tmp, name, part)
            est = estimate(load_profile(prof), scan).disks[0].parts[0].image
            subprocess.run(["sync"], check=True)
            t_dw, t_verify = build_timed(prof)
            actual = (tmp / f"{name}.img").stat().st_size
            bare_img = str(tmp / f"{name}.bare")
            subprocess.run(["sync"], check=True)
            t_bare = timed(bare(bare_img, actual))
            rows.append((name, t_dw, t_verify, t_bare, est, actual, tol))
            print(
                f"  {name}: build {t_dw:.1f} s (checks {t_verify:.1f} s), bare {t_bare:.1f} s, "
                f"estimate {est} B, actual {actual} B",
                flush=True,
            )
            os.unlink(bare_img)
            os.unlink(tmp / f"{name}.img")
        # a GPT disk: vfat ESP (the tree's /boot) + ext4 root, and the vfat alone
        esp = {"role": "esp", "filesystem": "vfat", "mount_point": "/boot", "label": "ESP"}
        prof = profile(
            tmp,
            "disk",
            {"role": "root", "filesystem": "ext4", "mount_point": "/"},
            table="gpt",
            extra=[esp],
        )
        est_disk = estimate(load_profile(prof), scan).disks[0]
        t_disk, v_disk = build_timed(prof)
        actual_disk = (tmp / "disk.img").stat().st_size
        out = subprocess.run(
            ["sfdisk", "-J", str(tmp / "disk.img")], capture_output=True, text=True, check=True
        ).stdout
        import json

        esp_size = json.loads(out)["partitiontable"]["partitions"][0]["size"] * 512
        rows.append(("vfat ESP", 0.0, 0.0, 0.0, est_disk.parts[0].size, esp_size, 0.05))
        rows.append(("GPT disk", t_disk, v_disk, 0.0, est_disk.disk_bytes, actual_disk, 0.05))
        print()
        print(f"machine: {platform.node()} — {os.cpu_count()} cores, {platform.platform()}")
        print()
        print(
            "| image | diskwright build (of it: checks) | bare mkfs | ratio (without checks) "
            "| estimate | actual | error | target |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, t_dw, t_ver, t_bare, est, actual, tol in rows:
            if t_bare:
                ratio = f"{t_dw / t_bare:.2f}× ({(t_dw - t_ver) / t_bare:.2f}×)"
            else:
                ratio = "—"
            took = f"{t_dw:.1f} s ({t_ver:.1f} s)" if t_dw else "—"
            bare = f"{t_bare:.1f} s" if t_bare else "—"
            err = (est - actual) / actual
            ok = "ok" if abs(err) <= tol else "MISSED"
            print(
                f"| {name} | {took} | {bare} | {ratio} | {est / (1 << 20):.1f} MiB "
                f"| {actual / (1 << 20):.1f} MiB | {err:+.1%} | ±{tol:.0%} {ok} |"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
