"""Filesystem step: per partition, the filesystem (explained), its label, UUID and options."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Select, Static

from ..fsforms import fs_choices, fs_help, has_label, has_uuid, label_hint, option_fields
from ..model import EROFS_COMPRESSORS, SQUASHFS_COMPRESSORS
from ..widgets import BoolField, ChoiceField, Field, TextField
from .base import Section, StepForm

FS_CHOICES = fs_choices()
LABEL_HINT = {
    "ext4": "up to 16 bytes; the guest can mount it by LABEL=",
    "erofs": "up to 16 bytes",
    "vfat": "up to 11 upper-case letters and digits",
    "swap": "up to 16 bytes",
}


class PartPicker(Section):
    """Which partition the step edits; shared with the other steps through the app."""

    shows_titles = True

    def __init__(self, *, only: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.only = only  # e.g. "zfs": list only those partitions

    def choices(self) -> list[tuple[str, str]]:
        out = []
        for d, p in self.draft.all_parts():
            if self.only and self.draft.get(("disks", d, "partitions", p, "role")) != self.only:
                continue
            out.append((self.draft.part_title(d, p), f"{d}:{p}"))
        return out

    def signature(self) -> Any:
        return (tuple(self.choices()), self.wiz.selected)

    def build(self) -> ComposeResult:
        choices = self.choices()
        d, p = self.wiz.selected
        value = f"{d}:{p}"
        if value not in [v for _, v in choices] and choices:
            value = choices[0][1]
        with Horizontal(classes="row picker"):
            yield Label("  Partition", classes="flabel")
            yield Select(choices, value=value if choices else Select.NULL, allow_blank=not choices,
                         compact=True, id=f"{self.id}-select", classes="control")

    @on(Select.Changed)
    async def _picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            d, p = (int(x) for x in event.value.split(":"))
            if (d, p) != self.wiz.selected:
                await self.wiz.select(d, p)


class FsSection(Section):
    """The selected partition's filesystem and the options that filesystem has."""

    def signature(self) -> Any:
        d, p = self.wiz.selected
        get = self.draft.get
        return (d, p, get((*self.base, "filesystem")), get((*self.base, "role")))

    @property
    def base(self) -> tuple[Any, ...]:
        d, p = self.wiz.selected
        return ("disks", d, "partitions", p)

    def build(self) -> ComposeResult:
        b = self.base
        get = self.draft.get
        fs = str(get((*b, "filesystem"), "ext4"))
        role = str(get((*b, "role"), "data"))
        choices = list(FS_CHOICES)
        if fs == "zfs" or role == "zfs":
            choices = ["zfs"]
        yield ChoiceField((*b, "filesystem"), "Filesystem", [(c, c) for c in choices], fs,
                          explain=fs_help())
        if has_label(fs):
            yield TextField((*b, "label"), "Label", get((*b, "label")), optional=True,
                            placeholder="no label", help=LABEL_HINT.get(fs) or label_hint(fs))
        if has_uuid(fs):
            hint = "8 hex digits, e.g. 1234ABCD" if fs == "vfat" else "8-4-4-4-12 hex digits"
            yield TextField((*b, "uuid"), "UUID", get((*b, "uuid")), optional=True,
                            placeholder="empty = derived from the seed (stable)",
                            help=f"{hint}; leave empty unless something expects a fixed id")
        if fs == "squashfs":
            yield Static("  squashfs has no label or UUID: mount it by partition or device.",
                         classes="dim")
        if fs == "ext4":
            yield Label("ext4 options", classes="section-title")
            yield ChoiceField((*b, "ext4", "block_size"), "Block size",
                              [("4096 bytes (usual)", 4096), ("2048 bytes", 2048),
                               ("1024 bytes (tiny images)", 1024)],
                              get((*b, "ext4", "block_size"), 4096))
            yield TextField((*b, "ext4", "inode_ratio"), "Bytes/inode",
                            get((*b, "ext4", "inode_ratio")), number=int,
                            help="one inode per this many bytes; lower it for many small files")
            yield TextField((*b, "ext4", "reserved_percent"), "Reserved %",
                            get((*b, "ext4", "reserved_percent")), number=float,
                            help="space only root may use; 0 for images")
        elif fs == "erofs":
            yield Label("erofs options (compression)", classes="section-title")
            yield ChoiceField((*b, "erofs", "compressor"), "Compressor",
                              [(c, c) for c in EROFS_COMPRESSORS],
                              get((*b, "erofs", "compressor"), "lz4hc"),
                              explain={"lz4hc": "smaller images, same fast reads (usual)",
                                       "lz4": "fastest to build", "none": "no compression"})
            yield TextField((*b, "erofs", "level"), "lz4hc level", get((*b, "erofs", "level")),
                            optional=True, number=int, placeholder="default",
                            help="0-12; only for lz4hc")
            yield BoolField((*b, "erofs", "tail_packing"), "Tail packing",
                            get((*b, "erofs", "tail_packing"), True),
                            text="pack file tails together (smaller)")
            yield BoolField((*b, "erofs", "dedupe"), "Dedupe", get((*b, "erofs", "dedupe")),
                            text="share identical data blocks (needs erofs-utils ≥ 1.6)")
            yield BoolField((*b, "erofs", "fragments"), "Fragments",
                            get((*b, "erofs", "fragments")),
                            text="pack small files together (needs erofs-utils ≥ 1.6)")
        elif fs == "squashfs":
            yield Label("squashfs options (compression)", classes="section-title")
            yield ChoiceField((*b, "squashfs", "compressor"), "Compressor",
                              [(c, c) for c in SQUASHFS_COMPRESSORS],
                              get((*b, "squashfs", "compressor"), "zstd"),
                              explain={"zstd": "good ratio, fast (usual)",
                                       "xz": "smallest, slowest", "gzip": "most compatible",
                                       "lz4": "fastest, biggest", "lzo": "fast, older kernels"})
            yield ChoiceField((*b, "squashfs", "block_size"), "Block size",
                              [(s, s) for s in ("4KiB", "8KiB", "16KiB", "32KiB", "64KiB",
                                                "128KiB", "256KiB", "512KiB", "1MiB")],
                              get((*b, "squashfs", "block_size"), "128KiB"),
                              help="bigger blocks compress better, random reads get slower")
            yield ChoiceField((*b, "squashfs", "tool"), "Tool",
                              [("mksquashfs", "mksquashfs"), ("gensquashfs", "gensquashfs")],
                              get((*b, "squashfs", "tool"), "mksquashfs"))
        elif fs == "vfat":
            yield Label("vfat options", classes="section-title")
            yield ChoiceField((*b, "vfat", "fat_size"), "FAT size",
                              [("auto (by size)", "auto"), ("FAT12", 12), ("FAT16", 16),
                               ("FAT32", 32)],
                              get((*b, "vfat", "fat_size"), "auto"),
                              help="auto picks what fits; some firmware wants FAT32")
        elif fs not in ("swap", "none", "zfs") and (fields := option_fields(fs)):
            # any other filesystem: its fields, as core/fs/<name>.py words them
            yield Label(f"{fs} options", classes="section-title")
            for f in fields:
                path = (*b, fs, f.key)
                if f.kind is bool:
                    yield BoolField(path, f.label, get(path, f.default), text=f.help)
                elif f.choices:
                    yield ChoiceField(path, f.label, [(str(c), c) for c in f.choices],
                                      get(path, f.default), help=f.help)
                else:
                    yield TextField(path, f.label, get(path), optional=True,
                                    number=f.kind if f.kind in (int, float) else None,
                                    placeholder="default", help=f.help)

    async def on_field_edited(self, event: Field.Edited) -> None:
        """Switching filesystem drops a label or UUID the new one cannot hold."""
        if event.path[-1] != "filesystem":
            return
        event.stop()
        b = self.base
        fs = event.value
        await self.wiz.edit(event.path, fs, structural=True)
        dropped = []
        label = self.draft.get((*b, "label"))
        if label and fs in ("squashfs", "none", "zfs"):
            self.draft.set((*b, "label"), None)
            dropped.append(f"label “{label}”")
        uuid = self.draft.get((*b, "uuid"))
        if uuid and (fs in ("squashfs", "none", "zfs") or (fs == "vfat") != (len(uuid) == 8)):
            self.draft.set((*b, "uuid"), None)
            dropped.append(f"UUID {uuid}")
        if dropped:
            self.notify(f"{fs} cannot keep the {' and '.join(dropped)}; removed it.",
                        title="Filesystem changed")
            await self.wiz.structure_changed()


class FilesystemForm(StepForm):
    step = "filesystem"
    heading = "Filesystem — how each partition stores its files"

    def sections(self) -> ComposeResult:
        yield PartPicker(id="fs-picker")
        yield FsSection(id="fs-section")
