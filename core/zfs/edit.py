"""Editing a profile's `[zfs]` table as a dataset tree: add, rename, remove, set, and where
each property's value comes from (set here, inherited from a parent, OpenZFS' default).

These work on the plain dict a profile draft holds (which may not validate yet), and
return a new dict; the profile model (model.py) still judges the result. Why here and not
in the wizard: the same rules (a rename carries the children and bootfs along, a removal
takes the children, which properties inherit) hold for any front end, and are tested
without one.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from typing import Any, Literal

from .model import dataset_name_problem
from .props import FS_PROPERTIES, POOL_PROPERTIES, Value, is_user_property

NodeKind = Literal["root", "filesystem", "volume"]
Source = Literal["local", "inherited", "default", "unset"]
SETTINGS = ("pool", "vm_timeout", "vm_memory")
SETTING_HELP = {
    "pool": "Pool name (renames every dataset with it)",
    "vm_timeout": "Seconds the helper VM may take (default: from the content size)",
    "vm_memory": "Helper VM memory in MiB",
}
SETTING_DEFAULT = {"pool": "rpool", "vm_timeout": "from the size", "vm_memory": "1024"}
EXTRA_HELP = {
    "mount_point": "Legacy mount: where the guest mounts it (fstab / NixOS), e.g. /home",
    "size": "Volume size, e.g. 1GiB (zfs create -V)",
    "sparse": "Thin volume: no space reserved (-s)",
}


@dataclass(frozen=True)
class Entry:
    """One dataset of the tree; `implicit` parents are made plain, like zfs create -p."""

    name: str
    kind: NodeKind
    implicit: bool = False

    @property
    def parent(self) -> str | None:
        return self.name.rsplit("/", 1)[0] if "/" in self.name else None

    @property
    def leaf(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Row:
    """One property of one dataset as `zfs get` would show it."""

    key: str
    value: str | None  # None: not set anywhere and no default to show
    source: Source
    origin: str | None = None  # the dataset it is inherited from
    about: str = ""

    @property
    def source_text(self) -> str:
        if self.source == "inherited":
            return f"inherited from {self.origin}"
        return {"local": "set here", "default": "default", "unset": "—"}[self.source]


def _table(pool: dict[str, Any], key: str) -> dict[str, Any]:
    value = pool.get(key)
    return value if isinstance(value, dict) else {}


def pool_name(pool: dict[str, Any]) -> str:
    name = pool.get("pool")
    return name if isinstance(name, str) and name else "rpool"


def _text(v: Any) -> str:
    return ("on" if v else "off") if isinstance(v, bool) else str(v)


def entries(pool: dict[str, Any]) -> list[Entry]:
    """The pool's root, every listed dataset and volume, and the parents they imply,
    parents before children and siblings in name order (the order zfs list shows)."""
    root = pool_name(pool)
    found: dict[str, Entry] = {root: Entry(root, "root")}
    for name in _table(pool, "datasets"):
        if name != root:
            found[name] = Entry(name, "filesystem")
    for name in _table(pool, "volumes"):
        if name != root:
            found[name] = Entry(name, "volume")
    for name in list(found):
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            found.setdefault(parent, Entry(parent, "filesystem", implicit=True))
    return sorted(found.values(), key=lambda e: [p.encode() for p in e.name.split("/")])


def kind_of(pool: dict[str, Any], name: str) -> NodeKind | None:
    return next((e.kind for e in entries(pool) if e.name == name), None)


def own_properties(pool: dict[str, Any], name: str) -> dict[str, Any]:
    """The properties set on this dataset itself (for the root: zpool create -O)."""
    if name == pool_name(pool):
        return dict(_table(pool, "filesystem_properties"))
    for key in ("datasets", "volumes"):
        entry = _table(pool, key).get(name)
        if isinstance(entry, dict):
            props = entry.get("properties")
            return dict(props) if isinstance(props, dict) else {}
    return {}


def _mount_point(pool: dict[str, Any], name: str) -> str | None:
    entry = _table(pool, "datasets").get(name)
    mp = entry.get("mount_point") if isinstance(entry, dict) else None
    return mp if isinstance(mp, str) else None


def lookup(pool: dict[str, Any], name: str, prop: str) -> Row:
    """The value a dataset has for `prop` and where it comes from, as `zfs get` tells it."""
    catalog = FS_PROPERTIES.get(prop)
    about = catalog.description if catalog else ("your own property" if ":" in prop else "")
    own = own_properties(pool, name).get(prop)
    if prop == "mountpoint":
        return _mountpoint(pool, name, about)
    if own is not None:
        return Row(prop, _text(own), "local", about=about)
    vol = _table(pool, "volumes").get(name)
    if prop == "refreservation" and isinstance(vol, dict) and not vol.get("sparse"):
        # zfs create -V reserves the volume's whole size unless it is sparse (-s)
        return Row(prop, "auto", "local", about=about + " (zfs create -V sets it)")
    inherits = catalog.inherit if catalog else is_user_property(prop)
    up = name
    while inherits and "/" in up:
        up = up.rsplit("/", 1)[0]
        value = own_properties(pool, up).get(prop)
        if value is not None:
            return Row(prop, _text(value), "inherited", up, about)
    default = catalog.default if catalog else None
    return Row(prop, default, "default" if default is not None else "unset", about=about)


def _mountpoint(pool: dict[str, Any], name: str, about: str) -> Row:
    """mountpoint inherits with the child's own name appended; a legacy mount_point sets
    mountpoint=legacy here unless it already comes down as legacy (as model.nodes does)."""
    own = own_properties(pool, name).get("mountpoint")
    if own is not None:
        return Row("mountpoint", _text(own), "local", about=about)
    parent = name.rsplit("/", 1)[0] if "/" in name else None
    up = _mountpoint(pool, parent, about) if parent else None
    if _mount_point(pool, name) is not None:
        if up is not None and up.value == "legacy":
            return Row("mountpoint", "legacy", "inherited", up.origin or parent, about)
        return Row("mountpoint", "legacy", "local", about=about + " (for mount_point)")
    if up is None or parent is None:
        return Row("mountpoint", "/" + name, "default", about=about)
    value = up.value or "/"
    if value not in ("legacy", "none"):
        value = value.rstrip("/") + "/" + name.rsplit("/", 1)[1]
    if up.source == "default":
        return Row("mountpoint", value, "default", about=about)
    return Row("mountpoint", value, "inherited", up.origin or parent, about)


def rows(pool: dict[str, Any], name: str) -> list[Row]:
    """Every property that applies to the dataset: set here first, then inherited, then
    defaults, each group in name order; plus mount_point (file systems) or size and
    sparse (volumes)."""
    kind = kind_of(pool, name) or "filesystem"
    target = "volume" if kind == "volume" else "filesystem"
    keys = [k for k, p in FS_PROPERTIES.items() if target in p.targets]
    chain = [name]
    while "/" in chain[-1]:
        chain.append(chain[-1].rsplit("/", 1)[0])
    for up in chain:
        keys += [
            k
            for k in own_properties(pool, up)
            if k not in keys and (up == name or is_user_property(k))
        ]
    found = [lookup(pool, name, k) for k in keys]
    extra: list[Row] = []
    if kind == "volume":
        vol = _table(pool, "volumes").get(name)
        vol = vol if isinstance(vol, dict) else {}
        for key, default in (("size", None), ("sparse", "false")):
            v = vol.get(key)
            extra.append(
                Row(
                    key,
                    _toml(v) if v is not None else default,
                    "local" if v is not None else ("default" if default else "unset"),
                    about=EXTRA_HELP[key],
                )
            )
    else:
        mp = _mount_point(pool, name)
        extra.append(
            Row("mount_point", mp, "local" if mp else "unset", about=EXTRA_HELP["mount_point"])
        )
    rank = {"local": 0, "inherited": 1, "default": 2, "unset": 3}
    return sorted(extra + found, key=lambda r: (rank[r.source], r.key not in EXTRA_HELP, r.key))


def pool_rows(pool: dict[str, Any]) -> list[Row]:
    """The pool's own settings (name, helper VM) and its zpool create -o properties."""
    out: list[Row] = []
    for key in SETTINGS:
        v = pool.get(key)
        out.append(
            Row(
                key,
                _text(v) if v is not None else SETTING_DEFAULT[key],
                "local" if v is not None else "default",
                about=SETTING_HELP[key],
            )
        )
    props = _table(pool, "pool_properties")
    keys = [*POOL_PROPERTIES, *(k for k in props if k not in POOL_PROPERTIES)]
    found: list[Row] = []
    for key in keys:
        catalog = POOL_PROPERTIES.get(key)
        about = catalog.description if catalog else "pool feature or your own property"
        if key in props:
            found.append(Row(key, _text(props[key]), "local", about=about))
        else:
            default = catalog.default if catalog else None
            found.append(
                Row(key, default, "default" if default is not None else "unset", about=about)
            )
    rank = {"local": 0, "inherited": 1, "default": 2, "unset": 3}
    return out + sorted(found, key=lambda r: (rank[r.source], r.key))


def _toml(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def value_from_text(text: str) -> Value:
    """What a person typed as a value: a number, true/false, quoted text, else the text."""
    text = text.strip()
    try:
        v = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    return v if isinstance(v, (str, int, bool)) else text


# ----------------------------------------------------------------- edits


def set_value(pool: dict[str, Any], name: str | None, key: str, value: Value | None) -> dict:
    """Set (or, with None, unset so it inherits again) one value; name None = the pool."""
    out = copy.deepcopy(pool)
    root = pool_name(pool)
    if name is None:
        if key == "pool":
            if not isinstance(value, str) or not value:
                raise ValueError("pool: give the pool a name, like tank")
            return rename(out, root, value)
        if key in SETTINGS:
            target = out
        else:
            target = out.setdefault("pool_properties", {})
    elif name == root and key != "mount_point":  # the root's properties are zpool create -O
        target = out.setdefault("filesystem_properties", {})
    else:
        table = "volumes" if kind_of(pool, name) == "volume" else "datasets"
        entry = out.setdefault(table, {}).setdefault(name, {})
        top = ("size", "sparse") if table == "volumes" else ("mount_point",)
        target = entry if key in top else entry.setdefault("properties", {})
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
    for table in ("pool_properties", "filesystem_properties"):
        if table in out and not out[table]:
            del out[table]
    for table in ("datasets", "volumes"):
        for entry in _table(out, table).values():
            if isinstance(entry, dict) and entry.get("properties") == {}:
                del entry["properties"]
    return out


def add(pool: dict[str, Any], name: str, *, volume: bool = False, size: str = "1GiB") -> dict:
    """A new dataset (or volume) by full name; its parents must be file systems."""
    root = pool_name(pool)
    if problem := dataset_name_problem(name, root):
        raise ValueError(problem)
    if name == root or kind_of(pool, name) is not None:
        raise ValueError(f"{name!r} is already in the pool; choose another name")
    for up in _parents(name):
        if kind_of(pool, up) == "volume":
            raise ValueError(f"{up!r} is a volume, which holds no datasets; pick a file system")
    out = copy.deepcopy(pool)
    if volume:
        out.setdefault("volumes", {})[name] = {"size": size}
    else:
        out.setdefault("datasets", {})[name] = {}
    return out


def _parents(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _under(name: str, top: str) -> bool:
    return name == top or name.startswith(top + "/")


def rename(pool: dict[str, Any], old: str, new: str) -> dict:
    """Rename a dataset and everything under it (the pool itself, when `old` is the root);
    bootfs follows."""
    root = pool_name(pool)
    if old == new:
        return copy.deepcopy(pool)
    if old == root:
        from .model import pool_name_problem

        if problem := pool_name_problem(new):
            raise ValueError(problem)
        if "/" in new:
            raise ValueError(f"{new!r}: a pool name has no /; give a plain name like tank")
        new_root = new
    else:
        if problem := dataset_name_problem(new, root):
            raise ValueError(problem)
        if _under(new, old):
            raise ValueError(f"{new!r} is inside {old!r}; a dataset cannot move into itself")
        if kind_of(pool, new) is not None:
            raise ValueError(f"{new!r} is already in the pool; choose another name")
        new_root = root

    def moved(name: str) -> str:
        return new + name[len(old) :] if _under(name, old) else name

    out = copy.deepcopy(pool)
    if old == root:
        out["pool"] = new_root
    for table in ("datasets", "volumes"):
        if table in out and isinstance(out[table], dict):
            out[table] = {moved(k): v for k, v in out[table].items()}
    bootfs = _table(out, "pool_properties").get("bootfs")
    if isinstance(bootfs, str):
        out["pool_properties"]["bootfs"] = moved(bootfs)
    return out


def subtree(pool: dict[str, Any], name: str) -> list[str]:
    """The listed datasets and volumes at or under `name` (what a removal takes)."""
    return [
        e.name
        for e in entries(pool)
        if _under(e.name, name) and not e.implicit and e.kind != "root"
    ]


def remove(pool: dict[str, Any], name: str) -> dict:
    """Remove a dataset with its children; bootfs pointing into it is dropped too."""
    if name == pool_name(pool):
        raise ValueError("the pool's root file system cannot be removed; remove the partition")
    out = copy.deepcopy(pool)
    for table in ("datasets", "volumes"):
        if isinstance(out.get(table), dict):
            out[table] = {k: v for k, v in out[table].items() if not _under(k, name)}
            if not out[table]:
                del out[table]
    props = _table(out, "pool_properties")
    if isinstance(props.get("bootfs"), str) and _under(props["bootfs"], name):
        del props["bootfs"]
        if not props:
            del out["pool_properties"]
    return out
