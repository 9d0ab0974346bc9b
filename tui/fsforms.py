"""The filesystem forms' words and fields, read from core.fs's declarations.

A filesystem added as one core/fs/<name>.py module shows up in the wizard and
in plain mode with its title, help, label/UUID rules and option fields, so the
front ends never keep their own list of filesystems.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from ..core.fs import SPECS, FsSpec, spec_for
from .model import FS_HELP


def fs_choices() -> tuple[str, ...]:
    """Filesystems a partition may pick (ZFS comes with the zfs role), content ones first."""
    specs = [s for s in SPECS if s.name != "zfs"]
    return tuple(s.name for s in sorted(specs, key=lambda s: not s.rules.contents))


def fs_help() -> dict[str, str]:
    return {s.name: FS_HELP.get(s.name, s.help) for s in SPECS}


def has_label(fs: str) -> bool:
    return spec_for(fs).rules.label_bytes is not None if fs in _names() else False


def has_uuid(fs: str) -> bool:
    return spec_for(fs).rules.uuid in ("uuid", "vfat") if fs in _names() else False


def label_hint(fs: str) -> str:
    rules = spec_for(fs).rules
    hint = f"; {rules.label_hint}" if rules.label_hint else ""
    return f"up to {rules.label_bytes} bytes{hint}"


def _names() -> set[str]:
    return {s.name for s in SPECS}


@dataclass(frozen=True)
class OptionField:
    """One option of a filesystem's table, as a front end asks for it."""

    key: str
    label: str
    help: str
    choices: tuple[Any, ...]  # typed values, in the order shown; () = free text
    default: Any
    kind: type  # bool, int, float or str
    optional: bool


def option_fields(fs: str) -> list[OptionField]:
    """The fields the spec gives words for, typed from its options model."""
    spec: FsSpec = spec_for(fs)
    if spec.options is None:
        return []
    out = []
    for key, words in spec.fields.items():
        info = spec.options.model_fields[key]
        kind, optional = _kind(info.annotation)
        choices = tuple(kind(c) if kind in (int, float) else c for c in words.choices)
        if not choices and (lits := _literals(info.annotation)):
            choices = lits
        out.append(
            OptionField(key, words.label, words.help, choices, info.default, kind, optional)
        )
    return out


def _literals(ann: Any) -> tuple[Any, ...]:
    if typing.get_origin(ann) is typing.Literal:
        return typing.get_args(ann)
    return ()


def _kind(ann: Any) -> tuple[type, bool]:
    args = typing.get_args(ann)
    optional = False
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        ann = rest[0] if rest else str
    if typing.get_origin(ann) is typing.Literal:
        return type(typing.get_args(ann)[0]), optional
    return (ann if ann in (bool, int, float) else str), optional
