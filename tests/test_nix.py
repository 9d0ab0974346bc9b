"""Nix closures as a source: resolution, cached scans, plans, and real images checked by Nix.

Every store here is a throwaway chroot store (`nix-store --store DIR`); the
host's /nix is never used. Images are opened again with the real tools, the
registration they carry is loaded into a fresh store and `nix-store --verify
--check-contents` must pass there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from imagecheck import manifest, run
from make_nix_store import PathSpec, add_paths, make_demo, nar_hash, nix_store
from testkit import EXAMPLES, leftovers, sha256

from diskwright.core import nix
from diskwright.core.doctor import report
from diskwright.core.errors import ProfileError, ProfileErrors
from diskwright.core.plan import Cmd, render_script
from diskwright.core.planner import estimate, make_plan, validate
from diskwright.core.profile import load_profile
from diskwright.core.runner import Finished, run_plan
from diskwright.core.scan import Scan, scan_tree
from diskwright.core.source import read_source
from diskwright.core.storecache import scan_store_path

pytestmark = pytest.mark.skipif(shutil.which("nix-store") is None, reason="needs nix-store")

SPECS = [
    PathSpec("libfoo-1.0", {
        "lib/libfoo.so.1": b"\x7fELF" + bytes(range(256)) * 40,
        "share/doc/libfoo/README with spaces": "libfoo, a demo library\n",
        "share/doc/libfoo/ünïcødé.txt": "non-ASCII names survive\n",
    }),
    PathSpec("hello-2.12", {
        "bin/hello": "#!@libfoo-1.0@/lib/libfoo.so.1\necho hello\n",
        "share/man/man1/hello.1": ".TH HELLO 1\n" * 400,
    }, refs=["libfoo-1.0"], executable={"bin/hello"}),
    PathSpec("motd", {"": "Welcome to a closure.\n"}),  # a store path that is one file
    PathSpec("app-3.0", {
        "bin/app": "->@hello-2.12@/bin/hello",
        "etc/motd": "->@motd@",
        "etc/app.conf": "libdir=@libfoo-1.0@/lib\n",
    }, refs=["hello-2.12", "motd", "libfoo-1.0"]),
    PathSpec("unrelated-1.0", {"README": "not in the closure\n"}),
]
CLOSURE = {"libfoo-1.0", "hello-2.12", "motd", "app-3.0"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A chroot store filled with nix-store --add, references registered with --load-db."""
    base = tmp_path_factory.mktemp("nixstore")
    root = base / "store"
    made = add_paths(root, SPECS, base / "src")
    (base / "result").symlink_to(made["app-3.0"].path)
    return root, made


@pytest.fixture(autouse=True)
def scan_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own persistent scan cache."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache / "diskwright" / "scan"


def no_nix_path(tmp: Path) -> Path:
    """A PATH folder with every installed program except Nix's: a machine without Nix."""
    bin_dir = tmp / "no-nix-bin"
    bin_dir.mkdir(exist_ok=True)
    for d in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if not name.startswith("nix") and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(os.path.join(d, name))
    return bin_dir


def write_profile(folder: Path, body: str, store: Path, *,
                  closure: str = '["result"]', extra_source: str = "") -> Path:
    """A profile in `folder` whose closure is the test store's app (via a result link)."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "result"
    if not link.is_symlink():
        link.symlink_to(os.readlink(store.parent / "result"))
    text = (f'version = 1\nname = "t"\n[source]\nstore = "{store}"\nclosure = {closure}\n'
            f"{extra_source}\n{body}")
    path = folder / "profile.toml"
    path.write_text(text)
    return path


STORE_ONLY = """
[[disks]]
name = "store"
table = "none"
[disks.output]
path = "store.{fs}"
[[disks.partitions]]
role = "store"
filesystem = "{fs}"
{label}
contents = "/nix/store"
mount_point = "/nix/.ro-store"
"""

EXT4_DISK = """
[[disks]]
name = "root"
table = "none"
[disks.output]
path = "root.img"
[[disks.partitions]]
role = "root"
filesystem = "ext4"
label = "NIXOS_SD"
mount_point = "/"
"""
EXT4_ROOT = """
[[source.files]]
source = "hostname"
target = "/etc/hostname"
""" + EXT4_DISK


def store_only(fs: str) -> str:
    label = 'label = "nix-store"' if fs == "erofs" else ""
    return STORE_ONLY.replace("{fs}", fs).replace("{label}", label)


def load(path: Path) -> tuple:
    profile = load_profile(path)
    scan = read_source(profile)
    validate(profile, scan)
    return profile, scan


def build(path: Path, **kw: object) -> tuple[Finished, str]:
    profile, scan = load(path)
    result = run_plan(make_plan(profile, scan, **kw))  # type: ignore[arg-type]
    assert result.log is not None
    return result, Path(result.log).read_text()


def fresh_store_verify(tmp: Path, store_dir: Path, registration: str) -> Path:
    """Load `registration` into a new store holding `store_dir`'s paths and verify contents."""
    fresh = tmp / "fresh"
    (fresh / "nix").mkdir(parents=True)
    shutil.copytree(store_dir, fresh / "nix" / "store", symlinks=True)
    nix_store(fresh, "--load-db", stdin=registration)
    r = subprocess.run(["nix-store", "--store", str(fresh), "--option", "build-users-group", "",
                        "--verify", "--check-contents"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "modified" not in r.stderr and "error" not in r.stderr.lower(), r.stderr
    return fresh


def assert_same_paths(store: Path, made: dict, extracted: Path) -> None:
    """Exactly the closure is there, and every file, link and mode matches the store."""
    names = {Path(made[n].path).name for n in CLOSURE}
    assert {p.name for p in extracted.iterdir() if p.name != "lost+found"} == names
    for name in names:
        src, got = store / "nix/store" / name, extracted / name
        if src.is_file():
            assert got.read_bytes() == src.read_bytes()
            continue
        want = {k: (e.kind, e.mode, e.detail) for k, e in manifest(src).items()}
        have = {k: (e.kind, e.mode, e.detail) for k, e in manifest(got).items()}
        assert have == want, name


# ------------------------------------------------------------------ helpers


def test_nar_hash_is_nix_s(store: tuple[Path, dict]) -> None:
    """The test helper's NAR hash equals Nix's own (so generated stores verify)."""
    root, made = store
    for spec in SPECS:
        phys = root / made[spec.name].path.lstrip("/")
        dump = subprocess.run(["nix-store", "--dump", str(phys)], capture_output=True,
                              check=True).stdout
        import hashlib

        assert nar_hash(phys) == (hashlib.sha256(dump).hexdigest(), len(dump))
        assert made[spec.name].nar_hash == hashlib.sha256(dump).hexdigest()


# ------------------------------------------------------------------ resolving


def test_closure_from_result_link(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, made = store
    profile = load_profile(write_profile(tmp_path, store_only("erofs"), root))
    c = nix.resolve_closure(profile)
    assert c.roots == (made["app-3.0"].path,)
    assert set(c.paths) == {made[n].path for n in CLOSURE}
    assert list(c.paths) == sorted(c.paths)
    assert c.store_dir == root / "nix/store"
    assert c.nar_size == sum(made[n].nar_size for n in CLOSURE)
    assert c.registration_bytes > 0


@pytest.mark.parametrize("entry", ["store-path", "inside", "physical"])
def test_closure_entry_forms(entry: str, tmp_path: Path, store: tuple[Path, dict]) -> None:
    """A store path, a file inside one, or the chroot store's own folder all name the path."""
    root, made = store
    hello = made["hello-2.12"].path
    value = {"store-path": hello, "inside": f"{hello}/bin/hello",
             "physical": str(root / hello.lstrip("/") / "share")}[entry]
    profile = load_profile(write_profile(tmp_path, store_only("erofs"), root,
                                         closure=json.dumps([value])))
    c = nix.resolve_closure(profile)
    assert c.roots == (hello,)
    assert set(c.paths) == {hello, made["libfoo-1.0"].path}


def test_bad_entries_name_the_field(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, _ = store
    cases = {
        '["/nix/store/00000000000000000000000000000000-missing"]': ("source.closure[0]",
                                                                   "not valid"),
        '["nothing-here"]': ("source.closure[0]", "does not exist"),
        '["profile.toml"]': ("source.closure[0]", "not in the Nix store"),
    }
    for i, (closure, (field, words)) in enumerate(cases.items()):
        profile = load_profile(write_profile(tmp_path / str(i), store_only("erofs"), root,
                                             closure=closure))
        with pytest.raises(ProfileError) as err:
            read_source(profile)
        assert err.value.field == field, err.value
        assert words in str(err.value)
        assert err.value.fix


def test_missing_store_paths_are_explained(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, made = store
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, symlinks=True)
    (tmp_path / "result").symlink_to(made["app-3.0"].path)
    motd = copy / made["motd"].path.lstrip("/")
    motd.unlink()  # registered, but gone from disk
    profile = load_profile(write_profile(tmp_path / "a", store_only("erofs"), copy))
    with pytest.raises(ProfileError) as err:
        read_source(profile)
    assert err.value.field == "source.closure" and "--repair" in err.value.fix


def test_unreadable_store_paths_are_explained(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, made = store
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, symlinks=True)
    (tmp_path / "result").symlink_to(made["app-3.0"].path)
    hello = copy / made["hello-2.12"].path.lstrip("/") / "share"
    hello.chmod(0o755)
    (hello / "man").chmod(0o000)
    try:
        if os.access(hello / "man", os.R_OK):
            pytest.skip("running with CAP_DAC_OVERRIDE: every folder is readable")
        profile = load_profile(write_profile(tmp_path / "b", store_only("erofs"), copy))
        with pytest.raises(ProfileErrors) as errs:
            validate(profile, read_source(profile))
        assert errs.value.errors[0].field == "source.closure"
    finally:
        (hello / "man").chmod(0o555)


def test_store_folder_must_hold_a_store(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, _ = store
    path = write_profile(tmp_path, store_only("erofs"), root)
    path.write_text(path.read_text().replace(str(root), str(tmp_path)))
    with pytest.raises(ProfileError) as err:
        read_source(load_profile(path))
    assert err.value.field == "source.store"


def test_installable_without_result_is_explained(tmp_path: Path,
                                                 store: tuple[Path, dict]) -> None:
    """An installable goes to `nix path-info`; when it cannot resolve, the entry is named."""
    root, _ = store
    profile = load_profile(write_profile(tmp_path, store_only("erofs"), root,
                                         closure=f'["path:{tmp_path}/no-flake#x"]'))
    with pytest.raises(ProfileError) as err:
        read_source(profile)
    assert err.value.field == "source.closure[0]"


FLAKE = """{
  outputs = { self }: {
    packages.x86_64-linux.default = derivation {
      name = "flake-hello";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo hello > $out" ];
    };
  };
}
"""


@pytest.mark.skipif(shutil.which("nix") is None, reason="needs the nix command")
def test_installable_resolves_through_nix_path_info(tmp_path: Path, store: tuple[Path, dict],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A flake reference whose output is already in the store (as after `nix build`)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # nix's own eval cache goes here
    root = tmp_path / "fstore"
    shutil.copytree(store[0], root, symlinks=True)
    (tmp_path / "flake").mkdir()
    (tmp_path / "flake" / "flake.nix").write_text(FLAKE)
    ref = f"path:{tmp_path}/flake#default"
    out = subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command flakes", "eval", "--store",
         str(root), "--option", "build-users-group", "", "--raw", f"{ref}.outPath"],
        capture_output=True, text=True, check=True).stdout
    (root / out.lstrip("/")).write_text("hello\n")  # the build's result, registered by hand
    h, n = nar_hash(root / out.lstrip("/"))
    from make_nix_store import StorePath, registration

    nix_store(root, "--load-db", stdin=registration([StorePath(out, h, n, ())]))
    (tmp_path / "result").symlink_to(out)
    profile = load_profile(write_profile(tmp_path / "p", store_only("erofs"), root,
                                         closure=json.dumps([ref])))
    c = nix.resolve_closure(profile)
    assert c.roots == (out,) and c.paths == (out,)


def test_without_nix_a_closure_says_how_to_get_it(tmp_path: Path, store: tuple[Path, dict],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  example_root: Path) -> None:
    root, _ = store
    profile = load_profile(write_profile(tmp_path / "c", store_only("erofs"), root))
    monkeypatch.setenv("PATH", str(no_nix_path(tmp_path)))
    with pytest.raises(ProfileError) as err:
        read_source(profile)
    assert err.value.field == "source.closure"
    assert "Nix is not installed" in str(err.value)
    assert "apt-get install nix-bin" in err.value.fix
    # a plain directory source keeps working without Nix
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "root").symlink_to(example_root)
    shutil.copy(EXAMPLES / "squashfs-store.toml", tmp_path / "d" / "p.toml")
    plain = load_profile(tmp_path / "d" / "p.toml")
    scan = read_source(plain)
    validate(plain, scan)
    assert make_plan(plain, scan).steps


def test_doctor_lists_nix_store_with_install_hints(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(no_nix_path(tmp_path)))
    row = next(r for r in report() if r.name == "nix-store")
    assert not row.ok and row.optional
    assert "nix-bin" in row.hints["debian"] and "nix" in row.hints["fedora"]


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ('store = "/x"', "source.store"),
        ('registration = "image"', "source.registration"),
        ('closure = ["/nix/store/a", "/nix/store/a"]', "source.closure"),
        ('closure = ["a"]\nregistration = "image"\nregistration_file = "r"',
         "source.registration_file"),
        ('closure = [""]', "source.closure"),
    ],
)
def test_source_model_explains(source: str, field: str, tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text(f"version = 1\n[source]\n{source}\n" + store_only("erofs"))
    with pytest.raises(ProfileErrors) as err:
        load_profile(p)
    assert [e.field for e in err.value.errors] == [field], err.value
    assert all(e.fix for e in err.value.errors)


@pytest.mark.parametrize(
    ("overlay", "field"),
    [
        ('mount_point = "/nix/.ro-store"', "overlay.mount_point"),
        ('writable = "/nix/.ro-store/rw"', "overlay.writable"),
        ('writable = "/nix/store/rw"', "overlay.writable"),
        ('writable = "relative"', "overlay.writable"),
    ],
)
def test_overlay_model_explains(overlay: str, field: str, tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text("version = 1\n[source]\nclosure = ['/nix/store/a']\n" + store_only("erofs")
                 + f"[disks.partitions.overlay]\n{overlay}\n")
    with pytest.raises(ProfileErrors) as err:
        load_profile(p)
    assert any(e.field.endswith(field) for e in err.value.errors), err.value


# ------------------------------------------------------------------ scanning


def _reference_tree(tmp: Path, store: Path, made: dict) -> Path:
    ref = tmp / "ref"
    (ref / "nix/store").mkdir(parents=True)
    for n in CLOSURE:
        name = Path(made[n].path).name
        src = store / "nix/store" / name
        if src.is_dir():
            shutil.copytree(src, ref / "nix/store" / name, symlinks=True)
        else:
            shutil.copy2(src, ref / "nix/store" / name, follow_symlinks=False)
    return ref


def test_scan_places_the_closure_at_nix_store(tmp_path: Path, store: tuple[Path, dict]) -> None:
    """The merged scan counts exactly what a copy of the closure at /nix/store would."""
    root, made = store
    profile = load_profile(write_profile(tmp_path, store_only("erofs"), root))
    scan = read_source(profile)
    assert isinstance(scan, Scan) and scan.closure is not None
    ref = scan_tree(_reference_tree(tmp_path, root, made))
    for key in ("", "nix", "nix/store"):
        assert scan.top_level(key) == ref.top_level(key)
    a, b = scan.total(), ref.total()
    for f in ("files", "dirs", "symlinks", "bytes", "symlink_bytes", "name_bytes", "tail_bytes"):
        assert getattr(a, f) == getattr(b, f), f
    assert scan.synthetic == {"", "nix", "nix/store"}
    assert "unrelated" not in " ".join(scan.top_level("nix/store"))


def test_scan_cache_is_persistent_and_checked(tmp_path: Path, store: tuple[Path, dict],
                                              scan_cache: Path) -> None:
    root, made = store
    profile = load_profile(write_profile(tmp_path, store_only("erofs"), root))
    first = read_source(profile)
    files = sorted(p.name for p in scan_cache.rglob("*.json"))
    assert files == sorted(f"{Path(made[n].path).name}.json" for n in CLOSURE)
    path = made["hello-2.12"].path
    phys = root / path.lstrip("/")
    hit = scan_store_path(phys, path, made["hello-2.12"].nar_hash)
    assert hit.cached
    again = read_source(profile)
    assert again is not None and first is not None
    assert again.dirs == first.dirs and again.children == first.children
    # a different NAR hash (another build of that path) is never served from the cache
    miss = scan_store_path(phys, path, "0" * 64)
    assert not miss.cached
    assert miss.total() == hit.total()


def test_estimate_counts_the_registration(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, _ = store
    (tmp_path / "hostname").write_text("closure\n")
    profile, scan = load(write_profile(tmp_path, EXT4_ROOT, root,
                                       extra_source='registration = "image"'))
    est = estimate(profile, scan)
    part = est.disks[0].parts[0]
    assert part.files == scan.total().files + 2  # + hostname + nix-path-registration
    assert part.content > scan.total().bytes


def test_sample_reads_the_closure_from_its_store(tmp_path: Path, store: tuple[Path, dict]) -> None:
    """A closure beside a base tree: its files are in the store, not under the tree's root,
    and the compressibility sample must read them there (it used to open
    TREE/nix/store/..., find nothing and drop the pick)."""
    from diskwright.core.sample import SAMPLES, _take

    root, _ = store
    (tmp_path / "tree/etc").mkdir(parents=True)
    (tmp_path / "tree/etc/noise").write_bytes(os.urandom(16 << 10))  # incompressible
    _, scan = load(write_profile(tmp_path, ROOT_DISK_EROFS, root,
                                       extra_source='path = "tree"'))
    assert scan.closure is not None and scan.root == (tmp_path / "tree").resolve()
    points = _take(scan).points
    assert len(points) == SAMPLES  # every pick read something
    assert min(r for _, r in points) < 0.5  # and some of them the store's text


ROOT_DISK_EROFS = EXT4_DISK.replace('filesystem = "ext4"', 'filesystem = "erofs"').replace(
    'label = "NIXOS_SD"', 'label = "nixos"'
)


# ------------------------------------------------------------------ plan


def _cmds(plan: object) -> list[Cmd]:
    found: list[Cmd] = []

    def walk(e: object) -> None:
        if isinstance(e, Cmd):
            found.append(e)
        for attr in ("cmds", "items"):
            for c in getattr(e, attr, ()) or ():
                walk(c)
        for attr in ("first", "then", "inner"):
            if hasattr(e, attr):
                walk(getattr(e, attr))

    for s in plan.steps:  # type: ignore[attr-defined]
        if s.expr is not None:
            walk(s.expr)
    return found


def test_plan_never_touches_the_host_store(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, _ = store
    (tmp_path / "hostname").write_text("closure\n")
    profile, scan = load(write_profile(tmp_path, EXT4_ROOT, root,
                                       extra_source='registration = "both"'))
    plan = make_plan(profile, scan)
    nix_calls = [c for c in _cmds(plan) if "nix-store" in c.argv]
    assert len(nix_calls) == 2  # the closure list and the registration
    for c in nix_calls:
        i = c.argv.index("nix-store")
        assert c.argv[i + 1 : i + 3] == ("--store", str(root.resolve()))
    script = render_script(plan)
    # the closure is listed at build time, so the script does not grow with the closure
    assert not any(Path(p).name in script for p in scan.closure.paths
                   if p not in scan.closure.roots)
    assert plan.outputs[-1].endswith("root.img.nix-path-registration")
    assert str(root / "nix/store") in plan.sources


def test_checks_of_a_closure_profile(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, _ = store
    nowhere = store_only("erofs").replace('contents = "/nix/store"', 'contents = "/boot"')
    profile = load_profile(write_profile(tmp_path / "a", nowhere, root))
    with pytest.raises(ProfileErrors) as err:
        validate(profile, read_source(profile))
    assert "source.closure" in [e.field for e in err.value.errors]
    profile = load_profile(write_profile(tmp_path / "b", store_only("erofs"), root,
                                         extra_source='registration = "image"'))
    with pytest.raises(ProfileErrors) as err:
        validate(profile, read_source(profile))
    assert [e.field for e in err.value.errors] == ["source.registration"]
    base = tmp_path / "c" / "tree"
    (base / "nix/store/stray").mkdir(parents=True)
    profile = load_profile(write_profile(tmp_path / "c", EXT4_DISK, root,
                                         extra_source='path = "tree"'))
    with pytest.raises(ProfileErrors) as err:
        validate(profile, read_source(profile))
    assert "source.path" in [e.field for e in err.value.errors]


# ------------------------------------------------------------------ real images


@pytest.mark.integration
def test_erofs_store_image(tmp_path: Path, store: tuple[Path, dict]) -> None:
    """Store paths at the image root; the registration beside it loads and verifies."""
    root, made = store
    path = write_profile(tmp_path, store_only("erofs"), root)
    result, log = build(path)
    image, reg = tmp_path / "store.erofs", tmp_path / "store.erofs.nix-path-registration"
    assert [o.path for o in result.outputs] == [str(image), str(reg)]
    assert "by hard links: no file data copied" in log
    blk = run("blkid", "-p", "-o", "export", image)
    assert "LABEL=nix-store" in blk and "TYPE=erofs" in blk
    out = tmp_path / "x"
    run("fsck.erofs", f"--extract={out}", image)
    assert_same_paths(root, made, out)
    fresh = fresh_store_verify(tmp_path, out, reg.read_text())
    refs = nix_store(fresh, "--query", "--references", made["app-3.0"].path).split()
    assert set(refs) == {made[n].path for n in ("hello-2.12", "motd", "libfoo-1.0")}
    assert leftovers(tmp_path) == []


@pytest.mark.integration
def test_ext4_root_image_with_registration_inside(tmp_path: Path,
                                                  store: tuple[Path, dict]) -> None:
    """make-ext4-fs style: closure under /nix/store, extra files, /nix-path-registration."""
    root, made = store
    (tmp_path / "hostname").write_text("closure-host\n")
    result, log = build(write_profile(tmp_path, EXT4_ROOT, root))
    assert [Path(o.path).name for o in result.outputs] == ["root.img"]  # auto: inside only
    image = tmp_path / "root.img"
    run("e2fsck", "-n", "-f", image)
    assert "LABEL=NIXOS_SD" in run("blkid", "-p", "-o", "export", image)
    out = tmp_path / "x"
    out.mkdir()
    run("debugfs", "-R", f"rdump / {out}", image)
    assert (out / "etc/hostname").read_text() == "closure-host\n"
    assert sorted(p.name for p in out.iterdir()) == [
        "etc", "lost+found", "nix", "nix-path-registration"]
    assert_same_paths(root, made, out / "nix/store")
    reg = (out / "nix-path-registration").read_text()
    assert {p for p, _, _ in nix.parse_registration(reg)} == {made[n].path for n in CLOSURE}
    fresh_store_verify(tmp_path, out / "nix/store", reg)
    assert "by hard links" in log


@pytest.mark.integration
def test_squashfs_store_image(tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, made = store
    build(write_profile(tmp_path, store_only("squashfs"), root))
    out = tmp_path / "x"
    run("unsquashfs", "-q", "-n", "-d", out, tmp_path / "store.squashfs")
    assert_same_paths(root, made, out)
    fresh_store_verify(tmp_path, out, (tmp_path / "store.squashfs.nix-path-registration")
                       .read_text())


GPT_WITH_TREE = """
[[disks]]
name = "vm"
table = "gpt"
[disks.output]
path = "vm.raw"
[[disks.partitions]]
role = "esp"
filesystem = "vfat"
label = "ESP"
mount_point = "/boot"
[[disks.partitions]]
role = "root"
filesystem = "ext4"
label = "nixos"
mount_point = "/"
"""


@pytest.mark.integration
def test_gpt_disk_from_a_tree_plus_a_closure(tmp_path: Path, store: tuple[Path, dict]) -> None:
    """A folder (ESP files, /etc) and a closure together: each lands where it belongs."""
    root, made = store
    tree = tmp_path / "tree"
    (tree / "boot/EFI/BOOT").mkdir(parents=True)
    (tree / "boot/EFI/BOOT/BOOTX64.EFI").write_bytes(b"MZ" + bytes(4096))
    (tree / "etc").mkdir()
    (tree / "etc/os-release").write_text("ID=closure\n")
    (tree / "nix/var/nix").mkdir(parents=True)  # /nix exists in the tree, /nix/store not
    path = write_profile(tmp_path, GPT_WITH_TREE, root, extra_source='path = "tree"')
    build(path)
    from imagecheck import cut, partitions

    table = partitions(tmp_path / "vm.raw")
    esp_p, root_p = table["partitions"]
    rootimg = cut(tmp_path / "vm.raw", root_p["start"], root_p["size"], tmp_path / "root.img")
    out = tmp_path / "x"
    out.mkdir()
    run("debugfs", "-R", f"rdump / {out}", rootimg)
    assert (out / "etc/os-release").read_text() == "ID=closure\n"
    assert (out / "nix/var/nix").is_dir()
    assert list((out / "boot").iterdir()) == []  # the ESP's mount point stays empty
    assert_same_paths(root, made, out / "nix/store")
    fresh_store_verify(tmp_path, out / "nix/store",
                       (out / "nix-path-registration").read_text())
    esp = cut(tmp_path / "vm.raw", esp_p["start"], esp_p["size"], tmp_path / "esp.img")
    assert "::/EFI/BOOT/BOOTX64.EFI" in run("mdir", "-b", "-i", esp, "::/EFI/BOOT")


@pytest.mark.integration
def test_links_or_copies_give_the_same_bytes(tmp_path: Path, store: tuple[Path, dict]) -> None:
    """Hard-linked staging (same filesystem) and the copy fallback (a store elsewhere) agree."""
    root, _ = store
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm) for the copy fallback")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "hostname").write_text("h\n")
    linked_log = build(write_profile(tmp_path / "a", EXT4_ROOT, root))[1]
    other = Path(shm / f"diskwright-test-{os.getpid()}")
    try:
        subprocess.run(["cp", "-a", str(root), str(other)], check=True)
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "hostname").write_text("h\n")
        (tmp_path / "b" / "result").symlink_to(os.readlink(root.parent / "result"))
        copied_log = build(write_profile(tmp_path / "b", EXT4_ROOT, other))[1]
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(other)], check=False)
        shutil.rmtree(other, ignore_errors=True)
    assert "by hard links" in linked_log and "copying the closure" in copied_log
    assert sha256(tmp_path / "a" / "root.img") == sha256(tmp_path / "b" / "root.img")
    assert leftovers(tmp_path / "b") == []


@pytest.mark.integration
@pytest.mark.parametrize("fs", ["erofs", "ext4"])
def test_two_builds_identical(fs: str, tmp_path: Path, store: tuple[Path, dict]) -> None:
    root, _ = store
    body = store_only("erofs") if fs == "erofs" else EXT4_ROOT
    outs = []
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "hostname").write_text("h\n")
        result, _ = build(write_profile(tmp_path / d, body, root))
        outs.append([o.sha256 for o in result.outputs])
    assert outs[0] == outs[1]


@pytest.mark.integration
def test_examples_build_from_the_demo_store(tmp_path: Path, example_root: Path) -> None:
    """Every nix-*.toml example builds from make_nix_store.py's demo store."""
    make_demo(tmp_path / "nix-demo")
    (tmp_path / "root").symlink_to(example_root)
    for toml in sorted(EXAMPLES.glob("nix-*.toml")):
        shutil.copy(toml, tmp_path / toml.name)
        result, _ = build(tmp_path / toml.name)
        assert result.outputs, toml.name
    reg = tmp_path / "microvm-nix-store.erofs.nix-path-registration"
    x = tmp_path / "x"
    run("fsck.erofs", f"--extract={x}", tmp_path / "microvm-nix-store.erofs")
    fresh_store_verify(tmp_path, x, reg.read_text())
    assert leftovers(tmp_path) == []


NOBODY = 65534
SQUASH_ROOT = """
[[disks]]
name = "root"
table = "none"
[disks.output]
path = "root.img"
[[disks.partitions]]
role = "root"
filesystem = "squashfs"
mount_point = "/"
"""


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to run the printed plan as an ordinary user")
@pytest.mark.parametrize("owner", ["user", "root"])
def test_printed_plan_runs_as_an_ordinary_user(owner: str, tmp_path: Path) -> None:
    """`diskwright plan | sh` as nobody: store folders are read-only, yet nothing is left.

    With the store the user's own, staging hard-links; with root-owned store files
    (fs.protected_hardlinks) the links are refused and the copy fallback runs.
    """
    import tempfile

    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                            "--clear-groups", "env",
                            f"PATH={Path(sys.executable).parent}:{os.environ['PATH']}",
                            "diskwright", "helper", "commit", "--help"],
                           capture_output=True, cwd="/")
    if probe.returncode not in (0, 1, 2):  # every plan ends with `diskwright helper commit`
        pytest.skip("this diskwright installation is not runnable by an ordinary user")
    base = Path(tempfile.mkdtemp(prefix=f"dw-{owner}-", dir="/tmp"))
    try:
        base.chmod(0o755)
        make_demo(base / "nix-demo")
        path = base / "p.toml"
        path.write_text('version = 1\n[source]\nstore = "nix-demo"\nclosure = ["nix-demo/result"]\n'
                        'registration = "both"\n' + SQUASH_ROOT)
        profile, scan = load(path)
        (base / "plan.sh").write_text(render_script(make_plan(profile, scan)))
        run("chown", "-R", f"{NOBODY}:{NOBODY}", base)
        if owner == "root":  # the store's files stay root's; nobody may use the database
            run("chown", "-R", "0:0", base / "nix-demo/nix/store")
            run("chmod", "755", base / "nix-demo/nix/store")
        r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            "env", f"HOME={base}",
                            # every plan ends with `diskwright helper commit`: this installation
                            f"PATH={Path(sys.executable).parent}:{os.environ['PATH']}",
                            "sh", "plan.sh"], cwd=base,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        said = "by hard links" if owner == "user" else "copying the closure"
        assert said in r.stdout
        assert leftovers(base) == []
        out = base / "x"
        run("unsquashfs", "-q", "-n", "-d", out, base / "root.img")
        reg = (out / "nix-path-registration").read_text()
        assert reg == (base / "root.img.nix-path-registration").read_text()
        fresh_store_verify(base, out / "nix/store", reg)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)
