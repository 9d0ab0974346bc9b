"""Compare what the verify VM found in the pool with the profile and the source tree.

The VM leaves a small tar (see job.verify_script): `zpool get`/`zfs get -p`
output, the mounts, and sha256/mode/link lists of the mounted tree. Here, on
the host, the same lists are made from the source and every difference is
named, so a mismatch fails the build with a message a person can act on.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .props import release_of, same_value

MAX_SHOWN = 25


@dataclass
class Found:
    pool: dict[str, tuple[str, str]] = field(default_factory=dict)  # prop → (value, source)
    datasets: dict[str, str] = field(default_factory=dict)  # name → type
    props: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    mounts: list[tuple[str, str]] = field(default_factory=list)  # (dataset, mount path)
    files: dict[str, str] = field(default_factory=dict)  # "./path" → sha256
    entries: dict[str, tuple[str, int, int, str]] = field(default_factory=dict)  # mode uid gid type
    links: dict[str, str] = field(default_factory=dict)


def _lines(blob: bytes) -> list[str]:
    return blob.decode("utf-8", "surrogateescape").splitlines()


def _kind(text: str) -> str:
    if text.startswith("regular"):
        return "file"
    return {"directory": "dir", "symbolic link": "link"}.get(text, "other")


def read_result(path: Path) -> Found:
    """Parse the tar the verify VM wrote onto its result disk."""
    blobs: dict[str, bytes] = {}
    with open(path, "rb") as raw:
        first = raw.read(512)
        if not first.strip(b"\0"):
            raise ValueError("the verify VM wrote no findings (the result disk is empty)")
        raw.seek(0)
        with tarfile.open(fileobj=raw, mode="r:") as tar:
            for member in tar:
                if member.isfile():
                    f = tar.extractfile(member)
                    assert f is not None
                    blobs[member.name.removeprefix("./")] = f.read()
    found = Found()
    for line in _lines(blobs.get("pool.tsv", b"")):
        parts = line.split("\t")
        if len(parts) >= 3:
            found.pool[parts[0]] = (parts[1], parts[2])
    for line in _lines(blobs.get("datasets.tsv", b"")):
        parts = line.split("\t")
        if len(parts) >= 2:
            found.datasets[parts[0]] = parts[1]
    for line in _lines(blobs.get("props.tsv", b"")):
        parts = line.split("\t")
        if len(parts) >= 4:
            found.props[(parts[0], parts[1])] = (parts[2], parts[3])
    for line in _lines(blobs.get("mounts.txt", b"")):
        parts = line.split(" ")
        if len(parts) >= 3:
            found.mounts.append((_unoctal(parts[0]), _unoctal(parts[1])))
    for line in _lines(blobs.get("files.sha256", b"")):
        digest, _, name = line.partition("  ")
        if name:
            found.files[name] = digest
    for line in _lines(blobs.get("entries.txt", b"")):
        head, _, name = line.partition("|")
        bits = head.split(" ", 3)
        if name and len(bits) == 4:
            found.entries[name] = (bits[0], int(bits[1]), int(bits[2]), _kind(bits[3]))
    for line in _lines(blobs.get("links.txt", b"")):
        name, _, target = line.partition("|")
        if name:
            found.links[name] = target
    return found


def _unoctal(text: str) -> str:
    """/proc/mounts escapes space, tab, newline and backslash as \\ooo."""
    out, i = [], 0
    while i < len(text):
        code = text[i + 1 : i + 4]
        if text[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def source_manifest(src: Path) -> Found:
    """The same lists, made on the host from the tree that went into the payload."""
    found = Found()
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, src)
        base = "." if rel_dir == "." else "./" + rel_dir
        for name in sorted(dirnames + filenames):
            entries.append((f"{base}/{name}", Path(dirpath) / name))
    for rel, p in entries:
        st = p.lstat()
        mode = format(stat.S_IMODE(st.st_mode), "o")
        if stat.S_ISLNK(st.st_mode):
            found.links[rel] = os.readlink(p)
            found.entries[rel] = ("777", 0, 0, "link")
        elif stat.S_ISDIR(st.st_mode):
            found.entries[rel] = (mode, 0, 0, "dir")
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            found.files[rel] = h.hexdigest()
            found.entries[rel] = (mode, 0, 0, "file")
        else:
            found.entries[rel] = (mode, 0, 0, "other")
    return found


def compare(expect: dict[str, Any], got: Found, want: Found | None) -> list[str]:
    """Every difference between the pool and the profile (and the source), for a person."""
    problems: list[str] = []
    pool = str(expect["pool"])
    altroot = str(expect.get("altroot", "/mnt"))
    if not got.pool:
        problems.append(f"pool {pool!r}: zpool get returned nothing (was it imported?)")
    release = release_of(got.pool)  # values are compared as the OpenZFS that wrote them means them
    for prop, value in dict(expect.get("pool_properties", {})).items():
        if prop not in got.pool:
            problems.append(f"pool {pool!r}: property {prop} is missing")
            continue
        actual = got.pool[prop][0]
        if not same_value(prop, str(value), actual, "pool"):
            problems.append(f"pool {pool!r}: {prop} is {actual!r}, the profile says {value!r}")
    datasets = dict(expect.get("datasets", {}))
    for name, kind in datasets.items():
        if name not in got.datasets:
            problems.append(f"dataset {name} is missing from the pool")
        elif got.datasets[name] != kind:
            problems.append(f"dataset {name} is a {got.datasets[name]}, expected a {kind}")
    for name in sorted(set(got.datasets) - set(datasets)):
        problems.append(f"dataset {name} is in the pool but not in the profile")
    create_only = set(expect.get("create_only", []))
    for name, props in dict(expect.get("properties", {})).items():
        if name not in got.datasets:
            continue
        for prop, value in dict(props).items():
            row = got.props.get((name, prop))
            if row is None:
                problems.append(f"dataset {name}: property {prop} is missing")
                continue
            actual, source = row
            if prop == "mountpoint" and actual.startswith("/"):
                actual = actual.removeprefix(altroot) or "/"
            if not same_value(prop, str(value), actual, release=release):
                problems.append(f"dataset {name}: {prop} is {actual!r}, the profile says {value!r}")
            elif prop not in create_only and source != "local":
                problems.append(f"dataset {name}: {prop} is {source}, not set on the dataset")
    mounted = {(ds, path) for ds, path in got.mounts}
    for m in list(expect.get("mounts", [])):
        where = altroot if m["path"] == "/" else altroot + m["path"]
        if (m["dataset"], where) not in mounted:
            how = "legacy mount" if m["legacy"] else "ZFS mountpoint"
            problems.append(f"dataset {m['dataset']} did not mount at {m['path']} ({how})")
    if want is not None:
        problems += compare_tree(want, got, set(expect.get("mount_dirs", [])))
    return problems


def compare_tree(want: Found, got: Found, mount_dirs: set[str]) -> list[str]:
    """Source tree vs what the pool holds under the partition's mount point."""
    problems: list[str] = []
    for name in sorted(set(want.files) - set(got.files)):
        problems.append(f"file {name[1:]} is missing from the pool")
    for name in sorted(set(got.files) - set(want.files)):
        problems.append(f"file {name[1:]} is in the pool but not in the source")
    for name in sorted(set(want.files) & set(got.files)):
        if want.files[name] != got.files[name]:
            problems.append(f"file {name[1:]} differs from the source (sha256)")
    for name in sorted(set(want.links) | set(got.links)):
        link_a, link_b = want.links.get(name), got.links.get(name)
        if link_a != link_b:
            problems.append(f"symlink {name[1:]} points to {link_b!r}, the source to {link_a!r}")
    for name in sorted(set(want.entries) | set(got.entries)):
        if name == ".":
            continue
        a, b = want.entries.get(name), got.entries.get(name)
        if a is None:
            if b is not None and b[3] == "dir" and name in mount_dirs:
                continue  # a mount point the pool needs
            if name not in got.files:
                problems.append(f"{name[1:]} is in the pool but not in the source")
        elif b is None:
            if name not in want.files and name not in want.links:
                problems.append(f"{name[1:]} ({a[3]}) is missing from the pool")
        elif a[3] != b[3]:
            problems.append(f"{name[1:]} is a {b[3]} in the pool, a {a[3]} in the source")
        elif a[3] != "link" and (a[0], a[1], a[2]) != (b[0], b[1], b[2]):
            problems.append(
                f"{name[1:]} has mode {b[0]} owner {b[1]}:{b[2]}, "
                f"expected mode {a[0]} owner {a[1]}:{a[2]}"
            )
    return problems


def run_check(expect_path: Path, result_path: Path, source: Path | None) -> tuple[bool, str]:
    """(ok, report) for the `diskwright helper zfs-check` step."""
    expect = json.loads(expect_path.read_text())
    got = read_result(result_path)
    want = source_manifest(source) if source is not None and expect.get("has_payload") else None
    problems = compare(expect, got, want)
    pool = expect["pool"]
    if problems:
        out = io.StringIO()
        out.write(f"zfs-check: pool {pool!r} does not match the profile and the source:\n")
        for p in problems[:MAX_SHOWN]:
            out.write(f"  {p}\n")
        if len(problems) > MAX_SHOWN:
            out.write(f"  … and {len(problems) - MAX_SHOWN} more\n")
        out.write(f"zfs-check: {len(problems)} difference(s) in pool {pool!r}")
        return False, out.getvalue()
    nprops = sum(len(v) for v in dict(expect.get("properties", {})).values())
    nprops += len(dict(expect.get("pool_properties", {})))
    files = f", {len(got.files)} files" if want is not None else ""
    return True, (
        f"zfs-check: pool {pool!r} imports read-only; {len(got.datasets)} datasets, "
        f"{nprops} properties, {len(list(expect.get('mounts', [])))} mounts{files} "
        "match the profile and the source"
    )


__all__ = ["Found", "compare", "read_result", "run_check", "source_manifest"]
