"""The user's choices and nothing else: a pydantic model saved as TOML.

The schema is core.model plus one partition class per filesystem module
(core/fs/<name>.py): Partition is their union, keyed on `filesystem`, so a
partition takes only its own filesystem's options table. Every validator
explains the fix in words a person can act on; the front ends show those words
unchanged, next to the field they name.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

import tomli_w
from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter, ValidationError

from .errors import ProfileError, ProfileErrors
from .fs import SPECS, FsSpec
from .model import (
    DISK_NAME_RE,
    FORBIDDEN_OUTPUT_PREFIXES,
    GPT_TYPES,
    MBR_TYPES,
    PROFILE_VERSION,
    SECTOR,
    UUID_RE,
    VFAT_ID_RE,
    Compression,
    Disk,
    FileMapping,
    Format,
    FsRules,
    Output,
    Overlay,
    PartitionBase,
    Profile,
    Registration,
    Reproducible,
    Role,
    Source,
    SourceOnly,
    SourceRef,
    Table,
    derive_hex,
    derive_uuid,
)

FILESYSTEMS: tuple[str, ...] = tuple(s.name for s in SPECS)

def _table_defaults(spec: FsSpec) -> Any:
    """What a partition of `spec` holds in its options table when the profile says nothing."""
    default = spec.partition.model_fields[spec.name].get_default(call_default_factory=True)
    return default.model_dump(mode="json") if isinstance(default, BaseModel) else default


_DEFAULTS: dict[str, Any] = {s.name: _table_defaults(s) for s in SPECS if s.options is not None}


def _drop_unset_foreign(data: Any) -> Any:
    """Another filesystem's table that sets nothing (empty, or only its defaults) is dropped.

    Forms that show every filesystem's fields send those; a table that sets a
    value is kept, and the partition's own class then refuses it, naming it.
    """
    if not isinstance(data, dict):
        return data
    own = data.get("filesystem")
    out = {}
    for k, v in data.items():
        if k in _DEFAULTS and k != own:
            d = _DEFAULTS[k]
            if v is None or v == {} or v == d:
                continue
            if isinstance(v, dict) and isinstance(d, dict) and all(
                k2 in d and d[k2] == v2 for k2, v2 in v.items()
            ):
                continue
        out[k] = v
    return out


if TYPE_CHECKING:
    Partition = PartitionBase
else:
    Partition = Annotated[
        Union[tuple(s.partition for s in SPECS)],  # noqa: UP007 — built from the registry
        Field(discriminator="filesystem"),
        BeforeValidator(_drop_unset_foreign),
    ]
Disk.model_rebuild(_types_namespace={"Partition": Partition})
Profile.model_rebuild()
_PARTITION: TypeAdapter[PartitionBase] = TypeAdapter(Partition)


def make_partition(**data: Any) -> PartitionBase:
    """One partition of the filesystem `data["filesystem"]` names (its own class)."""
    return _PARTITION.validate_python(data)


def partition_template() -> dict[str, Any]:
    """Every partition key a form can show: the common defaults and each filesystem's options."""
    out: dict[str, Any] = {
        k: f.get_default(call_default_factory=True)
        for k, f in PartitionBase.model_fields.items()
        if k not in ("role", "filesystem")
    }
    out.update(_DEFAULTS)
    return out


def only_own_options(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a profile dict without each partition's tables for other filesystems.

    For forms that keep every filesystem's fields while the user switches
    between them (the wizard, plain mode); the model itself refuses such tables.
    """
    out = dict(data)
    disks = out.get("disks")
    if not isinstance(disks, list):
        return out
    out["disks"] = []
    for disk in disks:
        if isinstance(disk, dict) and isinstance(disk.get("partitions"), list):
            disk = {
                **disk,
                "partitions": [
                    {k: v for k, v in p.items() if k not in FILESYSTEMS or k == p.get("filesystem")}
                    if isinstance(p, dict)
                    else p
                    for p in disk["partitions"]
                ],
            }
        out["disks"].append(disk)
    return out


# --------------------------------------------------------------- load/save


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if i >= 2 and loc[i - 2] == "partitions" and isinstance(loc[i - 1], int):
            if part in FILESYSTEMS:
                continue  # the union's tag: the partition's own filesystem
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _fix_for(err: dict[str, Any]) -> tuple[str, str]:
    """Turn one pydantic error into (problem, fix) words for a person."""
    kind = err["type"]
    msg: str = err.get("msg", "")
    if kind == "extra_forbidden":
        return "unknown setting", "remove it or check its spelling against `diskwright schema`"
    if kind == "missing":
        return "is required", "add it"
    if kind in ("enum", "literal_error"):
        expected = err.get("ctx", {}).get("expected", "")
        return f"{err.get('input')!r} is not allowed", f"use one of {expected}"
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        if " — " in text:
            problem, fix = text.split(" — ", 1)
            return problem, fix
        if "; " in text:
            problem, fix = text.split("; ", 1)
            return problem, fix
        return text, ""
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{err.get('input')!r} has the wrong type ({msg.lower()})", "fix the value's type"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return msg.lower(), "choose a value in range"
    if kind == "too_short":
        return msg.lower(), "add at least one entry"
    return msg, ""


def _foreign_options(loc: tuple[int | str, ...]) -> tuple[str, str] | None:
    """(problem, fix) for another filesystem's options table on a partition, else None."""
    for i in range(len(loc) - 3):
        if loc[i] == "partitions" and isinstance(loc[i + 1], int) and loc[i + 2] in FILESYSTEMS:
            own, key = str(loc[i + 2]), loc[i + 3]
            if i + 4 == len(loc) and key in FILESYSTEMS:
                what = next(s.options_title for s in SPECS if s.name == key)
                return (
                    f"{what} on a {own} partition",
                    f'remove the [{key}] table or set filesystem = "{key}"',
                )
    return None


def errors_from_validation(exc: ValidationError) -> ProfileErrors:
    errors: list[ProfileError] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = _loc(loc)
        problem, fix = _fix_for(dict(err))
        foreign = _foreign_options(loc) if err["type"] == "extra_forbidden" else None
        if foreign is not None:
            problem, fix = foreign
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            field = f"{field}.filesystem" if field else "filesystem"
            if err["type"] == "union_tag_not_found":
                problem, fix = "is required", f"add it: one of {', '.join(FILESYSTEMS)}"
            else:
                problem = f"{err.get('ctx', {}).get('tag')!r} is not a filesystem diskwright makes"
                fix = f"use one of {', '.join(FILESYSTEMS)}"
        # Model-level validators name their own sub-field as "field: problem".
        m = re.match(r"^([a-z_\[\]0-9./]+): (.*)$", problem)
        if m and err["type"] == "value_error":
            sub, problem = m.groups()
            field = f"{field}.{sub}" if field else sub
        errors.append(ProfileError(field or "profile", problem, fix))
    return ProfileErrors(errors)


def parse_profile(data: dict[str, Any], base_dir: Path | None = None) -> Profile:
    """Validate a profile dict; raise ProfileErrors with every problem found."""
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise errors_from_validation(exc) from None
    profile.set_base_dir(base_dir or Path.cwd())
    return profile


MAX_PROFILE_BYTES = 4 << 20


def load_profile(path: Path) -> Profile:
    """Read a TOML profile; every failure is a ProfileError naming where and why."""
    try:
        # never block on a FIFO nor read /dev/zero forever: regular files of sane size only
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(path)
            if not stat.S_ISREG(st.st_mode):
                raise ProfileError(str(path), "is not a regular file", "name the .toml file")
            if st.st_size > MAX_PROFILE_BYTES:
                raise ProfileError(str(path), f"is larger than {MAX_PROFILE_BYTES} bytes",
                                   "a profile is a short TOML file; name the right one")
            with os.fdopen(os.dup(fd), "rb") as f:
                raw = f.read(MAX_PROFILE_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise ProfileError(str(path), "no such profile file", "check the path") from None
    except IsADirectoryError:
        raise ProfileError(str(path), "is a folder, not a profile", "name the .toml file") from None
    except OSError as err:
        raise ProfileError(
            str(path), f"cannot be read ({err.strerror})", "check permissions"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))  # a BOM is fine
    except RecursionError:
        raise ProfileError(str(path), "nests tables or arrays too deeply",
                           "flatten the TOML") from None
    except UnicodeDecodeError:
        raise ProfileError(str(path), "is not UTF-8 text", "save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(
            str(path), f"TOML syntax error: {err}", "fix the syntax at that line"
        ) from None
    return parse_profile(data, path.parent)


def profile_to_toml(profile: Profile) -> str:
    """TOML text with only the non-default choices, so saved profiles stay short."""
    data = profile.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data = {"version": profile.version, **data}
    return tomli_w.dumps(data)


def json_schema() -> dict[str, Any]:
    return Profile.model_json_schema()


# The model's names, so the rest of the engine imports the schema from one place.
__all__ = [
    "DISK_NAME_RE",
    "FILESYSTEMS",
    "FORBIDDEN_OUTPUT_PREFIXES",
    "GPT_TYPES",
    "MBR_TYPES",
    "PROFILE_VERSION",
    "SECTOR",
    "UUID_RE",
    "VFAT_ID_RE",
    "Compression",
    "Disk",
    "FileMapping",
    "Format",
    "FsRules",
    "Output",
    "Overlay",
    "Partition",
    "PartitionBase",
    "Profile",
    "Registration",
    "Reproducible",
    "Role",
    "Source",
    "SourceOnly",
    "SourceRef",
    "Table",
    "derive_hex",
    "derive_uuid",
    "errors_from_validation",
    "json_schema",
    "load_profile",
    "make_partition",
    "only_own_options",
    "parse_profile",
    "partition_template",
    "profile_to_toml",
]
