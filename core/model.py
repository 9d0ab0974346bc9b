"""The profile's schema below the filesystems: everything but the partitions' options.

core.profile completes it: it joins the partition classes the filesystem
modules (core/fs/<name>.py) declare into one union keyed on `filesystem` and
resolves Disk.partitions to it. Parse and load profiles through core.profile.

Every validator explains the fix in words a person can act on; the front ends
show those words unchanged, next to the field they name.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from .boot.model import Boot
from .units import MiB, parse_size

PROFILE_VERSION = 1
SECTOR = 512


class Role(StrEnum):
    esp = "esp"
    bios_boot = "bios-boot"
    root = "root"
    data = "data"
    store = "store"
    swap = "swap"
    zfs = "zfs"


class Table(StrEnum):
    none = "none"
    gpt = "gpt"
    mbr = "mbr"
    hybrid = "hybrid"


class Format(StrEnum):
    raw = "raw"
    qcow2 = "qcow2"
    qcow2_compressed = "qcow2-compressed"
    vdi = "vdi"
    vpc = "vpc"
    vmdk = "vmdk"
    vhdx = "vhdx"


class Compression(StrEnum):
    none = "none"
    zstd = "zstd"
    xz = "xz"


# Discoverable Partitions Specification types (x86-64) by role.
GPT_TYPES: dict[Role, str] = {
    Role.esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    Role.bios_boot: "21686148-6449-6E6F-744E-656564454649",
    Role.root: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
    Role.data: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    Role.store: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    Role.swap: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
    Role.zfs: "6A898CC3-1DD2-11B2-99A6-080020736631",
}
MBR_TYPES: dict[Role, str] = {
    Role.esp: "ef",
    Role.root: "83",
    Role.data: "83",
    Role.store: "83",
    Role.swap: "82",
    Role.zfs: "bf",
}

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
VFAT_ID_RE = re.compile(r"^[0-9a-fA-F]{8}$")
DISK_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
FORBIDDEN_OUTPUT_PREFIXES = ("/dev", "/proc", "/sys")


def strict() -> ConfigDict:
    """Unknown keys are errors; assignments are validated too (the wizard edits models)."""
    return ConfigDict(extra="forbid", use_enum_values=False, validate_assignment=True)


def _check_size(value: str, *, allow_auto: bool) -> str:
    if allow_auto and value == "auto":
        return value
    try:
        n = parse_size(value)
    except ValueError as err:
        raise ValueError(f"{err}{' or auto' if allow_auto else ''}") from None
    if n <= 0:
        raise ValueError("a size must be larger than zero; give a positive size like 64MiB")
    if n % SECTOR:
        raise ValueError(
            f"{value} is not a multiple of the 512-byte sector; round it, e.g. to "
            f"{_sector_hint((n // SECTOR + 1) * SECTOR)}"
        )
    return value


def _sector_hint(n: int) -> str:
    """A whole-sector size written the shortest exact way: 1536 → 1536, 4096 → 4KiB."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def _safe_text(value: str, what: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what} cannot contain control characters or newlines")
    return value


def _image_path(v: str) -> PurePosixPath:
    """A path inside the image, with POSIX's kept leading `//` folded to `/`: pathlib keeps
    `//etc/x` apart from `/etc/x`, and every later `relative_to('/')` would fail on it."""
    return PurePosixPath("/" + v.lstrip("/")) if v.startswith("/") else PurePosixPath(v)


class FileMapping(BaseModel):
    """An extra file placed into the image: `source` on the host → `target` inside."""

    model_config = strict()

    source: str = Field(description="Host path of the file, relative to the profile's folder")
    target: str = Field(description="Absolute path inside the image, e.g. /etc/motd")
    mode: str = Field(default="0644", description="Octal permission bits")
    user: int = Field(default=0, ge=0, le=2**32 - 2, description="Owner uid inside the image")
    group: int = Field(default=0, ge=0, le=2**32 - 2, description="Owner gid inside the image")

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        _safe_text(v, "a target path")
        p = _image_path(v)
        if not p.is_absolute() or ".." in p.parts or str(p) == "/":
            raise ValueError(
                "target is not an absolute file path inside the image; write it like /etc/motd"
            )
        return str(p)

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if not re.fullmatch(r"0?[0-7]{3,4}", v):
            raise ValueError(f"mode {v!r} is not octal permission bits; write it like 0644 or 0755")
        return v


class Registration(StrEnum):
    """Where the closure's `nix-store --load-db` registration goes."""

    auto = "auto"  # in the image when a partition holds "/", else beside the output
    image = "image"  # /nix-path-registration in the root filesystem (make-ext4-fs)
    beside = "beside"  # a file next to the output (microvm.nix's regInfo)
    both = "both"
    none = "none"


class Source(BaseModel):
    """Where the files come from: a folder, a Nix closure, extra files, or several at once."""

    model_config = strict()

    path: str | None = Field(
        default=None, description="Directory tree (relative to the profile's folder)"
    )
    files: list[FileMapping] = Field(default_factory=list, description="Extra file mappings")
    closure: list[str] = Field(
        default_factory=list,
        description="Nix store paths, result links or installables; their closure is "
        "placed under /nix/store",
    )
    store: str | None = Field(
        default=None,
        description="A Nix store kept in another folder (the DIR of nix-store --store DIR); "
        "default: the system's /nix",
    )
    registration: Registration = Field(
        default=Registration.auto,
        description="Where the closure's nix-path-registration goes: auto, image, beside, "
        "both or none",
    )
    registration_file: str | None = Field(
        default=None,
        description="The registration beside the outputs (default: the store image's output "
        "path + .nix-path-registration)",
    )

    @field_validator("closure")
    @classmethod
    def _closure(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for i, entry in enumerate(v):
            _safe_text(entry, "a closure entry")
            if not entry.strip():
                raise ValueError(f"entry {i} is empty; remove it or name a store path")
            if entry in seen:
                raise ValueError(f"{entry!r} is listed twice; remove one")
            seen.add(entry)
        return v

    @field_validator("store", "registration_file")
    @classmethod
    def _paths(cls, v: str | None) -> str | None:
        if v is not None:
            _safe_text(v, "a path")
            if not v.strip():
                raise ValueError("the path is empty; remove the key or give a folder")
        return v

    @model_validator(mode="after")
    def _nix(self) -> Source:
        if not self.closure:
            for name in ("store", "registration_file"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}: only used with a closure; remove it or set closure")
            if self.registration not in (Registration.auto, Registration.none):
                raise ValueError(
                    "registration: only a Nix closure has a registration; remove it or set closure"
                )
        if self.registration_file is not None and self.registration in (
            Registration.image,
            Registration.none,
        ):
            raise ValueError(
                f"registration_file: nothing is written beside the outputs with registration = "
                f"{self.registration.value!r}; remove it or use beside/both"
            )
        return self


class SourceRef(Protocol):
    """What reading a source needs: the source section and where its paths are relative to.

    A Profile is one; a front end editing only the source uses SourceOnly.
    """

    @property
    def source(self) -> Source: ...

    def resolve(self, path: str) -> Path: ...

    def source_root(self) -> Path | None: ...


@dataclass(frozen=True)
class SourceOnly:
    """A source section on its own (the wizard's Source step, before disks exist)."""

    source: Source
    base_dir: Path

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def source_root(self) -> Path | None:
        return self.resolve(self.source.path) if self.source.path else None


class Overlay(BaseModel):
    """A writable view over a read-only partition, for the guest exports (like microvm.nix).

    The partition (e.g. an erofs store mounted at /nix/.ro-store) is the lower
    layer; changes go to `writable`/store with `writable`/work as overlayfs' work dir.
    """

    model_config = strict()

    mount_point: str = Field(default="/nix/store", description="Where the writable view appears")
    writable: str = Field(
        default="/nix/.rw-store",
        description="Folder for the overlay's store/ and work/ dirs: on a writable partition "
        "mounted at or above it, or a tmpfs",
    )
    tmpfs: bool = Field(default=False, description="Mount a tmpfs at `writable` (changes are lost)")

    @field_validator("mount_point", "writable")
    @classmethod
    def _abs(cls, v: str) -> str:
        _safe_text(v, "a path")
        p = _image_path(v)
        if not p.is_absolute() or ".." in p.parts or str(p) == "/":
            raise ValueError("not an absolute folder inside the guest; write it like /nix/store")
        return str(p)

    @model_validator(mode="after")
    def _apart(self) -> Overlay:
        a, b = PurePosixPath(self.mount_point), PurePosixPath(self.writable)
        if a == b or a in b.parents or b in a.parents:
            raise ValueError(
                "writable: the writable folder cannot be the overlay's mount point or contain "
                "it; use a separate folder like /nix/.rw-store"
            )
        return self


@dataclass(frozen=True)
class FsRules:
    """What the model checks and the exports need about one filesystem.

    Each core/fs/<name>.py declares its own; the partition class of that
    filesystem carries it, so code below the filesystems (layout, exports, nix)
    asks `part.rules` instead of listing filesystems.
    """

    label_bytes: int | None  # the longest label; None = the filesystem has no label
    no_label: str = ""  # why not, for the error (when label_bytes is None)
    label_re: re.Pattern[str] | None = None  # characters a label may use
    label_hint: str = ""  # what the characters are, for the error
    uuid: Literal["uuid", "vfat", "none", "random"] = "uuid"  # what `uuid` may hold
    no_uuid: str = ""  # why there is none to set (uuid "none" or "random"), for the error
    read_only: bool = False
    fstype: str | None = None  # the guest's mount type (fstab, NixOS); None = not mounted so
    contents: bool = True  # receives files from the source
    may_be_empty: bool = True  # an image with nothing in it makes sense
    byte_reproducible: bool = True  # two builds of one profile give the same bytes
    compresses: bool = False  # compresses its files: the estimate reads a sample of them
    esp_options: tuple[str, ...] = ()  # mount options when it holds the ESP (exports)
    # what systemd-repart's Format= needs of it, or why repart makes none (the repart export)
    repart_note: str = ""
    mbr_data_type: str | None = None  # an MBR data partition's type byte, when not Linux's 83
    root_owned: bool = False  # every file is given to root (the source's owners are not kept)
    # the role that needs this filesystem: a partition of that role must use it (esp → vfat);
    # the front ends pick it with the role
    role: Role | None = None
    role_error: str = ""  # the error when a partition of that role has another filesystem
    role_only: bool = False  # it takes no other role (the same error then)
    bare: bool = True  # it can be a table-less disk's one image
    # swap space, not a mounted filesystem: the exports list it as a swap device (NixOS
    # swapDevices, fstab's "none … swap sw") and the repart export says nothing of its label
    swap: bool = False


@dataclass(frozen=True)
class GuestMount:
    """One mount a filesystem gives the guest by itself, in place of its device's (a ZFS
    dataset): core/exports.py writes it into fileSystems and fstab as it is."""

    point: str
    device: str  # what the guest mounts: a dataset's name
    fs_type: str
    options: tuple[str, ...]
    comment: str


# Which filesystem each role needs, as the filesystem modules declare it (FsRules.role);
# core.fs registers every module's rules once, before any partition is validated.
ROLE_FILESYSTEMS: dict[Role, tuple[str, FsRules]] = {}


def register_roles(rules: Iterable[tuple[str, FsRules]]) -> None:
    """Record which filesystem a role needs (called once by core.fs with every module's rules)."""
    for name, r in rules:
        if r.role is None:
            continue
        if not r.role_error:
            raise ValueError(f"{name}: rules.role needs a role_error to say what to fix")
        held = ROLE_FILESYSTEMS.setdefault(r.role, (name, r))
        if held[0] != name:
            raise ValueError(f"role {r.role.value}: both {held[0]} and {name} claim it")


class PartitionBase(BaseModel):
    """One partition (or, on a table-less disk, the whole filesystem image).

    Each filesystem module subclasses it with `filesystem: Literal[name]` and
    its options table; core.profile.Partition is the union of those, keyed on
    `filesystem`, so another filesystem's options are refused.
    """

    model_config = strict()
    rules: ClassVar[FsRules] = FsRules(label_bytes=None)

    role: Role = Field(description="What the partition is for; sets the default GPT type")
    filesystem: str = Field(description="Filesystem made in it")
    size: str = Field(default="auto", description="auto (content + headroom) or fixed, e.g. 512MiB")
    start: str | None = Field(
        default=None, description="Fixed start offset, e.g. 1MiB (default: after the previous)"
    )
    headroom: str = Field(
        default="auto",
        description="Free space added to an auto size: a percentage (20%), a size, or auto",
    )
    label: str | None = Field(default=None, description="Filesystem label")
    uuid: str | None = Field(default=None, description="Filesystem UUID (derived from seed)")
    partuuid: str | None = Field(default=None, description="GPT partition UUID")
    name: str | None = Field(default=None, description="GPT partition name")
    gpt_type: str | None = Field(default=None, description="GPT type GUID (default from role)")
    mount_point: str | None = Field(default=None, description="Where it is mounted in the guest")
    contents: str | None = Field(
        default=None,
        description="Subtree of the source it receives (default: its mount point)",
    )
    empty: bool = Field(default=False, description="Make it empty, whatever the mount point")
    overlay: Overlay | None = Field(
        default=None, description="Writable overlay over this read-only partition (exports)"
    )

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        return _check_size(v, allow_auto=True)

    @field_validator("start")
    @classmethod
    def _start(cls, v: str | None) -> str | None:
        return None if v is None else _check_size(v, allow_auto=False)

    @field_validator("headroom")
    @classmethod
    def _headroom(cls, v: str) -> str:
        if v == "auto":
            return v
        if v.endswith("%"):
            try:
                pct = float(v[:-1])
            except ValueError:
                raise ValueError(
                    f"headroom {v!r} is not understood; write it like 20%, 64MiB or auto"
                ) from None
            if not 0 <= pct <= 1000:
                raise ValueError("headroom percentage is out of range; use 0% to 1000%")
            return v
        try:
            parse_size(v)
        except ValueError:
            raise ValueError(
                f"headroom {v!r} is not understood; write it like 20%, 64MiB or auto"
            ) from None
        return v

    @field_validator("uuid", "partuuid")
    @classmethod
    def _uuid(cls, v: str | None) -> str | None:
        if v is not None and not UUID_RE.match(v) and not VFAT_ID_RE.match(v):
            raise ValueError(
                "not a UUID; write 8-4-4-4-12 hex digits like "
                "0f2b5a0e-3c1d-4e5f-8a9b-0c1d2e3f4a5b (vfat: 8 hex digits)"
            )
        return v.lower() if v else v

    @field_validator("gpt_type")
    @classmethod
    def _gpt_type(cls, v: str | None) -> str | None:
        if v is not None and not UUID_RE.match(v):
            raise ValueError(
                "gpt_type is not a type GUID; write it like 0FC63DAF-8483-4772-8E79-3D69D8477DE4"
            )
        return v.upper() if v else v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is None:
            return v
        _safe_text(v, "a partition name")
        if len(v.encode("utf-16-le")) > 72:
            raise ValueError("a GPT partition name holds at most 36 characters; shorten it")
        if '"' in v or "\\" in v:
            raise ValueError('a partition name cannot contain " or \\; remove them')
        return v

    @field_validator("label")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        if v is None:
            return v
        _safe_text(v, "a label")
        if not v:
            raise ValueError("a label cannot be empty; remove the key for no label")
        return v

    @field_validator("mount_point", "contents")
    @classmethod
    def _abs(cls, v: str | None) -> str | None:
        if v is None:
            return v
        _safe_text(v, "a path")
        p = _image_path(v)
        if not p.is_absolute() or ".." in p.parts:
            raise ValueError("not an absolute path inside the image; write it like / or /boot")
        return str(p)

    @model_validator(mode="after")
    def _consistent(self) -> PartitionBase:
        fs, role, rules = self.filesystem, self.role, self.rules
        if self.label is not None:
            if rules.label_bytes is None:
                why = rules.no_label or f"a {fs} partition has no filesystem label"
                raise ValueError(f"label: {why}; remove it")
            if len(self.label.encode()) > rules.label_bytes:
                raise ValueError(
                    f"label: {fs} labels hold at most {rules.label_bytes} bytes; "
                    f"{self.label!r} has {len(self.label.encode())}"
                )
            if rules.label_re is not None and not rules.label_re.match(self.label):
                raise ValueError(
                    f"label: {fs} labels are {rules.label_hint} only; "
                    f"try {self.label.upper()[: rules.label_bytes]!r}"
                )
        if self.uuid is not None:
            is_vfat_id = bool(VFAT_ID_RE.match(self.uuid))
            if rules.uuid in ("random", "none"):
                raise ValueError(
                    f"uuid: {rules.no_uuid or f'{fs} has no filesystem UUID'}; remove it"
                )
            if rules.uuid == "vfat" and not is_vfat_id:
                raise ValueError(f"uuid: a {fs} volume id is 8 hex digits; write it like 1234ABCD")
            if rules.uuid == "uuid" and is_vfat_id:
                raise ValueError("uuid: only vfat takes an 8-digit id; give a full UUID")
        needed, needs = ROLE_FILESYSTEMS.get(role, (fs, rules))
        if needed != fs:
            raise ValueError(needs.role_error)
        if rules.role_only and role != rules.role:
            raise ValueError(rules.role_error)
        if self.empty and not rules.may_be_empty:
            raise ValueError(f"empty: an empty {fs} image is useless; drop empty or use ext4")
        return self

    @model_validator(mode="after")
    def _overlay(self) -> PartitionBase:
        ov = self.overlay
        if ov is None:
            return self
        if self.mount_point is None:
            raise ValueError(
                "overlay: the lower layer must be mounted; set mount_point, e.g. /nix/.ro-store"
            )
        lower, upper = PurePosixPath(self.mount_point), PurePosixPath(ov.writable)
        if PurePosixPath(ov.mount_point) == lower:
            raise ValueError(
                "overlay.mount_point: it equals the partition's own mount point; mount the "
                "partition elsewhere (e.g. /nix/.ro-store) and the overlay at /nix/store"
            )
        if upper == lower or lower in upper.parents:
            raise ValueError(
                "overlay.writable: it is inside this read-only partition; put it on a writable "
                "volume such as /nix/.rw-store"
            )
        return self

    # Derived values -----------------------------------------------------

    def source_subtree(self) -> str | None:
        """The part of the source tree this partition receives, or None for empty."""
        if self.empty or not self.rules.contents:
            return None
        return self.contents or self.mount_point

    def headroom_for(self, content: int) -> int:
        """Bytes of free space to add on top of `content` for an auto size."""
        h = self.headroom
        if h == "auto":
            if self.rules.read_only:
                return 0  # read-only: nothing will ever be written
            return max(content // 10, 0)
        if h.endswith("%"):
            return int(content * float(h[:-1]) / 100)
        return parse_size(h)


if TYPE_CHECKING:
    Partition = PartitionBase  # at run time: core.profile.Partition, the union


def _shown(v: object) -> str:
    """A value as the profile wrote it: TOML spells booleans true and false."""
    return str(v).lower() if isinstance(v, bool) else repr(v)


class Output(BaseModel):
    model_config = strict()

    path: str = Field(description="Output file (relative to the profile's folder)")
    format: Format = Format.raw
    compression: Compression = Compression.none
    compression_level: int | None = Field(default=None, ge=0, le=22, strict=True)
    # None = not written: qcow2-compressed takes zlib and one writer, any other format
    # refuses the key whatever its value
    compression_type: Literal["zlib", "zstd"] | None = Field(
        default=None,
        description="qcow2-compressed clusters: zlib (the default; every qcow2 reader) or "
        "zstd (about 5x faster to write; QEMU 5.1+ reads it, most other hypervisors do not)",
    )
    parallel_writes: bool | None = Field(
        default=None,
        strict=True,
        description="qcow2-compressed: compress on every core (qemu-img -m 16 -W; default "
        "false); clusters then land in completion order, so the file is not "
        "byte-reproducible",
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        _safe_text(v, "an output path")
        if not v.strip():
            raise ValueError("output path is empty; give a file name")
        p = Path(v)
        if p.is_absolute():
            for bad in FORBIDDEN_OUTPUT_PREFIXES:
                if p == Path(bad) or Path(bad) in p.parents:
                    raise ValueError(f"refusing to write under {bad}; choose a regular file path")
        if v.endswith("/"):
            raise ValueError("output path names a folder; add a file name")
        return v

    # TOML has booleans and integers of its own: "yes", 1 or "5" are typos, not choices
    @field_validator("parallel_writes", mode="before")
    @classmethod
    def _boolean(cls, v: object) -> object:
        if v is not None and not isinstance(v, bool):
            raise ValueError(
                f"{_shown(v)} is not true or false — write parallel_writes = true or false "
                "(a TOML boolean, without quotes)"
            )
        return v

    @field_validator("compression_level", mode="before")
    @classmethod
    def _whole(cls, v: object) -> object:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValueError(
                f"{_shown(v)} is not a whole number — write compression_level = 9, say "
                "(a TOML integer, without quotes), or remove it for the tool's default"
            )
        return v

    @model_validator(mode="after")
    def _level(self) -> Output:
        if self.format != Format.qcow2_compressed:
            for key, value in (("compression_type", self.compression_type),
                               ("parallel_writes", self.parallel_writes)):
                if value is not None:  # either value: the key has no meaning here
                    raise ValueError(
                        f"{key} is for qcow2-compressed; set format = "
                        f'"qcow2-compressed" or remove {key}'
                    )
        if self.compression_level is not None:
            if self.compression == Compression.none:
                raise ValueError(
                    "compression_level without compression; set compression = zstd or xz"
                )
            if self.compression == Compression.xz and self.compression_level > 9:
                raise ValueError("xz has levels 0-9 only; choose one of them")
            if self.compression == Compression.zstd and self.compression_level < 1:
                raise ValueError("zstd has levels 1-22 only (20-22 need much memory); "
                                 "choose one of them")
        return self


class Disk(BaseModel):
    """One output file: a partition table (or none) and its partitions."""

    model_config = strict()

    name: str = Field(default="disk", description="Short name, used for workspace files")
    table: Table = Table.gpt
    alignment: str = Field(default="1MiB", description="Partition start and size alignment")
    size: str = Field(default="auto", description="auto or a fixed disk size")
    uuid: str | None = Field(default=None, description="GPT disk GUID / MBR id (derived)")
    output: Output
    partitions: list[Partition] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not DISK_NAME_RE.match(v):
            raise ValueError(
                "disk name is not allowed; use lower-case letters, digits, - and _, up to 32"
            )
        return v

    @field_validator("alignment")
    @classmethod
    def _align(cls, v: str) -> str:
        n = parse_size(v)
        if n < 4096 or n & (n - 1):
            raise ValueError("alignment must be a power of two of at least 4KiB; use e.g. 1MiB")
        return v

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        return _check_size(v, allow_auto=True)

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, v: str | None) -> str | None:
        if v is not None and not UUID_RE.match(v) and not re.fullmatch(r"0x[0-9a-fA-F]{8}", v):
            raise ValueError(
                "not a disk id; give a GPT GUID (8-4-4-4-12 hex) or an MBR id like 0x1234abcd"
            )
        return v

    @model_validator(mode="after")
    def _layout(self) -> Disk:
        if self.table == Table.none:
            if len(self.partitions) != 1:
                raise ValueError(
                    'partitions: a disk with table = "none" is one bare filesystem; '
                    "use one partition or a gpt/mbr table"
                )
            if not self.partitions[0].rules.bare:
                raise ValueError("partitions[0].filesystem: a bare image needs a filesystem")
        if self.table == Table.mbr:
            if len(self.partitions) > 4:
                raise ValueError("partitions: MBR holds 4 primary partitions; use gpt")
            for i, p in enumerate(self.partitions):
                if p.role == Role.bios_boot:
                    raise ValueError(
                        f"partitions[{i}].role: bios-boot partitions exist only on gpt; use gpt"
                    )
        if self.table != Table.gpt:
            for i, p in enumerate(self.partitions):
                if p.name is not None or p.partuuid is not None:
                    if self.table != Table.hybrid:
                        raise ValueError(
                            f"partitions[{i}]: name and partuuid exist only on gpt tables"
                        )
        if self.table == Table.gpt and len(self.partitions) > 128:
            raise ValueError(
                f"partitions: {len(self.partitions)} partitions, but a GPT table holds 128; "
                "use at most 128 partitions per disk"
            )
        self._check_starts()
        if self.table == Table.hybrid and len(self.partitions) > 3:
            raise ValueError("partitions: a hybrid MBR mirrors at most 3 partitions; use gpt")
        if self.uuid and self.table in (Table.gpt, Table.hybrid) and not UUID_RE.match(self.uuid):
            raise ValueError("uuid: a GPT disk id is a full GUID; write 8-4-4-4-12 hex digits")
        if self.uuid and self.table == Table.mbr and UUID_RE.match(self.uuid):
            raise ValueError("uuid: an MBR disk id is 8 hex digits; write it like 0x1234abcd")
        return self

    def align_bytes(self) -> int:
        return parse_size(self.alignment)

    def _check_starts(self) -> None:
        """Fixed starts must be aligned and clear of the table and of fixed-size neighbours.

        After an auto-sized partition the end is unknown until build time; the
        plan checks those overlaps when the sizes are real.
        """
        align = self.align_bytes()
        table_end = 34 * SECTOR if self.table in (Table.gpt, Table.hybrid) else SECTOR
        end: int | None = -(-table_end // align) * align
        owner = "the partition table"
        for i, p in enumerate(self.partitions):
            if p.start is not None:
                if self.table == Table.none:
                    raise ValueError(
                        f"partitions[{i}].start: a bare image has no offsets; remove it"
                    )
                start = parse_size(p.start)
                if start % align:
                    raise ValueError(
                        f"partitions[{i}].start: {p.start} is not a multiple of the alignment "
                        f"{self.alignment}; round it"
                    )
                if end is not None and start < end:
                    raise ValueError(
                        f"partitions[{i}].start: {p.start} overlaps {owner}, which ends at byte "
                        f"{end}; move it to {-(-end // MiB)}MiB or later"
                    )
                end = start
            if p.size == "auto" or end is None:
                end = None
            else:
                end += -(-parse_size(p.size) // align) * align
                owner = f"partitions[{i}]"


class Reproducible(BaseModel):
    model_config = strict()
    source_date_epoch: int = Field(default=1, ge=0, le=2**32 - 1)
    seed: str = Field(default="diskwright", description="Every unset UUID derives from it")


class Profile(BaseModel):
    """Everything diskwright needs to build the same images again, bit for bit."""

    model_config = strict()

    version: int = Field(default=PROFILE_VERSION, description="Profile format version")
    name: str = Field(default="image", description="Short name of this profile")
    description: str = ""
    source: Source = Field(default_factory=Source)
    reproducible: Reproducible = Field(default_factory=Reproducible)
    disks: list[Disk] = Field(min_length=1)
    boot: Boot = Field(default_factory=Boot, description="How the disks boot (loader, kernel)")

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != PROFILE_VERSION:
            raise ValueError(
                f"this diskwright reads profile version {PROFILE_VERSION}; "
                f"set version = {PROFILE_VERSION} (or upgrade diskwright)"
            )
        return v

    @model_validator(mode="after")
    def _cross(self) -> Profile:
        seen_out: dict[str, int] = {}
        labels: dict[str, str] = {}
        names: set[str] = set()
        mounts: dict[str, str] = {}
        for d, disk in enumerate(self.disks):
            if disk.name in names:
                raise ValueError(f"disks[{d}].name: two disks are called {disk.name!r}; rename one")
            names.add(disk.name)
            if disk.output.path in seen_out:
                raise ValueError(
                    f"disks[{d}].output.path: disk {seen_out[disk.output.path]} writes the same "
                    "file; give each disk its own output"
                )
            seen_out[disk.output.path] = d
            for p, part in enumerate(disk.partitions):
                where = f"disks[{d}].partitions[{p}]"
                if part.mount_point is not None:
                    mp = posixpath.normpath("/" + part.mount_point.lstrip("/"))
                    if mp in mounts:
                        raise ValueError(
                            f"{where}.mount_point: {mounts[mp]} is mounted at {mp} too; give "
                            "each partition its own mount point (or none)"
                        )
                    mounts[mp] = where
                if part.label:
                    if part.label in labels:
                        raise ValueError(
                            f"{where}.label: {labels[part.label]} has the label "
                            f"{part.label!r} too; labels must be unique to mount by label"
                        )
                    labels[part.label] = where
        return self

    # Paths are relative to the profile file's folder, like a Makefile's.
    @property
    def base_dir(self) -> Path:
        return self._base_dir

    def set_base_dir(self, path: Path) -> None:
        self._base_dir = path.resolve()

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self._base_dir / p

    def source_root(self) -> Path | None:
        return self.resolve(self.source.path) if self.source.path else None


# ---------------------------------------------------------------- identity


def derive_uuid(profile: Profile, *parts: object) -> str:
    """A stable UUID from the seed: same profile, same ids, every build."""
    key = "/".join([profile.reproducible.seed, *map(str, parts)])
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "diskwright:" + key))


def derive_hex(profile: Profile, n: int, *parts: object) -> str:
    key = "/".join([profile.reproducible.seed, *map(str, parts)])
    return hashlib.sha256(key.encode()).hexdigest()[:n]
