"""How big a pool's partition must be to hold a tree: OpenZFS' own space arithmetic.

Why not a percentage: small pools lose a lot. A vdev loses 4.5 MiB to labels
and the boot area, is cut into whole metaslabs (8-16 of them below 8 GiB, at
least 16 MiB each), and OpenZFS keeps "slop" space free: 1/32 of the pool,
but at least min(128 MiB, half the pool). A 64 MiB partition therefore holds
about 24 MiB. These rules are from OpenZFS 2.1 (vdev_metaslab_set_size,
spa_get_slop_space) and were checked against `zfs get available` in the
helper VM for partitions from 64 MiB to 9 GiB.
"""

from __future__ import annotations

from ..sample import Sample
from ..scan import Stats
from ..units import MiB, round_up
from .model import ZfsPool
from .props import compression_ratio, zfs_size

MIN_VDEV = 64 * MiB  # SPA_MINDEVSIZE
LABELS = 4 * 256 * 1024  # four vdev labels, two at each end
BOOT_AREA = 7 * 512 * 1024  # VDEV_BOOT_SIZE after the front labels
SPA_MIN_SLOP = 128 * MiB
FRESH_POOL = 512 * 1024  # what a new, empty pool already uses (MOS, root dataset)
RECORD = 128 * 1024


def _highbit(n: int) -> int:
    return n.bit_length()


def metaslab_shift(asize: int) -> int:
    """vdev_metaslab_set_size: ~16 metaslabs below 8 GiB, 512 MiB each up to 100 GiB, …"""
    count = asize >> 29
    if count < 16:
        shift = _highbit(asize // 16)
    elif count > 200:
        shift = _highbit(asize // 200)
    else:
        shift = 29
    if shift < 24:
        return 24
    if shift > 34:
        shift = 34
        if (asize >> shift) > 131072:
            shift = _highbit(asize // 131072)
    return shift


def pool_space(partition: int) -> int:
    """Bytes of allocatable space (the pool's `size`) on a partition of this size."""
    osize = partition - partition % (256 * 1024)
    asize = osize - LABELS - BOOT_AREA
    if asize <= 0:
        return 0
    shift = metaslab_shift(asize)
    return (asize >> shift) << shift


def slop(space: int) -> int:
    """spa_get_slop_space: 1/32 of the pool, at least min(128 MiB, half of it)."""
    return max(min(space >> 5, 128 << 30), min(space >> 1, SPA_MIN_SLOP))


def usable(partition: int) -> int:
    """What the root file system reports as `available` right after zpool create."""
    space = pool_space(partition)
    return max(space - slop(space) - FRESH_POOL, 0)


def partition_for(need: int, align: int = MiB) -> int:
    """The smallest partition (a multiple of `align`, at least 64 MiB) whose pool holds `need`."""
    align = max(align, MiB)
    size = max(MIN_VDEV, round_up(need + need // 32 + LABELS + BOOT_AREA, align))
    while usable(size) < need:
        size += round_up(max(need - usable(size), align), align)
    # the loop can overshoot a metaslab boundary; step back while it still fits
    while size - align >= MIN_VDEV and usable(size - align) >= need:
        size -= align
    return size


def volume_reservation(volsize: int, volblocksize: int = 16384, copies: int = 1) -> int:
    """zvol_volsize_to_reservation: the volume plus its worst-case indirect blocks."""
    blocks = max(volsize // volblocksize, 1)
    numdb = 7
    while blocks > 1:
        blocks = (blocks + 1023) // 1024
        numdb += blocks
    numdb *= min(3, copies + 1)
    return volsize * copies + numdb * RECORD


# ZFS' compressed size / zlib-1's on the same data (compressible data only), per
# algorithm: lz4 on 128K records behaves like squashfs' lz4 on 128K blocks.
ZLIB1_FACTOR = {"lz4": 1.25, "on": 1.25, "lzjb": 1.45, "gzip": 0.93, "zstd": 0.9}
ZLIB1_FACTOR |= {"zstd-fast": 1.15, "gzip-1": 1.0}
KEEP_LIMIT = 0.875  # OpenZFS stores a block raw unless compression saves 1/8


def _factor(comp: str) -> float | None:
    if comp in ZLIB1_FACTOR:
        return ZLIB1_FACTOR[comp]
    if comp.startswith("zstd-fast"):
        return 1.15
    if comp.startswith("zstd-"):
        return 0.9 if int(comp.split("-")[1]) < 10 else 0.82
    if comp.startswith("gzip-"):
        return 0.93
    return None  # off, zle: no gain on typical data


def data_ratio(comp: str | None, sample: Sample | None) -> float:
    """Compressed/raw bytes for the tree under this compression property.

    From the scan's sample when there is one (each sampled file as OpenZFS
    would keep it, raw when compression saves less than 1/8), else a
    conservative fixed ratio per algorithm.
    """
    if comp in (None, "off", "zle"):
        return 1.0
    factor = _factor(str(comp))
    if factor is None:
        return 1.0
    if sample is None or not sample.points:
        return compression_ratio(comp)
    total = sum(w for w, _ in sample.points) or 1
    kept = 0.0
    for weight, r in sample.points:
        r = min(r, 1.0)
        model = min(1.0, r * factor) if factor >= 1.0 else r * (factor + (1.0 - factor) * r)
        kept += weight * (1.0 if model > KEEP_LIMIT else model)
    return min(1.0, kept / total * 1.05)  # 5% for what a sample misses


def content_need(pool: ZfsPool, stats: Stats, sample: Sample | None = None) -> int:
    """Bytes the pool allocates for the tree: compressed data plus metadata.

    Data: file bytes rounded to the sector, scaled by the compression ratio
    (OpenZFS keeps a block uncompressed unless it saves 1/8, and rounds every
    compressed block up to a sector). Metadata, stored twice: a dnode per
    entry, a ZAP block per directory, indirect blocks for big files.
    """
    ashift = int(str(pool.pool_properties.get("ashift", 9)) or 9) or 9
    sector = 1 << ashift
    comp = pool.compression()
    ratio = data_ratio(comp, sample)
    copies = max((int(str(pool.effective(n.name, "copies") or 1)) for n in pool.nodes()), default=1)
    rounded = stats.rounded(min(sector, 65536))
    blocks = stats.files + stats.bytes // RECORD
    if comp in (None, "off"):
        # no compression: a file's last record is a whole record once it has several
        data = stats.rounded(65536) if stats.bytes > RECORD else rounded
    else:
        data = int(min(rounded, rounded * ratio + blocks * sector / 2))
    data *= copies
    metadata = (
        stats.entries * 1024  # dnodes (512 B, twice), directory entries, SA
        + stats.dirs * 2 * sector  # each directory's ZAP block, twice
        + stats.bytes // 256  # indirect blocks of big files, twice
        + stats.symlink_bytes * 2
    )
    datasets = len(pool.nodes()) * 256 * 1024
    volumes = 0
    for node in pool.nodes():
        if node.kind == "volume" and node.volsize:
            vbs = node.properties.get("volblocksize")
            bs = zfs_size(vbs) if vbs else 16384
            if node.sparse:
                volumes += 64 * 1024
            else:
                volumes += volume_reservation(
                    node.volsize, bs, int(node.properties.get("copies", 1))
                )
    return data + metadata + datasets + volumes + MiB


__all__ = [
    "content_need",
    "partition_for",
    "pool_space",
    "slop",
    "usable",
    "volume_reservation",
]
