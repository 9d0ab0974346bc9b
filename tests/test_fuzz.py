"""Property-based fuzz of `diskwright build` (issue 8): generated profiles and source trees
never crash it, never write outside a scratch folder, and a build that says 0 made an image
that opens again and holds the source's files.

CI runs a handful of fixed examples (derandomized). Run it long with, e.g.:

    DISKWRIGHT_FUZZ_EXAMPLES=2000 DISKWRIGHT_FUZZ_RANDOM=1 .venv/bin/pytest tests/test_fuzz.py

(`DISKWRIGHT_FUZZ_RANDOM=1` draws new examples each run instead of the fixed seed.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import leftovers, run_cli, snapshot
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from imagecheck import cut, extract, partitions, to_raw

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("DISKWRIGHT_FUZZ_EXAMPLES", "16"))
RANDOM = os.environ.get("DISKWRIGHT_FUZZ_RANDOM") == "1"


def mostly(good: list[Any], odd: list[Any]) -> st.SearchStrategy[Any]:
    """About nine good values to one odd one, so that enough builds get to the tools."""
    g = st.sampled_from(good)
    return st.one_of(*[g] * 9, st.sampled_from(odd))


ODD_NAMES = ["a b", "-rf", "$(touch PWNED)", "`id`", "x;y", "'q'", '"dq"', "back\\slash",
             "new\nline", "ünïcode", "Case", "case", "CON", "trail.", " lead", "*", "?",
             "a:b", "." * 3, "x" * 254, "emoji\U0001f600", "tab\tname"]
NAME = st.one_of(
    st.text("abcdefgh_-.0123", min_size=1, max_size=8),
    st.text("abcdefgh_-.0123", min_size=1, max_size=8),
    st.sampled_from(ODD_NAMES),
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
            min_size=1, max_size=12),
).filter(lambda n: n not in (".", "..") and len(n.encode()) <= 255)
KINDS = ["file", "file", "file", "file", "dir", "fifo", "link-in", "link-out",
         "link-out-rel", "link-dangling"]
ENTRY = st.tuples(st.lists(NAME, min_size=1, max_size=3), st.sampled_from(KINDS),
                  st.binary(max_size=64))
SIZES = mostly(["auto", "40MiB"], ["1MiB", "0", "1", "7KiB", "-1MiB", "1.5MiB",
                                   "9" * 60 + "MiB", "64 MiB", "abc", "2GiB"])
LABELS = mostly([None, "ROOT", "DATA"], ["", "a b", "$(id)", "ünï", "L" * 40, "bad'label",
                                         "x\ny", "EFI", "root"])
OUTPUTS = mostly(["out.img", "./out.img", "a b.img", "$(touch PWNED).img", "ü.img"],
                 ["sub/out.img", "-x.img", "o\nut.img", "x" * 300 + ".img",
                  "/dev/shm/x.img", "//dev/shm/x.img", "out.img/", "root/in-source.img",
                  "p.toml", "payload"])
TARGETS = mostly(["/etc/x", "/new/deep/file", "/a b", "/$(id)"],
                 ["//etc/y", "/", "//", "/etc/../x", "relative", "/ünï"])
MODES = mostly(["0644", "4755", "0600"], ["0000", "7777", "755", "abc", "0o644", "08",
                                          "17777"])
FILE_SOURCES = mostly(["payload"], ["missing", "root", "."])
FORMATS = mostly(["raw", "raw", "qcow2"], ["vmdk", "vdi", "vhdx"])
SOURCE_PATHS = mostly(["root"], ["./root", "root/", "missing", "payload", "."])


@dataclass
class Case:
    """One generated build: the source tree's entries and the profile's data."""

    entries: list[tuple[list[str], str, bytes]]
    profile: dict[str, Any]
    fs: str
    mappings: list[dict[str, Any]] = field(default_factory=list)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    fs = draw(st.sampled_from(["ext4", "erofs", "squashfs", "vfat"]))
    table = draw(st.sampled_from(["none", "gpt", "mbr"]))
    part: dict[str, Any] = {"role": "data" if fs == "vfat" else "root",
                            "filesystem": fs, "mount_point": "/",
                            "size": draw(SIZES)}
    label = draw(LABELS)
    if label is not None and (fs != "squashfs" or label == "L" * 40):
        part["label"] = label
    mappings = draw(st.lists(st.fixed_dictionaries({
        "source": FILE_SOURCES,
        "target": st.one_of(TARGETS, TARGETS, NAME.map(lambda n: "/" + n)),
        "mode": MODES,
    }), max_size=3))
    source: dict[str, Any] = {"path": draw(SOURCE_PATHS)}
    if mappings:
        source["files"] = mappings
    disk: dict[str, Any] = {"name": "d", "table": table,
                            "output": {"path": draw(OUTPUTS), "format": draw(FORMATS)},
                            "partitions": [part]}
    profile = {"version": 1, "name": "fuzz", "source": source,
               "reproducible": {"source_date_epoch": 1700000000}, "disks": [disk]}
    entries = draw(st.lists(ENTRY, max_size=8))
    return Case(entries, profile, fs, mappings)


def make_tree(root: Path, sentinel: Path, case: Case) -> dict[str, bytes]:
    """Create the entries under root; return rel path → bytes of the regular files."""
    root.mkdir()
    files: dict[str, bytes] = {}
    for parts, kind, data in case.entries:
        parent = root
        ok = True
        for name in parts[:-1]:
            parent = parent / name
            if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
                ok = False
                break
            parent.mkdir(exist_ok=True)
        p = parent / parts[-1]
        if not ok or p.exists() or p.is_symlink():
            continue
        if kind == "file":
            p.write_bytes(data)
            files[str(p.relative_to(root))] = data
        elif kind == "dir":
            p.mkdir()
        elif kind == "fifo":
            os.mkfifo(p)
        elif kind == "link-in":
            p.symlink_to(os.path.relpath(root, parent) + "/" + (parts[0] if len(parts) > 1
                                                                 else "."))
        elif kind == "link-out":
            p.symlink_to(sentinel / ("keep.txt" if data[:1] < b"\x80" else ""))
        elif kind == "link-out-rel":
            p.symlink_to(os.path.relpath(sentinel, parent))
        else:
            p.symlink_to("nowhere/at/all")
    return files



def image_fs(image: Path, table: str, work: Path) -> Path:
    """The filesystem inside the output: the file itself, or its one partition cut out."""
    if table == "none":
        return image
    parts = partitions(image)["partitions"]
    assert isinstance(parts, list) and len(parts) == 1, parts
    return cut(image, parts[0]["start"], parts[0]["size"], work / "part.img")


def expected_files(case: Case, files: dict[str, bytes], payload: bytes) -> dict[str, bytes]:
    """What the image must hold: the tree's files, with mapped targets replaced."""
    want = dict(files)
    for m in case.mappings:
        rel = m["target"].lstrip("/")
        if m["source"] == "payload":
            want[rel] = payload
    return want


@settings(derandomize=not RANDOM, max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_fuzz_build(case: Case, tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("fuzz")
    scratch = base / "scratch"
    sentinel = base / "sentinel"
    scratch.mkdir()
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("keep me\n")
    (sentinel / "keep.txt").chmod(0o600)
    (sentinel / "sub").mkdir()
    (sentinel / "sub/deep").write_bytes(b"\x00deep")
    payload = b"payload bytes\n"
    (scratch / "payload").write_bytes(payload)
    files = make_tree(scratch / "root", sentinel, case)
    (scratch / "p.toml").write_text(tomli_w.dumps(case.profile))
    (scratch / "tmp").mkdir()
    before_sentinel = snapshot(sentinel)
    before_parent = sorted(os.listdir(base))
    before_shm = sorted(os.listdir("/dev/shm"))
    profile_bytes = (scratch / "p.toml").read_bytes()
    try:
        r = run_cli("build", "p.toml", cwd=scratch, timeout=300,
                    env={"TMPDIR": str(scratch / "tmp")})
        detail = f"profile:\n{tomli_w.dumps(case.profile)}\nentries: {case.entries!r}\n" \
                 f"exit {r.returncode}\nstderr:\n{r.stderr}"
        event(f"{case.fs} exit {r.returncode}")
        if r.returncode and os.environ.get("DISKWRIGHT_FUZZ_WHY"):
            event(r.stderr.strip().splitlines()[-1][:90] if r.stderr.strip() else "?")
        assert r.returncode in (0, 1, 2), detail
        assert "Traceback" not in r.stderr and "unexpected error" not in r.stderr, detail
        assert snapshot(sentinel) == before_sentinel, detail
        assert sorted(os.listdir(base)) == before_parent, detail
        assert sorted(os.listdir("/dev/shm")) == before_shm, detail
        assert leftovers(scratch) == [], detail
        assert not (scratch / "PWNED").exists(), detail
        assert (scratch / "payload").read_bytes() == payload, detail
        assert (scratch / "p.toml").read_bytes() == profile_bytes, detail
        if r.returncode == 0:
            out = (scratch / case.profile["disks"][0]["output"]["path"]).resolve()
            assert out.is_file() and out.is_relative_to(scratch.resolve()), detail
            if case.profile["disks"][0]["output"]["format"] != "raw":
                out = to_raw(out, scratch / "tmp/raw.img")
            fs_image = image_fs(out, case.profile["disks"][0]["table"], scratch / "tmp")
            got = extract(case.fs, fs_image, scratch / "tmp/x")
            for rel, data in expected_files(case, files, payload).items():
                assert (got / rel).is_file() and (got / rel).read_bytes() == data, \
                    f"{rel!r} missing or changed in the image\n{detail}"
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
