#!/usr/bin/env python3
"""diskwright against the bare tools, side by side, on one generated tree.

    python3 bench/compare.py [--files 30000] [--mib 400] [--big 18000] [--runs 3]
                             [--only ext4,erofs,squashfs,disk,vfat,qcow2,nix] [--keep DIR]
                             [--nix-paths 2000] [--nix-mib 500]

The tree is shaped like a copy of /usr/share + /usr/include + /usr/bin: many
small folders, symlinks, half compressible data, and one folder
(usr/share/man/man1) with --big entries. Each kind runs its commands in turn
(A B C A B C …, so drift of this shared machine hits all alike), --runs times,
and prints for each the median wall time, CPU (user+sys of the whole process
tree), the largest process' peak memory, the output size and the ratio to the
best peer. Peers: bare mkfs.ext4 -d, the nixpkgs make-ext4-fs recipe (copy,
mkfs under fakeroot, fsck, resize2fs -M, +16 MiB), bare mkfs.erofs, mksquashfs
and gensquashfs, mcopy (vfat, bounded by --mcopy-timeout), qemu-img/zstd for
packing. `disk`: a GPT disk (vfat ESP at /boot with a loader, kernel and
initrd, the tree as ext4 root) against Debian's genimage where installed
(apt-get install genimage; bench only, not a dependency). `nix`: a generated Nix store
with a closure of --nix-paths paths (bench/nix.py's generator: references,
symlinks, half random data, registered with nix-store --load-db) built once
into each image kind (ext4 root with the registration, erofs and squashfs
/nix/store images, a GPT disk with an ESP and that ext4 root, a vfat image of
one store path's files), to hold the estimate against what came out. Speed
stays out of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

EPOCH = 1700000000
UUID = "6b1f0d2e-4a8c-5e3b-9f71-2c5d8a0e4b19"
WORDS = b"disk image filesystem partition erofs squashfs ext4 store closure nix boot man ".split()


# ------------------------------------------------------------------ the tree


def make_tree(root: Path, files: int, mib: int, big: int, seed: int = 11) -> dict[str, int]:
    """Generate the tree; returns counts. Same arguments, same tree."""
    rng = random.Random(seed)
    text = b" ".join(rng.choice(WORDS) for _ in range(300_000))

    def data(n: int, compressible: bool) -> bytes:
        if not compressible:
            return rng.randbytes(n)
        start = rng.randrange(0, len(text) - 1)
        return (text[start:] + text)[:n] if n < len(text) else (text * (n // len(text) + 1))[:n]

    man = root / "usr/share/man/man1"
    man.mkdir(parents=True)
    counts = {"files": 0, "folders": 3, "symlinks": 0}
    for i in range(big):  # man pages: small, already gzip-compressed (random-like)
        name = f"{rng.choice(WORDS).decode()}-{i:05d}.1.gz"
        if i % 25 == 3:
            (man / name).symlink_to(f"{rng.choice(WORDS).decode()}-{i - 1:05d}.1.gz")
            counts["symlinks"] += 1
        else:
            (man / name).write_bytes(rng.randbytes(rng.randint(300, 4000)))
            counts["files"] += 1
    rest = max(files - big, 0)
    budget = mib * 1024 * 1024 - big * 2150
    sizes = [rng.lognormvariate(0, 1.6) for _ in range(rest)]
    scale = max(budget, 0) / max(sum(sizes), 1)
    folder = root
    for i, s in enumerate(sizes):
        if i % 13 == 0:
            top = ("usr/share", "usr/include", "usr/bin")[i % 3]
            folder = root / top / f"pkg{i // 130:04d}" / f"sub{i // 13 % 10}"
            folder.mkdir(parents=True, exist_ok=True)
            counts["folders"] += 1
        p = folder / f"{rng.choice(WORDS).decode()}{i:06d}.dat"
        if i % 12 == 5:
            p.symlink_to(f"../sub0/{rng.choice(WORDS).decode()}{i - 1:06d}.dat")
            counts["symlinks"] += 1
            continue
        p.write_bytes(data(int(s * scale), i % 2 == 0))
        counts["files"] += 1
    return counts


def esp_tree(root: Path, n: int) -> None:
    """An ESP with n files in one folder (a firmware or module directory)."""
    rng = random.Random(n)
    d = root / "EFI/Linux/modules"
    d.mkdir(parents=True)
    for i in range(n):
        (d / f"module-{i:05d}-{rng.choice(WORDS).decode()}.ko").write_bytes(
            rng.randbytes(rng.randint(200, 6000))
        )
    (root / "EFI/BOOT").mkdir()
    (root / "EFI/BOOT/BOOTX64.EFI").write_bytes(rng.randbytes(1 << 20))


# ------------------------------------------------------------------ running


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mib: float
    rc: int


def measure(argv: list[str], env: dict[str, str], timeout: float) -> Sample:
    """Wall time and the process tree's CPU and peak memory, from the kernel's accounting."""
    t0 = time.monotonic()
    # GNU time reports the peak of a process forked from it, not from this (larger) Python
    rss = tempfile.NamedTemporaryFile(suffix=".rss", delete=False)
    rss.close()
    wrap = (
        ["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name]
        if os.path.exists("/usr/bin/time")
        else []
    )
    p = subprocess.Popen(
        [*wrap, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = t0 + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, 9)
            pid, status, ru = os.wait4(p.pid, 0)
            return Sample(time.monotonic() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, -9)
        time.sleep(0.02)
    wall = time.monotonic() - t0
    peak = ru.ru_maxrss
    try:
        peak = int(Path(rss.name).read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        pass
    os.unlink(rss.name)
    return Sample(wall, ru.ru_utime + ru.ru_stime, peak / 1024, os.waitstatus_to_exitcode(status))


@dataclass
class Row:
    kind: str
    name: str
    argv: list[str]
    output: Path
    ours: bool = False
    prepare: Callable[[], None] | None = None
    timeout: float = 1800
    once: bool = False  # a peer too slow to run more than once
    estimate: int = 0  # diskwright's estimate of the output, for its own rows
    samples: list[Sample] = field(default_factory=list)
    size: int = 0

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)


def _rm(*paths: Path) -> Callable[[], None]:
    def f() -> None:
        for p in paths:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()

    return f


def build_row(
    kind: str, name: str, diskwright: list[str], prof: Path, out: Path, once: bool = False
) -> Row:
    """diskwright's own row: `build PROFILE`, its output and log removed before each run."""
    return Row(kind, name, [*diskwright, "build", str(prof)], out, ours=True, once=once,
               prepare=_rm(out, out.with_name(out.name + ".log")))


def run_rows(rows: list[Row], runs: int, env: dict[str, str]) -> None:
    for r in range(runs):
        for row in rows:
            if row.samples and (row.samples[-1].rc == -9 or row.once):
                continue  # timed out once, or too slow to repeat: do not spend it again
            (row.prepare or _rm(row.output))()
            s = measure(row.argv, env, row.timeout)
            row.samples.append(s)
            if row.output.exists():
                row.size = row.output.stat().st_size
            status = "" if s.rc == 0 else f" (exit {s.rc})"
            print(f"  run {r + 1} {row.kind:8} {row.name:42} {s.wall:7.2f} s{status}", flush=True)


def table(rows: list[Row]) -> str:
    out = [
        "| kind | command | wall (median) | CPU | peak RSS | size | estimate | vs best peer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    kinds = dict.fromkeys(r.kind for r in rows)
    for kind in kinds:
        group = [r for r in rows if r.kind == kind and r.samples]
        peers = [r for r in group if not r.ours and all(s.rc == 0 for s in r.samples)]
        best = min((r.median("wall") for r in peers), default=0.0)
        for r in group:
            ok = all(s.rc == 0 for s in r.samples)
            wall = f"{r.median('wall'):.2f} s" if ok else f">{r.samples[-1].wall:.0f} s (killed)"
            if ok and any(s.rc for s in r.samples):
                wall += " (failed)"
            ratio = f"{r.median('wall') / best:.2f}×" if best and ok else "—"
            name = f"**{r.name}**" if r.ours else r.name
            est = f"{(r.estimate - r.size) / r.size:+.1%}" if r.estimate and r.size else ""
            out.append(
                f"| {kind} | {name} | {wall} | {r.median('cpu'):.2f} s | "
                f"{r.median('rss_mib'):.0f} MiB | {r.size / 2**20:.1f} MiB | {est} | {ratio} |"
            )
    return "\n".join(out)


# ------------------------------------------------------------------ profiles


def profile(
    path: Path, src: Path, out: str, part: dict[str, object], *,
    table: str = "none", more: tuple[dict[str, object], ...] = (), **output: object,
) -> Path:
    """A one-disk profile: `part` at / (the root), `more` partitions before it."""
    prof = {
        "version": 1,
        "name": path.stem,
        "source": {"path": str(src)},
        "reproducible": {"source_date_epoch": EPOCH, "seed": "compare"},
        "disks": [
            {
                "name": "d",
                "table": table,
                "output": {"path": out, "format": "raw", **output},
                "partitions": [*more, {"role": "root", "mount_point": "/", **part}],
            }
        ],
    }
    path.write_text(tomli_w.dumps(prof))
    return path


NIX_STORE_PART = {"role": "store", "contents": "/nix/store", "mount_point": "/nix/.ro-store"}


GENIMAGE = """\
image esp.vfat {{
  vfat {{ label = "ESP" }}
  size = 64M
  mountpoint = "/boot"
  temporary = true
}}
image root.ext4 {{
  ext4 {{ label = "root" use-mke2fs = true }}
  size = {size}
  temporary = true
}}
image disk.img {{
  hdimage {{ partition-table-type = "gpt" align = 1M }}
  partition esp {{ image = "esp.vfat" partition-type-uuid = "U" }}
  partition root {{ image = "root.ext4" partition-type-uuid = "L" }}
}}
"""


def disk_rows(work: Path, src: Path, du: int, diskwright: list[str]) -> list[Row]:
    """A GPT disk, ESP at /boot (a loader, a kernel, an initrd) and the tree as ext4 root:
    diskwright against Debian's genimage, which copies the root, runs mke2fs -d and
    `e2fsck -pvfD`, fills the ESP with mcopy and writes the table itself."""
    tree = work / "disk-tree"
    if not tree.exists():
        subprocess.run(["cp", "-al", str(src), str(tree)], check=True)
        rng = random.Random(3)
        for rel, mib in (("EFI/BOOT/BOOTX64.EFI", 1), ("vmlinuz", 10), ("initrd.img", 20)):
            f = tree / "boot" / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(rng.randbytes(mib << 20))
    o = work / "out"
    esp = {"role": "esp", "filesystem": "vfat", "mount_point": "/boot", "label": "ESP"}
    p = profile(work / "disk.toml", tree, "out/dw-disk.img",
                {"filesystem": "ext4", "headroom": "0%"}, table="gpt", more=(esp,))
    rows = [
        build_row(
            "disk", "diskwright build (GPT: vfat ESP + ext4 root)", diskwright, p,
            o / "dw-disk.img",
        )
    ]
    if shutil.which("genimage") is None:
        print("disk: genimage is not installed (apt-get install genimage); its row is left out")
        return rows
    cfg = work / "genimage.cfg"
    cfg.write_text(GENIMAGE.format(size=f"{int(du * 1.6 / 1024) + 65536}k"))
    gi_in, gi_out, gi_tmp = work / "gi-in", work / "gi-out", work / "gi-tmp"
    gi_in.mkdir(exist_ok=True)

    def clean() -> None:
        _rm(gi_out, gi_tmp)()
        gi_out.mkdir()

    rows.append(
        Row(
            "disk",
            "genimage (Debian's; mke2fs -d, e2fsck -pvfD, mcopy)",
            [
                "genimage",
                "--config", str(cfg),
                "--rootpath", str(tree),
                "--tmppath", str(gi_tmp),
                "--inputpath", str(gi_in),
                "--outputpath", str(gi_out),
            ],
            gi_out / "disk.img",
            prepare=clean,
        )
    )
    return rows


def nix_rows(work: Path, paths: int, mib: int, diskwright: list[str]) -> list[Row]:
    """Each image kind once from one generated closure: the estimate is the point here."""
    if shutil.which("nix-store") is None:
        print("nix: nix-store is not installed (apt-get install nix-bin); skipped")
        return []
    from nix import make_specs, write_paths  # bench/nix.py and examples/make_nix_store.py

    store = work / "nix-store"
    top = work / "nix-top"
    if not top.exists():
        t = time.monotonic()
        made = write_paths(store, make_specs(paths, mib << 20))
        top.write_text(made["system"].path)
        print(f"nix: {len(made)} store paths, {mib} MiB, in {time.monotonic() - t:.1f} s")
    closure = top.read_text().strip()
    source = {"store": str(store), "closure": [closure]}
    flat = work / "nix-vfat-src"  # vfat holds no symlinks: the store's files and folders only
    if not flat.exists():
        for dirpath, dirnames, filenames in os.walk(store / "nix/store"):
            rel = "nix/store" / Path(dirpath).relative_to(store / "nix/store")
            (flat / rel).mkdir(parents=True, exist_ok=True)
            for name in filenames:
                f = Path(dirpath) / name
                if not f.is_symlink() and not name.startswith("."):
                    os.link(f, flat / rel / name)
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # not .links
    o = work / "out"
    o.mkdir(exist_ok=True)
    cases: list[tuple[str, str, dict[str, object], list[dict[str, object]], str]] = [
        ("ext4", "ext4 root + registration", {**source, "registration": "image"},
         [{"role": "root", "mount_point": "/", "filesystem": "ext4"}], "none"),
        ("erofs", "erofs /nix/store (lz4hc)", source,
         [{**NIX_STORE_PART, "filesystem": "erofs", "label": "nix-store"}], "none"),
        ("squashfs", "squashfs /nix/store (zstd)", source,
         [{**NIX_STORE_PART, "filesystem": "squashfs"}], "none"),
        ("disk", "GPT disk: ESP + ext4 root", {**source, "registration": "image"},
         [{"role": "esp", "filesystem": "vfat", "mount_point": "/boot", "label": "ESP"},
          {"role": "root", "mount_point": "/", "filesystem": "ext4"}], "gpt"),
        ("vfat", "vfat of the store paths' files (no symlinks)", {"path": str(flat)},
         [{"role": "data", "filesystem": "vfat", "mount_point": "/", "label": "STORE"}],
         "none"),
    ]
    rows = []
    for kind, title, src, parts, table in cases:
        prof = {
            "version": 1,
            "name": f"nix-{kind}",
            "source": src,
            "reproducible": {"source_date_epoch": EPOCH, "seed": "compare-nix"},
            "disks": [{"name": "d", "table": table,
                       "output": {"path": f"out/nix-{kind}.img", "format": "raw"},
                       "partitions": parts}],
        }
        p = work / f"nix-{kind}.toml"
        p.write_text(tomli_w.dumps(prof))
        out = o / f"nix-{kind}.img"
        rows.append(
            build_row(f"nix {kind}", f"diskwright build ({title})", diskwright, p, out, once=True)
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=30000)
    ap.add_argument("--mib", type=int, default=400)
    ap.add_argument("--big", type=int, default=18000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="ext4,erofs,squashfs,disk,vfat,qcow2,nix")
    ap.add_argument("--nix-paths", type=int, default=2000)
    ap.add_argument("--nix-mib", type=int, default=500)
    ap.add_argument("--esp-files", default="2000,20000")
    ap.add_argument("--mcopy-timeout", type=float, default=120)
    ap.add_argument("--keep", type=Path, help="work folder to use and keep")
    args = ap.parse_args()
    only = set(args.only.split(","))
    diskwright = [sys.executable, "-m", "diskwright.tui.cli"]
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": str(EPOCH), "MTOOLS_SKIP_CHECK": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}:/usr/sbin:/sbin"
    work = (
        args.keep or Path(tempfile.mkdtemp(prefix="compare-", dir=os.environ.get("TMPDIR")))
    ).resolve()
    work.mkdir(parents=True, exist_ok=True)
    src = work / "tree"
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    if not src.exists():
        t = time.monotonic()
        counts = make_tree(src, args.files, args.mib, args.big)
        print(f"tree: {counts} in {time.monotonic() - t:.1f} s")
    du = int(subprocess.run(["du", "-sb", src], capture_output=True, text=True).stdout.split()[0])
    print(f"tree: {du / 2**20:.0f} MiB, one folder of {args.big} entries")
    rows: list[Row] = []
    o = work / "out"
    o.mkdir(exist_ok=True)

    if "ext4" in only:
        p = profile(
            work / "ext4.toml", src, "out/dw.ext4", {"filesystem": "ext4", "headroom": "0%"}
        )
        rows.append(
            build_row("ext4", "diskwright build (auto, no headroom)", diskwright, p, o / "dw.ext4")
        )
        size = f"{int(du * 1.6 / 1024) + 65536}k"
        mk = ["mkfs.ext4", "-q", "-F", "-U", UUID, "-E", f"hash_seed={UUID},root_owner=0:0"]
        rows.append(
            Row(
                "ext4",
                "mkfs.ext4 -d (bare)",
                [*mk, "-d", str(src), str(o / "bare.ext4"), size],
                o / "bare.ext4",
            )
        )
        recipe = (
            'set -e; rm -rf "$1.copy"; cp -a "$2" "$1.copy"; '
            'fakeroot mkfs.ext4 -q -F -d "$1.copy" "$1" "$3"; '
            'e2fsck -fy "$1" >/dev/null || true; resize2fs -M "$1" 2>/dev/null; '
            'n=$(dumpe2fs -h "$1" 2>/dev/null | sed -n "s/^Block count: *//p"); '
            'truncate -s $(( (n + 4096) * 4096 )) "$1"; resize2fs "$1" 2>/dev/null; '
            'rm -rf "$1.copy"'
        )
        rows.append(
            Row(
                "ext4",
                "nixpkgs make-ext4-fs recipe",
                ["sh", "-c", recipe, "nix", str(o / "nix.ext4"), str(src), size],
                o / "nix.ext4",
            )
        )
    if "erofs" in only:
        p = profile(work / "erofs.toml", src, "out/dw.erofs", {"filesystem": "erofs"})
        rows.append(
            build_row("erofs", "diskwright build (lz4hc)", diskwright, p, o / "dw.erofs")
        )
        rows.append(
            Row(
                "erofs",
                "mkfs.erofs -zlz4hc -Eztailpacking (bare, diskwright's options)",
                [
                    "env",
                    "-u",
                    "SOURCE_DATE_EPOCH",
                    "mkfs.erofs",
                    "-zlz4hc",
                    "-Eztailpacking",
                    "-T",
                    str(EPOCH),
                    "-U",
                    UUID,
                    "--all-root",
                    str(o / "bare.erofs"),
                    str(src),
                ],
                o / "bare.erofs",
            )
        )
    if "squashfs" in only:
        p = profile(work / "sq.toml", src, "out/dw.sqfs", {"filesystem": "squashfs"})
        rows.append(
            build_row("squashfs", "diskwright build (zstd)", diskwright, p, o / "dw.sqfs")
        )
        rows.append(
            Row(
                "squashfs",
                "mksquashfs -comp zstd (bare)",
                [
                    "mksquashfs",
                    str(src),
                    str(o / "bare.sqfs"),
                    "-comp",
                    "zstd",
                    "-all-root",
                    "-mkfs-time",
                    str(EPOCH),
                    "-all-time",
                    str(EPOCH),
                    "-quiet",
                    "-no-progress",
                ],
                o / "bare.sqfs",
            )
        )
        if shutil.which("gensquashfs"):
            rows.append(
                Row(
                    "squashfs",
                    "gensquashfs -c zstd (bare)",
                    [
                        "gensquashfs",
                        "-D",
                        str(src),
                        "-c",
                        "zstd",
                        "--all-root",
                        "-q",
                        "-d",
                        f"mtime={EPOCH}",
                        "-f",
                        str(o / "gen.sqfs"),
                    ],
                    o / "gen.sqfs",
                )
            )
    if "disk" in only:
        rows += disk_rows(work, src, du, diskwright)
    if "vfat" in only:
        for n in (int(x) for x in args.esp_files.split(",")):
            esp = work / f"esp{n}"
            if not esp.exists():
                esp_tree(esp, n)
            out = f"dw-esp{n}.img"
            p = profile(
                work / f"esp{n}.toml",
                esp,
                f"out/{out}",
                {"filesystem": "vfat", "role": "esp", "label": "ESP"},
            )
            kind = f"vfat {n}"
            rows.append(
                build_row(kind, "diskwright build (fat_fill)", diskwright, p, o / out)
            )
            img = o / f"mcopy-esp{n}.img"
            mcopy = (
                'set -e; rm -f "$1"; truncate -s 256M "$1"; '
                'mkfs.vfat --invariant -F 32 "$1" >/dev/null; '
                'mcopy -s -Q -i "$1" "$2"/* ::/'
            )
            rows.append(
                Row(
                    kind,
                    "mkfs.vfat + mcopy -s",
                    ["sh", "-c", mcopy, "m", str(img), str(esp)],
                    img,
                    timeout=args.mcopy_timeout,
                    once=True,
                )
            )
    if "qcow2" in only:
        raw = o / "pack.raw"
        if not raw.exists():
            p = profile(work / "raw.toml", src, "out/pack.raw", {"filesystem": "ext4"})
            subprocess.run([*diskwright, "build", str(p)], env=env, check=True, capture_output=True)
        q = o / "pack.qcow2"
        base = ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c"]
        rows += [
            Row("qcow2", "qemu-img -c (zlib: diskwright's default)", [*base, str(raw), str(q)], q),
            Row(
                "qcow2",
                "qemu-img -c zstd (compression_type = zstd)",
                [*base, "-o", "compression_type=zstd", str(raw), str(q)],
                q,
                ours=True,
            ),
            Row(
                "qcow2",
                "qemu-img -c zstd -m 16 -W (parallel_writes)",
                [*base, "-o", "compression_type=zstd", "-m", "16", "-W", str(raw), str(q)],
                q,
                ours=True,
            ),
            Row(
                "qcow2",
                "zstd -T0 -3 of the raw image",
                ["zstd", "-q", "-f", "-T0", "-3", str(raw), "-o", str(o / "pack.zst")],
                o / "pack.zst",
            ),
        ]
    if "nix" in only:
        rows += nix_rows(work, args.nix_paths, args.nix_mib, diskwright)
    kinds = list(dict.fromkeys(r.kind for r in rows))
    for kind in kinds:
        print(f"{kind}:", flush=True)
        run_rows([r for r in rows if r.kind == kind], args.runs, env)
    for row in rows:  # how far the estimate was from what came out
        if row.ours and row.argv[-2:-1] == ["build"]:
            e = subprocess.run(
                [*diskwright, "estimate", "--json", row.argv[-1]], capture_output=True, text=True
            )
            if e.returncode == 0:
                row.estimate = int(json.loads(e.stdout)["total_output"])
    print()
    print(
        f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, load now {os.getloadavg()[0]:.1f}"
    )
    print(table(rows))
    if args.keep is None:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
