"""Issue 11: the compressibility sample picks bytes, not files, so the erofs and
squashfs estimates hold on heavy-tailed trees; built for real and compared."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest
import tomli_w
from testkit import estimate_and_build

from diskwright.core.sample import CHUNK, _take
from diskwright.core.scan import scan_tree

WORDS = b"disk image filesystem partition erofs squashfs ext4 store closure nix boot ".split()


def _text(rng: random.Random, n: int) -> bytes:
    out = b" ".join(rng.choice(WORDS) for _ in range(n // 6 + 1))
    return out[:n]


def _true_ratio(root: Path) -> float:
    """zlib-1 over every CHUNK of every file, weighted by bytes: what a sample estimates."""
    raw = packed = 0
    for f in sorted(root.rglob("*")):
        if f.is_file() and not f.is_symlink():
            data = f.read_bytes()
            for i in range(0, len(data), CHUNK):
                chunk = data[i : i + CHUNK]
                raw += len(chunk)
                packed += len(zlib.compress(chunk, 1))
    return packed / raw


def _one_big_text_file(root: Path, order: int = 1) -> None:
    """2,000 small random files and one 6 MiB text file holding most of the bytes."""
    rng = random.Random(5)
    blobs = [(f"d{i % 20:02d}/r{i:04d}", rng.randbytes(1024)) for i in range(2000)]
    blobs.append(("d07/big.txt", _text(rng, 6 << 20)))
    for rel, data in blobs[::order]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def test_a_big_file_weighs_what_it_holds(tmp_path: Path) -> None:
    """Picked by file count, 256 of 2,001 files miss the one big file 88% of the time
    and the ratio comes out near 1.0; picked by bytes, it is within a few % of the truth."""
    _one_big_text_file(tmp_path)
    truth = _true_ratio(tmp_path)
    got = _take(scan_tree(tmp_path)).ratio("output", "zlib")
    assert truth < 0.6
    assert abs(got - truth) < 0.06, (got, truth)


def test_a_copy_of_the_tree_gives_the_same_sample(tmp_path: Path) -> None:
    """The picks follow names and sizes, not the order a folder lists its entries in."""
    _one_big_text_file(tmp_path / "a")
    _one_big_text_file(tmp_path / "b", order=-1)
    assert _take(scan_tree(tmp_path / "a")) == _take(scan_tree(tmp_path / "b"))


def _heavy_tailed_tree(root: Path, files: int, mib: int) -> None:
    """Log-normal sizes, half text and half random bytes, as bench/compare.py makes."""
    rng = random.Random(files)
    sizes = [rng.lognormvariate(0, 1.6) for _ in range(files)]
    scale = mib * 1024 * 1024 / sum(sizes)
    for i, s in enumerate(sizes):
        n = int(s * scale)
        f = root / f"d{i % 40:02d}" / f"f{i:05d}"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(_text(rng, n) if i % 2 else rng.randbytes(n))


@pytest.mark.integration
@pytest.mark.parametrize("fs", ["erofs", "squashfs"])
@pytest.mark.parametrize(("files", "mib"), [(2000, 30), (6000, 40)])
def test_compressed_estimate_on_a_heavy_tailed_tree(
    tmp_path: Path, fs: str, files: int, mib: int
) -> None:
    """Many small files, a few big ones. Picking files and counting erofs' packed tails
    raw, the estimates were +14.1% / +11.3% (erofs) and +10.6% / −1.3% (squashfs) on
    these two trees, +27.5% on bench/compare.py's small tree; now 0–5%. The issue's goal
    is 15%; this holds them to 8%."""
    _heavy_tailed_tree(tmp_path / "tree", files, mib)
    _within_8_percent(tmp_path, fs, "tails")


@pytest.mark.integration
@pytest.mark.parametrize("fs", ["erofs", "squashfs"])
def test_compressed_estimate_of_a_sparse_file(tmp_path: Path, fs: str) -> None:
    """A 1 GiB file holding 2 MiB of data beside 3 MiB of random bytes. Picks uniform over
    its apparent size read zeros, so the sample said "all compressible": squashfs was
    estimated at 0.06 MiB for a 4 MiB image (−98.5%), erofs −19% (its 1 GiB of zeros
    packs into 4.5 MiB). Now the picks weigh and read data bytes only."""
    rng = random.Random(3)
    tree = tmp_path / "tree"
    tree.mkdir()
    with open(tree / "big.sparse", "wb") as f:
        f.truncate(1 << 30)
        f.seek(1 << 20)
        f.write(rng.randbytes(1 << 20))
        f.seek(500 << 20)
        f.write(_text(rng, 1 << 20))
    (tree / "normal").write_bytes(rng.randbytes(3 << 20))
    _within_8_percent(tmp_path, fs, "sparse")


def _within_8_percent(tmp_path: Path, fs: str, seed: str) -> None:
    """Build tmp_path/tree as one `fs` image; its estimate within 8% of what came out."""
    p = tmp_path / "p.toml"
    p.write_text(tomli_w.dumps({
        "version": 1, "source": {"path": "tree"},
        "reproducible": {"source_date_epoch": 1700000000, "seed": seed},
        "disks": [{"name": "d", "table": "none", "output": {"path": "out.img", "format": "raw"},
                   "partitions": [{"role": "root", "mount_point": "/", "filesystem": fs}]}],
    }))
    guess, real = estimate_and_build(p, tmp_path / "out.img")
    assert abs(guess - real) <= real * 8 // 100, (guess, real)
