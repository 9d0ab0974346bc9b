"""What the wizard edits and what it shows, without any UI: shared by the app and plain mode.

The draft is the profile as a plain dict, because a person types through
invalid states ("5" on the way to "512MiB"); `analyse` re-validates it with
the profile model and, when valid, asks core for checks, estimate and plan.
Nothing here builds shell text: the preview is `render_script` of core's plan.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import stat
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from ..core.errors import DiskwrightError, ProfileError, ProfileErrors
from ..core.fs import DEFAULT_FS, REGISTRY, SPECS, FsSpec, spec_for
from ..core.output import FORMATS
from ..core.scan import Scan
from .report import plan_header

PathKey = tuple[str | int, ...]

# ------------------------------------------------------------------ steps

# The filesystems' own tables ([ext4], [btrfs]…) as core/fs declares them: a filesystem added
# there is edited, and its errors shown, on the Filesystem step, unless its spec asks for a
# step of its own, keyed by its name (FsSpec.own_step: zfs).
FS_KEYS = frozenset({"filesystem", "label", "uuid"} | {
    s.name for s in SPECS if s.options is not None and not s.own_step})
OWN_STEPS = frozenset(s.name for s in SPECS if s.own_step)
# The filesystem each role needs, as core/fs's modules claim it (FsRules.role: esp → vfat…).
ROLE_FS: dict[str, str] = {s.rules.role.value: s.name for s in SPECS if s.rules.role is not None}
SIZE_KEYS = frozenset({"size", "headroom", "start"})


@dataclass(frozen=True)
class WizardStep:
    """One wizard step, declared once: the step list, the forms, the plan preview's marks
    and plain mode's sections read this. Its F1 text is tui/help.py's HELP[key] (a test
    holds the two together)."""

    key: str
    title: str
    form: str  # "module:Class" in diskwright.tui.screens, imported on the first visit
    # which profile fields its form shapes (indices dropped): the plan preview marks the
    # plan steps tagged with a related field (core's Step.fields), never parsing shell
    fields: tuple[str, ...] = ()
    plain: str = "name"  # the plain-mode section (tui/plain.py's EDIT_STEPS) that asks it


ZFS_STEP = "zfs"  # the pool's own step (zfs's FsSpec.own_step), shown only with a pool

WIZARD_STEPS: tuple[WizardStep, ...] = (
    WizardStep("source", "Source", "source:SourceForm", ("source",), "source"),
    WizardStep("filesystem", "Filesystem", "filesystem:FilesystemForm",
               tuple(sorted(f"disks.partitions.{k}" for k in FS_KEYS)), "layout"),
    WizardStep("layout", "Layout", "layout:LayoutForm", (
        "disks.table", "disks.uuid", "disks.name", *(f"disks.partitions.{k}" for k in (
            "role", "mount_point", "name", "gpt_type", "partuuid", "contents", "empty",
            "overlay"))), "layout"),
    WizardStep(ZFS_STEP, "ZFS", "zfs:ZfsForm", ("disks.partitions.zfs",), "layout"),
    WizardStep("sizes", "Sizes", "sizes:SizesForm", (
        "disks.size", "disks.alignment", *(f"disks.partitions.{k}" for k in sorted(SIZE_KEYS))),
        "layout"),
    WizardStep("output", "Output", "output:OutputForm", ("disks.output", "reproducible"),
               "output"),
    WizardStep("review", "Review", "review:ReviewForm"),
    WizardStep("build", "Build", "build:BuildForm"),
)
STEPS: tuple[str, ...] = tuple(s.key for s in WIZARD_STEPS)
STEP_TITLES: dict[str, str] = {s.key: s.title for s in WIZARD_STEPS}
STEP_FIELDS: dict[str, tuple[str, ...]] = {s.key: s.fields for s in WIZARD_STEPS}


def step_of(field_name: str) -> str:
    """Which wizard step edits the field an error names."""
    parts = re.sub(r"\[\d+\]", "", field_name).split(".")
    head = parts[0]
    if head == "source":
        return "source"
    if head == "reproducible":
        return "output"
    if head != "disks":
        return "review"
    if len(parts) == 1:
        return "layout"
    if parts[1] == "output":
        return "output"
    if parts[1] in ("size", "alignment"):
        return "sizes"
    if parts[1] != "partitions" or len(parts) == 2:
        return "layout"
    key = parts[2]
    if key in OWN_STEPS:
        return key
    if key in FS_KEYS:
        return "filesystem"
    if key in SIZE_KEYS:
        return "sizes"
    return "layout"


def _related(a: str, b: str) -> bool:
    return a == b or b.startswith(a + ".") or a.startswith(b + ".")


def shaped_steps(step: str, tags: list[tuple[str, ...]]) -> list[int]:
    """Indices of the plan steps (given each one's Step.fields) that wizard `step` shapes."""
    mine = STEP_FIELDS.get(step, ())
    out = []
    for i, fields in enumerate(tags):
        plain = [re.sub(r"\[\d+\]", "", f) for f in fields]
        if any(_related(f, m) for f in plain for m in mine):
            out.append(i)
    return out


def changed_lines(old: str, new: str) -> list[int]:
    """Line numbers of `new` that an edit added or changed (the preview marks them)."""
    import difflib

    out: list[int] = []
    sm = difflib.SequenceMatcher(a=old.split("\n"), b=new.split("\n"), autojunk=False)
    for tag, _a0, _a1, b0, b1 in sm.get_opcodes():
        if tag in ("replace", "insert"):
            out.extend(range(b0, b1))
    return out


def field_name(path: PathKey) -> str:
    """("disks", 0, "output", "path") → "disks[0].output.path", as ProfileError names it."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + p
    return out


def parse_field(name: str) -> PathKey:
    """The inverse of field_name (for jumping to the field an error names)."""
    out: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", name):
        out.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(out)


# ------------------------------------------------------------------ words for people

ROLE_HELP: dict[str, str] = {
    "root": "the guest's / (everything not claimed by another partition)",
    "esp": "EFI System Partition: the firmware reads the boot loader from it (vfat)",
    "bios-boot": "a small raw partition GRUB needs to boot GPT disks on BIOS machines",
    "data": "any other filesystem: /home, /var, a firmware partition, an empty volume",
    "store": "a Nix store (read-only erofs/squashfs, mounted at /nix/.ro-store)",
    "swap": "swap space",
    "zfs": "a ZFS pool (the ZFS step appears for its settings)",
}
TABLE_HELP: dict[str, str] = {
    "none": "No partition table: the file is one bare filesystem (microVM volumes, "
    "make-ext4-fs). One partition only.",
    "gpt": "GUID Partition Table: the modern default for UEFI machines and VMs; "
    "named partitions, up to 128.",
    "mbr": "Classic DOS table: at most 4 partitions; what Raspberry Pi firmware and "
    "old BIOSes read.",
    "hybrid": "GPT plus an MBR mirroring up to 3 partitions, for boards that only read MBR.",
}
# the formats are core.output.FORMATS (each describes itself); these are only
# longer words for some of them
_FORMAT_WORDS: dict[str, str] = {
    "raw": "a plain byte-for-byte disk: dd it to a device, or boot it anywhere",
    "qcow2": "QEMU's format: sparse, small, supports snapshots",
    "qcow2-compressed": "qcow2 with compressed clusters: smallest to ship; slower first writes",
    "vpc": "Hyper-V / Azure (VHD)",
    "vmdk": "VMware",
}
FORMAT_HELP: dict[str, str] = {
    f.format.value: _FORMAT_WORDS.get(f.format.value, f.title) for f in FORMATS.values()
}
COMPRESSION_HELP: dict[str, str] = {
    "none": "leave the output file as it is",
    "zstd": "fast to compress and decompress; the usual choice for SD-card images",
    "xz": "smaller than zstd, much slower",
}
CLUSTER_HELP: dict[str, str] = {
    "zlib": "every qcow2 reader opens it (QEMU, VirtualBox, libvirt tools); one core, slow",
    "zstd": "about 5x faster to write, same size; QEMU 5.1+ reads it, most others do not",
}
REGISTRATION_HELP: dict[str, str] = {
    "auto": "in the image when a partition holds /, else in a file beside the output",
    "image": "/nix-path-registration in the root filesystem (like make-ext4-fs)",
    "beside": "a file next to the output (like microvm.nix's regInfo)",
    "both": "in the image and beside the output",
    "none": "no registration: the guest's Nix will not know the store paths",
}
ROLE_NAMES: dict[str, str] = {
    "root": "a root partition",
    "esp": "an EFI System Partition",
    "bios-boot": "a BIOS boot partition",
    "data": "a data partition",
    "store": "a Nix store partition",
    "swap": "a swap partition",
    "zfs": "a ZFS pool partition",
}


def role_words(role: str) -> str:
    """"esp" → "an EFI System Partition": how a person says which kind of partition."""
    return ROLE_NAMES.get(role, f"a {role} partition")



# ------------------------------------------------------------------ dict helpers


def get_in(data: Any, path: PathKey, default: Any = None) -> Any:
    cur = data
    for p in path:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return default
    return cur


def set_in(data: dict[str, Any], path: PathKey, value: Any) -> None:
    cur: Any = data
    for i, p in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(cur, dict):
            if not isinstance(cur.get(p), dict | list):
                cur[p] = [] if isinstance(nxt, int) else {}
            cur = cur[p]
        else:
            cur = cur[p]
    cur[path[-1]] = value


def _defaults() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Model defaults, so forms always find every key (even in an invalid draft)."""
    from ..core.profile import Disk, Output, Profile, make_partition, partition_template

    part = partition_template()  # the common keys and every filesystem's options table
    out = Output(path="x").model_dump(mode="json")
    disk = Disk(output=Output(path="x"), partitions=[make_partition(role="root",
                                                                    filesystem=DEFAULT_FS)],
                ).model_dump(mode="json")
    prof = Profile(disks=[Disk(output=Output(path="x"),
                               partitions=[make_partition(role="root", filesystem=DEFAULT_FS)])],
                   ).model_dump(mode="json")
    out.pop("path")
    for k in ("output", "partitions"):
        disk.pop(k)
    prof.pop("disks")
    return prof, disk, out, part


def _merge(into: dict[str, Any], defaults: dict[str, Any]) -> None:
    for k, v in defaults.items():
        if k not in into:
            into[k] = copy.deepcopy(v)
        elif isinstance(v, dict) and isinstance(into[k], dict):
            _merge(into[k], v)


def complete(data: dict[str, Any]) -> dict[str, Any]:
    """Fill in every default the model has, leaving what the user wrote untouched."""
    data = copy.deepcopy(data)
    prof, disk, out, part = _defaults()
    _merge(data, prof)
    disks = data.get("disks")
    if not isinstance(disks, list):
        return data
    for d in disks:
        if not isinstance(d, dict):
            continue
        _merge(d, disk)
        d.setdefault("output", {"path": "image.img"})
        if isinstance(d["output"], dict):
            _merge(d["output"], out)
        for p in d.get("partitions") or []:
            if isinstance(p, dict):
                _merge(p, part)
    return data


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value if v is not None]
    return value


# ------------------------------------------------------------------ draft


def new_partition(role: str = "data") -> dict[str, Any]:
    """A new partition: an empty ext4 data volume, the least surprising choice."""
    _, _, _, part = _defaults()
    return {"role": role, "filesystem": DEFAULT_FS, **part, "size": "64MiB", "empty": True}


def coupled_filesystem(role: str, current: str) -> str:
    """The filesystem a role implies, so choosing a role never leaves a known-bad pair.

    A role some filesystem claims (FsRules.role) takes that one; another role leaves a
    filesystem that holds no files or takes only its own role for the default one.
    """
    if role in ROLE_FS:
        return ROLE_FS[role]
    rules = REGISTRY[current].rules if current in REGISTRY else None
    if rules is not None and (not rules.contents or rules.role_only):
        return DEFAULT_FS
    return current


def _named_default(spec: FsSpec) -> Any:
    """The default of the option that names a partition of `spec` (zfs: the pool's rpool)."""
    assert spec.options is not None and spec.named_by
    return spec.options.model_fields[spec.named_by].default


class Draft:
    """The profile being edited, where it lives, and whether it changed since saving."""

    def __init__(self, data: dict[str, Any], base_dir: Path, path: Path | None = None) -> None:
        self.data = complete(data)
        self.base_dir = base_dir.resolve()
        self.path = path.resolve() if path else None
        self.dirty = False
        self.force = False  # replace existing outputs (asked on the Output step)
        # the outputs this wizard's last successful build wrote, as they were then: building
        # again replaces those without asking (nothing of the user's is at stake), anything
        # else at an output path still needs "Replace existing files"
        self.built: dict[str, Identity] = {}
        self.revision = 0

    # -------------------------------------------------------------- access

    def get(self, path: PathKey, default: Any = None) -> Any:
        return get_in(self.data, path, default)

    def set(self, path: PathKey, value: Any) -> bool:
        """Store a value; return whether anything changed (widgets echo their own values)."""
        if get_in(self.data, path, object()) == value:
            return False
        set_in(self.data, path, value)
        self.touch()
        return True

    def touch(self) -> None:
        self.dirty = True
        self.revision += 1

    @property
    def disks(self) -> list[dict[str, Any]]:
        disks = self.data.get("disks")
        return [d for d in disks if isinstance(d, dict)] if isinstance(disks, list) else []

    def parts(self, d: int) -> list[dict[str, Any]]:
        parts = get_in(self.data, ("disks", d, "partitions"), [])
        return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []

    def all_parts(self) -> list[tuple[int, int]]:
        return [(d, p) for d in range(len(self.disks)) for p in range(len(self.parts(d)))]

    def parts_for_step(self, step: str, *, by_role: bool = False) -> list[tuple[int, int]]:
        """The partitions whose filesystem, or the one their role needs, has its options on
        `step`, a step of its own (FsSpec.own_step: a pool's partitions for "zfs").
        `by_role`: only those whose role needs it, the ones that step's editor edits (a
        loaded profile may pair a pool with another role: the step shows for it, to be
        fixed, but does not select it)."""
        if step not in OWN_STEPS:
            return []
        out = []
        for d, p in self.all_parts():
            fs = self.get(("disks", d, "partitions", p, "filesystem"))
            role = self.get(("disks", d, "partitions", p, "role"))
            claimed = isinstance(role, str) and ROLE_FS.get(role) == step
            if claimed or (fs == step and not by_role):
                out.append((d, p))
        return out

    def needs_step(self, step: str) -> bool:
        """Whether `step` shows: a step of the registry's own, or a filesystem's own step
        that some partition needs."""
        return step not in OWN_STEPS or bool(self.parts_for_step(step))

    def has_zfs(self) -> bool:
        """Whether the ZFS step shows (a pool's partition, or the role that needs one)."""
        return bool(self.parts_for_step(ZFS_STEP))

    def part_title(self, d: int, p: int, *, short: bool = False) -> str:
        """How a person recognises a partition: disk, number, role, where it is mounted."""
        part = get_in(self.data, ("disks", d, "partitions", p), {}) or {}
        disk = str(get_in(self.data, ("disks", d, "name"), f"disk{d}"))
        role = part.get("role", "?")
        where = part.get("mount_point") or part.get("contents") or ""
        label = f" “{part['label']}”" if part.get("label") else ""
        if short:
            return f"{disk} #{p + 1} {role}"
        fs = str(part.get("filesystem", "?"))
        what = role if fs == role else f"{role} {fs}"  # "zfs", not "zfs zfs"
        spec = REGISTRY.get(fs)
        if spec is not None and spec.named_by:  # zfs: "pool tank"
            name = get_in(self.data, ("disks", d, "partitions", p, fs, spec.named_by), None)
            what += f" {spec.named_by} {name or _named_default(spec)}"
        return f"{disk} #{p + 1} {what}{label}" + (f" {where}" if where else "")

    # -------------------------------------------------------------- structure

    def add_partition(self, d: int) -> int:
        parts = self.data["disks"][d].setdefault("partitions", [])
        parts.append(new_partition())
        self.touch()
        return len(parts) - 1

    def remove_partition(self, d: int, p: int) -> None:
        del self.data["disks"][d]["partitions"][p]
        self.touch()

    def move_partition(self, d: int, p: int, delta: int) -> int:
        parts = self.data["disks"][d]["partitions"]
        q = p + delta
        if not 0 <= q < len(parts):
            return p
        parts[p], parts[q] = parts[q], parts[p]
        self.touch()
        return q

    def add_disk(self) -> int:
        _, disk, out, _ = _defaults()
        names = {x.get("name") for x in self.disks}
        n = len(self.disks)
        name = next(f"disk{i}" for i in range(n, n + 100) if f"disk{i}" not in names)
        self.data["disks"].append(
            {**copy.deepcopy(disk), "name": name, "table": "none",
             "output": {**copy.deepcopy(out), "path": f"{name}.img"},
             "partitions": [new_partition()]}
        )
        self.touch()
        return n

    def remove_disk(self, d: int) -> None:
        del self.data["disks"][d]
        self.touch()

    def set_role(self, d: int, p: int, role: str) -> None:
        base = ("disks", d, "partitions", p)
        fs = coupled_filesystem(role, str(self.get((*base, "filesystem"), DEFAULT_FS)))
        self.set((*base, "role"), role)
        self.set((*base, "filesystem"), fs)
        for spec in SPECS:  # a table that must name its partition (zfs: the pool's)
            if not spec.named_by:
                continue
            table = (*base, spec.name)
            if spec.name == fs and not isinstance(self.get(table), dict):
                self.set(table, {spec.named_by: _named_default(spec)})
            if spec.name != fs and self.get(table) is not None:
                self.set(table, None)
        # the role picked a filesystem without labels (bios-boot's none, a pool): the
        # typed label goes
        if role in ROLE_FS and spec_for(fs).rules.label_bytes is None and self.get(
                (*base, "label")):
            self.set((*base, "label"), None)

    # -------------------------------------------------------------- files

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def source_root(self) -> Path | None:
        src = self.get(("source", "path"))
        return self.resolve(src) if isinstance(src, str) and src.strip() else None

    def source_key(self) -> tuple[Any, ...]:
        """What a scan depends on: the folder and the Nix closure with its store."""
        src = self.data.get("source") or {}
        closure = src.get("closure") or []
        return (self.source_root(), tuple(closure) if isinstance(closure, list) else closure,
                src.get("store"))

    def has_source(self) -> bool:
        src = self.data.get("source") or {}
        return self.source_root() is not None or bool(src.get("closure"))

    def rebase(self, new_dir: Path) -> None:
        """Keep every relative path pointing at the same file when the profile moves."""
        new_dir = new_dir.resolve()
        if new_dir == self.base_dir:
            return

        def moved(value: Any, *, must_exist: bool = False) -> Any:
            if not isinstance(value, str) or not value.strip():
                return value
            p = Path(value).expanduser()
            if p.is_absolute() or (must_exist and not os.path.lexists(self.base_dir / p)):
                return value
            target = Path(os.path.abspath(self.base_dir / p))
            if target == new_dir or new_dir in target.parents:
                return os.path.relpath(target, new_dir)
            return str(target)

        src = self.data.get("source", {})
        if isinstance(src, dict):
            for key in ("path", "store", "registration_file"):
                if key in src:
                    src[key] = moved(src.get(key))
            if isinstance(src.get("closure"), list):
                src["closure"] = [moved(c, must_exist=True) for c in src["closure"]]
            for fm in src.get("files") or []:
                if isinstance(fm, dict):
                    fm["source"] = moved(fm.get("source"))
        for disk in self.disks:
            out = disk.get("output")
            if isinstance(out, dict):
                out["path"] = moved(out.get("path"))
        self.base_dir = new_dir

    def toml(self) -> str:
        """TOML text: the short canonical form when valid, else everything typed so far."""
        from ..core.profile import only_own_options, parse_profile, profile_to_toml

        try:
            return profile_to_toml(parse_profile(only_own_options(copy.deepcopy(self.data)),
                                                 self.base_dir))
        except ProfileErrors:
            return tomli_w.dumps(_strip_none(self.data))

    def save(self, path: Path) -> None:
        """Write the profile to `path` (atomically), rebasing relative paths first.

        A valid profile goes through core's save_profile_in_place, as everywhere a
        profile is saved: the file it came from keeps its comments, order and
        layout, and only changed keys change. An invalid draft (saved anyway, on
        request) is written as typed so far, since the model cannot merge it.
        """
        from ..core.profile import only_own_options, parse_profile
        from ..core.profile_io import save_profile_in_place

        path = path.resolve()
        previous = self.path if self.path is not None and self.path.is_file() else None
        self.rebase(path.parent)
        try:
            profile = parse_profile(only_own_options(copy.deepcopy(self.data)), self.base_dir)
        except ProfileErrors:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(tomli_w.dumps(_strip_none(self.data)), encoding="utf-8")
            tmp.replace(path)
        else:
            save_profile_in_place(profile, path, previous)
        self.path = path
        self.dirty = False
        self.revision += 1


def load_draft(path: Path) -> Draft:
    """Open a profile even when it is invalid, so the wizard can show what to fix."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(str(path), "no such profile file", "check the path") from None
    except IsADirectoryError:
        raise ProfileError(str(path), "is a folder, not a profile", "name the .toml file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ProfileError(str(path), f"cannot be read ({err})", "check the file") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(str(path), f"TOML syntax error: {err}", "fix the syntax") from None
    if not isinstance(data.get("disks"), list) or not data["disks"]:
        raise ProfileError(str(path), "has no [[disks]]", "add at least one disk to the profile")
    return Draft(data, path.parent, path)


def draft_from_preset(name: str, base_dir: Path | None = None) -> Draft:
    """A preset opened in place, its source made absolute: for tests, benches, screenshots.

    The front ends never use it (a save would name the install folder); they open
    the user's own copy (draft_from_preset_copy, Preset.copy_to).
    """
    from ..core.presets import preset

    draft = Draft(preset(name).profile_data(), base_dir or Path.cwd())
    return draft


def draft_from_preset_copy(name: str, dest: Path, *, with_demo: bool) -> Draft:
    """A preset copied into `dest` as the user's own profile, opened from there.

    Unlike draft_from_preset, its paths stay relative to the new file, so a save
    never names the install folder.
    """
    from ..core.presets import preset

    return load_draft(preset(name).copy_to(dest, with_demo=with_demo))


def blank_draft(base_dir: Path | None = None) -> Draft:
    from ..core.presets import blank_profile_data

    return Draft(blank_profile_data(), base_dir or Path.cwd())


# ------------------------------------------------------------------ reading the source


def scan_profile_source(
    profile: Any,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Scan | None:
    """The one way the wizard and plain mode read a profile's source: core's, as the CLI does.

    A folder, a Nix closure (resolved by Nix, placed under /nix/store), or both.
    """
    from ..core.source import read_source

    return read_source(profile, progress=progress, cancel=cancel)


def scan_draft_source(
    data: dict[str, Any],
    base: Path,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Scan | None:
    """Scan the source of a draft that may not be a valid profile yet (the rest is typed later).

    core's source reader with the draft's source section alone; a folder's scan is
    reused while it is unchanged (the wizard rescans on every edit of the source).
    """
    from pydantic import ValidationError

    from ..core.profile import Source, errors_from_validation
    from ..core.source import read_source_section

    try:
        section = Source.model_validate(copy.deepcopy(data.get("source") or {}))
    except ValidationError as exc:  # the source section itself is wrong: say where
        errors = errors_from_validation(exc).errors
        first = errors[0] if errors else None
        if first is not None:
            raise ProfileError(f"source.{first.field}".rstrip("."), first.problem,
                               first.fix) from None
        raise ProfileError("source", "is not valid", "fix the fields marked on this step") \
            from None
    return read_source_section(section, base, progress=progress, cancel=cancel, cached=True)


# ------------------------------------------------------------------ analysis


Identity = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns


def identity(path: str) -> Identity | None:
    """What says a file is still the one a build wrote (never following a symlink)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def plan_to_build(profile: Any, scan: Scan | None, *, force: bool,
                  built: dict[str, Identity]) -> tuple[Any, list[str], list[str]]:
    """(plan, outputs that exist, of those the wizard's own last build) for the Build step and
    the preview alike, so the plan shown is the plan run: where every existing output is
    still exactly what this wizard built, the plan replaces them as if forced."""
    from ..core.planner import make_plan

    # planned once on every keystroke: as forced straight away while the last build's
    # files are intact, again only when the outputs turn out to hold something else
    intact = (any(str(profile.resolve(d.output.path)) in built for d in profile.disks)
              and all(identity(o) == i for o, i in built.items()))
    plan = make_plan(profile, scan, force=force or intact)
    existing = [o for o in plan.outputs if os.path.lexists(o)]
    own = [o for o in existing if o in built and identity(o) == built[o]]
    if intact and not force and (not existing or own != existing):
        plan = make_plan(profile, scan, force=False)
    return plan, existing, own


@dataclass
class Analysis:
    """Everything the side panels and the step ticks show for one revision of the draft."""

    revision: int = 0
    profile: Any = None  # core.profile.Profile when the model accepts the draft
    model_errors: list[ProfileError] = field(default_factory=list)
    check_errors: list[ProfileError] = field(default_factory=list)
    estimate: Any = None  # core.planner.Estimate
    plan: Any = None  # core.plan.Plan
    script: str = ""
    existing: list[str] = field(default_factory=list)  # outputs on disk the build must not replace
    rebuilds: list[str] = field(default_factory=list)  # this wizard's own outputs, replaced
    preflight: str | None = None  # what would stop a build (tools, space, folders)
    crash: str | None = None  # core could not plan this profile (a bug or a missing feature)
    unread: bool = False  # the profile names a source that is not scanned (yet)
    seconds: float = 0.0
    prepared: Any = None  # the script highlighted and wrapped for the preview (UI's business)

    @property
    def errors(self) -> list[ProfileError]:
        return self.model_errors + self.check_errors

    @property
    def valid(self) -> bool:
        return (self.profile is not None and not self.errors and self.crash is None
                and self.plan is not None)

    def for_step(self, step: str) -> list[ProfileError]:
        return [e for e in self.errors if step_of(e.field) == step]

    def for_field(self, name: str) -> list[ProfileError]:
        return [e for e in self.errors if e.field == name]

    def step_ok(self, step: str, force: bool = False) -> bool:
        if self.profile is None and not self.model_errors:
            return False
        if self.for_step(step):
            return False
        if step == "output" and self.existing and not force:
            return False
        if step in ("review", "build"):
            return self.valid and (force or not self.existing)
        return True


def step_states(analysis: Analysis, steps: list[str], *, force: bool,
                scanning: bool) -> dict[str, bool | None]:
    """The one validation state: ✓ True, ✗ False, · None (still checking), per step.

    The form's marks, the step list's ticks, the status line, Next, Review and the
    Build button all read this, so they cannot disagree.
    """
    states: dict[str, bool | None] = {}
    for s in steps:
        if analysis.profile is None and not analysis.model_errors:
            states[s] = None  # nothing analysed yet
        elif scanning and (s in ("source", "review", "build")):
            states[s] = None  # the source is being read; review and build wait for it
        else:
            states[s] = analysis.step_ok(s, force)
    return states


def analyse(
    data: dict[str, Any],
    base_dir: Path,
    scan: Scan | None,
    *,
    force: bool = False,
    revision: int = 0,
    path: Path | None = None,
    extra_errors: list[ProfileError] | None = None,
    built: dict[str, Identity] | None = None,
) -> Analysis:
    """Validate the draft and, if the model accepts it, ask core for checks, estimate and plan.

    Runs in a worker thread: it only reads its arguments and returns a new object.
    """
    from ..core.plan import render_script
    from ..core.planner import check_profile, estimate
    from ..core.profile import only_own_options, parse_profile
    from ..core.runner import preflight

    t0 = time.perf_counter()
    out = Analysis(revision=revision)
    try:
        profile = parse_profile(only_own_options(copy.deepcopy(data)), base_dir)
    except ProfileErrors as err:
        out.model_errors = list(err.errors)
        out.seconds = time.perf_counter() - t0
        return out
    out.profile = profile
    try:
        out.check_errors = list(extra_errors or []) + list(check_profile(profile, scan))
        if scan is None and (profile.source.path or profile.source.closure):
            # the source is not read yet (or cannot be): core plans only from a scan
            out.unread = True
            out.seconds = time.perf_counter() - t0
            return out
        out.estimate = estimate(profile, scan)
        try:
            plan, existing, own = plan_to_build(profile, scan, force=force, built=built or {})
        except Exception:
            if out.check_errors:
                # core plans only what its checks accept (a root partition with no source
                # folder hit an assertion); the problems are on screen, the preview waits
                out.seconds = time.perf_counter() - t0
                return out
            raise  # planning a profile the checks accept must work: a bug, logged below
        out.plan = plan
        out.script = render_script(plan, header=plan_header(profile.name, path))
        if existing and own == existing and not force:
            out.rebuilds = own
        else:
            out.existing = existing
        try:
            preflight(dataclasses.replace(plan, force=True))
        except DiskwrightError as err:
            out.preflight = str(err)
    except ProfileErrors as err:
        out.check_errors += list(err.errors)
    except ProfileError as err:
        out.check_errors.append(err)
    except Exception as err:  # a core bug: one sentence on screen, the details in a log
        out.crash = internal_error(err, base_dir)
    out.seconds = time.perf_counter() - t0
    return out


ERROR_LOG = "diskwright-wizard.log"


def internal_error(err: BaseException, base_dir: Path) -> str:
    """Log an unexpected exception's traceback beside the profile; return one sentence about it.

    People see what happened and where the details are, never the exception's text.
    """
    import traceback

    log = base_dir / ERROR_LOG
    try:  # appended, never through a symlink nor into a FIFO (O_NONBLOCK: ENXIO, no hang)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError("not a regular file")
            f.write(time.strftime("--- %Y-%m-%d %H:%M:%S\n"))
            f.write("".join(traceback.format_exception(err)))
        where = f"the details are in {log}"
    except OSError:
        where = "run `diskwright validate` on the saved profile for details"
    return (f"diskwright hit an internal error while checking this profile ({where}); "
            "change a field or report it with the profile")


def describe_field(name: str, data: dict[str, Any]) -> str:
    """"disks[0].partitions[1].label" → "vm #2 label", for problem lists."""
    m = re.match(r"^disks\[(\d+)\](?:\.partitions\[(\d+)\])?\.?(.*)$", name)
    if not m:
        return name
    d = int(m.group(1))
    disk = get_in(data, ("disks", d, "name"), f"disk{d}")
    rest = m.group(3).replace("_", " ")
    if m.group(2) is not None:
        return f"{disk} #{int(m.group(2)) + 1}" + (f" {rest}" if rest else "")
    return f"disk {disk}" + (f" {rest}" if rest else "")


def warning_text(warning: str, profile: Any) -> str:
    """A core warning in people's words: "disks[0].output.path: …" → "disk vm output path: …"."""
    where, sep, rest = warning.partition(": ")
    if not sep or not where.startswith("disks[") or profile is None:
        return warning
    data = {"disks": [{"name": d.name} for d in profile.disks]}
    return f"{describe_field(where, data).replace('.', ' ')}: {rest}"


def error_text(err: ProfileError) -> str:
    """The model's own words: the problem, then the fix."""
    return f"{err.problem} — {err.fix}" if err.fix else err.problem
