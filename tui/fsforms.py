"""The filesystem forms' words and fields, read from core.fs's declarations.

A filesystem added as one core/fs/<name>.py module shows up in the wizard, in
plain mode and in the F1 help with its title, help, label/UUID rules and option
fields, so the front ends never keep their own list of filesystems nor lay out
a filesystem's form by hand.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from ..core.fs import SPECS, FsSpec, spec_for


def fs_choices() -> tuple[str, ...]:
    """Filesystems a partition may pick, content ones first: one that takes no role but its
    own (FsRules.role_only: ZFS) comes with that role instead."""
    specs = [s for s in SPECS if not s.rules.role_only]
    return tuple(s.name for s in sorted(specs, key=lambda s: not s.rules.contents))


def content_filesystems() -> tuple[str, ...]:
    """Filesystems that hold files, in the registry's order (for prose that names them)."""
    return tuple(s.name for s in SPECS if s.rules.contents)


def fs_help() -> dict[str, str]:
    return {s.name: s.help for s in SPECS}


def _names() -> set[str]:
    return {s.name for s in SPECS}


def has_label(fs: str) -> bool:
    return spec_for(fs).rules.label_bytes is not None if fs in _names() else False


def has_uuid(fs: str) -> bool:
    return spec_for(fs).rules.uuid in ("uuid", "vfat") if fs in _names() else False


def keeps_uuid(fs: str, uuid: str) -> bool:
    """Whether `fs` can hold this UUID (vfat's are 8 hex digits, the others' 8-4-4-4-12)."""
    return has_uuid(fs) and (spec_for(fs).rules.uuid == "vfat") == (len(uuid) == 8)


def label_hint(fs: str) -> str:
    rules = spec_for(fs).rules
    if rules.label_hint:
        return f"up to {rules.label_bytes} bytes: {rules.label_hint}"
    return f"up to {rules.label_bytes} bytes; the guest can mount it by LABEL="


def uuid_hint(fs: str) -> str:
    if spec_for(fs).rules.uuid == "vfat":
        return "8 hex digits, e.g. 1234ABCD"
    return "8-4-4-4-12 hex digits"


def no_id_note(fs: str) -> str:
    """For a filesystem with files but neither label nor UUID: how the guest finds it."""
    if fs not in _names():
        return ""
    rules = spec_for(fs).rules
    if rules.contents and rules.label_bytes is None and rules.uuid == "none":
        return f"{fs} has no label or UUID: mount it by partition or device."
    return ""


def form_title(fs: str) -> str:
    spec = spec_for(fs)
    return spec.form_title or spec.options_title or f"{fs} options"


def advice_lines() -> list[str]:
    """The F1 help's list of filesystems: one line each, then those that hold no files."""
    lines = []
    empty = []
    for name in fs_choices():
        spec = spec_for(name)
        if not spec.rules.contents:
            empty.append(f"**{name}**")
            continue
        words = spec.advice or spec.title.partition(" — ")[2] + "."
        lines.append(f"- **{name}** — {words}")
    if empty:
        lines.append(f"- {', '.join(empty)} — no files at all.")
    return lines


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
    titles: dict[Any, str]  # a choice's words in a chooser (default: the value itself)
    explain: dict[Any, str]  # one line per choice, in place of `help` while it is picked
    plain: str  # plain mode's question ("" = its short walk does not ask this)

    def options(self) -> list[tuple[str, Any]]:
        """(title, value) pairs for a chooser."""
        return [(self.titles.get(c, str(c)), c) for c in self.choices]


def option_fields(fs: str) -> list[OptionField]:
    """The fields the spec gives words for, typed from its options model."""
    spec: FsSpec = spec_for(fs)
    if spec.options is None:
        return []
    out = []
    for key, words in spec.fields.items():
        info = spec.options.model_fields[key]
        kind, optional = _kind(info.annotation)
        lits = _literals(info.annotation)
        typed = {str(v): v for v in lits}

        def value(c: str, kind: type = kind, typed: dict[str, Any] = typed) -> Any:
            if c in typed:
                return typed[c]
            return kind(c) if kind in (int, float) else c

        choices = tuple(value(c) for c in words.choices) or lits
        out.append(
            OptionField(
                key, words.label, words.help, choices, info.default, kind, optional,
                titles={value(k): t for k, t in words.titles.items()},
                explain={value(k): t for k, t in words.explain.items()},
                plain=words.plain,
            )
        )
    return out


def _literals(ann: Any) -> tuple[Any, ...]:
    """Every Literal value an annotation allows (through Optional and unions)."""
    if typing.get_origin(ann) is typing.Literal:
        return typing.get_args(ann)
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return tuple(v for a in typing.get_args(ann) for v in _literals(a))
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
