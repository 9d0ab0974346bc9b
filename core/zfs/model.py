"""The `[zfs]` table of a partition: a pool, its properties, datasets and volumes.

Names and values are checked by OpenZFS' own rules (zfs_namecheck.c,
libzfs' zpool_name_valid, the property tables in props.py), so a profile
that validates here does not fail later inside the helper VM for a reason
we could have told the user up front.

Datasets are keyed by their full name, as in `zfs create` and nixpkgs'
make-zfs-image: `[…zfs.datasets."tank/root"]`. A dataset either gets a
legacy `mount_point` (mounted by the guest's fstab / NixOS `fileSystems`)
or a ZFS `mountpoint` property (mounted by ZFS itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..units import parse_size
from .props import FS_PROPERTIES, Value, check_fs_property, check_pool_property

MAX_NAME = 255  # bytes of a full dataset name (ZFS_MAX_DATASET_NAME_LEN - 1)
# A pool name leaves room for "pool/$ORIGIN@$ORIGIN" (pool_namecheck): 239 bytes.
MAX_POOL_NAME = MAX_NAME + 1 - 2 - 2 * len("$ORIGIN") - 1
MAX_DEPTH = 50  # zfs_max_dataset_nesting
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.: -]")
_RESERVED_PREFIXES = ("mirror", "raidz", "draid", "spare")
_CHARS_FIX = "use letters, digits, space and _ - . : only"


def _strict() -> ConfigDict:
    return ConfigDict(extra="forbid", validate_assignment=True)


def pool_name_problem(name: str) -> str | None:
    """Why OpenZFS (zpool create) would refuse this pool name, as "problem; fix"."""
    if not name:
        return "the pool name is empty; give a name like tank or rpool"
    if len(name.encode()) > MAX_POOL_NAME:
        return (
            f"the pool name has {len(name.encode())} bytes, OpenZFS allows {MAX_POOL_NAME}; "
            "shorten it"
        )
    if bad := _NAME_CHARS.search(name):
        return f"{name!r} contains {bad.group()!r}, which pool names cannot; {_CHARS_FIX}"
    if not name[0].isascii() or not name[0].isalpha():
        return f"{name!r} does not start with a letter; pool names must, e.g. tank"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return (
                f"{name!r} starts with {prefix!r}, a vdev keyword zpool reserves; "
                "choose another name like tank"
            )
    if name == "log":
        return "'log' is a vdev keyword zpool reserves; choose another name like tank"
    if re.match(r"^c[0-9]", name):
        return (
            f"{name!r} looks like a Solaris disk name (c0t0d0), which illumos refuses as a "
            "pool name; choose another name like tank"
        )
    return None


def dataset_name_problem(name: str, pool: str) -> str | None:
    """Why `zfs create` would refuse this full dataset name, as "problem; fix"."""
    q = repr(name)
    if not name:
        return "a dataset name is empty; write the full name like tank/root"
    if len(name.encode()) > MAX_NAME:
        return (
            f"{name[:40]!r}… has {len(name.encode())} bytes, OpenZFS allows {MAX_NAME}; shorten it"
        )
    if name.startswith("/"):
        return f"{q} starts with /; dataset names are pool/child, like {pool}/root"
    if name.endswith("/"):
        return f"{q} ends with /; remove the trailing slash"
    if "//" in name:
        return f"{q} has an empty part (//); remove the extra slash"
    if "@" in name:
        return f"{q} has @, which marks snapshots; datasets cannot be snapshots here, remove it"
    if "#" in name:
        return f"{q} has #, which marks bookmarks; remove it"
    if bad := _NAME_CHARS.search(name.replace("/", "")):
        return f"{q} contains {bad.group()!r}, which dataset names cannot; {_CHARS_FIX}"
    parts = name.split("/")
    if any(p in (".", "..") for p in parts):
        return f"{q} has a . or .. part; name each level plainly, like {pool}/root"
    if parts[0] != pool:
        return f"{q} is outside the pool {pool!r}; name datasets in full, like {pool}/{parts[-1]}"
    if len(parts) - 1 > MAX_DEPTH:
        return f"{q} nests {len(parts) - 1} levels, OpenZFS allows {MAX_DEPTH}; flatten it"
    return None


def _abs_path(v: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ValueError("a path cannot contain control characters or newlines")
    p = PurePosixPath(v)
    if not p.is_absolute() or ".." in p.parts:
        raise ValueError("not an absolute path inside the image; write it like / or /home")
    return str(p)


class ZfsDataset(BaseModel):
    """A file system in the pool (`zfs create`)."""

    model_config = _strict()

    mount_point: str | None = Field(
        default=None,
        description="Legacy mount: where the guest mounts it (sets mountpoint=legacy), e.g. /",
    )
    properties: dict[str, bool | int | str] = Field(
        default_factory=dict,
        description='ZFS properties (zfs create -o), e.g. { recordsize = "1M" }',
    )

    @model_validator(mode="before")
    @classmethod
    def _spelling(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "mount" in data:
                raise ValueError(
                    'mount: here it is called mount_point (make-zfs-image\'s "mount"); '
                    "rename the key"
                )
            if "mountpoint" in data:
                mp = data["mountpoint"] if isinstance(data["mountpoint"], str) else "/home"
                raise ValueError(
                    "mountpoint: ZFS properties go under properties; write properties = "
                    f'{{ mountpoint = "{mp}" }}, or mount_point = "{mp}" for a legacy mount'
                )
        return data

    @field_validator("mount_point")
    @classmethod
    def _mount(cls, v: str | None) -> str | None:
        return None if v is None else _abs_path(v)

    @field_validator("properties")
    @classmethod
    def _props(cls, v: dict[str, Value]) -> dict[str, Value]:
        return {k: check_fs_property(k, val, "filesystem") for k, val in v.items()}

    @model_validator(mode="after")
    def _legacy(self) -> ZfsDataset:
        mp = self.properties.get("mountpoint")
        if self.mount_point is not None and mp is not None and mp != "legacy":
            raise ValueError(
                f"mount_point: the dataset also has mountpoint={mp}; use one of them "
                "(mount_point for a legacy mount, the property for ZFS to mount it)"
            )
        if self.mount_point is not None and self.properties.get("canmount") == "off":
            raise ValueError(
                "mount_point: canmount=off forbids mounting it; remove canmount or mount_point"
            )
        return self


class ZfsVolume(BaseModel):
    """A block device in the pool (`zfs create -V`), e.g. for swap."""

    model_config = _strict()

    size: str = Field(description="Volume size, e.g. 1GiB (zfs create -V)")
    sparse: bool = Field(default=False, description="Thin volume: no space reserved (-s)")
    properties: dict[str, bool | int | str] = Field(
        default_factory=dict, description='ZFS properties, e.g. { volblocksize = "16K" }'
    )

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        try:
            n = parse_size(v)
        except ValueError as err:
            raise ValueError(f"{err}; write it like 1GiB") from None
        if n <= 0:
            raise ValueError("a volume needs a size above zero; write it like 1GiB")
        if n % 16384:
            raise ValueError(
                f"{v} is not a multiple of 16 KiB, the largest default volblocksize; round it"
            )
        return v

    @field_validator("properties")
    @classmethod
    def _props(cls, v: dict[str, Value]) -> dict[str, Value]:
        return {k: check_fs_property(k, val, "volume") for k, val in v.items()}

    @model_validator(mode="after")
    def _blocks(self) -> ZfsVolume:
        vbs = self.properties.get("volblocksize")
        if vbs is not None:
            from .props import zfs_size

            if parse_size(self.size) % zfs_size(str(vbs)):
                raise ValueError(
                    f"size: {self.size} is not a multiple of volblocksize {vbs}; round it"
                )
        return self

    def volsize(self) -> int:
        return parse_size(self.size)


# ----------------------------------------------------------------- derived views


NodeKind = Literal["root", "filesystem", "volume"]


@dataclass(frozen=True)
class Node:
    """One dataset as the plan creates it, in creation order."""

    name: str
    kind: NodeKind
    properties: dict[str, str]  # set explicitly on this dataset (as zfs reads them)
    implicit: bool = False  # a parent nobody listed: made plain, like zfs create -p
    volsize: int | None = None
    sparse: bool = False
    mount_point: str | None = None  # legacy mount point in the guest

    @property
    def parent(self) -> str | None:
        return self.name.rsplit("/", 1)[0] if "/" in self.name else None


@dataclass(frozen=True)
class MountSpec:
    """A dataset mounted in the guest: by fstab/NixOS (legacy) or by ZFS itself."""

    path: str  # in the guest, e.g. /nix
    dataset: str
    legacy: bool

    @property
    def order(self) -> tuple[str, ...]:
        return PurePosixPath(self.path).parts


def _text(v: Value) -> str:
    return ("on" if v else "off") if isinstance(v, bool) else str(v)


class ZfsPool(BaseModel):
    """A pool built by real OpenZFS in the helper VM, on a single partition."""

    model_config = _strict()

    pool: str = Field(default="rpool", description="Pool name, e.g. tank or rpool")
    pool_properties: dict[str, bool | int | str] = Field(
        default_factory=dict,
        description='Pool properties (zpool create -o), e.g. { ashift = 12, autotrim = "on" }',
    )
    filesystem_properties: dict[str, bool | int | str] = Field(
        default_factory=dict,
        description="Root file system properties, inherited by datasets (zpool create -O)",
    )
    datasets: dict[str, ZfsDataset] = Field(
        default_factory=dict, description='File systems by full name, e.g. "tank/root"'
    )
    volumes: dict[str, ZfsVolume] = Field(
        default_factory=dict, description='Volumes by full name, e.g. "tank/swap"'
    )
    vm_timeout: int | None = Field(
        default=None,
        ge=10,
        le=7 * 24 * 3600,
        description="Seconds the helper VM may take (default: from the content size)",
    )
    vm_memory: int = Field(default=1024, ge=256, le=65536, description="Helper VM memory, MiB")

    @field_validator("pool")
    @classmethod
    def _pool(cls, v: str) -> str:
        if problem := pool_name_problem(v):
            raise ValueError(problem)
        return v

    @field_validator("pool_properties")
    @classmethod
    def _pool_props(cls, v: dict[str, Value]) -> dict[str, Value]:
        return {k: check_pool_property(k, val) for k, val in v.items()}

    @field_validator("filesystem_properties")
    @classmethod
    def _fs_props(cls, v: dict[str, Value]) -> dict[str, Value]:
        return {k: check_fs_property(k, val, "filesystem") for k, val in v.items()}

    @model_validator(mode="after")
    def _names(self) -> ZfsPool:
        pool = self.pool
        for kind, table in (("datasets", self.datasets), ("volumes", self.volumes)):
            for name in table:
                if problem := dataset_name_problem(name, pool):
                    raise ValueError(f"{kind}: {problem}")
        if pool in self.volumes:
            raise ValueError(
                f"volumes: {pool!r} is the pool's root file system; name volumes like {pool}/swap"
            )
        root = self.datasets.get(pool)
        if root is not None and root.properties:
            raise ValueError(
                f"datasets: {pool!r} is the pool's root file system; set its properties in "
                "filesystem_properties (zpool create -O) and keep only mount_point here"
            )
        both = sorted(set(self.datasets) & set(self.volumes))
        if both:
            raise ValueError(f"volumes: {both[0]!r} is also a dataset; rename one of them")
        names = [*self.datasets, *self.volumes]
        for name in names:
            for vol in self.volumes:
                if name.startswith(vol + "/"):
                    raise ValueError(
                        f"datasets: {name!r} is inside the volume {vol!r}; only file systems "
                        "hold datasets, move it"
                    )
        self._check_pool_props()
        self._check_mounts()
        return self

    def _check_pool_props(self) -> None:
        props = self.pool_properties
        bootfs = props.get("bootfs")
        if bootfs is not None:
            if bootfs != self.pool and bootfs not in self.datasets:
                raise ValueError(
                    f"pool_properties.bootfs: {bootfs!r} is not a dataset of this pool; name "
                    f"one of the datasets, e.g. {next(iter(self.datasets), self.pool + '/root')}"
                )
        if "version" in props:
            features = [k for k, v in props.items() if k.startswith("feature@") and v == "enabled"]
            if features or props.get("compatibility") not in (None, "off"):
                raise ValueError(
                    "pool_properties.version: a legacy version pool has no feature flags; "
                    "remove version, or the feature@ and compatibility settings"
                )
        for node in self.nodes():
            if node.kind == "volume":
                continue
            norm = self.effective(node.name, "normalization")
            if norm not in (None, "none") and node.properties.get("utf8only") == "off":
                raise ValueError(
                    f"datasets: {node.name!r} has utf8only=off under normalization={norm}; "
                    "OpenZFS needs utf8only=on there, remove utf8only"
                )

    def _check_mounts(self) -> None:
        seen: dict[str, str] = {}
        for m in self.mounts():
            if m.path in seen:
                raise ValueError(
                    f"datasets: {seen[m.path]!r} and {m.dataset!r} both mount at {m.path}; "
                    "give each its own mount point"
                )
            seen[m.path] = m.dataset

    # ------------------------------------------------------------- views

    def nodes(self) -> list[Node]:
        """Every dataset in creation order: parents before children (a real tree walk)."""
        found: dict[str, Node] = {}
        root_entry = self.datasets.get(self.pool)
        found[self.pool] = Node(
            self.pool,
            "root",
            {k: _text(v) for k, v in self.filesystem_properties.items()},
            mount_point=root_entry.mount_point if root_entry else None,
        )
        for name, ds in self.datasets.items():
            if name == self.pool:
                continue
            found[name] = Node(
                name,
                "filesystem",
                {k: _text(v) for k, v in ds.properties.items()},
                mount_point=ds.mount_point,
            )
        for name, vol in self.volumes.items():
            found[name] = Node(
                name,
                "volume",
                {k: _text(v) for k, v in vol.properties.items()},
                volsize=vol.volsize(),
                sparse=vol.sparse,
            )
        for name in list(found):
            parts = name.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                found.setdefault(parent, Node(parent, "filesystem", {}, implicit=True))
        children: dict[str, list[str]] = {}
        for name in found:
            if "/" in name:
                children.setdefault(name.rsplit("/", 1)[0], []).append(name)
        order: list[Node] = []

        def walk(name: str) -> None:
            node = found[name]
            if node.mount_point is not None and self._inherited_mp(name) != "legacy":
                props = dict(node.properties)
                props.setdefault("mountpoint", "legacy")
                node = Node(node.name, node.kind, props, node.implicit, node.volsize,
                            node.sparse, node.mount_point)  # fmt: skip
                found[name] = node
            order.append(node)
            for child in sorted(children.get(name, []), key=lambda n: n.encode()):
                walk(child)

        walk(self.pool)
        return order

    def _node_props(self, name: str) -> dict[str, str]:
        if name == self.pool:
            return {k: _text(v) for k, v in self.filesystem_properties.items()}
        if name in self.datasets:
            return {k: _text(v) for k, v in self.datasets[name].properties.items()}
        if name in self.volumes:
            return {k: _text(v) for k, v in self.volumes[name].properties.items()}
        return {}

    def _inherited_mp(self, name: str) -> str:
        """The mountpoint a dataset has without a legacy mount_point forcing one."""
        own = self._node_props(name).get("mountpoint")
        if own is not None:
            return own
        if name == self.pool:
            return "/" + self.pool
        parent, leaf = name.rsplit("/", 1)
        up = self.effective(parent, "mountpoint") or "/"
        return up if up in ("legacy", "none") else up.rstrip("/") + "/" + leaf

    def effective(self, name: str, prop: str) -> str | None:
        """The value a dataset ends up with, inherited from its parents (None = default)."""
        if prop == "mountpoint":
            entry = self.datasets.get(name)
            if entry is not None and entry.mount_point is not None:
                return "legacy"
            return self._inherited_mp(name)
        own = self._node_props(name).get(prop)
        catalog = FS_PROPERTIES.get(prop)
        if own is not None or prop == "volsize" or (catalog is not None and not catalog.inherit):
            return own
        if "/" not in name:
            return None
        return self.effective(name.rsplit("/", 1)[0], prop)

    def mounts(self) -> list[MountSpec]:
        """What the guest mounts, in mount order (a parent's path before its children's)."""
        out: list[MountSpec] = []
        names = [self.pool, *self.datasets]
        implicit = {
            "/".join(n.split("/")[:i]) for n in [*self.datasets, *self.volumes]
            for i in range(2, len(n.split("/")))
        }  # fmt: skip
        names += sorted(implicit - set(names))
        for name in names:
            entry = self.datasets.get(name)
            if entry is not None and entry.mount_point is not None:
                out.append(MountSpec(entry.mount_point, name, True))
                continue
            mp = self.effective(name, "mountpoint")
            canmount = self._node_props(name).get("canmount", "on")
            if mp not in (None, "legacy", "none") and canmount == "on":
                out.append(MountSpec(str(mp), name, False))
        return sorted(out, key=lambda m: m.order)

    def temp_name(self, salt: str) -> str:
        """The name inside the VM (zpool create -t): never longer than the real one,
        so every dataset name that fits on disk fits in the VM too."""
        n = min(len(self.pool), 8)
        name = ("z" + salt)[:n]
        return name if name != self.pool else ("y" + salt)[:n]

    def compression(self) -> str | None:
        """The compression most of the data sees: the least effective among file systems."""
        from .props import compression_ratio

        values = {self.effective(n.name, "compression") for n in self.nodes() if n.kind != "volume"}
        return max(values, key=lambda v: (compression_ratio(v), str(v)), default=None)


CREATE_ONLY = frozenset(name for name, p in FS_PROPERTIES.items() if p.create_only)

__all__ = [
    "CREATE_ONLY",
    "MountSpec",
    "Node",
    "ZfsDataset",
    "ZfsPool",
    "ZfsVolume",
    "dataset_name_problem",
    "pool_name_problem",
]
