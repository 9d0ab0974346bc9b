"""A filesystem is one module (issue 12): what is true of a filesystem is said by its
core/fs/<name>.py, and the modules above ask its spec instead of naming it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from diskwright.core.errors import ProfileErrors
from diskwright.core.fs import REGISTRY
from diskwright.core.model import ROLE_FILESYSTEMS, FsRules, Role, register_roles
from diskwright.core.profile import parse_profile

ROOT = Path(__file__).resolve().parent.parent


def profile(part: dict[str, Any], table: str = "gpt") -> dict[str, Any]:
    parts = [part] if table == "none" else [
        part, {"role": "root", "filesystem": "ext4", "mount_point": "/", "size": "64MiB"}]
    return {"version": 1, "name": "x", "source": {"path": "."},
            "disks": [{"name": "d", "table": table,
                       "output": {"path": "o.img", "format": "raw"}, "partitions": parts}]}


def refusal(part: dict[str, Any], table: str = "gpt") -> str:
    with pytest.raises(ProfileErrors) as e:
        parse_profile(profile(part, table), Path("/tmp"))
    assert len(e.value.errors) == 1, e.value
    return str(e.value.errors[0])


ESP = 'disks[0].partitions[0].filesystem: an ESP must be vfat — set filesystem = "vfat"'
BIOS = ('disks[0].partitions[0].filesystem: a bios-boot partition holds no filesystem'
        ' — use "none"')
SWAP = 'disks[0].partitions[0].filesystem: a swap partition needs filesystem = "swap"'
ZFS = ('disks[0].partitions[0].role/filesystem: use role = "zfs" together with '
       'filesystem = "zfs"')


@pytest.mark.parametrize(("role", "fs", "words"), [
    ("esp", "ext4", ESP),
    ("esp", "zfs", ESP),  # the role's own rule comes first
    ("bios-boot", "ext4", BIOS),
    ("bios-boot", "swap", BIOS),
    ("swap", "ext4", SWAP),
    ("swap", "none", SWAP),
    ("zfs", "ext4", ZFS),  # the role needs a pool
    ("zfs", "btrfs", ZFS),
    ("data", "zfs", ZFS),  # a pool takes no other role
    ("root", "zfs", ZFS),
])
def test_a_role_and_its_filesystem_go_together(role: str, fs: str, words: str) -> None:
    part: dict[str, Any] = {"role": role, "filesystem": fs, "size": "64MiB"}
    if fs == "zfs":
        part["zfs"] = {"pool": "tank"}
    assert refusal(part) == words


@pytest.mark.parametrize(("role", "fs"), [
    ("esp", "vfat"), ("data", "vfat"), ("bios-boot", "none"), ("data", "none"),
    ("swap", "swap"), ("data", "swap"), ("zfs", "zfs"), ("data", "ext4"),
])
def test_pairs_that_go_together_are_taken(role: str, fs: str) -> None:
    part: dict[str, Any] = {"role": role, "filesystem": fs, "size": "64MiB", "empty": True}
    if fs == "zfs":
        part["zfs"] = {"pool": "tank"}
    parse_profile(profile(part), Path("/tmp"))


def test_a_bare_image_needs_a_filesystem() -> None:
    words = refusal({"role": "data", "filesystem": "none", "size": "1MiB"}, table="none")
    assert words == "disks[0].partitions[0].filesystem: a bare image needs a filesystem"
    assert [s.name for s in REGISTRY.values() if not s.rules.bare] == ["none"]


def test_the_roles_the_filesystems_claim() -> None:
    """Each module declares the role that needs it; the model reads only that."""
    assert {r: name for r, (name, _) in ROLE_FILESYSTEMS.items()} == {
        Role.esp: "vfat", Role.bios_boot: "none", Role.swap: "swap", Role.zfs: "zfs"}
    assert [s.name for s in REGISTRY.values() if s.rules.role_only] == ["zfs"]


def test_two_filesystems_cannot_claim_one_role() -> None:
    held = dict(ROLE_FILESYSTEMS)
    try:
        with pytest.raises(ValueError, match="both swap and swap2 claim it"):
            register_roles([("swap2", FsRules(label_bytes=None, role=Role.swap,
                                              role_error="filesystem: use swap2"))])
        with pytest.raises(ValueError, match="role_error"):
            register_roles([("data2", FsRules(label_bytes=None, role=Role.data))])
    finally:
        ROLE_FILESYSTEMS.clear()
        ROLE_FILESYSTEMS.update(held)


# ------------------------------------------------------------ no names outside core/fs

# the modules above the filesystems that once compared a partition's filesystem (or the
# role that goes with one) to a name: now they ask the spec
ASKS_THE_SPEC = (
    "core/model.py", "core/exports.py", "core/planner/checks.py", "core/planner/estimate.py",
    "core/planner/staging.py", "core/planner/assembly.py", "tui/model.py", "tui/app.py",
    "tui/fsforms.py", "tui/screens/filesystem.py", "tui/screens/wizard.py",
)  # tui/plain.py and core/planner/contexts.py compare a compression to "none", a word the
# finder cannot tell from the filesystem: they are read by hand


def _named(node: ast.expr) -> list[str]:
    """The filesystem names written as literals in one operand of a comparison."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in REGISTRY else []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [n for e in node.elts for n in _named(e)]
    return []


def _uuid_kind(node: ast.Compare) -> bool:
    """`rules.uuid == "vfat"`: FsRules.uuid's kinds ("vfat": an 8-digit volume id, "none")
    share words with filesystems, but they name a kind of id the spec declares."""
    return any(isinstance(n, ast.Attribute) and n.attr == "uuid"
               for n in (node.left, *node.comparators))


def name_comparisons(source: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and not _uuid_kind(node):
            if any(_named(operand) for operand in (node.left, *node.comparators)):
                out.append(f"line {node.lineno}: {ast.unparse(node)}")
    return out


def test_the_finder_finds_a_name_comparison() -> None:
    """The check below can fail: it sees the comparisons issue 12 removed."""
    assert name_comparisons('if fs == "swap":\n    pass\n')
    assert name_comparisons('x = role in ("esp", "zfs")\n')
    assert name_comparisons('x = "zfs" != p.filesystem\n')
    assert not name_comparisons('x = spec.rules.role_only\ny = fs == other\n')
    assert not name_comparisons('x = rules.uuid == "vfat"\n')


@pytest.mark.parametrize("module", ASKS_THE_SPEC)
def test_no_filesystem_is_named_in_a_comparison(module: str) -> None:
    assert name_comparisons((ROOT / module).read_text()) == []
