"""vfat images filled by core/fat_fill.py: read back with fsck.vfat and mtools, names
(long, short, case, Unicode) and dates exact, bytes reproducible, bad names refused."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import tomli_w
from imagecheck import ENV, manifest, run
from testkit import leftovers, run_cli, sha256

pytestmark = pytest.mark.integration
EPOCH = 1700000001  # 2023-11-14 22:13:21 UTC: an odd second


def _tree(root: Path, big: int) -> Path:
    crowd = root / "EFI/crowd"
    crowd.mkdir(parents=True)
    for i in range(big):
        (crowd / f"kernel-module-{i:05d}.ko").write_bytes(b"m" * (i % 700) + bytes([i % 256]))
    names = [
        "BOOTX64.EFI",
        "lower.txt",
        "loader",
        "MixedCase.Conf",
        "a b.c.d",
        ".hidden",
        "ünïcødé-名前.txt",
        "x" * 200 + ".long",
        "longfilename1.txt",
        "longfilename2.txt",
        "LONGFI~1.TXT",  # a real short name that an alias could have taken
        "empty",
    ]
    for n in names:
        (root / n).write_bytes(b"" if n == "empty" else n.encode() * 3)
    (root / "big.bin").write_bytes(os.urandom(300_000))  # many clusters
    (root / "EFI/BOOT").mkdir()
    (root / "EFI/BOOT/grub.cfg").write_text("set timeout=1\n")
    (root / "EFI/link.cfg").symlink_to("BOOT/grub.cfg")  # followed: a file inside the tree
    return root


def _profile(folder: Path, src: Path, fat: str, size: str = "auto") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    prof = {
        "version": 1,
        "name": "esp",
        "source": {"path": str(src)},
        "reproducible": {"source_date_epoch": EPOCH, "seed": "esp"},
        "disks": [
            {
                "name": "esp",
                "table": "none",
                "output": {"path": "esp.img", "format": "raw"},
                "partitions": [
                    {
                        "role": "esp",
                        "filesystem": "vfat",
                        "mount_point": "/",
                        "label": "ESP",
                        "size": size,
                        "vfat": {"fat_size": fat if fat == "auto" else int(fat)},
                    }
                ],
            }
        ],
    }
    p = folder / "p.toml"
    p.write_text(tomli_w.dumps(prof))
    return p


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("esp") / "root", 2000)


def _back(img: Path, dest: Path) -> dict[str, object]:
    dest.mkdir()
    run("mcopy", "-s", "-n", "-m", "-i", img, "::*", "::.hidden", str(dest) + "/")
    return manifest(dest, modes=False)  # type: ignore[return-value]


def _expected(src: Path) -> dict[str, object]:
    m = manifest(src, modes=False)
    target = m["EFI/BOOT/grub.cfg"]
    m["EFI/link.cfg"] = target  # FAT holds the file the link points to
    return m  # type: ignore[return-value]


@pytest.mark.parametrize(("fat", "size"), [("32", "auto"), ("16", "auto"), ("12", "4MiB")])
def test_fill_reads_back_exactly(src: Path, tmp_path: Path, fat: str, size: str) -> None:
    if fat == "12":
        small = _tree(tmp_path / "small", 40)
        (small / "big.bin").unlink()
        tree = small
    else:
        tree = src
    r = run_cli("build", _profile(tmp_path / "a", tree, fat, size))
    assert r.returncode == 0, r.stderr
    img = tmp_path / "a/esp.img"
    assert "mcopy" not in (tmp_path / "a/esp.img.log").read_text()
    fsck = run("fsck.vfat", "-n", img)
    assert "differ" not in fsck and "Free cluster summary" not in fsck
    assert f"FAT{fat}" in r.stdout + (tmp_path / "a/esp.img.log").read_text()
    assert _back(img, tmp_path / "back") == _expected(tree)
    listing = run("mdir", "-i", img, "::/")
    assert "2023-11-14  22:13" in listing
    assert re.search(r"^lower    txt +27 ", listing, re.M)  # short entry, NT case bits
    assert "MIXEDC~1 CON" in listing and "MixedCase.Conf" in listing
    # every entry the same date, time to the (even) second FAT keeps
    stamps = set(re.findall(r"\d{4}-\d\d-\d\d  \d\d:\d\d", run("mdir", "-/", "-i", img, "::/")))
    assert stamps == {"2023-11-14  22:13"}


def test_two_fills_identical(src: Path, tmp_path: Path) -> None:
    outs = []
    for name in ("one", "two"):
        r = run_cli("build", _profile(tmp_path / name, src, "auto"))
        assert r.returncode == 0, r.stderr
        outs.append(tmp_path / name / "esp.img")
    assert sha256(outs[0]) == sha256(outs[1])


@pytest.mark.parametrize(
    ("make", "words", "code"),
    [  # all refused at validation (exit 2), from the scan; the fill still refuses them too
        (lambda r: (r / "bad:name").write_text("x"), ["bad:name", "rename"], 2),
        (lambda r: (r / "Same.txt").write_text("x"), ["Same.txt", "same.txt", "collide"], 2),
        (lambda r: (r / "out").symlink_to("/etc/hostname"), ["out", "symlink"], 2),
        (lambda r: (r / "dir").symlink_to("."), ["dir", "symlink", "folder"], 2),
        (lambda r: (r / "nowhere").symlink_to("gone"), ["nowhere", "symlink"], 2),
        (lambda r: os.mkfifo(r / "fifo"), ["fifo", "special file"], 2),
    ],
)
def test_refused_by_name(tmp_path: Path, make: object, words: list[str], code: int) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "same.txt").write_text("y")
    make(root)  # type: ignore[operator]
    r = run_cli("build", _profile(tmp_path / "b", root, "auto"))
    assert r.returncode == code, r.stderr
    for w in words:
        assert w in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "b/esp.img").exists() and leftovers(tmp_path / "b") == []


def test_symlink_to_a_file_inside_is_copied(tmp_path: Path) -> None:
    """The one symlink FAT can take (to a regular file in the tree) still builds: the
    file's bytes under the link's name."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub/real.txt").write_text("real\n")
    (root / "link.txt").symlink_to("sub/real.txt")
    r = run_cli("build", _profile(tmp_path / "b", root, "auto"))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "copy.txt"
    run("mcopy", "-n", "-i", tmp_path / "b/esp.img", "::/link.txt", out)
    assert out.read_text() == "real\n"


def test_extra_file_target_fat_cannot_hold(tmp_path: Path) -> None:
    """A source.files target under a vfat partition gets the same name checks as the tree
    (fat-fill refused 'name.' at build time, exit 1)."""
    import tomllib

    root = tmp_path / "root"
    root.mkdir()
    (root / "Readme").write_text("x")
    p = _profile(tmp_path / "b", root, "auto")
    (tmp_path / "b/payload").write_text("p")
    for n, target in enumerate(("/trailing.", "/README", "/a:b/x")):
        data = tomllib.loads(p.read_text())
        data["source"]["files"] = [{"source": "payload", "target": target}]
        p.write_text(tomli_w.dumps(data))
        r = run_cli("build", p)
        assert r.returncode == 2, (target, r.stderr)
        assert "source.files[0].target" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "b/esp.img").exists() and leftovers(tmp_path / "b") == [], n


def test_mtools_agrees_with_fsck(src: Path, tmp_path: Path) -> None:
    """mtools' own consistency check (mdir -a via MTOOLS_SKIP_CHECK unset) accepts the image."""
    r = run_cli("build", _profile(tmp_path, src, "32"))
    assert r.returncode == 0, r.stderr
    env = {k: v for k, v in ENV.items() if k != "MTOOLS_SKIP_CHECK"}
    p = subprocess.run(
        ["mdir", "-i", str(tmp_path / "esp.img"), "::/EFI/crowd"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert "2000 files" in p.stdout.replace("\u202f", " ") or "2002 files" in p.stdout



@pytest.mark.parametrize("fat", ["16", "auto"])
def test_root_folder_overflow_is_refused_at_validation(tmp_path: Path, fat: str) -> None:
    """FAT16's root holds 512 entries; the label takes one and a long name several. A tree
    that just fits builds and reads back; one name more is refused before any tool runs
    (it used to pass validation and fail at the fill step, exit 1)."""
    root = tmp_path / "root"
    root.mkdir()
    for i in range(508):
        (root / f"F{i:05d}.TXT").write_text(str(i))  # 8.3 names: one entry each
    (root / "a long name.txt").write_text("x")  # 15 characters: 2 long-name entries + 1
    r = run_cli("build", _profile(tmp_path / "fits", root, fat, "64MiB"))  # 1 + 508 + 3 = 512
    assert r.returncode == 0, r.stderr
    listing = subprocess.run(["mdir", "-b", "-i", tmp_path / "fits/esp.img", "::/"],
                             capture_output=True, text=True, env=ENV, check=True).stdout
    assert len(listing.splitlines()) == 509 and "::/a long name.txt" in listing

    (root / "F99999.TXT").write_text("one more")
    r = run_cli("build", _profile(tmp_path / "over", root, fat, "64MiB"))
    assert r.returncode == 2, r.stderr
    assert "513 FAT16 root entries" in r.stderr and "holds 512" in r.stderr, r.stderr
    assert "vfat.fat_size = 32" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "over/esp.img").exists() and leftovers(tmp_path / "over") == []


# Names whose str.upper()/lower() is ASCII, or changes the length, or has no round trip,
# or whose letters sit in the OEM code page but are not ASCII: none of them can be a bare
# 8.3 entry (it reads back as other letters: 'ß.txt' came back as 'ss.txt'), so each
# needs a long name. Distinct under upper() and casefold(), so validation accepts them.
UNASCII = [
    "ß.txt", "ı.txt", "ſ.txt", "ﬁle.txt",  # the report: read back ss, i, s, file
    "ﬀ.c", "ﬂ.c", "ﬃ.c", "ﬄ.c", "ﬅ1.c", "ﬆ2.c",  # every other non-ASCII → ASCII upper()
    "ßßßßß.txt",  # upper() is 10 letters: the old entry ran past its 32 bytes
    "x.ßß",  # an extension of 4 after upper()
    "ǰ.txt",  # upper() is 'J' + a combining caron: one letter becomes two
    "\u212a.txt",  # Kelvin sign: lower() is ASCII 'k'
    "İ.txt",  # lower() is 'i' + a combining dot
    "ς.txt",  # final sigma: upper() 'Σ' lowers back to 'σ'
    "µ.txt",  # micro sign, in code page 850: upper() is Greek 'Μ'
    "é.txt", "Ä.TXT", "ÿ",  # in code pages 437/850, still not ASCII
    "straße",  # a folder (below)
]
PLAIN = ["plain.txt", "UP.TXT", "lo.TXT", "HI.txt", "A1~2.b", "1234"]  # bare 8.3, as before
UTF8 = {**ENV, "LC_ALL": "C.UTF-8"}  # mtools prints names in the locale's charset


def _mtools(*args: str | Path) -> str:
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=UTF8)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


@pytest.mark.parametrize(("fat", "size"), [("32", "auto"), ("16", "auto"), ("12", "4MiB")])
def test_names_outside_ascii_keep_their_long_name(tmp_path: Path, fat: str, size: str) -> None:
    """Each name reads back exactly (mdir, mtype, mcopy), never as the letters its upper
    case happens to share with ASCII, in the root folder and below it."""
    root = tmp_path / "root"
    expected: dict[str, bytes] = {}
    for folder in ("", "big/"):
        for n in UNASCII + PLAIN:
            rel = folder + n
            if n == "straße":
                (root / rel).mkdir(parents=True)
                rel += "/inner.txt"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            expected[rel] = f"content of {rel}\n".encode()
            (root / rel).write_bytes(expected[rel])
    r = run_cli("build", _profile(tmp_path / "a", root, fat, size))
    assert r.returncode == 0, r.stderr
    img = tmp_path / "a/esp.img"
    assert f"FAT{fat}" in r.stdout + (tmp_path / "a/esp.img.log").read_text()
    fsck = run("fsck.vfat", "-n", img)
    for word in ("differ", "Free cluster summary", "Reclaimed", "Orphan", "Bad short"):
        assert word not in fsck, fsck

    listing = {
        line.removeprefix("::/").rstrip("/")
        for line in _mtools("mdir", "-b", "-/", "-a", "-i", img, "::/").splitlines()
    }
    folders = {"big", "straße", "big/straße"}
    assert listing == set(expected) | folders, listing ^ (set(expected) | folders)
    for rel, data in expected.items():
        got = subprocess.run(["mtype", "-i", str(img), f"::/{rel}"], capture_output=True,
                             env=UTF8)  # fmt: skip
        assert got.returncode == 0 and got.stdout == data, (rel, got.stderr)

    dest = tmp_path / "back"
    dest.mkdir()
    subprocess.run(["mcopy", "-s", "-n", "-m", "-i", str(img), "::*", str(dest) + "/"],
                   check=True, capture_output=True, env=UTF8)  # fmt: skip
    assert manifest(dest, modes=False) == manifest(root, modes=False)

    big = _mtools("mdir", "-a", "-i", img, "::/big")
    for n in PLAIN:  # still one bare short entry each, with the NT case bits
        base, _, ext = n.partition(".")
        assert re.search(rf"^{re.escape(base)} +{re.escape(ext)} +\d+ .*\d\d:\d\d *$", big, re.M), n
    for n in UNASCII:  # a generated alias and the long name beside it
        assert re.search(rf"^\S+~\d+ .* {re.escape(n)}$", big, re.M), (n, big)


def _read_back(short: bytes, nt: int, codepage: str) -> str:
    """A bare entry as a reader shows it: the bytes in its OEM code page, lowered (the
    NT case bits) the way Windows and mtools lower a short name: ASCII letters only."""
    from diskwright.core.fat_fill import NT_LOWER_BASE, NT_LOWER_EXT

    def lower(s: str) -> str:
        return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)

    base = short[:8].decode(codepage).rstrip(" ")
    ext = short[8:].decode(codepage).rstrip(" ")
    base = lower(base) if nt & NT_LOWER_BASE else base
    ext = lower(ext) if nt & NT_LOWER_EXT else ext
    return f"{base}.{ext}" if ext else base


def test_every_bare_short_name_reads_back_as_itself() -> None:
    """Every code point, in every place of an 8.3 name: whatever gets a bare short entry
    (no long name) is 11 bytes that read back as the name in code pages 437 and 850."""
    from diskwright.core.fat_fill import _short_fit

    bare = 0
    for cp in range(0x110000):
        c = chr(cp)
        if 0xD800 <= cp < 0xE000 or c in "./":
            continue
        for name in (c, f"{c}.txt", f"A.{c}", f"ab{c}{c}.E{c}", c * 8 + ".t", f"x.{c * 3}"):
            fit = _short_fit(name)
            if fit is None:
                continue
            bare += 1
            short, nt = fit
            assert len(short) == 11, (name, short)
            for codepage in ("cp437", "cp850"):
                assert _read_back(short, nt, codepage) == name, (name, short, nt, codepage)
    assert bare > 300  # the ASCII ones still fit
