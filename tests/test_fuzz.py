"""Property-based fuzz of `diskwright build` (issue 8): generated profiles and source trees
never crash it, never write outside a scratch folder, and a build that says 0 made images
that open again and hold the source's files, bytes and modes.

Each example: one disk (bare filesystem, GPT or MBR) with up to three partitions
(ext4, erofs, squashfs, vfat, btrfs; nested mount points, some empty), now and then a
second disk; outputs raw/qcow2/vmdk/vdi/vhdx, plain or zstd/xz-compressed; odd names,
symlinks in and out, FIFOs, extra files with modes; one in four runs the printed plan
with plain `sh` instead of `diskwright build`. Half the examples draw only good values,
so that enough of them build and get reopened: every file is compared in the partition
that receives it (modes too, read from the inode where an extractor drops setuid), and
every nested mount point must be a folder in the filesystem above it. A failed build
(exit 1/2, or sh's non-zero) leaves no output.

CI runs 16 fixed examples (derandomized; about 30 s on an idle 2-core machine). Run it
long with, e.g.:

    DISKWRIGHT_FUZZ_EXAMPLES=2000 DISKWRIGHT_FUZZ_RANDOM=1 .venv/bin/pytest tests/test_fuzz.py

(`DISKWRIGHT_FUZZ_RANDOM=1` draws new examples each run instead of the fixed seed;
`DISKWRIGHT_FUZZ_WHY=1` adds each failure's last line to the statistics shown by
`--hypothesis-show-statistics`; `DISKWRIGHT_FUZZ_SHRINK=0` reports a failing example as
found, without minutes of shrinking real builds.)
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from imagecheck import cut, erofs_mode, ext4_mode, extract, partitions, to_raw
from testkit import leftovers, run_cli, snapshot

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("DISKWRIGHT_FUZZ_EXAMPLES", "16"))
RANDOM = os.environ.get("DISKWRIGHT_FUZZ_RANDOM") == "1"
# DISKWRIGHT_FUZZ_SHRINK=0: report the first failing example as found (shrinking one that
# runs real builds can take minutes)
PHASES = tuple(p for p in Phase if p != Phase.shrink
               or os.environ.get("DISKWRIGHT_FUZZ_SHRINK", "1") != "0")


@dataclass(frozen=True)
class Mostly:
    """About nine good values to one odd one, so that enough builds get to the tools; a
    clean example (half of them) draws only good ones, so that several partitions, disks
    and outputs still build often enough to be opened and compared."""

    good: list[Any]
    odd: list[Any]

    def __call__(self, clean: bool) -> st.SearchStrategy[Any]:
        g = st.sampled_from(self.good)
        return g if clean else st.one_of(*[g] * 9, st.sampled_from(self.odd))


mostly = Mostly


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
FILE_MODES = mostly([0o644, 0o600, 0o755, 0o4755, 0o640], [0o444, 0o2711, 0o7777, 0o000])
DIR_MODES = mostly([0o755, 0o700, 0o750], [0o1777, 0o2755, 0o555])
# where other partitions mount; entries land under them too
MOUNTS = ["/srv", "/srv/deep", "/var", "/boot", "/opt/x"]
PREFIXES = st.sampled_from(["", "", "", "srv", "srv/deep", "var", "boot", "opt/x"])
SIMPLE_NAME = st.text("abcdefgh_-.0123", min_size=1, max_size=8).filter(
    lambda n: n not in (".", ".."))


def entry(clean: bool) -> st.SearchStrategy[tuple[list[str], str, bytes, int, int]]:
    names = st.lists(SIMPLE_NAME if clean else NAME, min_size=1, max_size=3)
    return st.tuples(st.tuples(PREFIXES, names).map(
                         lambda t: [*filter(None, t[0].split("/")), *t[1]]),
                     st.sampled_from(KINDS), st.binary(max_size=64), FILE_MODES(clean),
                     DIR_MODES(clean))


SIZES = mostly(["auto", "40MiB"], ["1MiB", "0", "1", "7KiB", "-1MiB", "1.5MiB",
                                   "9" * 60 + "MiB", "64 MiB", "abc", "2GiB"])
LABELS = mostly([None, "ROOT", "DATA"], ["", "a b", "$(id)", "ünï", "L" * 40, "bad'label",
                                         "x\ny", "EFI", "root"])
OUTPUTS = mostly(["out.img", "./out.img", "a b.img", "$(touch PWNED).img", "ü.img"],
                 ["sub/out.img", "-x.img", "o\nut.img", "x" * 300 + ".img",
                  "/dev/shm/x.img", "//dev/shm/x.img", "out.img/", "root/in-source.img",
                  "p.toml", "payload"])
TARGETS = mostly(["/etc/x", "/new/deep/file", "/a b", "/$(id)", "/srv/x", "/var/new/y"],
                 ["//etc/y", "/", "//", "/etc/../x", "relative", "/ünï"])
MODES = mostly(["0644", "4755", "0600"], ["0000", "7777", "755", "abc", "0o644", "08",
                                          "17777"])
FILE_SOURCES = mostly(["payload"], ["missing", "root", "."])
FORMATS = mostly(["raw", "raw", "qcow2"], ["vmdk", "vdi", "vhdx"])
COMPRESSION = mostly(["none", "none", "zstd"], ["xz"])
SOURCE_PATHS = mostly(["root"], ["./root", "root/", "missing", "payload", "."])
MODE_READERS: dict[str, Callable[[Path, str], int | None]] = {
    "erofs": erofs_mode, "ext4": ext4_mode}
FILESYSTEMS = ["ext4", "ext4", "erofs", "squashfs", "vfat", "btrfs"]


@dataclass
class Case:
    """One generated build: the source tree's entries and the profile's data."""

    entries: list[tuple[list[str], str, bytes, int, int]]
    profile: dict[str, Any]
    mappings: list[dict[str, Any]] = field(default_factory=list)
    mount_dirs: list[str] = field(default_factory=list)  # made in the tree first
    via_sh: bool = False  # `diskwright plan` run with sh instead of `diskwright build`

    def parts(self) -> list[tuple[int, dict[str, Any]]]:
        return [(d, p) for d, disk in enumerate(self.profile["disks"])
                for p in disk["partitions"]]


def partition(draw: st.DrawFn, mount: str, role: str, clean: bool) -> dict[str, Any]:
    fs = draw(st.sampled_from(FILESYSTEMS))
    part: dict[str, Any] = {"role": role, "filesystem": fs, "mount_point": mount,
                            "size": draw(SIZES(clean))}
    if role != "root" and draw(st.integers(0, 5)) == 0:
        part["empty"] = True
    label = draw(LABELS(clean))
    if label is not None and (fs != "squashfs" or label == "L" * 40):
        part["label"] = label
    return part


@st.composite
def cases(draw: st.DrawFn) -> Case:
    clean = draw(st.booleans())
    table = draw(st.sampled_from(["none", "gpt", "mbr"]))
    more = draw(st.lists(st.sampled_from(MOUNTS), unique=True, max_size=3))
    here = more[:0] if table == "none" else more[:2]  # a bare filesystem holds one
    root = partition(draw, "/", "root", clean)
    if root["filesystem"] == "vfat":
        root["role"] = "data"
    parts = [root] + [partition(draw, m, "data", clean) for m in here]
    mappings = draw(st.lists(st.fixed_dictionaries({
        "source": FILE_SOURCES(clean),
        "target": st.one_of(TARGETS(clean), TARGETS(clean),
                            (SIMPLE_NAME if clean else NAME).map(lambda n: "/" + n)),
        "mode": MODES(clean),
    }), max_size=3))
    source: dict[str, Any] = {"path": draw(SOURCE_PATHS(clean))}
    if mappings:
        source["files"] = mappings
    disks: list[dict[str, Any]] = [{
        "name": "d", "table": table, "partitions": parts,
        "output": {"path": draw(OUTPUTS(clean)), "format": draw(FORMATS(clean)),
                   "compression": draw(COMPRESSION(clean))}}]
    if more[len(here):] and draw(st.booleans()):  # a second disk, one filesystem on it
        disks.append({"name": "e", "table": draw(st.sampled_from(["none", "gpt"])),
                      "partitions": [partition(draw, more[len(here)], "data", clean)],
                      "output": {"path": "second.img", "format": draw(FORMATS(clean)),
                                 "compression": draw(COMPRESSION(clean))}})
    profile = {"version": 1, "name": "fuzz", "source": source,
               "reproducible": {"source_date_epoch": 1700000000}, "disks": disks}
    mounts = [p["mount_point"] for d in disks for p in d["partitions"][1 if d is disks[0]
                                                                        else 0:]]
    # mostly the mount points exist; now and then one is missing (refused, exit 2)
    made = [m for m in mounts if clean or draw(st.integers(0, 9))]
    entries = draw(st.lists(entry(clean), max_size=8))
    return Case(entries, profile, mappings, made, via_sh=draw(st.integers(0, 3)) == 0)


def make_tree(root: Path, sentinel: Path, case: Case) -> dict[str, tuple[bytes, int]]:
    """Create the entries under root; return rel path → (bytes, mode) of regular files and
    (b"", mode | S_IFDIR) of the folders the entries asked for."""
    root.mkdir()
    for m in case.mount_dirs:
        (root / m.lstrip("/")).mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[bytes, int]] = {}
    modes: list[tuple[Path, int]] = []
    for parts, kind, data, fmode, dmode in case.entries:
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
        rel = str(p.relative_to(root))
        if kind == "file":
            p.write_bytes(data)
            modes.append((p, fmode))
            files[rel] = (data, fmode)
        elif kind == "dir":
            p.mkdir()
            modes.append((p, dmode))
            files[rel] = (b"", dmode | stat.S_IFDIR)
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
    for p, mode in reversed(modes):  # deepest last made first: a 0555 folder is filled
        p.chmod(mode)
    return files


def reopen(case: Case, scratch: Path, work: Path) -> dict[tuple[int, int], Path]:
    """Each filesystem of each output, as an image file: decompressed, converted to raw,
    its partitions cut out of the disk."""
    out: dict[tuple[int, int], Path] = {}
    for d, disk in enumerate(case.profile["disks"]):
        o = disk["output"]
        image = (scratch / o["path"]).resolve()
        assert image.is_file() and image.is_relative_to(scratch.resolve()), image
        if o["compression"] != "none":
            plain = work / f"disk{d}.unpacked"
            with open(plain, "wb") as f:
                tool = ["zstd", "-q", "-d", "-c"] if o["compression"] == "zstd" else \
                    ["xz", "-d", "-c"]
                subprocess.run([*tool, str(image)], stdout=f, check=True)
            image = plain
        if o["format"] != "raw":
            image = to_raw(image, work / f"disk{d}.raw")
        if disk["table"] == "none":
            out[(d, 0)] = image
            continue
        parts = partitions(image)["partitions"]
        assert isinstance(parts, list) and len(parts) == len(disk["partitions"]), parts
        for i, p in enumerate(parts):
            out[(d, i)] = cut(image, p["start"], p["size"], work / f"d{d}p{i}.img")
    return out


def owner(case: Case, rel: str) -> tuple[int, int]:
    """(disk, partition) that receives `rel`: the deepest non-empty mount point over it."""
    best, depth = (0, 0), -1
    for d, disk in enumerate(case.profile["disks"]):
        for i, p in enumerate(disk["partitions"]):
            m = p["mount_point"].strip("/")
            if p.get("empty") or not (m == "" or rel == m or rel.startswith(m + "/")):
                continue
            here = len(m.split("/")) if m else 0
            if rel != m and here > depth:
                best, depth = (d, i), here
    return best


def expected(case: Case, files: dict[str, tuple[bytes, int]],
             payload: bytes) -> dict[str, tuple[bytes, int]]:
    """What the images must hold: the tree's files and folders, mapped targets replaced."""
    want = dict(files)
    for m in case.mappings:
        if m["source"] == "payload":
            want[m["target"].lstrip("/")] = (payload, int(m["mode"], 8))
    return want


def check_images(case: Case, files: dict[str, tuple[bytes, int]], payload: bytes,
                 scratch: Path, detail: str) -> None:
    """Every file in the partition that receives it, bytes and mode (vfat: bytes only);
    every other partition's mount point a folder in the one above it."""
    work = scratch / "tmp"
    images = reopen(case, scratch, work)
    fs = {(d, i): p["filesystem"] for d, disk in enumerate(case.profile["disks"])
          for i, p in enumerate(disk["partitions"])}
    trees = {k: extract(fs[k], img, work / f"x{k[0]}{k[1]}") for k, img in images.items()}
    for rel, (data, mode) in expected(case, files, payload).items():
        key = owner(case, rel)
        sub = case.profile["disks"][key[0]]["partitions"][key[1]]["mount_point"].strip("/")
        got = trees[key] / (rel[len(sub):].lstrip("/") if sub else rel)
        where = f"{rel!r} in {fs[key]} partition {key}"
        if stat.S_ISDIR(mode):
            assert got.is_dir(), f"{where} missing\n{detail}"
        else:
            assert got.is_file() and got.read_bytes() == data, \
                f"{where} missing or changed\n{detail}"
        if fs[key] != "vfat" and not (fs[key] == "btrfs" and stat.S_ISDIR(mode)):
            # vfat keeps no modes; `btrfs restore -m` restores files' modes, not folders'
            # (the image has them: dump-tree shows 40700 for a 0700 folder)
            have = stat.S_IMODE(got.lstat().st_mode)
            inner = "/" + (rel[len(sub):].lstrip("/") if sub else rel)
            if fs[key] in MODE_READERS:  # their extractors drop setuid/setgid/sticky bits
                full = MODE_READERS[fs[key]](images[key], inner)
                have = stat.S_IMODE(full) if full is not None else have | (mode & 0o7000)
            assert have == stat.S_IMODE(mode), f"{where}: mode {have:o}, not {mode:o}\n{detail}"
    for _d, p in case.parts():
        m = p["mount_point"].strip("/")
        if not m:
            continue  # every other mount point, an empty partition's too, is in its parent
        parent = owner(case, m)
        top = case.profile["disks"][parent[0]]["partitions"][parent[1]]["mount_point"]
        inner = m[len(top.strip("/")):].lstrip("/")
        assert (trees[parent] / inner).is_dir(), f"mount point /{m} not in {parent}\n{detail}"


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except OSError:  # a name too long to exist
        return False


def run_build(case: Case, scratch: Path) -> tuple[int, str]:
    """`diskwright build`, or the printed plan run with plain sh (exit: sh's own)."""
    env = {"TMPDIR": str(scratch / "tmp")}
    if not case.via_sh:
        r = run_cli("build", "p.toml", cwd=scratch, timeout=300, env=env)
        return r.returncode, r.stderr
    r = run_cli("plan", "p.toml", cwd=scratch, timeout=300, env=env)
    if r.returncode != 0:
        assert r.returncode in (1, 2), r.stderr
        return r.returncode, r.stderr
    (scratch / "tmp/plan.sh").write_text(r.stdout)
    s = subprocess.run(["sh", str(scratch / "tmp/plan.sh")], cwd=scratch, timeout=300,
                       capture_output=True, text=True, env={**os.environ, **env})
    return (0 if s.returncode == 0 else 1), s.stderr


@settings(derandomize=not RANDOM, max_examples=EXAMPLES, deadline=None, phases=PHASES,
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
        rc, err = run_build(case, scratch)
        how = "sh" if case.via_sh else "build"
        detail = f"profile:\n{tomli_w.dumps(case.profile)}\nentries: {case.entries!r}\n" \
                 f"mount dirs: {case.mount_dirs}\n{how} exit {rc}\nstderr:\n{err}"
        kinds = "+".join(p["filesystem"] for _, p in case.parts())
        event(f"{how} {kinds} exit {rc}")
        if rc and os.environ.get("DISKWRIGHT_FUZZ_WHY"):
            event(err.strip().splitlines()[-1][:90] if err.strip() else "?")
        assert rc in (0, 1, 2), detail
        assert "Traceback" not in err and "unexpected error" not in err, detail
        assert snapshot(sentinel) == before_sentinel, detail
        assert sorted(os.listdir(base)) == before_parent, detail
        assert sorted(os.listdir("/dev/shm")) == before_shm, detail
        assert leftovers(scratch) == [], detail
        assert not (scratch / "PWNED").exists(), detail
        assert (scratch / "payload").read_bytes() == payload, detail
        assert (scratch / "p.toml").read_bytes() == profile_bytes, detail
        outs = [scratch / d["output"]["path"] for d in case.profile["disks"]]
        if rc == 0:
            check_images(case, files, payload, scratch, detail)
        else:  # all or nothing: no output of a failed build is there
            assert not any(_is_file(o) for o in outs if o.name not in ("payload", "p.toml")), \
                detail
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
