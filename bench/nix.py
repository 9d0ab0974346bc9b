#!/usr/bin/env python3
"""Nix closures: scan + estimate cold and cached, and an erofs store image against bare mkfs.erofs.

    python3 bench/nix.py [--paths 2000] [--mib 500] [--keep DIR]

Generates a chroot Nix store (never the host's /nix) holding a closure of
about 2,000 store paths and 500 MiB (half random bytes, half text, a few
symlinks, references forming a DAG under one "system" path), registered with
`nix-store --load-db`. Then:

- scan + estimate with an empty scan cache (cold: Nix resolves the closure,
  every store path is walked) and again with the cache filled (cached: the
  per-path scans are read back, keyed by path and NAR hash), in this process
  and in a fresh one (what re-opening a profile costs);
- `diskwright build` of an erofs store image (lz4hc, tail packing, label,
  fsck) against bare `mkfs.erofs` with the same options on the same paths.

Prints a Markdown section for bench/RESULTS.md.
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
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples"))

from make_nix_store import PathSpec, write_paths  # noqa: E402

from diskwright.core.layout import resolve  # noqa: E402
from diskwright.core.planner import estimate, make_plan, validate  # noqa: E402
from diskwright.core.profile import load_profile  # noqa: E402
from diskwright.core.runner import StepFinished, run_plan  # noqa: E402
from diskwright.core.source import read_source  # noqa: E402
from diskwright.core.units import format_size  # noqa: E402

WORDS = b"nix store closure derivation output path hash reference erofs image boot ".split()

PROFILE = """version = 1
name = "bench-store"
[source]
store = "{store}"
closure = ["{root}"]
[reproducible]
seed = "bench"
[[disks]]
name = "store"
table = "none"
[disks.output]
path = "store.erofs"
[[disks.partitions]]
role = "store"
filesystem = "erofs"
label = "nix-store"
contents = "/nix/store"
mount_point = "/nix/.ro-store"
[disks.partitions.erofs]
compressor = "lz4hc"
tail_packing = true
"""

CACHED_SCRIPT = """
import sys, time
sys.path.insert(0, {repo!r})
t0 = time.perf_counter()
from diskwright.core.profile import load_profile
from diskwright.core.source import read_source
from diskwright.core.planner import estimate
p = load_profile(__import__("pathlib").Path({profile!r}))
t1 = time.perf_counter()
s = read_source(p)
estimate(p, s)
print(time.perf_counter() - t1, t1 - t0)
"""


def make_specs(paths: int, total: int, seed: int = 11) -> list[PathSpec]:
    rng = random.Random(seed)
    text = b" ".join(rng.choice(WORDS) for _ in range(200_000))
    counts = [max(1, int(rng.lognormvariate(2.0, 0.9))) for _ in range(paths - 1)]
    files = sum(counts)
    sizes = [max(0, int(rng.lognormvariate(0, 1.3))) for _ in range(files)]
    scale = total / max(sum(sizes), 1)
    specs: list[PathSpec] = []
    k = 0
    for i, n in enumerate(counts):
        name = f"pkg{i:04d}-{rng.choice(WORDS).decode()}-1.{i % 17}"
        content: dict[str, bytes | str] = {}
        for j in range(n):
            size = int(sizes[k] * scale)
            k += 1
            if j % 2:
                data = rng.randbytes(size)
            else:
                start = rng.randrange(0, len(text))
                data = (text * (size // len(text) + 2))[start : start + size]
            sub = ("lib", "share/doc", "bin", "share/man/man1")[j % 4]
            content[f"{sub}/f{j:03d}"] = data
        refs = sorted({specs[rng.randrange(len(specs))].name for _ in range(3)}) if specs else []
        if refs:
            content["nix-support/propagated"] = " ".join(f"@{r}@" for r in refs) + "\n"
            content["lib/link"] = f"->@{refs[0]}@/lib"
        specs.append(PathSpec(name, content, refs=refs,
                              executable={p for p in content if p.startswith("bin/")}))
    specs.append(PathSpec("system", {"sw": "->@" + specs[-1].name + "@",
                                     "paths": "".join(f"@{s.name}@\n" for s in specs)},
                          refs=[s.name for s in specs]))
    return specs


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--mib", type=int, default=500)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--repeat", type=int, default=2, help="builds and bare runs, alternated")
    args = ap.parse_args()
    if shutil.which("nix-store") is None:
        sys.exit("nix-store is not installed (sudo apt-get install nix-bin)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="diskwright-bench-nix-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(work, args.paths, args.mib, max(args.repeat, 1))
    finally:
        if args.keep is None:
            subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, paths: int, mib: int, repeat: int) -> int:
    store = work / "store"
    specs, t_gen = timed(lambda: make_specs(paths, mib << 20))
    made, t_write = timed(lambda: write_paths(store, specs))
    top = made["system"].path
    profile_path = work / "store.toml"
    profile_path.write_text(PROFILE.format(store=store, root=top))
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    profile = load_profile(profile_path)

    def scan_and_estimate() -> tuple:
        s = read_source(profile)
        return s, estimate(profile, s)

    (scan, est), t_cold = timed(scan_and_estimate)
    assert scan is not None and scan.closure is not None
    t_resolve = scan.closure.seconds
    (_, _), t_cached = timed(scan_and_estimate)
    (_, _), t_cached2 = timed(scan_and_estimate)
    out = subprocess.run([sys.executable, "-c", CACHED_SCRIPT.format(
        repo=str(REPO), profile=str(profile_path))], capture_output=True, text=True,
        check=True, env={**os.environ}).stdout.split()
    t_fresh, t_import = float(out[0]), float(out[1])
    total = scan.total()
    validate(profile, scan)
    plan = make_plan(profile, scan, force=True)
    bare = work / "bare.erofs"
    # the same paths, and only them (the store folder also holds Nix's .links)
    src = work / "bare-src"
    src.mkdir()
    subprocess.run(["cp", "-al", "-t", str(src), "--",
                    *(str(scan.closure.physical(p)) for p in scan.closure.paths)], check=True)
    uuid = resolve(profile)[0].fs_uuid or ""
    argv = ["mkfs.erofs", "-zlz4hc", "-Eztailpacking", "-T", "1", "-U", uuid, "--all-root",
            str(bare), str(src)]
    env = {**os.environ, **plan.env}  # the same SOURCE_DATE_EPOCH, LC_ALL and TZ as the build
    builds: list[float] = []
    bares: list[float] = []
    runs: list[list[tuple[str, float]]] = []
    result = None
    for _ in range(repeat):  # alternate, so a busy machine slows both alike
        steps: list[tuple[str, float]] = []

        def on_event(e: object, steps: list[tuple[str, float]] = steps) -> None:
            if isinstance(e, StepFinished):
                steps.append((e.step.id, e.seconds))

        result, t = timed(lambda on_event=on_event: run_plan(plan, on_event))
        builds.append(t)
        runs.append(steps)
        bares.append(timed(lambda: subprocess.run(argv, check=True, capture_output=True,
                                                  env=env))[1])
    assert result is not None
    t_build, t_bare = min(builds), min(bares)
    steps = runs[builds.index(t_build)]
    image = Path(result.outputs[0].path)
    by_id = dict(steps)
    t_mkfs = by_id.get("d0p1-mkfs", 0.0)
    t_stage = sum(t for i, t in steps if "closure" in i or "stage" in i)
    t_reg = by_id.get("nix-registration", 0.0)
    t_fsck = by_id.get("d0p1-fsck", 0.0)
    estimate_bytes = est.disks[0].parts[0].image
    actual = image.stat().st_size
    load = os.getloadavg()[0]
    print(f"## Nix closures (bench/nix.py) — {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {load:.1f}\n")
    print(f"Closure: {len(scan.closure.paths)} store paths, {total.files} files, "
          f"{total.dirs} folders, {total.symlinks} symlinks, {format_size(total.bytes)} "
          f"(NAR {format_size(scan.closure.nar_size)}); generated in {t_gen + t_write:.1f} s "
          f"with `nix-store --load-db` of the registration.\n")
    print("| step | time |")
    print("|---|---|")
    print(f"| scan + estimate, cold (empty scan cache) | {t_cold:.2f} s |")
    print(f"| … of which Nix resolving the closure (`-qR`, `--dump-db`) | {t_resolve:.2f} s |")
    print(f"| scan + estimate, cached (same process) | {t_cached:.2f} s / {t_cached2:.2f} s |")
    print(f"| scan + estimate, cached (fresh process; + {t_import:.2f} s imports) | "
          f"{t_fresh:.2f} s |")
    print(f"| `diskwright build` erofs store image (all steps) | {t_build:.1f} s "
          f"({', '.join(f'{t:.1f}' for t in builds)}) |")
    print(f"| bare `mkfs.erofs -zlz4hc -Eztailpacking` on the same paths | {t_bare:.1f} s "
          f"({', '.join(f'{t:.1f}' for t in bares)}) |")
    print(f"| ratio build / bare mkfs (best of {repeat} each) | {t_build / t_bare:.2f}× |")
    print(f"| … build: mkfs.erofs step | {t_mkfs:.1f} s |")
    print(f"| … build: list closure + hard-link staging + unstage | {t_stage:.2f} s |")
    print(f"| … build: registration (`nix-store --dump-db`) | {t_reg:.2f} s |")
    print(f"| … build: verify (`fsck.erofs`) | {t_fsck:.1f} s |")
    print(f"| ratio mkfs step / bare mkfs | {t_mkfs / t_bare:.2f}× |")
    print()
    print(f"erofs image: {format_size(actual)} (bare mkfs.erofs: "
          f"{format_size(bare.stat().st_size)}); estimate {format_size(estimate_bytes)} "
          f"({(estimate_bytes - actual) / actual * 100:+.1f}%).")
    same = subprocess.run(["cmp", "-s", str(image), str(bare)]).returncode == 0
    print(f"Image bytes identical to bare mkfs.erofs apart from the label: "
          f"{'yes' if same else _differs_only_in_label(image, bare)}.")
    return 0


def _differs_only_in_label(a: Path, b: Path) -> str:
    """diskwright writes the label into the superblock (and its checksum) after mkfs."""
    x, y = a.read_bytes(), b.read_bytes()
    if len(x) != len(y):
        return "no (sizes differ)"
    diff = [i for i in range(len(x)) if x[i] != y[i]] if len(x) < (64 << 20) else None
    if diff is None:
        head = [i for i in range(8192) if x[i] != y[i]]
        same_tail = x[8192:] == y[8192:]
        return "yes" if same_tail and all(1024 <= i < 1024 + 128 for i in head) else "no"
    return "yes" if all(1024 <= i < 1024 + 128 for i in diff) else "no"


if __name__ == "__main__":
    sys.exit(main())
