"""The ZFS tree edits (core/zfs/edit.py) and the catalog's inheritance, without a front end.

Each edit is checked by the profile model afterwards: an edit that leaves a pool the
model refuses would be a trap in the wizard.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from diskwright.core.zfs import edit
from diskwright.core.zfs import props as zprops
from diskwright.core.zfs.model import ZfsPool
from diskwright.tui.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

POOL: dict[str, Any] = {
    "pool": "tank",
    "pool_properties": {"ashift": 12, "bootfs": "tank/system/root"},
    "filesystem_properties": {"compression": "lz4", "mountpoint": "legacy", "com.x:team": "a"},
    "datasets": {
        "tank/system/root": {"mount_point": "/"},
        "tank/user/home": {"mount_point": "/home", "properties": {"quota": "1G"}},
        "tank/srv": {"properties": {"mountpoint": "/srv", "canmount": "noauto"}},
        "tank/srv/www": {},
    },
    "volumes": {"tank/swap": {"size": "1GiB"}},
}


def row(pool: dict[str, Any], name: str, key: str) -> edit.Row:
    return next(r for r in edit.rows(pool, name) if r.key == key)


def test_tree_lists_parents_before_children_with_implicit_parents() -> None:
    got = [(e.name, e.kind, e.implicit) for e in edit.entries(POOL)]
    assert got == [
        ("tank", "root", False),
        ("tank/srv", "filesystem", False),
        ("tank/srv/www", "filesystem", False),
        ("tank/swap", "volume", False),
        ("tank/system", "filesystem", True),
        ("tank/system/root", "filesystem", False),
        ("tank/user", "filesystem", True),
        ("tank/user/home", "filesystem", False),
    ]


def test_sources_set_here_inherited_default() -> None:
    home = "tank/user/home"
    assert row(POOL, home, "quota").source_text == "set here"
    assert (row(POOL, home, "compression").value, row(POOL, home, "compression").source_text) == (
        "lz4",
        "inherited from tank",
    )
    assert row(POOL, home, "com.x:team").source_text == "inherited from tank"  # user props too
    assert (row(POOL, home, "atime").value, row(POOL, home, "atime").source) == ("on", "default")
    # quota and canmount are not inherited (zfs_prop.c PROP_DEFAULT): the child has the default
    assert row(POOL, "tank/srv/www", "canmount").source == "default"
    assert row(POOL, "tank/srv/www", "canmount").value == "on"
    assert row(POOL, "tank/user/home", "quota").source == "local"
    # mountpoint comes down with the child's name appended
    www = row(POOL, "tank/srv/www", "mountpoint")
    assert (www.value, www.source_text) == ("/srv/www", "inherited from tank/srv")
    assert row(POOL, home, "mountpoint").source_text == "inherited from tank"
    plain = {"pool": "rpool", "datasets": {"rpool/a/b": {"mount_point": "/b"}}}
    assert (
        row(plain, "rpool/a", "mountpoint").value,
        row(plain, "rpool/a", "mountpoint").source,
    ) == (
        "/rpool/a",
        "default",
    )
    assert row(plain, "rpool/a/b", "mountpoint").source == "local"  # legacy for mount_point
    # set here first, then inherited, then defaults
    order = [r.source for r in edit.rows(POOL, home)][1:]
    assert order == sorted(order, key=["local", "inherited", "default", "unset"].index)


def test_model_agrees_with_the_sources() -> None:
    model = ZfsPool.model_validate(POOL)
    for e in edit.entries(POOL):
        if e.kind == "volume":
            continue
        for r in edit.rows(POOL, e.name):
            if r.key in zprops.FS_PROPERTIES and r.key != "mountpoint" and r.source != "default":
                assert model.effective(e.name, r.key) == r.value, (e.name, r.key)


def test_add_rename_remove_keep_the_pool_valid() -> None:
    pool = edit.add(POOL, "tank/user/data")
    pool = edit.set_value(pool, "tank/user/data", "recordsize", edit.value_from_text("1M"))
    pool = edit.set_value(pool, "tank/user/data", "mount_point", "/data")
    assert pool["datasets"]["tank/user/data"] == {
        "mount_point": "/data",
        "properties": {"recordsize": "1M"},
    }
    ZfsPool.model_validate(pool)
    pool = edit.rename(pool, "tank/system", "tank/os")
    assert "tank/os/root" in pool["datasets"] and "tank/system/root" not in pool["datasets"]
    assert pool["pool_properties"]["bootfs"] == "tank/os/root"
    ZfsPool.model_validate(pool)
    pool = edit.rename(pool, "tank", "rpool")  # renaming the root renames the pool
    assert pool["pool"] == "rpool" and pool["pool_properties"]["bootfs"] == "rpool/os/root"
    assert all(n.startswith("rpool/") for n in [*pool["datasets"], *pool["volumes"]])
    ZfsPool.model_validate(pool)
    assert edit.subtree(pool, "rpool/srv") == ["rpool/srv", "rpool/srv/www"]
    pool = edit.remove(pool, "rpool/srv")
    assert not any(n.startswith("rpool/srv") for n in pool["datasets"])
    pool = edit.remove(pool, "rpool/os")  # takes bootfs with it
    assert "bootfs" not in pool["pool_properties"]
    ZfsPool.model_validate(pool)
    pool = edit.set_value(pool, "rpool/user/data", "recordsize", None)  # back to inherited
    assert pool["datasets"]["rpool/user/data"] == {"mount_point": "/data"}
    assert POOL["pool"] == "tank" and "tank/srv" in POOL["datasets"]  # the input is untouched


@pytest.mark.parametrize(
    ("op", "words"),
    [
        (lambda p: edit.add(p, "tank/srv"), "already in the pool"),
        (lambda p: edit.add(p, "other/x"), "outside the pool"),
        (lambda p: edit.add(p, "tank/swap/x"), "is a volume"),
        (lambda p: edit.add(p, "tank/a@b"), "snapshots"),
        (lambda p: edit.rename(p, "tank/srv", "tank/srv/x"), "into itself"),
        (lambda p: edit.rename(p, "tank/srv", "tank/swap"), "already in the pool"),
        (lambda p: edit.rename(p, "tank", "mirror1"), "vdev keyword"),
        (lambda p: edit.remove(p, "tank"), "cannot be removed"),
        (lambda p: edit.set_value(p, None, "pool", ""), "give the pool a name"),
    ],
)
def test_bad_edits_say_why(op: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        op(copy.deepcopy(POOL))


def test_values_typed_as_text() -> None:
    assert edit.value_from_text("12") == 12
    assert edit.value_from_text("lz4") == "lz4"
    assert edit.value_from_text('"on"') == "on"
    assert edit.value_from_text("true") is True
    assert edit.value_from_text("/srv/x") == "/srv/x"
    assert edit.value_from_text("1M") == "1M"


def test_catalog_inheritance_follows_openzfs() -> None:
    fs = zprops.FS_PROPERTIES
    for name in ("canmount", "quota", "refquota", "reservation", "refreservation", "version"):
        assert not fs[name].inherit, name
    for name in ("compression", "atime", "mountpoint", "xattr", "recordsize", "utf8only"):
        assert fs[name].inherit, name
    assert not any(p.inherit for p in zprops.POOL_PROPERTIES.values())
    assert "2.3" in fs["xattr"].description  # on means sa from OpenZFS 2.3


def test_unknown_property_names_the_near_ones(tmp_path: Path, capsys: Any) -> None:
    with pytest.raises(ValueError, match="did you mean compression"):
        zprops.check_fs_property("compresion", "lz4")
    with pytest.raises(ValueError, match="use one of on, off"):
        zprops.check_fs_property("atime", "sometimes")
    data = tomllib.loads((EXAMPLES / "zfs-root.toml").read_text())
    data.pop("boot", None)
    data["source"]["path"] = str(EXAMPLES / data["source"]["path"])
    pool = data["disks"][1]["partitions"][0]["zfs"]
    pool["datasets"]["tank/user/home"].setdefault("properties", {})["recordsize"] = "3K"
    profile = tmp_path / "p.toml"
    profile.write_text(tomli_w.dumps(data))
    assert main(["validate", str(profile)]) == 2
    err = capsys.readouterr().err
    assert "zfs.datasets.tank/user/home.properties.recordsize" in err, err
    assert "power of two" in err and "Traceback" not in err


def test_a_thick_volume_reserves_its_size() -> None:
    """zfs create -V sets refreservation locally (measured in the helper VM); -s does not."""
    assert row(POOL, "tank/swap", "refreservation").source_text == "set here"
    sparse = edit.set_value(POOL, "tank/swap", "sparse", True)
    assert row(sparse, "tank/swap", "refreservation").source == "default"
    assert not any(r.key == "mount_point" for r in edit.rows(POOL, "tank/swap"))
    assert row(POOL, "tank/swap", "size").value == "1GiB"
