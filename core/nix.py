"""Nix store closures as a source: resolve, scan (cached by path), stage, register.

A closure lands in the image tree at /nix/store; a store-only partition
(contents = "/nix/store") gets the store paths at its root, like the store
disks of nixpkgs' qemu-vm and microvm.nix. The paths are never copied into
diskwright's own folders at plan time: the build hard-links them from the
store into the partition's staging folder (copying, with reflinks where the
filesystem can, only when links cannot work) and mkfs reads that.

The registration `nix-store --load-db` needs (what `nix-store --dump-db`
prints for the closure) is written into the image as /nix-path-registration
(make-ext4-fs style) and/or beside the output (microvm.nix's regInfo).

Every command here passes `--store DIR` for a store kept in another folder,
so a chroot store never makes Nix touch the host's /nix.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .closure import REGISTRATION_TARGET, STORE_DIR, STORE_KEY, Closure, RegistrationPlan
from .errors import ProfileError
from .layout import PartInfo, resolve
from .outpaths import guard_step
from .plan import And, Expr, Or, Step, Word, cmd, ws
from .profile import Profile, Registration, SourceRef
from .scan import Scan, ScanCancelled, Stats
from .storecache import PathScan, scan_store_path
from .tools import which

if TYPE_CHECKING:  # hints only: the filesystems' context sits above Nix
    from .fs.base import PartCtx

REGISTRATION_MODE = "0644"
REGISTRATION_SUFFIX = ".nix-path-registration"
CLOSURE_LIST = "nix-closure.paths"  # workspace files the plan makes
CLOSURE_FILES = "nix-closure.files"
REGISTRATION_FILE = "nix-path-registration"
INSTALL_HINT = (
    "install Nix: `sudo apt-get install nix-bin` (Debian/Ubuntu), `sudo dnf install nix` "
    "(Fedora), `sudo pacman -S nix` (Arch) or see https://nixos.org/download — "
    "`diskwright doctor` lists it; or use a folder as source.path instead"
)
_INSTALLABLE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|[#^]")
_DUMP_BATCH = 1000  # paths per nix-store call: argv stays far below ARG_MAX


def nix_store_argv(store_root: Path | None) -> list[str]:
    """`nix-store` aimed at the right store; a chroot store is opened directly, not via a daemon."""
    argv = ["nix-store"]
    if store_root is not None:
        # build-users-group only matters for builds; unset it so a missing nixbld group
        # does not print a warning on every call
        argv += ["--store", str(store_root), "--option", "build-users-group", ""]
    return argv


def store_root(profile: SourceRef) -> Path | None:
    """The chroot store's folder, symlinks resolved (Nix refuses a store reached through one)."""
    return profile.resolve(profile.source.store).resolve() if profile.source.store else None


def _run(argv: list[str], field_name: str, what: str) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    except OSError as err:
        raise ProfileError(field_name, f"cannot run {argv[0]} ({err.strerror})",
                           INSTALL_HINT) from None
    except subprocess.TimeoutExpired:
        raise ProfileError(field_name, f"{argv[0]} took too long to {what}", "try again") from None
    if r.returncode != 0:
        lines = [ln.strip() for ln in r.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:")] or lines or ["no message"]
        msg = errors[-1].removeprefix("error:").strip()
        raise ProfileError(field_name, f"{argv[0]} could not {what}: {msg}", _fix_for(msg))
    return r.stdout


def _fix_for(msg: str) -> str:
    if "is not valid" in msg:
        return "build or fetch it first (nix-build / nix build / nix copy), or fix the entry"
    if "not in the Nix store" in msg:
        return "name a store path (/nix/store/…) or a link to one, like nix-build's ./result"
    if "experimental" in msg:
        return "use a store path or a result link, or enable the nix-command feature"
    return "check the entry and source.store"


def _to_store_path(entry: Path, root: Path | None) -> str | None:
    """The store path a file, link or path inside a store path stands for (no I/O on /nix)."""
    store = (root / STORE_DIR.lstrip("/")) if root is not None else Path(STORE_DIR)
    s = os.path.normpath(str(entry))
    for _ in range(64):  # a link loop ends here instead of hanging
        if root is not None and (s == str(store) or s.startswith(str(store) + "/")):
            s = STORE_DIR + s[len(str(store)) :]
        if s.startswith(STORE_DIR + "/"):
            name = s[len(STORE_DIR) + 1 :].split("/", 1)[0]
            return f"{STORE_DIR}/{name}" if name else None
        if os.path.islink(s):
            s = os.path.normpath(os.path.join(os.path.dirname(s), os.readlink(s)))
            continue
        parent, leaf = os.path.split(s)
        real_parent = os.path.realpath(parent) if parent else parent
        if real_parent != parent:
            s = os.path.join(real_parent, leaf)
            continue
        return None
    return None


def resolve_closure(profile: SourceRef) -> Closure:
    """Ask Nix for the closure of the profile's entries; ProfileError explains any failure."""
    t0 = time.monotonic()
    src = profile.source
    root = store_root(profile)
    if which("nix-store") is None:
        raise ProfileError(
            "source.closure",
            "Nix is not installed here, so the closure cannot be resolved (nix-store is missing)",
            INSTALL_HINT,
        )
    if root is not None:
        if not (root / STORE_DIR.lstrip("/")).is_dir():
            raise ProfileError(
                "source.store",
                f"{root} holds no Nix store (no {root / STORE_DIR.lstrip('/')})",
                "point it at the DIR you gave nix-store --store, or remove it for /nix",
            )
    roots: list[str] = []
    installables: list[tuple[int, str]] = []
    for i, entry in enumerate(src.closure):
        where = f"source.closure[{i}]"
        if entry.startswith(STORE_DIR + "/"):
            roots.append("/".join(entry.split("/")[:4]))
            continue
        local = profile.resolve(entry)
        if _INSTALLABLE.search(entry) and not (local.exists() or local.is_symlink()):
            installables.append((i, entry))
            continue
        if not (local.exists() or local.is_symlink()):
            raise ProfileError(
                where, f"{local} does not exist",
                "name a store path, a result link (nix-build's ./result) or an installable",
            )
        path = _to_store_path(local, root)
        if path is None:
            raise ProfileError(
                where, f"{local} is not in the Nix store and does not link into it",
                "name a store path or a link to one, like nix-build's ./result",
            )
        roots.append(path)
    for i, inst in installables:
        roots += _installable_paths(profile, i, inst, root)
    roots = list(dict.fromkeys(roots))
    base = nix_store_argv(root)
    try:
        out = _run([*base, "--query", "--requisites", "--", *roots], "source.closure",
                   "resolve the closure")
    except ProfileError:
        _pinpoint(base, roots, profile)
        raise
    paths = tuple(sorted({ln.strip() for ln in out.splitlines() if ln.strip()}))
    nar_hash: dict[str, str] = {}
    nar_size = 0
    reg_bytes = 0
    for i in range(0, len(paths), _DUMP_BATCH):
        dump = _run([*base, "--dump-db", "--", *paths[i : i + _DUMP_BATCH]], "source.closure",
                    "read the registration")
        reg_bytes += len(dump.encode())
        for path, h, size in parse_registration(dump):
            nar_hash[path] = h
            nar_size += size
    missing = [p for p in paths if p not in nar_hash]
    if missing:
        raise ProfileError("source.closure", f"Nix has no registration for {missing[0]}",
                           "run nix-store --verify on that store")
    return Closure(tuple(roots), paths, root, nar_hash, nar_size, reg_bytes,
                   time.monotonic() - t0)


def _pinpoint(base: list[str], roots: list[str], profile: SourceRef) -> None:
    """Re-ask per root so the error names the entry that failed."""
    for root_path in roots:
        r = subprocess.run([*base, "--query", "--hash", "--", root_path], capture_output=True,
                           text=True, check=False)
        if r.returncode != 0:
            idx = _entry_index(profile, root_path)
            msg = (r.stderr.strip().splitlines() or ["not valid"])[-1].removeprefix("error:")
            raise ProfileError(f"source.closure[{idx}]" if idx is not None else "source.closure",
                               f"{root_path}: {msg.strip()}", _fix_for(msg))


def _entry_index(profile: SourceRef, path: str) -> int | None:
    root = store_root(profile)
    for i, entry in enumerate(profile.source.closure):
        if entry.startswith(path) or _to_store_path(profile.resolve(entry), root) == path:
            return i
    return None


def _installable_paths(
    profile: SourceRef, i: int, inst: str, root: Path | None
) -> list[str]:
    """Installables (flake references) through `nix path-info`, where the nix command exists."""
    where = f"source.closure[{i}]"
    if which("nix") is None:
        raise ProfileError(where, f"{inst!r} is an installable and needs the nix command",
                           "install Nix 2.4 or newer, or name the store path or result link")
    argv = ["nix", "--extra-experimental-features", "nix-command flakes", "path-info"]
    if root is not None:
        argv += ["--store", str(root), "--option", "build-users-group", ""]
    out = _run([*argv, "--", inst], where, f"resolve {inst!r}")
    found = [ln.strip() for ln in out.splitlines() if ln.strip().startswith(STORE_DIR + "/")]
    if not found:
        raise ProfileError(where, f"{inst!r} names no store path", "build it first (nix build)")
    return found


def parse_registration(text: str) -> list[tuple[str, str, int]]:
    """(path, NAR hash, NAR size) per record of `nix-store --dump-db` output."""
    lines = text.split("\n")
    out: list[tuple[str, str, int]] = []
    i = 0
    while i + 4 < len(lines) and lines[i]:
        path, h, size, _deriver, n = lines[i : i + 5]
        out.append((path, h.removeprefix("sha256:"), int(size)))
        i += 5 + int(n)
    return out


# ------------------------------------------------------------------ scanning


def scan_closure(
    profile: SourceRef,
    base: Scan | None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Scan:
    """Resolve the closure and merge each store path's (cached) scan into the tree at /nix/store."""
    t0 = time.monotonic()
    closure = resolve_closure(profile)
    parts = []
    entries = total = 0
    for path in closure.paths:
        if cancel is not None and cancel.is_set():
            raise ScanCancelled()
        try:
            ps = scan_store_path(closure.physical(path), path, closure.nar_hash[path],
                                 cancel=cancel)
        except OSError as err:
            raise ProfileError(
                "source.closure",
                f"{path} is registered in the store but cannot be read at "
                f"{closure.physical(path)} ({err.strerror})",
                "repair the store (nix-store --verify --check-contents --repair) or fix "
                "its permissions",
            ) from None
        parts.append(ps)
        if progress is not None:
            st = ps.total()
            entries += st.entries
            total += st.bytes
            progress(entries, total)
    scan = _merge(base, closure, parts)
    scan.seconds = time.monotonic() - t0 + (base.seconds if base else 0.0)
    return scan


def _merge(base: Scan | None, closure: Closure, parts: list[PathScan]) -> Scan:
    """One Scan of the base tree (if any) with the closure's paths under nix/store."""
    dirs: dict[str, Stats] = dict(base.dirs) if base else {}
    children: dict[str, list[str]] = dict(base.children) if base else {}
    ownership = dict(base.ownership) if base else {}
    unreadable = list(base.unreadable) if base else []
    files = dict(base.files) if base else {}
    synthetic: set[str] = set()
    for key, parent, name in (("", None, ""), ("nix", "", "nix"), (STORE_KEY, "nix", "store")):
        if key in dirs:
            dirs[key] = _copy(dirs[key])
            children[key] = list(children.get(key, []))
            continue
        synthetic.add(key)
        dirs[key] = Stats(dirs=1)
        children[key] = []
        if parent is not None:
            children[parent] = sorted({*children.get(parent, []), name})
            dirs[parent].name_bytes += len(name.encode())
    synthetic.add(STORE_KEY)  # always made by the build, whatever the base tree has there
    store = dirs[STORE_KEY]
    names = list(children[STORE_KEY])
    for ps in parts:
        prefix = f"{STORE_KEY}/{ps.name}"
        names.append(ps.name)
        store.name_bytes += len(ps.name.encode("utf-8", "surrogateescape"))
        if ps.owner != (0, 0):
            ownership[prefix] = ps.owner
        if ps.scan is None:
            store.add(ps.entry)
            continue
        for k, st in ps.scan.dirs.items():
            dirs[f"{prefix}/{k}" if k else prefix] = st
        for k, v in ps.scan.children.items():
            children[f"{prefix}/{k}" if k else prefix] = v
        for k, o in ps.scan.ownership.items():
            ownership[f"{prefix}/{k}"] = o
        for k, f in ps.scan.files.items():
            files[f"{prefix}/{k}" if k else prefix] = f
        unreadable += [f"/{prefix}{u}" for u in ps.scan.unreadable]
    children[STORE_KEY] = sorted(set(names))
    # the store folder's own files are lone-file store paths, not the base tree's: the
    # sample looks them up in the store
    files.pop(STORE_KEY, None)
    return Scan(
        root=base.root if base else (closure.store_root or Path("/")),
        dirs=dirs,
        children=children,
        unreadable=sorted(unreadable),
        seconds=0.0,
        ownership=ownership,
        closure=closure,
        synthetic=frozenset(synthetic),
        links=list(base.links) if base else [],
        special=list(base.special) if base else [],
        setid=list(base.setid) if base else [],  # the store holds no set-ID files
        files=files,
    )


def _copy(st: Stats) -> Stats:
    out = Stats()
    out.add(st)
    return out


# ------------------------------------------------------------------ the tree


def _key(path: str) -> str:
    return str(PurePosixPath("/") / path.lstrip("/")).strip("/")


def has_closure(scan: Scan | None) -> bool:
    return scan is not None and scan.closure is not None


def physical(profile: Profile, scan: Scan | None, tree_path: str) -> str | None:
    """Where a path of the image tree is on this machine; None for folders only staging makes."""
    k = _key(tree_path)
    if scan is not None and scan.closure is not None:
        if k in scan.synthetic:
            return None
        if k.startswith(STORE_KEY + "/"):
            return str(scan.closure.physical("/" + k))
    root = profile.source_root()
    if root is None:
        return None
    return str(root / k) if k else str(root)


def synthetic_under(scan: Scan | None, tree_path: str) -> bool:
    """A folder at or below `tree_path` exists only once staged (the closure's)."""
    if scan is None or scan.closure is None:
        return False
    k = _key(tree_path)
    return any(s == k or not k or s.startswith(k + "/") for s in scan.synthetic)


def stages_closure(info: PartInfo, scan: Scan | None) -> bool:
    """The partition's tree needs staging because of the closure."""
    return info.subtree is not None and synthetic_under(scan, info.subtree)


def is_closure_dir(scan: Scan | None, tree_path: str) -> bool:
    return scan is not None and scan.closure is not None and _key(tree_path) == STORE_KEY


def receives_closure(info: PartInfo) -> bool:
    if info.subtree is None:
        return False
    s = PurePosixPath(info.subtree)
    store = PurePosixPath(STORE_DIR)
    return s == store or s in store.parents or store in s.parents


# ------------------------------------------------------------------ registration


def registration_owner(profile: Profile) -> PartInfo | None:
    """The partition whose tree holds /nix-path-registration: the one with "/" as its subtree."""
    for info in resolve(profile):
        if info.subtree == "/":
            return info
    return None


def registration_plan(profile: Profile) -> RegistrationPlan:
    mode = profile.source.registration
    if not profile.source.closure or mode == Registration.none:
        return RegistrationPlan(None, None)
    owner = registration_owner(profile)
    image = mode in (Registration.image, Registration.both) or (
        mode == Registration.auto and owner is not None
    )
    beside = mode in (Registration.beside, Registration.both) or (
        mode == Registration.auto and owner is None
    )
    beside_path: Path | None = None
    if beside:
        if profile.source.registration_file:
            beside_path = profile.resolve(profile.source.registration_file)
        else:
            holder = next((i for i in resolve(profile) if receives_closure(i)), None)
            d = holder.disk_index if holder else 0
            out = profile.resolve(profile.disks[d].output.path)
            beside_path = out.with_name(out.name + REGISTRATION_SUFFIX)
    return RegistrationPlan(owner.key if image and owner else None, beside_path)


def registration_stats(profile: Profile, scan: Scan | None, info: PartInfo) -> Stats:
    """The registration file's share of a partition (for the estimate)."""
    if scan is None or scan.closure is None:
        return Stats()
    if registration_plan(profile).image_key != info.key:
        return Stats()
    size = scan.closure.registration_bytes
    st = Stats(files=1, bytes=size, tail_bytes=size % 4096, small_files=int(size < 4096))
    st.name_bytes = len(REGISTRATION_TARGET) - 1
    from .scan import BLOCK_SIZES

    st.blocks = [-(-size // b) * b for b in BLOCK_SIZES]
    return st


def extra_tops(profile: Profile, scan: Scan | None, info: PartInfo) -> set[str]:
    """Names the closure adds at the top of a partition's staged tree."""
    if scan is None or scan.closure is None:
        return set()
    tops: set[str] = set()
    if registration_plan(profile).image_key == info.key:
        tops.add(REGISTRATION_TARGET.lstrip("/"))
    return tops


# ------------------------------------------------------------------ checks


def check(profile: Profile, scan: Scan | None) -> list[ProfileError]:
    """What a closure source needs beyond the model."""
    errors: list[ProfileError] = []
    infos = resolve(profile)
    if not profile.source.closure:
        return errors
    if scan is None or scan.closure is None:
        return [
            *errors,
            ProfileError(
                "source.closure",
                "the closure has not been resolved (the source was scanned without it)",
                "read the source with core.source.read_source(profile), which asks Nix for "
                "the closure",
            ),
        ]
    for bad in [u for u in scan.unreadable if u.startswith(STORE_DIR + "/")][:5]:
        errors.append(
            ProfileError("source.closure", f"cannot read {bad}",
                         "fix the store's permissions or build as a user who can read it")
        )
    holders = [i for i in infos if receives_closure(i)]
    if not holders:
        errors.append(
            ProfileError(
                "source.closure",
                "no partition receives /nix/store, so the closure would go nowhere",
                'give a partition mount_point = "/" or contents = "/nix/store"',
            )
        )
    for info in infos:
        if info.subtree is None or not receives_closure(info):
            continue
        if not scan.has_dir(info.subtree):
            errors.append(
                ProfileError(
                    f"{info.where}.contents",
                    f"{info.subtree} is not a folder of the closure",
                    "name /nix/store, or a folder inside one of its store paths",
                )
            )
        inside = [e for e in info.exclude if _key(e).startswith(STORE_KEY + "/")]
        if inside:
            errors.append(
                ProfileError(
                    f"{info.where}.mount_point",
                    f"another partition takes {inside[0]}, inside the closure's /nix/store",
                    "mount partitions at /nix/store or above, not inside a store path",
                )
            )
    base_root = profile.source_root()
    if base_root is not None and (base_root / STORE_KEY).is_dir():
        try:
            clash = sorted(os.listdir(base_root / STORE_KEY))
        except OSError:
            clash = []
        if clash:
            errors.append(
                ProfileError(
                    "source.path",
                    f"{base_root / STORE_KEY} already holds {len(clash)} entries, and "
                    "source.closure fills /nix/store",
                    "empty that folder of the source tree, or drop source.closure",
                )
            )
    reg = registration_plan(profile)
    mode = profile.source.registration
    if mode in (Registration.image, Registration.both) and reg.image_key is None:
        errors.append(
            ProfileError(
                "source.registration",
                f"no partition holds the image's root, where {REGISTRATION_TARGET} goes",
                'use registration = "beside" for a store-only image, or add a "/" partition',
            )
        )
    if reg.beside is not None:
        outputs = {profile.resolve(d.output.path) for d in profile.disks}
        if reg.beside in outputs:
            errors.append(
                ProfileError("source.registration_file", "it is also a disk's output file",
                             "give the registration its own file name")
            )
        if not reg.beside.parent.is_dir():
            errors.append(
                ProfileError("source.registration_file",
                             f"the folder {reg.beside.parent} does not exist",
                             "create it or choose another path")
            )
    return errors


# ------------------------------------------------------------------ plan steps


def _step(sid: str, title: str, expr: Expr, weight: float = 0.05, *, comment: str = "") -> Step:
    return Step(id=sid, title=title, phase="prepare", expr=expr, weight=weight, comment=comment)


def prepare_steps(profile: Profile, scan: Scan | None) -> list[Step]:
    """List the closure and write its registration in the workspace, before any staging.

    The roots are the store paths the scan resolved, so the build packs exactly
    the closure the estimate measured; the list is made at build time because a
    big closure would not fit on one shell line.
    """
    if scan is None or scan.closure is None:
        return []
    c = scan.closure
    base = nix_store_argv(c.store_root)
    paths = ws(CLOSURE_LIST)
    steps = [
        _step(
            "nix-closure",
            f"List the closure of {len(c.roots)} store path(s) ({len(c.paths)} paths)",
            cmd(*base, "--query", "--requisites", "--", *c.roots, stdout=paths),
            0.1,
            comment="sorted: LC_ALL=C is set for every step",
        ),
        _step("nix-closure-sort", "Sort the closure (reproducible order)",
              cmd("sort", "-o", paths, paths), 0.01),
    ]
    if c.store_root is not None:
        steps.append(
            _step(
                "nix-closure-files",
                f"Find the store paths in {c.store_dir}",
                cmd("awk", '{ print ENVIRON["DISKWRIGHT_STORE_ROOT"] $0 }', paths,
                    env={"DISKWRIGHT_STORE_ROOT": str(c.store_root)}, stdout=ws(CLOSURE_FILES)),
                0.01,
            )
        )
    reg = registration_plan(profile)
    if reg.image_key is not None or reg.beside is not None:
        steps.append(
            _step(
                "nix-registration",
                "Write the registration nix-store --load-db reads (nix-store --dump-db)",
                cmd("xargs", "-r", "-d", "\\n", "-a", paths, *base, "--dump-db", "--",
                    stdout=ws(REGISTRATION_FILE)),
                0.1,
            )
        )
    return steps


def closure_files(scan: Scan) -> Word:
    assert scan.closure is not None
    return ws(CLOSURE_FILES if scan.closure.store_root is not None else CLOSURE_LIST)


def link_closure_steps(sid: str, scan: Scan, target: Word) -> list[Step]:
    """Hard-link every store path into a staged /nix/store; copy (reflink) if links fail.

    A failed link attempt is cleared first: the copy must never write through a
    hard link into the store. Only folders (never linked) are made writable.
    """
    files = closure_files(scan)
    n = len(scan.closure.paths) if scan.closure else 0
    link = And(
        (
            cmd("xargs", "-r", "-d", "\\n", "-a", files, "cp", "-al", "-t", target, "--",
                quiet_stderr=True),
            cmd("printf", "%s\\n", f"staged {n} store paths by hard links: no file data copied"),
        )
    )
    copy = And(
        (
            cmd("printf", "%s\\n", "hard links failed (the workspace is on another filesystem, "
                "or links to files you do not own are not allowed); copying the closure"),
            cmd("find", target, "-mindepth", "1", "-type", "d", "-exec", "chmod", "u+w", "{}",
                "+"),
            cmd("find", target, "-mindepth", "1", "-delete"),
            cmd("xargs", "-r", "-d", "\\n", "-a", files, "cp", "-a", "--reflink=auto", "-t",
                target, "--"),
        )
    )
    return [
        _step(
            f"{sid}-closure",
            f"Hard-link the {n} closure paths into staging (copy if links cannot work)",
            Or(link, copy),
            max(0.2, n / 500),
            comment="a failed attempt is cleared before copying: never write through a link",
        )
    ]


def registration_stage_steps(sid: str, stage: Word, epoch: int) -> list[Step]:
    dest = Word((*stage.parts, REGISTRATION_TARGET))
    return [
        _step(
            f"{sid}-registration",
            f"Place {REGISTRATION_TARGET} (for nix-store --load-db at first boot)",
            And(
                (
                    cmd("cp", "--", ws(REGISTRATION_FILE), dest),
                    cmd("chmod", REGISTRATION_MODE, dest),
                    cmd("touch", "-h", "-d", f"@{epoch}", dest),
                )
            ),
            0.01,
        )
    ]


def unstage_steps(profile: Profile, scan: Scan | None, staged_keys: list[str]) -> list[Step]:
    """Store folders are read-only; make the staged copies writable so the workspace can go.

    Only folders: files in staging are hard links to the store's own files.
    """
    if scan is None or scan.closure is None or not staged_keys:
        return []
    return [
        Step(
            id="nix-unstage",
            title="Make the staged store folders writable again (so the workspace can be removed)",
            phase="filesystem",
            expr=cmd("find", *[ws(f"{k}.stage") for k in staged_keys], "-type", "d",
                     "!", "-perm", "-u=w", "-exec", "chmod", "u+w", "{}", "+"),
            weight=0.05,
        )
    ]


def finish_steps(
    profile: Profile, scan: Scan | None, *, force: bool
) -> tuple[list[Step], list[tuple[Word, str]], list[str]]:
    """(guards, commit pairs, extra outputs) for the registration written beside the outputs.

    The registration is committed with the images, by the plan's one commit step.
    """
    reg = registration_plan(profile)
    if scan is None or scan.closure is None or reg.beside is None:
        return [], [], []
    out = str(reg.beside)
    guards = [guard_step("nix-registration-guard", out, force=force)]
    return guards, [(ws(REGISTRATION_FILE), out)], [out]


def sources(scan: Scan | None) -> list[str]:
    """Folders the build reads besides source.path: the store."""
    if scan is None or scan.closure is None:
        return []
    return [str(scan.closure.store_dir)]


# ------------------------------------------------------------------ the source interface


class ClosureSource:
    """A Nix closure (with or without a tree) as core.source.ImageSource: the planner's one door
    into Nix — what staging links and adds, the registration, its checks and steps."""

    def __init__(self, profile: Profile, scan: Scan | None) -> None:
        self.profile = profile
        self.scan = scan

    @property
    def has_tree(self) -> bool:
        return self.scan is not None and (
            self.profile.source_root() is not None or has_closure(self.scan)
        )

    def physical(self, tree_path: str) -> str | None:
        return physical(self.profile, self.scan, tree_path)

    def stages(self, info: PartInfo) -> bool:
        return stages_closure(info, self.scan)

    def made_by_staging(self, tree_path: str) -> bool:
        return synthetic_under(self.scan, tree_path)

    def fills(self, tree_path: str) -> bool:
        return is_closure_dir(self.scan, tree_path)

    def fill_steps(self, sid: str, target: Word) -> list[Step]:
        assert self.scan is not None
        return link_closure_steps(sid, self.scan, target)

    def extra_stats(self, info: PartInfo) -> Stats:
        return registration_stats(self.profile, self.scan, info)

    def extra_tops(self, info: PartInfo) -> set[str]:
        return extra_tops(self.profile, self.scan, info)

    def stage_steps(self, ctx: PartCtx) -> list[Step]:
        if registration_plan(self.profile).image_key != ctx.info.key or not has_closure(
            self.scan
        ):
            return []
        assert isinstance(ctx.src, Word)
        return registration_stage_steps(ctx.info.key, ctx.src, ctx.epoch)

    def check(self) -> list[ProfileError]:
        return check(self.profile, self.scan)

    def prepare_steps(self) -> list[Step]:
        return prepare_steps(self.profile, self.scan)

    def unstage_steps(self, staged_keys: list[str]) -> list[Step]:
        return unstage_steps(self.profile, self.scan, staged_keys)

    def finish_steps(
        self, *, force: bool
    ) -> tuple[list[Step], list[tuple[Word, str]], list[str]]:
        return finish_steps(self.profile, self.scan, force=force)

    def registration(self) -> RegistrationPlan:
        return registration_plan(self.profile)

    def read_folders(self) -> list[str]:
        root = self.profile.source_root()
        return ([str(root)] if root else []) + sources(self.scan)


__all__ = [
    "INSTALL_HINT",
    "REGISTRATION_TARGET",
    "STORE_DIR",
    "Closure",
    "ClosureSource",
    "RegistrationPlan",
    "check",
    "physical",
    "resolve_closure",
    "scan_closure",
]
