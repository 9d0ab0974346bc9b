#!/usr/bin/env python3
"""Make a throwaway Nix store (a "chroot store") holding a small closure.

The nix-*.toml examples, the tests and the benchmark need store paths with
real references between them, and must never touch the host's /nix. Nix calls
a store kept under another folder a chroot store: `nix-store --store DIR`
keeps its paths in DIR/nix/store and its database in DIR/nix/var/nix/db.

Two ways to fill one, both ending in a registration that `nix-store
--load-db` reads (path, NAR hash, NAR size, deriver, references):

- `add_paths`: `nix-store --add` each tree (Nix computes the path and hash),
  then load a registration that adds the references `--add` cannot record;
- `write_paths`: write the trees straight into DIR/nix/store and hash them
  here (the NAR serialisation is simple), for thousands of paths at once.

    python3 examples/make_nix_store.py [DEST]   (default: examples/nix-demo)

makes DEST with a four-path closure and DEST/result, a link to its top path,
like the `result` link `nix-build` leaves.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

STORE_DIR = "/nix/store"
NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz"
MTIME = 1  # Nix sets every store file's mtime to 1


@dataclass
class PathSpec:
    """One store path to make: a name, its files, and the names of paths it refers to."""

    name: str
    files: dict[str, bytes | str]  # relative path → content; "->target" makes a symlink
    refs: list[str] = field(default_factory=list)  # names of other specs (or itself)
    executable: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class StorePath:
    path: str  # logical: /nix/store/<hash>-<name>
    nar_hash: str  # sha256 in hex
    nar_size: int
    refs: tuple[str, ...]


# ---------------------------------------------------------------- NAR hashing


def _nar_str(out: Callable[[bytes], None], data: bytes) -> None:
    out(len(data).to_bytes(8, "little"))
    out(data)
    out(b"\0" * (-len(data) % 8))


def _nar_node(out: Callable[[bytes], None], path: str) -> None:
    st = os.lstat(path)
    _nar_str(out, b"(")
    _nar_str(out, b"type")
    if stat.S_ISLNK(st.st_mode):
        _nar_str(out, b"symlink")
        _nar_str(out, b"target")
        _nar_str(out, os.fsencode(os.readlink(path)))
    elif stat.S_ISDIR(st.st_mode):
        _nar_str(out, b"directory")
        for name in sorted(os.listdir(path), key=os.fsencode):
            _nar_str(out, b"entry")
            _nar_str(out, b"(")
            _nar_str(out, b"name")
            _nar_str(out, os.fsencode(name))
            _nar_str(out, b"node")
            _nar_node(out, os.path.join(path, name))
            _nar_str(out, b")")
    elif stat.S_ISREG(st.st_mode):
        _nar_str(out, b"regular")
        if st.st_mode & stat.S_IXUSR:
            _nar_str(out, b"executable")
            _nar_str(out, b"")
        _nar_str(out, b"contents")
        out(st.st_size.to_bytes(8, "little"))
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                out(chunk)
        out(b"\0" * (-st.st_size % 8))
    else:
        raise ValueError(f"{path}: a store path holds only files, folders and symlinks")
    _nar_str(out, b")")


def nar_hash(path: str | Path) -> tuple[str, int]:
    """(sha256 hex, size) of the NAR serialisation of `path`, as `nix-store --dump` makes it."""
    h = hashlib.sha256()
    size = 0

    def out(b: bytes) -> None:
        nonlocal size
        h.update(b)
        size += len(b)

    _nar_str(out, b"nix-archive-1")
    _nar_node(out, str(path))
    return h.hexdigest(), size


def store_hash(seed: str) -> str:
    """32 characters of Nix's base32 alphabet, stable for a seed (names the demo paths)."""
    digest = hashlib.sha256(seed.encode()).digest()
    n = int.from_bytes(digest, "big")
    return "".join(NIX_BASE32[(n >> (5 * i)) & 31] for i in range(32))


def registration(paths: Iterable[StorePath]) -> str:
    """The text `nix-store --load-db` reads (what `nix-store --dump-db` prints)."""
    out = []
    for p in paths:
        out += [p.path, f"sha256:{p.nar_hash}", str(p.nar_size), "", str(len(p.refs)), *p.refs]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- the store


def nix_store(root: Path, *args: str, stdin: str | None = None) -> str:
    """Run nix-store on the chroot store at `root` (never the host's /nix)."""
    r = subprocess.run(
        ["nix-store", "--store", str(root), "--option", "build-users-group", "", *args],
        input=stdin, capture_output=True, text=True, check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"nix-store {' '.join(args[:2])} failed: {r.stderr.strip()}")
    return r.stdout


def _write_tree(dest: Path, spec: PathSpec, names: dict[str, str]) -> None:
    """Files of one spec; "@name@" in content becomes the store path of that spec.

    A spec whose only file is "" is a store path that is a lone file (or symlink).
    """
    if list(spec.files) != [""]:
        dest.mkdir(parents=True)
    for rel, content in sorted(spec.files.items()):
        p = dest / rel if rel else dest
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            for ref, path in names.items():
                content = content.replace(f"@{ref}@", path)
            if content.startswith("->"):
                p.symlink_to(content[2:])
                continue
            content = content.encode()
        p.write_bytes(content)
        p.chmod(0o555 if rel in spec.executable else 0o444)
        os.utime(p, (MTIME, MTIME))


def _canonicalise(path: Path) -> None:
    """Store metadata: read-only, mtime 1 (what Nix's canonicalisePathMetaData does)."""
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, 0o555 if os.stat(p).st_mode & stat.S_IXUSR else 0o444)
            os.utime(p, (MTIME, MTIME), follow_symlinks=False)
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, 0o555)
            os.utime(p, (MTIME, MTIME), follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        path.chmod(0o555)
    os.utime(path, (MTIME, MTIME), follow_symlinks=False)


def _order(specs: list[PathSpec]) -> list[PathSpec]:
    """References first, so a path can name the store paths it refers to."""
    by_name = {s.name: s for s in specs}
    done: dict[str, PathSpec] = {}

    def visit(s: PathSpec, stack: tuple[str, ...]) -> None:
        if s.name in done:
            return
        if s.name in stack:
            raise ValueError(f"reference cycle through {s.name}")
        for r in s.refs:
            if r != s.name:
                visit(by_name[r], (*stack, s.name))
        done[s.name] = s

    for s in specs:
        visit(s, ())
    return list(done.values())


def add_paths(root: Path, specs: list[PathSpec], work: Path) -> dict[str, StorePath]:
    """Add each spec with `nix-store --add`, then register the references with --load-db."""
    names: dict[str, str] = {}
    made: dict[str, StorePath] = {}
    for spec in _order(specs):
        src = work / spec.name
        if src.is_dir() and not src.is_symlink():
            shutil.rmtree(src)
        elif src.exists() or src.is_symlink():
            src.unlink()
        if any(r == spec.name for r in spec.refs):
            raise ValueError("--add names a path by its content; a self-reference is impossible")
        _write_tree(src, spec, names)
        path = nix_store(root, "--add", str(src)).strip()
        names[spec.name] = path
    dump = nix_store(root, "--dump-db", *names.values())
    info = _parse_db(dump)
    for spec in specs:
        path = names[spec.name]
        nh, size = info[path]
        made[spec.name] = StorePath(path, nh, size, tuple(sorted(names[r] for r in spec.refs)))
    nix_store(root, "--load-db", stdin=registration(made.values()))
    return made


def write_paths(root: Path, specs: list[PathSpec]) -> dict[str, StorePath]:
    """Write the specs straight into ROOT/nix/store, hash them here, register them at once."""
    store = root / STORE_DIR.lstrip("/")
    store.mkdir(parents=True, exist_ok=True)
    names = {s.name: f"{STORE_DIR}/{store_hash(s.name)}-{s.name}" for s in specs}
    made: dict[str, StorePath] = {}
    for spec in specs:
        path = names[spec.name]
        phys = root / path.lstrip("/")
        if phys.exists():
            raise FileExistsError(f"{phys} exists; use a fresh store folder")
        _write_tree(phys, spec, names)
        _canonicalise(phys)
        nh, size = nar_hash(phys)
        made[spec.name] = StorePath(path, nh, size, tuple(sorted(names[r] for r in spec.refs)))
    nix_store(root, "--load-db", stdin=registration(made.values()))
    return made


def _parse_db(text: str) -> dict[str, tuple[str, int]]:
    lines = text.split("\n")
    out: dict[str, tuple[str, int]] = {}
    i = 0
    while i + 4 < len(lines) and lines[i]:
        path, h, size, _deriver, n = lines[i : i + 5]
        out[path] = (h.removeprefix("sha256:"), int(size))
        i += 5 + int(n)
    return out


def demo_specs() -> list[PathSpec]:
    """A tiny system closure: a C library, a program using it, a config, and the system."""
    return [
        PathSpec("demo-libc-2.39", {
            "lib/libc.so.6": b"\x7fELF" + bytes(range(256)) * 48,
            "lib/ld-linux-x86-64.so.2": b"\x7fELF" + b"\x01" * 8000,
            "share/locale/C.utf8/LC_CTYPE": "ctype table\n" * 500,
        }),
        PathSpec("demo-hello-2.12.1", {
            "bin/hello": "#!@demo-libc-2.39@/lib/ld-linux-x86-64.so.2\n"
                         "echo 'Hello from the store'\n",
            "share/man/man1/hello.1": ".TH HELLO 1\n" * 300,
            "share/doc/hello/README": "GNU Hello, as a demo store path\n",
        }, refs=["demo-libc-2.39"], executable={"bin/hello"}),
        PathSpec("demo-etc", {
            "etc/motd": "Built from a Nix closure by diskwright.\n",
            "etc/profile": "export PATH=@demo-hello-2.12.1@/bin:$PATH\n",
        }, refs=["demo-hello-2.12.1"]),
        PathSpec("demo-system", {
            "sw/bin/hello": "->@demo-hello-2.12.1@/bin/hello",
            "etc": "->@demo-etc@/etc",
            "init": "#!/bin/sh\nexec @demo-hello-2.12.1@/bin/hello\n",
            "nixos-version": "24.11-demo\n",
        }, refs=["demo-etc", "demo-hello-2.12.1"], executable={"init"}),
    ]


def make_demo(dest: Path) -> Path:
    """DEST as a chroot store with the demo closure and DEST/result → its top path."""
    if dest.exists():
        for dirpath, dirnames, _ in os.walk(dest):
            for d in dirnames:
                p = os.path.join(dirpath, d)
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / ".gitignore").write_text("*\n")  # a generated store never belongs in git
    made = write_paths(dest, demo_specs())
    (dest / "result").symlink_to(made["demo-system"].path)
    return dest


def main() -> None:
    from _dest import dest_parser, parse_dest  # examples/_dest.py, beside this script

    default = Path(__file__).parent / "nix-demo"
    target: Path = parse_dest(dest_parser(__doc__, default, "the store"), default).dest
    if shutil.which("nix-store") is None:
        sys.exit("nix-store is not installed: sudo apt-get install nix-bin (or see nixos.org)")
    out = make_demo(target)
    print(f"made a chroot Nix store at {out}; closure of {os.readlink(out / 'result')}")


if __name__ == "__main__":
    main()
