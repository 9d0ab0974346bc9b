#!/usr/bin/env python3
"""Scan, sample and plan of a 100,000-file tree, warm, in one fresh process.

    python3 bench/plan100k.py [--files 100000] [--folders 1000] [--runs 3] [--keep DIR]

What `diskwright build` does before its first tool runs: load the profile, scan
the tree (read_source), validate it, estimate and make the plan, for an ext4
and an erofs image (erofs also samples compressibility: it reads 256 files).
Each run is a fresh Python process on a warm page cache (one warm-up run
first); prints the median of each phase (wall), of the process' CPU time
and how often the expensive pieces ran (scan, contexts, sample), since
nothing should be done twice. Goal (issue 11):
the whole under 1 s warm. Speed stays out of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import compare  # bench/compare.py, beside this script

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from diskwright.core import sample as sample_mod, scan as scan_mod
import importlib
assembly, checks, ctx_mod, estimate = (importlib.import_module(f"diskwright.core.planner.{m}")
                                       for m in ("assembly", "checks", "contexts", "estimate"))
from diskwright.core.profile import load_profile
from diskwright.core.source import read_source
t1 = time.perf_counter()
calls = {"scan_tree": 0, "contexts": 0, "sample": 0}  # computed, not asked for

def counted(mod, name, key):
    real = getattr(mod, name)
    def wrapper(*a, **k):
        calls[key] += 1
        return real(*a, **k)
    setattr(mod, name, wrapper)
    return wrapper

import diskwright.core.source as source_mod
counted(source_mod, "scan_tree", "scan_tree")
counted(ctx_mod, "make_contexts", "contexts")
counted(sample_mod, "_take", "sample")
profile = load_profile(Path(sys.argv[1]))
scan = read_source(profile)
t2 = time.perf_counter()
checks.validate(profile, scan)
t3 = time.perf_counter()
est = estimate.estimate(profile, scan)
t4 = time.perf_counter()
plan = assembly.make_plan(profile, scan)
t5 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "load+scan": t2 - t1, "validate": t3 - t2,
                  "estimate": t4 - t3, "plan": t5 - t4, "total": t5 - t0,
                  "cpu": time.process_time(),
                  "steps": len(plan.steps), "calls": calls}))
"""


def make_tree(root: Path, files: int, folders: int) -> None:
    rng = random.Random(7)
    text = b"disk image filesystem partition erofs ext4 store closure nix boot man " * 40
    per = max(files // folders, 1)
    for d in range(folders):
        sub = root / f"usr/share/pkg{d // 50:03d}/sub{d:04d}"
        sub.mkdir(parents=True)
        for i in range(per if d < folders - 1 else files - per * (folders - 1)):
            n = rng.randint(0, 3000)
            data = rng.randbytes(n) if i % 2 else text[:n]
            (sub / f"file-{i:04d}.dat").write_bytes(data)


def profile(path: Path, src: Path, fs: dict[str, object]) -> Path:
    """bench/compare.py's bare-image profile, the output beside it."""
    return compare.profile(path, src, str(path.with_suffix(".img")), fs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--folders", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="plan100k-"))
    tree = work / "tree"
    if not tree.exists():
        make_tree(tree, args.files, args.folders)
    profiles = {
        "ext4": profile(work / "ext4.toml", tree, {"filesystem": "ext4"}),
        "erofs": profile(work / "erofs.toml", tree, {"filesystem": "erofs"}),
    }
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    print(f"tree: {args.files} files in {args.folders} folders; load {os.getloadavg()[0]:.1f}")
    phases = ("imports", "load+scan", "validate", "estimate", "plan", "total")
    print("| image | " + " | ".join(phases) + " | CPU | runs of scan / contexts / sample |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, prof in profiles.items():
        rows = []
        for i in range(args.runs + 1):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(prof)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
            if i:  # the first run warms the page cache
                rows.append(json.loads(out))
        med = {
            k: statistics.median(r[k] for r in rows) for k in rows[0] if k not in ("calls", "steps")
        }
        c = rows[-1]["calls"]
        print(
            f"| {name} | "
            + " | ".join(
                f"{med[k] * 1000:.0f} ms"
                for k in ("imports", "load+scan", "validate", "estimate", "plan", "total", "cpu")
            )
            + f" | {c['scan_tree']} / {c['contexts']} / {c['sample']} |"
        )
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
