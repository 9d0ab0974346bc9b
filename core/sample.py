"""How compressible a tree is, from a small deterministic sample of its files.

A fixed ratio cannot tell a tree of text from one of JPEGs; reading a few
hundred chunks at byte offsets spread evenly over the tree (at most 8 MiB,
once per scan) and compressing them with zlib level 1 can. Each compressor's
output is then modelled as a factor of that ratio, calibrated on
bench/build.py's tree.
"""

from __future__ import annotations

import os
import random
import threading
import zlib
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from os import SEEK_DATA, SEEK_HOLE
from stat import S_ISREG

from .closure import STORE_KEY
from .scan import Scan, hole_bytes

SAMPLES = 256
CHUNK = 32 * 1024  # zlib's window: each chunk compresses as a whole
FOLDER_FILES = 4096  # files of one folder looked at (lstat) when a pick lands there

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
    # qemu-img's qcow2-compressed clusters (64 KiB each; core/output.py says how fitted)
    ("qcow2", "zlib"): 0.82,
    ("qcow2", "zstd"): 0.78,
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
    """Chunks picked in proportion to bytes, so a few big files weigh what they hold.

    A pick by file count misses the big files that hold most bytes of a
    heavy-tailed tree: 256 files out of 18,000 of log-normal sizes gave ratios
    spread ±13% (one standard deviation) around the truth. Here each pick is a
    byte offset, uniform over the tree: a folder in proportion to its bytes,
    then a file in it in proportion to its size (both from the scan), then the
    chunk around that offset: ±4% on that tree.
    """
    # holes hold no data: a sparse file weighs its data bytes, and its picks land in them
    folders = [(key, st.bytes - st.hole_bytes) for key, st in sorted(scan.dirs.items())
               if st.bytes > st.hole_bytes]
    total = sum(b for _, b in folders)
    if not total:
        return Sample(())
    ends = list(accumulate(b for _, b in folders))
    rng = random.Random(total * 1_000_003 + len(folders))  # same tree, same picks
    by_folder: dict[int, list[float]] = {}
    for x in sorted(rng.randrange(total) for _ in range(SAMPLES)):
        i = bisect_right(ends, x)
        start = ends[i] - folders[i][1]
        by_folder.setdefault(i, []).append((x - start) / folders[i][1])
    points: list[tuple[int, float]] = []
    for i, where in by_folder.items():
        key = folders[i][0]
        files = _files(scan, key)
        if scan.dirs[key].hole_bytes:
            files = _data_sizes(_folder(scan, key), files)
        size = sum(n for _, n in files)
        if not size:
            continue
        file_ends = list(accumulate(n for _, n in files))
        for u in where:
            at = int(u * size)
            j = min(bisect_right(file_ends, at), len(files) - 1)
            name, n = files[j]
            ratio = _ratio(os.path.join(_folder(scan, key), name), n, at - (file_ends[j] - n))
            if ratio is not None:
                points.append((1, ratio))  # each pick stands for as many bytes as another
    return Sample(tuple(points))


def _files(scan: Scan, key: str) -> list[tuple[str, int]]:
    """(name, size) of a folder's non-empty regular files, sorted by name (not by the
    order the folder lists them in, so a copy of the tree samples the same bytes)."""
    listed = scan.files.get(key)
    if listed is not None:
        return sorted((n, size) for n, size in zip(*listed, strict=True) if size)
    # a scan without sizes (a cached Nix store path): one lstat per file, at most
    # FOLDER_FILES of them
    prefix = f"{key}/" if key else ""
    names = [n for n in scan.children.get(key, ()) if prefix + n not in scan.dirs]
    if len(names) > FOLDER_FILES:
        names = sorted(random.Random(len(names)).sample(names, FOLDER_FILES))
    base = _folder(scan, key)
    out = []
    for name in names:
        try:
            st = os.lstat(os.path.join(base, name))
        except OSError:
            continue
        if S_ISREG(st.st_mode) and st.st_size:
            out.append((name, st.st_size))
    return out


def _data_sizes(folder: str, files: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """(name, data bytes): a folder with sparse files weighs each by what is not hole."""
    out = []
    for name, size in files:
        path = os.path.join(folder, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        holes = hole_bytes(path, size) if st.st_blocks * 512 < size else 0
        if size > holes:
            out.append((name, size - holes))
    return out


def _data_at(fd: int, k: int) -> tuple[int, int]:
    """(offset, end of its data run) of the k-th data byte of a file (holes skipped)."""
    pos = 0
    while True:
        data = os.lseek(fd, pos, SEEK_DATA)
        end = os.lseek(fd, data, SEEK_HOLE)
        if k < end - data:
            return data + k, end
        k -= end - data
        pos = end


def _folder(scan: Scan, key: str) -> str:
    """Where a folder of the image tree is on this machine: a closure's paths are in its
    store, not under the base tree's root."""
    c = scan.closure
    if c is not None and (key == STORE_KEY or key.startswith(STORE_KEY + "/")):
        return os.path.join(c.store_dir, key[len(STORE_KEY) + 1 :])
    return os.path.join(scan.root, key)


def _ratio(path: str, size: int, offset: int) -> float | None:
    """zlib-1 ratio of the CHUNK bytes around `offset` (the whole file if smaller); in a
    sparse file `offset` counts data bytes only, and the chunk stays in that data."""
    start = min(max(0, offset - CHUNK // 2), max(0, size - CHUNK))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):  # replaced since the scan: read no device
            return None
        if st.st_blocks * 512 < st.st_size:
            at, end = _data_at(fd, offset)
            start = max(0, min(at - CHUNK // 2, end - CHUNK))
        chunk = os.pread(fd, CHUNK, start)
    except OSError:
        return None
    finally:
        os.close(fd)
    return len(zlib.compress(chunk, 1)) / len(chunk) if chunk else None
