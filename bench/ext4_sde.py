"""Can SOURCE_DATE_EPOCH replace the ext4 pin step (e2fsprogs >= 1.47.1)? Measures it.

Runs the ext4 steps of a diskwright plan (the same mkfs.ext4 flags, e2fsck -fyD,
resize2fs -M and the grow) from a hard-link farm of one tree, as the plan's
staging does, in three variants, each built twice, 2 s apart, from the same
untouched source (the first build's reads move the source's atimes, relatime):
  pin       E2FSPROGS_FAKE_TIME + SOURCE_DATE_EPOCH, then the pin (what every plan runs)
  sde       the same environment, no pin
  sde-only  SOURCE_DATE_EPOCH on every step, no E2FSPROGS_FAKE_TIME / E2FSCK_TIME, no pin
It prints each variant's two hashes, the superblock times, and per inode time field
how many inodes differ between the two builds and from the epoch the profile promises.
Stdlib only, so it runs with a distribution's python3 wherever the repository is:
  [EPOCH=N] python3 bench/ext4_sde.py [WORKDIR]
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.ext4_pin import _time_words, pin  # stdlib-only module

EPOCH = int(os.environ.get("EPOCH", "1700000000"))  # EPOCH=4000000000: after today
UUID = "6594febf-5c2d-5bea-937b-f386762576b8"
SB_TIMES = {"s_mtime": 0x2C, "s_wtime": 0x30, "s_lastcheck": 0x40, "s_mkfs_time": 0x108}
FIELDS = ("atime", "ctime", "mtime", "crtime")
VARIANTS = ("pin", "sde", "sde-only")


def tree(root: Path) -> None:
    """Old files (atime = mtime before the epoch, like a Nix store's 1), new ones, a big folder."""
    for d in range(3):
        sub = root / f"d{d}"
        sub.mkdir(parents=True)
        for i in range(40):
            p = sub / f"file-{i:03}"
            p.write_bytes(b"x" * (i * 301 + 1))
            if d < 2:  # d2 keeps today's times (after the epoch)
                t = 1 if d == 0 else 1_500_000_000 + 7 * i
                os.utime(p, (t, t))
    big = root / "big"
    big.mkdir()
    for i in range(400):  # more than one 4 KiB block of entries: e2fsck -D indexes it
        (big / f"entry-with-a-long-name-{i:05}").write_text(str(i))
    (root / "d0/link").symlink_to("file-001")
    os.utime(root / "d1", (1_400_000_000, 1_400_000_000))


def run(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> str:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("E2FSPROGS_FAKE_TIME", "E2FSCK_TIME", "SOURCE_DATE_EPOCH")}
    p = subprocess.run(argv, env={**clean, **env}, capture_output=True, text=True)
    if p.returncode not in ok:
        raise SystemExit(f"{argv[0]} exit {p.returncode}: {p.stderr}")
    return p.stdout


def build(work: Path, src: Path, name: str, variant: str) -> tuple[Path, float, float]:
    """Stage (hard links), mkfs, index, [pin], shrink, grow; (image, seconds, pin seconds)."""
    stage = work / f"{name}.stage"
    subprocess.run(["cp", "-al", str(src), str(stage)], check=True)
    img = work / f"{name}.img"
    env = {"SOURCE_DATE_EPOCH": str(EPOCH), "LC_ALL": "C", "TZ": "UTC"}
    fsck_env = dict(env)
    if variant != "sde-only":
        env["E2FSPROGS_FAKE_TIME"] = str(EPOCH)
        fsck_env = {**env, "E2FSCK_TIME": str(EPOCH)}
    t0 = time.monotonic()
    run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-i", "16384", "-I", "256", "-m", "0",
         "-J", "size=4", "-L", "nixos", "-U", UUID, "-E", f"hash_seed={UUID},root_owner=0:0",
         "-d", str(stage), str(img), "16384k"], env)
    run(["e2fsck", "-fyD", str(img)], fsck_env, ok=(0, 1))
    pinned = 0.0
    if variant == "pin":
        t1 = time.monotonic()
        pin(str(img), EPOCH, owners=True)
        pinned = time.monotonic() - t1
    run(["resize2fs", "-M", str(img)], env)
    dump = run(["dumpe2fs", "-h", str(img)], env)
    blocks = int(re.search(r"Block count:\s*(\d+)", dump).group(1))  # type: ignore[union-attr]
    os.truncate(img, (blocks + blocks // 10 + 255) // 256 * 256 * 4096)
    run(["resize2fs", str(img)], env)
    run(["e2fsck", "-fn", str(img)], env)
    took = time.monotonic() - t0
    shutil.rmtree(stage)
    return img, took, pinned


def sb_times(img: Path) -> dict[str, int]:
    with open(img, "rb") as f:
        f.seek(1024)
        sb = f.read(1024)
    return {k: struct.unpack_from("<I", sb, off)[0] for k, off in SB_TIMES.items()}


def inode_times(img: Path) -> dict[str, dict[str, str]]:
    """path → {field: 'seconds:extra'} for every entry, read back with debugfs."""
    paths = ["/"]
    todo = ["/"]
    while todo:
        d = todo.pop()
        out = run(["debugfs", "-R", f"ls -p {d}", str(img)], {})
        for line in out.splitlines():
            parts = line.split("/")  # /INO/MODE/UID/GID/NAME/SIZE/
            if len(parts) < 7 or parts[5] in (".", "..", "lost+found"):
                continue
            p = d.rstrip("/") + "/" + parts[5]
            paths.append(p)
            if parts[2].startswith("04"):  # a folder
                todo.append(p)
    script = "".join(f'stat "{p}"\n' for p in paths)
    out = subprocess.run(["debugfs", "-f", "-", str(img)], input=script, capture_output=True,
                         text=True).stdout
    chunks = re.split(r"^debugfs: stat .*$", out, flags=re.M)[1:]
    result = {}
    for p, chunk in zip(paths, chunks, strict=True):
        result[p] = {m.group(1): f"{int(m.group(2), 16)}:{m.group(3)}"
                     for m in re.finditer(r"\b(\w*time): (0x[0-9a-f]+):([0-9a-f]+)", chunk)}
    return result


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16]


def main() -> int:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ext4sde-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    version = subprocess.run(["mke2fs", "-V"], capture_output=True, text=True).stderr
    print(version.splitlines()[0], "· epoch", EPOCH)
    for variant in VARIANTS:
        src = work / f"src-{variant}"  # each variant its own untouched source
        tree(src)
        imgs, secs = [], []
        for n in ("a", "b"):
            img, took, pinned = build(work, src, f"{variant}-{n}", variant)
            imgs.append(img)
            secs.append(pinned if variant == "pin" else took)
            if n == "a":
                time.sleep(2)
        ha, hb = sha(imgs[0]), sha(imgs[1])
        print(f"\n{variant}: {ha} {hb} {'identical' if ha == hb else 'DIFFER'}"
              + (f" (pin step {secs[0] * 1000:.0f} ms, {secs[1] * 1000:.0f} ms)"
                 if variant == "pin" else ""))
        sa, sb = sb_times(imgs[0]), sb_times(imgs[1])
        print("  superblock a:", sa, "" if sa == sb else f"\n  superblock b: {sb}")
        ta, tb = inode_times(imgs[0]), inode_times(imgs[1])
        low, high = _time_words(EPOCH)
        epoch = f"{low}:{high:08x}"  # what debugfs shows for the epoch (low word, epoch bits)
        for field in FIELDS:
            differ = sum(ta[p].get(field) != tb[p].get(field) for p in ta)
            not_epoch = [p for p in ta if ta[p].get(field) != epoch]
            sample = f" e.g. {not_epoch[0]} {ta[not_epoch[0]][field]}" if not_epoch else ""
            print(f"  {field:6}: {differ:3} of {len(ta)} differ a/b; "
                  f"{len(not_epoch):3} not the epoch{sample}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
