"""Saving a profile over the file it came from, keeping what the person wrote.

A profile is a file people comment, order and keep in git: rewriting it from the
model would drop every comment, explicit default and table layout. So the new
choices are merged into the old text with tomlkit, and only keys whose value
really changed are touched. Both front ends (wizard and plain mode) and the CLI
share this, hence it lives in core.
"""

from __future__ import annotations

import tomllib
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array

from .errors import ProfileErrors
from .profile import Profile, parse_profile, profile_to_toml

_MISSING = object()


def _full(profile: Profile) -> dict[str, Any]:
    """Every effective value, defaults included: what two files are compared on."""
    data = profile.model_dump(mode="json", exclude_none=True)
    return {"version": profile.version, **data}


def _short(profile: Profile) -> dict[str, Any]:
    """Only non-default values: what a newly written key or table holds."""
    data = profile.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    return {"version": profile.version, **data}


def _merge(doc: Any, old: Any, new: Any, short: Any) -> None:
    """Make `doc` (a tomlkit table) say `new`, changing only keys where old != new."""
    keys = list(old) + [k for k in new if k not in old]
    for key in keys:
        o, n = old.get(key, _MISSING), new.get(key, _MISSING)
        if o == n:
            continue  # unchanged: keep the text exactly, explicit defaults and absences alike
        s = short.get(key, _MISSING) if isinstance(short, dict) else _MISSING
        here = doc.get(key, _MISSING) if key in doc else _MISSING
        if n is _MISSING:
            if here is not _MISSING:
                del doc[key]
            continue
        if isinstance(o, dict) and isinstance(n, dict) and isinstance(here, MutableMapping):
            _merge(here, o, n, s if isinstance(s, dict) else {})
            continue
        if (isinstance(o, list) and isinstance(n, list) and len(o) == len(n)
                and isinstance(here, (AoT, Array)) and len(here) == len(n)
                and all(isinstance(x, dict) for x in o + n)):
            shorts = s if isinstance(s, list) and len(s) == len(n) else [{}] * len(n)
            for d, oi, ni, si in zip(here, o, n, shorts, strict=True):
                _merge(d, oi, ni, si)
            continue
        if here is not _MISSING:
            doc[key] = n if s is _MISSING else s
        elif s is not _MISSING:
            doc[key] = s
        # else: the new value is the default and the file never named it — leave it unnamed


def edit_profile_text(old_text: str, profile: Profile, base_dir: Path | None = None) -> str:
    """`old_text` changed only where `profile` differs from what it said.

    Falls back to the short canonical form when the old text is not TOML at all,
    since there is nothing of the person's layout left to keep.
    """
    try:
        doc = tomlkit.parse(old_text.removeprefix("\ufeff"))
        raw = tomllib.loads(old_text.removeprefix("\ufeff"))
    except (tomlkit.exceptions.TOMLKitError, tomllib.TOMLDecodeError):
        return profile_to_toml(profile)
    try:
        old = _full(parse_profile(raw, base_dir))
        new = _full(profile)
    except ProfileErrors:
        old, new = raw, _short(profile)  # an invalid file: compare what was written
    _merge(doc, old, new, _short(profile))
    return tomlkit.dumps(doc)


def save_profile_in_place(profile: Profile, path: Path, previous: Path | None = None) -> None:
    """Write `profile` to `path`, keeping the layout of `previous` (default: `path` itself).

    Atomic, so an interrupted save never leaves half a profile.
    """
    src = previous if previous is not None else path
    try:
        old_text: str | None = src.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        old_text = None
    text = (edit_profile_text(old_text, profile, src.parent) if old_text is not None
            else profile_to_toml(profile))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


__all__ = ["edit_profile_text", "save_profile_in_place"]
