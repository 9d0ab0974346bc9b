"""How compressible a tree is, from a small deterministic sample of its files.

A fixed ratio cannot tell a tree of text from one of JPEGs; reading a few
hundred evenly spread chunks (at most ~16 MiB, once per scan) and
compressing them with zlib level 1 can. Each compressor's output is then
modelled as a factor of that ratio, calibrated on bench/build.py's tree.
"""

from __future__ import annotations

import os
import random
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from .scan import Scan

SAMPLES = 256
CHUNK = 64 * 1024

# compressed size / zlib-1 size, for compressible data (capped at 1.0 overall)
FACTOR = {
    ("squashfs", "zstd"): 0.84,
    ("squashfs", "xz"): 0.75,
    ("squashfs", "gzip"): 0.95,
    ("squashfs", "lz4"): 1.25,
    ("squashfs", "lzo"): 1.15,
    ("erofs", "lz4hc"): 1.35,  # 4 KiB physical clusters compress worse than whole files
    ("erofs", "lz4"): 1.55,
    ("output", "zstd"): 0.85,
    ("output", "xz"): 0.75,
    ("output", "zlib"): 1.0,
}


@dataclass(frozen=True)
class Sample:
    """(bytes weight, zlib-1 ratio) of each sampled file."""

    points: tuple[tuple[int, float], ...]

    def ratio(self, kind: str, compressor: str) -> float:
        factor = FACTOR.get((kind, compressor), 1.0)
        if not self.points:
            return min(1.0, 0.5 * factor)
        total = sum(w for w, _ in self.points) or 1
        return sum(w * _model(r, factor) for w, r in self.points) / total


def _model(r: float, factor: float) -> float:
    """A better compressor gains on compressible data only: incompressible stays 1.0."""
    r = min(r, 1.0)
    if factor >= 1.0:
        return min(1.0, r * factor)
    return r * (factor + (1.0 - factor) * r)


_cache: dict[tuple[str, int], Sample] = {}
_lock = threading.Lock()


def sample(scan: Scan) -> Sample:
    """The sample for a scan, computed once (it reads files; call it off the UI thread)."""
    key = (str(scan.root), id(scan))
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    result = _take(scan)
    with _lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = result
    return result


def _take(scan: Scan) -> Sample:
    files: list[str] = []
    for key in sorted(scan.children):
        for name in scan.children[key]:
            rel = f"{key}/{name}" if key else name
            if rel not in scan.dirs:
                files.append(rel)
    if not files:
        return Sample(())
    # a seeded pick, not a stride: regular patterns in a tree must not alias
    picked = sorted(random.Random(len(files)).sample(files, min(SAMPLES, len(files))))
    points = []
    for rel in picked:
        path = Path(scan.root) / rel
        try:
            st = os.lstat(path)
            if not os.path.isfile(path) or os.path.islink(path) or st.st_size == 0:
                continue
            with open(path, "rb") as f:
                f.seek(max(0, st.st_size // 2 - CHUNK // 2))
                chunk = f.read(CHUNK)
        except OSError:
            continue
        if chunk:
            points.append((st.st_size, len(zlib.compress(chunk, 1)) / len(chunk)))
    return Sample(tuple(points))
