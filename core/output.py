"""Output files: qemu-img formats, then zstd/xz, each checked before it is kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .plan import And, Arg, Cmd, Step, Word, cmd, ws
from .profile import Compression, Disk, Format, Output


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

    def estimate(self, disk_bytes: int, data: int, partitions: int, ratio: float) -> int:
        """Bytes of the file for a disk of `disk_bytes` holding `data` bytes of content.

        `ratio` is the expected compressed/raw size of the content (compressed clusters).
        """
        if self.overhead == "none":
            return disk_bytes
        if self.overhead == "footer":
            return disk_bytes + 512
        if self.overhead == "compressed":
            return int(data * ratio) + disk_bytes // 4096
        # sparse formats store data only (journals and inode tables are zeros) + metadata
        return data + disk_bytes // 4096 + 256 * 1024 + partitions * 512 * 1024


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
    return f": {out.compression_type} clusters, {how}"


def output_steps(d: int, disk: Disk, raw: Word) -> tuple[list[Step], Word]:
    """Steps turning the raw disk into the requested output; returns the final workspace file."""
    out = disk.output
    steps: list[Step] = []
    current: Word = raw
    if out.format != Format.raw:
        spec = FORMATS[out.format]
        assert spec.qemu is not None
        fmt, extra = spec.qemu, list(spec.options)
        if out.format == Format.qcow2_compressed:
            extra = [*extra, *qcow2_compression_args(out.compression_type, out.parallel_writes)]
        converted = ws(f"disk{d}.{fmt}")
        steps.append(
            Step(
                id=f"disk{d}-convert",
                title=f"Convert disk {disk.name} to {out.format.value} (qemu-img)"
                + _compression_note(out),
                phase="output",
                expr=cmd("qemu-img", "convert", "-f", "raw", "-O", fmt, *extra, raw, converted),
                weight=1.0,
            )
        )
        checks: list[Cmd] = [
            cmd("qemu-img", "compare", "-q", "-f", "raw", "-F", fmt, raw, converted)
        ]
        if spec.checkable:
            checks.append(cmd("qemu-img", "check", "-q", "-f", fmt, converted))
        steps.append(
            Step(
                id=f"disk{d}-compare",
                title=f"Check the {out.format.value} file and compare it with the raw disk",
                phase="verify",
                expr=And(tuple(checks)) if len(checks) > 1 else checks[0],
                weight=0.3,
            )
        )
        current = converted
    if out.compression != Compression.none:
        level = out.compression_level
        if out.compression == Compression.zstd:
            packed = ws(f"disk{d}.out.zst")
            argv: list[Arg] = ["zstd", "-q", "-T0", f"-{level or 3}", "-o", packed, current]
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
                weight=1.0,
            )
        )
        steps.append(
            Step(
                id=f"disk{d}-test-compressed",
                title=f"Test the {out.compression.value} stream",
                phase="verify",
                expr=test,
                weight=0.2,
            )
        )
        current = packed
    return steps, current
