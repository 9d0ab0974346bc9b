"""The ZFS editor's words, shared by the wizard's ZFS step and plain mode's questions.

What a property means, the values OpenZFS takes and its default, and the prompts for
adding, renaming and removing datasets: both front ends say them the same way.
"""

from __future__ import annotations

from ..core.zfs import edit as zedit
from ..core.zfs.props import FS_PROPERTIES, POOL_PROPERTIES, Prop, is_user_property

POOL_NODE = ""  # the tree's node for the pool itself (name, helper VM, zpool create -o)


def values_text(prop: Prop, limit: int = 8) -> str:
    """The values a property takes, shortened: "one of on, off" or "e.g. 1M, 128K"."""
    if not prop.values:
        return {"size": "a size like 1M", "number": "a number", "path": "a path"}.get(
            prop.kind, "text")  # fmt: skip
    shown = [v for v in prop.values if not v[-1].isdigit() or prop.kind != "index"]
    shown = shown or list(prop.values)
    more = ", …" if len(shown) > limit else ""
    return ("one of " if prop.closed else "e.g. ") + ", ".join(shown[:limit]) + more


def about(node: str | None, key: str) -> str:
    """One line on what a key means, the values OpenZFS takes and its default."""
    if not key:
        return "Enter on a row, or Pick… for every property"
    if node == POOL_NODE:
        if key in zedit.SETTINGS:
            return zedit.SETTING_HELP[key]
        prop = POOL_PROPERTIES.get(key)
        if prop is None:
            if key.startswith("feature@"):
                return "a pool feature: enabled or disabled"
            return "a user property (module:name): any text" if is_user_property(key) else (
                "not a pool property OpenZFS knows; Pick… lists them")  # fmt: skip
    else:
        if key in zedit.EXTRA_HELP:
            return zedit.EXTRA_HELP[key]
        prop = FS_PROPERTIES.get(key)
        if prop is None:
            return "a user property (module:name): any text" if is_user_property(key) else (
                "not a property OpenZFS knows; Pick… lists them")  # fmt: skip
    text = f"{prop.description} — {values_text(prop)}"
    if prop.default is not None:
        text += f" (default {prop.default})"
    if not prop.inherit and node != POOL_NODE:
        text += "; not inherited"
    return text


def add_words(parent: str, *, volume: bool) -> tuple[str, str]:
    """The title and question for a new dataset or volume inside `parent`."""
    what = "volume (a block device, e.g. for swap; 1GiB, change size below)" if volume else (
        "dataset (a file system); its parents are made as needed")  # fmt: skip
    title = "Add a volume" if volume else "Add a dataset"
    return title, f"The new {what}. Full name, inside {parent}:"


def rename_words(node: str, *, root: bool) -> str:
    if root:
        return "The pool's new name; every dataset is renamed with it."
    return "The new full name; what is inside it moves along, and bootfs follows."


def remove_words(node: str, gone: list[str]) -> str:
    """What removing `node` takes with it (`gone`: it and everything inside it)."""
    inside = [n for n in gone if n != node]
    message = f"Remove {node}" + (
        f" and the {len(inside)} inside it ({', '.join(inside[:4])}"
        f"{', …' if len(inside) > 4 else ''})" if inside else "")  # fmt: skip
    return message + " from the pool? Their properties go with them."


def heading(pool: dict[str, object], node: str) -> str:
    """What the properties of `node` are, as the ZFS step heads its table."""
    if node == POOL_NODE:
        return f"pool {zedit.pool_name(pool)}: settings, pool properties (-o)"
    if zedit.kind_of(pool, node) == "root":
        return f"{node}: root file system (-O, inherited by all)"
    return f"{node}: set here, inherited, default"
