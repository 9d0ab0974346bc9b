"""Set-up and packaging: contrib on every apt sources form, the lock, the console entry points.

The scripts run for real (bash, awk) on sample apt trees in tmp_path; nothing
here touches the host's own /etc/apt.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from testkit import EXAMPLES, REPO, leftovers, run_cli

ENABLE = REPO / "scripts" / "enable-contrib.sh"

DEB822 = """\
Types: deb
URIs: http://mirror.invalid/debian
Suites: {s} {s}-updates
Components: {c}
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: {s}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://vendor.invalid/linux/debian
Suites: {s}
Components: stable
"""


def apt_root(tmp: Path, codename: str, distro: str = "debian") -> Path:
    (tmp / "etc/apt/sources.list.d").mkdir(parents=True)
    (tmp / "etc/os-release").write_text(f"ID={distro}\nVERSION_CODENAME={codename}\n")
    return tmp


def enable(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ENABLE), str(root)], capture_output=True, text=True)


@pytest.mark.parametrize("components", ["main", "main non-free-firmware", "main non-free"])
def test_contrib_added_to_every_deb822_debian_stanza(tmp_path: Path, components: str) -> None:
    root = apt_root(tmp_path, "trixie")
    src = root / "etc/apt/sources.list.d/debian.sources"
    src.write_text(DEB822.format(s="trixie", c=components))
    src.chmod(0o640)
    r = enable(root)
    assert r.returncode == 0, r.stderr
    text = src.read_text()
    assert f"Components: {components} contrib\n" in text
    assert "Suites: trixie-security\nComponents: main contrib\n" in text
    assert "Components: stable\n" in text  # another vendor's repository is left alone
    assert f'"Components: {components}" -> "Components: {components} contrib"' in r.stdout
    assert src.stat().st_mode & 0o777 == 0o640  # edited in place
    again = enable(root)  # idempotent, and says so
    assert again.returncode == 0 and src.read_text() == text
    assert "nothing to change" in again.stdout


def test_contrib_added_to_one_line_sources(tmp_path: Path) -> None:
    root = apt_root(tmp_path, "bookworm")
    lst = root / "etc/apt/sources.list"
    lst.write_text(
        "# deb http://mirror.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main"
        " non-free-firmware # my mirror\n"
        "deb-src http://mirror.invalid/debian bookworm-updates main\n"
        "deb http://mirror.invalid/debian-security bookworm-security main contrib\n"
        "deb http://ppa.invalid/ubuntu noble main\n"
    )
    r = enable(root)
    assert r.returncode == 0, r.stderr
    assert lst.read_text().splitlines() == [
        "# deb http://mirror.invalid/debian bookworm main",
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main"
        " non-free-firmware contrib # my mirror",
        "deb-src http://mirror.invalid/debian bookworm-updates main contrib",
        "deb http://mirror.invalid/debian-security bookworm-security main contrib",
        "deb http://ppa.invalid/ubuntu noble main",
    ]
    assert r.stdout.count("->") == 2 and "already enabled" in r.stdout


def test_no_debian_source_is_an_error_that_says_so(tmp_path: Path) -> None:
    root = apt_root(tmp_path, "trixie")
    (root / "etc/apt/sources.list.d/other.list").write_text("deb http://x.invalid/ stable-x c\n")
    r = enable(root)
    assert r.returncode == 1
    assert "no source for Debian trixie" in r.stdout and "add contrib" in r.stdout


def test_not_debian_changes_nothing(tmp_path: Path) -> None:
    root = apt_root(tmp_path, "noble", distro="ubuntu")
    lst = root / "etc/apt/sources.list"
    lst.write_text("deb http://archive.invalid/ubuntu noble main\n")
    r = enable(root)
    assert r.returncode == 0 and "not Debian" in r.stdout
    assert lst.read_text() == "deb http://archive.invalid/ubuntu noble main\n"


# ------------------------------------------------------------------ Python dependencies


def _pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^ ;\\]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_lock_pins_everything_exactly_with_hashes() -> None:
    lock = REPO / "requirements" / "test.lock"
    text = lock.read_text()
    pins = _pins(lock)
    for name in ("pytest", "textual", "pygments", "rich", "pydantic", "syrupy", "hypothesis",
                 "mypy", "ruff", "tomlkit", "pytest-textual-snapshot", "setuptools"):
        assert name in pins, f"{name} is not pinned in requirements/test.lock"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[-1])
    for block in blocks:
        if "==" in block:
            assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"
    major, minor = (int(x) for x in pins["pygments"].split(".")[:2])
    assert (major, minor) < (2, 21), "the snapshots need Pygments < 2.21 (constraints.txt)"


def test_pyproject_has_ranges_and_the_lock_satisfies_them() -> None:
    """Users get ranges (diskwright sits beside other Textual apps); only the lock is exact."""
    from packaging.requirements import Requirement

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in meta["dependencies"] + meta["optional-dependencies"]["test"]]
    pins = _pins(REPO / "requirements" / "test.lock")
    for req in reqs:
        assert not any(s.operator == "==" for s in req.specifier), f"{req} is pinned exactly"
        assert req.name.lower() in pins, f"{req.name} is missing from the lock: run scripts/lock.sh"
        assert req.specifier.contains(pins[req.name.lower()]), f"lock {pins[req.name]} ∉ {req}"


def test_installed_versions_are_the_locked_ones() -> None:
    """The environment the suite runs in is the lock (scripts/setup.sh installs it)."""
    from importlib.metadata import version

    pins = _pins(REPO / "requirements" / "test.lock")
    for name in ("textual", "pygments", "rich", "pytest", "syrupy"):
        assert version(name) == pins[name], f"{name} {version(name)} is not the locked {pins[name]}"


# ------------------------------------------------------------------ the command


def test_version() -> None:
    from importlib.metadata import version

    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"diskwright {version('diskwright')}"


def test_bare_diskwright_without_a_terminal_prints_usage_and_exits_2() -> None:
    r = subprocess.run([sys.executable, "-m", "diskwright.tui.cli"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stdout == ""  # no escape codes from a full-screen app
    assert r.stderr.startswith("usage: diskwright") and "no terminal" in r.stderr


def test_printed_plan_runs_from_a_shell_without_the_venv(
    tmp_path: Path, example_root: Path
) -> None:
    """`diskwright plan | sh` with a PATH that has no diskwright: the helper steps still run."""
    work = tmp_path / "w"
    work.mkdir()
    (work / "root").symlink_to(example_root)
    text = (EXAMPLES / "vm-disk.toml").read_text()
    (work / "vm-disk.toml").write_text(text)
    plan = run_cli("plan", work / "vm-disk.toml")
    assert plan.returncode == 0, plan.stderr
    assert "diskwright helper" in plan.stdout
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    assert subprocess.run(["sh", "-c", "command -v diskwright"], env=bare,
                          capture_output=True).returncode != 0
    r = subprocess.run(["sh"], input=plan.stdout, env=bare, cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (work / "vm-disk.qcow2").stat().st_size > 0
    assert leftovers(work) == []


# ------------------------------------------------------------------ packaging

SKIP_COPY = {".git", ".venv", ".tmp", ".cache", "build", "dist", "root", "boot-root",
             "zfs-boot-root", "nix-demo", "__pycache__", ".pytest_cache", ".ruff_cache"}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A wheel and an sdist built from a copy of this checkout (the checkout stays clean)."""
    import shutil

    base = tmp_path_factory.mktemp("dist")
    src = base / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=lambda d, names: [
        n for n in names if n in SKIP_COPY or n.endswith((".egg-info", ".qcow2", ".img"))])
    out = base / "out"
    out.mkdir()
    built = []
    for hook in ("build_sdist", "build_wheel"):  # one process each, as a build frontend does
        r = subprocess.run(
            [sys.executable, "-c", "import sys, setuptools.build_meta as b; "
             f"print('BUILT', b.{hook}(sys.argv[1]))", str(out)],
            cwd=src, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        built.append(next(ln for ln in r.stdout.splitlines() if ln.startswith("BUILT ")).split()[1])
    return out / built[1], out / built[0]


def test_wheel_carries_examples_license_and_no_stray_top_level(dists: tuple[Path, Path]) -> None:
    import zipfile

    names = zipfile.ZipFile(dists[0]).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"diskwright"}, tops  # nothing that another distribution could overwrite
    assert "diskwright/examples/vm-disk.toml" in names
    assert "diskwright/examples/make_root.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")
               for n in names)


def test_sdist_has_the_tests_lock_and_scripts(dists: tuple[Path, Path]) -> None:
    import tarfile

    with tarfile.open(dists[1]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for want in ("tests/conftest.py", "tests/test_setup.py", "requirements/test.lock",
                 "scripts/setup.sh", "scripts/test.sh", "LICENSE", "examples/vm-disk.toml"):
        assert want in names, f"{want} is not in the sdist"
    assert not [n for n in names if n.startswith("examples/root/")]


def test_presets_from_a_non_editable_install(dists: tuple[Path, Path], tmp_path: Path) -> None:
    """The wheel's wizard has presets: read from the installed package, not from a checkout."""
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--no-index", "--target", str(target), str(dists[0])],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # -I -S: nothing of this checkout or its editable install is importable
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from diskwright.core.presets import EXAMPLES, presets; "
            "print(EXAMPLES); print(' '.join(p.name for p in presets()))")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(target)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    folder, names = r.stdout.splitlines()
    assert Path(folder) == target / "diskwright" / "examples"
    assert names.split()[:2] == ["vm-disk", "sd-card"]
    assert "zfs-root" in names.split()


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    """.ci/run's command is the README's test command, word for word, and both scripts are
    executable as the README runs them (no `bash` in front)."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [ln.split("#", 1)[0].strip() for ln in block.splitlines() if ln.strip()]
    test_cmd = next(c for c in commands if "test" in c)
    ci = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci[-1] == f"exec {test_cmd}", (ci[-1], test_cmd)
    for path in (REPO / ".ci" / "run", REPO / test_cmd):
        assert path.stat().st_mode & 0o111, f"{path} is not executable"
    assert f"`.ci/run` runs exactly `{test_cmd}`" in readme
