"""Output files: qemu-img formats, then zstd/xz, each checked before it is kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .plan import And, Arg, Cmd, Step, Word, cmd, cost, ws
from .profile import Compression, Disk, Format, Output
from .progress import QEMU_IMG
from .sample import FACTOR, Sample
from .units import GiB, MiB

# a partition's start, size, content bytes, where its content starts inside it, and
# the offsets of its scattered metadata (superblocks, bitmaps, journal superblock)
Extent = tuple[int, int, int, int, tuple[int, ...]]


@dataclass(frozen=True)
class OutputFormat:
    """One output format, described once: the converter, the checks, the estimate and the
    docs and tests all read this (FORMATS), so adding a format is one entry here."""

    format: Format
    title: str  # what it is for, one line
    qemu: str | None  # qemu-img's name for it; None = the raw disk itself, no conversion
    options: tuple[str, ...] = ()  # qemu-img convert options
    checkable: bool = True  # `qemu-img check` understands it
    byte_reproducible: bool = True  # two builds give the same bytes (else: the same content)
    suffix: str = ""  # the usual file name ending
    overhead: Literal["none", "footer", "clusters", "compressed"] = "clusters"

    def estimate(
        self, disk_bytes: int, data: int, parts: Sequence[Extent], ratio: float, gpt: bool = True
    ) -> int:
        """Bytes of the file for a disk of `disk_bytes` holding `data` bytes of content,
        `parts` = (start, size, content) of each partition.

        `ratio` is the expected compressed/raw size of the content. Sparse formats store
        only the grains that hold a non-zero byte, so each is modelled from its own layout
        (qemu-img 7.2, measured): grain size, fixed metadata, per-grain rounding.
        """
        if self.overhead == "none":
            return disk_bytes
        if self.overhead == "footer":
            return disk_bytes + 512
        if self.format == Format.vdi:  # 512 B header + 4 B a 1 MiB block, 512-aligned
            return (
                512
                + _up(4 * _blocks(disk_bytes, MiB), 512)
                + _touched(disk_bytes, parts, gpt, MiB) * MiB
            )
        if self.format == Format.vhdx:  # 8 MiB of headers, log, metadata and BAT, then blocks
            block = (
                8 * MiB if disk_bytes <= GiB else 16 * MiB if disk_bytes <= 100 * GiB else 32 * MiB
            )
            bat = 8 * (_blocks(disk_bytes, block) + _blocks(disk_bytes, 2048 * block))
            return (
                max(8 * MiB, _up(3 * MiB + bat, MiB))
                + _touched(disk_bytes, parts, gpt, block) * block
            )
        grains = _touched(disk_bytes, parts, gpt, _CLUSTER)
        if self.format == Format.vmdk:  # stream-optimized: 128.5 KiB fixed, deflated grains
            # each grain: a 12-byte marker, padded to 512; grain tables at the end (per 32 MiB)
            tables = _blocks(disk_bytes, 32 * MiB) * 2560
            return 131584 + int(data * ratio) + grains * 512 + max(0, tables - 2560)
        # qcow2: header, L1, refcount table, refcount blocks, one L2 per 512 MiB touched
        l2 = _touched(disk_bytes, parts, gpt, 512 * MiB)
        stored = (
            int(data * ratio) + grains * 256
            if self.overhead == "compressed"
            else (grains * _CLUSTER)
        )
        refblocks = _blocks(stored + (l2 + 4) * _CLUSTER, 32768 * _CLUSTER)
        return (3 + refblocks + l2) * _CLUSTER + stored


_CLUSTER = 64 * 1024  # qcow2's cluster and vmdk's grain

# qcow2-compressed: qemu-img compresses each 64 KiB cluster on its own, zlib as raw deflate
# at level 6 with a 4 KiB window, zstd at level 3 (QEMU 7.2, block/qcow2-threads.c), and
# keeps a cluster that does not shrink as it is. From the sample's zlib-1 ratio r of a
# 32 KiB chunk, a cluster is modelled as core/sample.py models every compressor,
# r * (a + (1 - a) * r): a better compressor gains on compressible data only. `a`
# (sample.FACTOR["qcow2", kind]) is fitted to qemu-img 7.2's output
# on 15 trees of 16-48 MiB (ELF programs and libraries, Python sources, /usr/share, Debian's
# Packages and dpkg logs, `find -ls`, PostgreSQL files, CSV, JSON lines, logs with hashes
# and addresses, random bytes): each within 6% (zstd) and 15% (zlib) of the real file;
# built as ext4 disks of 80-330 MiB, such trees came within 9% (the zlib-1 ratio alone
# said +3% to +27%). Honest limit: r cannot tell text with real entropy from text that
# repeats with only a counter changing. Synthetic logs with a counter (`item {i} ok`), or
# a stack trace repeated within 64 KiB, are 1.8-3.7x smaller with zstd than this says;
# zstd's gain over zlib there shows only to a compressor of the sampled bytes themselves.
CLUSTER_FACTOR: dict[str, float] = {k: FACTOR["qcow2", k] for k in ("zlib", "zstd")}
UNSAMPLED = Sample(((1, 0.5),))  # a tree nothing was sampled of: zlib-1 halves it


def cluster_ratio(sample: Sample | None, kind: str) -> float:
    """Expected compressed/raw size of qcow2-compressed clusters of `kind` ("zlib" or
    "zstd") holding the sampled content."""
    return (sample if sample is not None and sample.points else UNSAMPLED).ratio("qcow2", kind)


def _up(n: int, to: int) -> int:
    return -(-n // to) * to


def _blocks(n: int, size: int) -> int:
    return max(1, -(-n // size))


def _touched(disk_bytes: int, parts: Sequence[Extent], gpt: bool, grain: int) -> int:
    """Grains of `grain` bytes holding a non-zero byte: the partition table (and GPT's
    backup at the end), and in each partition its metadata spots, its content laid out
    densely from its offset, and one spot a 128 MiB group for ext4's backup superblocks."""
    used = {0}
    if gpt:
        used.add((disk_bytes - 1) // grain)
    for start, size, content, offset, marks in parts:
        used.update((start + m) // grain for m in marks)
        at = start + offset
        used.update(range(at // grain, (at + max(content, 1) - 1) // grain + 1))
        used.update((start + k * 128 * MiB) // grain for k in range(1, size // (128 * MiB) + 1))
    return min(len(used), _blocks(disk_bytes, grain))


FORMATS: dict[Format, OutputFormat] = {
    f.format: f
    for f in (
        OutputFormat(Format.raw, "a plain disk: dd it to a device", None, checkable=False,
                     suffix=".img", overhead="none"),
        OutputFormat(Format.qcow2, "QEMU's sparse format", "qcow2", suffix=".qcow2"),
        OutputFormat(Format.qcow2_compressed, "qcow2 with compressed clusters", "qcow2",
                     ("-c",), suffix=".qcow2", overhead="compressed"),
        # these carry random ids or creation times: equal in content, not in bytes
        OutputFormat(Format.vdi, "VirtualBox", "vdi", byte_reproducible=False, suffix=".vdi"),
        OutputFormat(Format.vpc, "Hyper-V / Azure (fixed VHD)", "vpc",
                     ("-o", "subformat=fixed,force_size=on"), checkable=False,
                     byte_reproducible=False, suffix=".vhd", overhead="footer"),
        OutputFormat(Format.vmdk, "VMware (stream-optimized)", "vmdk",
                     ("-o", "subformat=streamOptimized"), byte_reproducible=False,
                     suffix=".vmdk"),
        OutputFormat(Format.vhdx, "Hyper-V (VHDX)", "vhdx", byte_reproducible=False,
                     suffix=".vhdx"),
    )
}  # fmt: skip


def qcow2_compression_args(kind: str, parallel: bool) -> list[str]:
    """zlib is qemu-img's default (no -o, same bytes as before); -W trades bytes for cores.

    Measured on 716 MiB of libraries, 2 shared cores: zlib 57.5 s, zstd 12.4 s
    (2% smaller); -m 16 -W gave zstd 7.2-8.6 s but different bytes every run.
    """
    args = ["-o", "compression_type=zstd"] if kind == "zstd" else []
    return [*args, "-m", "16", "-W"] if parallel else args


def _compression_note(out: Output) -> str:
    if out.format != Format.qcow2_compressed:
        return ""
    how = "parallel, out-of-order writes" if out.parallel_writes else "one writer, reproducible"
    return f": {out.compression_type or 'zlib'} clusters, {how}"  # None: not written


_PACKED = {Compression.zstd: ".zst", Compression.xz: ".xz"}


def name_warning(out: Output) -> str | None:
    """A file named like another kind (custom.vmdk written as raw) misleads whoever opens
    it: QEMU and VirtualBox go by the name's ending. The words name the fix."""
    name = out.path.rsplit("/", 1)[-1]
    low = name.lower()
    packed = _PACKED.get(out.compression, "")
    for comp, ending in _PACKED.items():
        if comp != out.compression and low.endswith(ending):
            now = f"compressed with {out.compression.value}" if packed else "not compressed"
            return (f"{name} ends in {ending}, a {comp.value} file's name, but the output is "
                    f"{now}; make the compression {comp.value} or rename the file")
    if packed and not low.endswith(packed):
        return (f"{name} will hold {out.compression.value}-compressed bytes but does not end in "
                f"{packed}; name it {name}{packed} so it is not written to a disk as it is")
    stem = low[: -len(packed)] if packed else low
    mine = FORMATS[out.format].suffix
    endings = [(spec.suffix, fmt) for fmt, spec in FORMATS.items() if spec.suffix]
    for ending, fmt in [*endings, (".raw", Format.raw)]:
        if fmt != out.format and ending != mine and stem.endswith(ending):
            return (f"{name} ends in {ending}, a {fmt.value} file's name, but the format is "
                    f"{out.format.value}; make the format {fmt.value} or end the name in "
                    f"{mine}")
    return None


# formats whose every grain is deflated on the way (measured here: ~35 MiB/s, qcow2 ~270)
_DEFLATES = frozenset({Format.vmdk, Format.qcow2_compressed})


def output_steps(d: int, disk: Disk, raw: Word, data: int = 0) -> tuple[list[Step], Word]:
    """Steps turning the raw disk into the requested output; returns the final workspace file.

    `data`: the bytes of content the estimate puts on the disk, what the weights follow
    (qemu-img skips zeros; deflating vmdk grains or compressed clusters is ~10x slower).
    """
    out = disk.output
    steps: list[Step] = []
    current: Word = raw
    if out.format != Format.raw:
        spec = FORMATS[out.format]
        assert spec.qemu is not None
        fmt, extra = spec.qemu, list(spec.options)
        if out.format == Format.qcow2_compressed:
            extra = [*extra, *qcow2_compression_args(out.compression_type or "zlib",
                                                     bool(out.parallel_writes))]
        converted = ws(f"disk{d}.{fmt}")
        steps.append(
            Step(
                id=f"disk{d}-convert",
                title=f"Convert disk {disk.name} to {out.format.value} (qemu-img)"
                + _compression_note(out),
                phase="output",
                # -p: its "(12.34/100%)" lines move the step's bar
                expr=cmd("qemu-img", "convert", "-p", "-f", "raw", "-O", fmt, *extra, raw,
                         converted),
                weight=cost(data, 30 if out.format in _DEFLATES else 250, 0.05),
                progress=QEMU_IMG,
            )
        )
        checks: list[Cmd] = [
            cmd("qemu-img", "compare", "-p", "-f", "raw", "-F", fmt, raw, converted)
        ]
        if spec.checkable:
            checks.append(cmd("qemu-img", "check", "-q", "-f", fmt, converted))
        steps.append(
            Step(
                id=f"disk{d}-compare",
                title=f"Check the {out.format.value} file and compare it with the raw disk",
                phase="verify",
                expr=And(tuple(checks)) if len(checks) > 1 else checks[0],
                weight=cost(data, 500, 0.05),  # reading back is fast: 0.1-0.25 s for 120 MiB
                progress=QEMU_IMG,
            )
        )
        current = converted
    if out.compression != Compression.none:
        level = out.compression_level
        if out.compression == Compression.zstd:
            packed = ws(f"disk{d}.out.zst")
            # zstd takes 20-22 only with --ultra; without, it quietly (-q) packs at 19
            ultra = ["--ultra"] if level is not None and level >= 20 else []
            argv: list[Arg] = ["zstd", "-q", "-T0", *ultra, f"-{level or 3}", "-o", packed,
                               current]
            test = cmd("zstd", "-q", "-t", packed)
        else:
            packed = ws(f"disk{d}.out.xz")
            argv = ["xz", "-T0", f"-{level if level is not None else 6}", "-c", current]
            test = cmd("xz", "-t", packed)
        steps.append(
            Step(
                id=f"disk{d}-compress",
                title=f"Compress with {out.compression.value}",
                phase="output",
                expr=cmd(*argv, stdout=packed if out.compression == Compression.xz else None),
                weight=cost(data, 150 if out.compression == Compression.zstd else 5, 0.05),
            )
        )
        steps.append(
            Step(
                id=f"disk{d}-test-compressed",
                title=f"Test the {out.compression.value} stream",
                phase="verify",
                expr=test,
                weight=cost(data, 400 if out.compression == Compression.zstd else 50, 0.05),
            )
        )
        current = packed
    return steps, current
