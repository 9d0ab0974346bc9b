"""The shell scripts that run inside the helper VM, and what the verifier expects.

They are plain text made here and written into the workspace by `write`
steps, so the plan preview shows every zpool/zfs command exactly as it runs.
The VM runs them with busybox sh; every value goes through shlex.quote.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .model import CREATE_ONLY, MountSpec, Node, ZfsPool

ALTROOT = "/mnt"
VDEV_SERIAL = "vdev"  # the build VM's target disk
CHECK_SERIAL = "image"  # the verify VM's disk under test
RESULT_SERIAL = "result"  # where the verify VM leaves its findings (a tar)
COMPAT_DIRS = (Path("/etc/zfs/compatibility.d"), Path("/usr/share/zfs/compatibility.d"))


def q(text: str) -> str:
    return shlex.quote(text)


def by_id(serial: str, part: int | None = None) -> str:
    return f"/dev/disk/by-id/virtio-{serial}" + (f"-part{part}" if part else "")


UDEV_NO_RULES = (
    "diskwright: udevd in the helper VM applied no rules (the disk has no link of its own); "
    "rebuild the kit: diskwright helper zfs-kit build --force"
)


def udev_start(serial: str) -> list[str]:
    """Start udevd in the VM and wait until it has processed every block device.

    The last line checks that udevd applied its rules (the disk has the by-id
    link udev itself makes): a udevd that finds no rules leaves every device
    unready, and `zpool create` on a whole disk would only say "failed to
    detect device partitions" after 30 s.
    """
    link = by_id(serial).removeprefix("/dev/")
    return [
        "/lib/systemd/systemd-udevd --daemon --resolve-names=never",
        "udevadm trigger --action=add --subsystem-match=block",
        "udevadm settle --timeout=30",
        f"udevadm info --query=symlink {q(by_id(serial))} | grep -q {q(link)} \\",
        f"  || {{ echo {q(UDEV_NO_RULES)}; exit 1; }}",
    ]


def compat_files(pool: ZfsPool) -> dict[str, str]:
    """Feature-set files the pool's compatibility names, read from the host.

    The VM has no /usr/share/zfs, so the job writes them to /etc/zfs there.
    Missing ones are left out; the builder's check reports them.
    """
    value = str(pool.pool_properties.get("compatibility", "off"))
    out: dict[str, str] = {}
    if value in ("off", "legacy"):
        return out
    for name in value.split(","):
        for d in COMPAT_DIRS:
            p = d / name
            if p.is_file():
                out[name] = p.read_text(errors="replace")
                break
    return out


def _in_vm(name: str, pool: str, tmp: str) -> str:
    return tmp + name[len(pool) :]


def _opts(flag: str, props: dict[str, str]) -> list[str]:
    out: list[str] = []
    for k, v in props.items():
        out += [flag, q(f"{k}={v}")]
    return out


def _mnt(path: str) -> str:
    return ALTROOT if path == "/" else ALTROOT + path


def _mount_cmds(m: MountSpec, name: str, *, readonly: bool) -> list[str]:
    if m.legacy:
        ro = "-o ro " if readonly else ""
        mkdir = "" if readonly else f"mkdir -p {q(_mnt(m.path))} && "
        return [f"{mkdir}mount -t zfs {ro}{q(name)} {q(_mnt(m.path))}"]
    return [f"zfs mount {'-o ro ' if readonly else ''}{q(name)}"]


def _umount_cmd(m: MountSpec, name: str) -> str:
    return f"umount {q(_mnt(m.path))}" if m.legacy else f"zfs umount {q(name)}"


def _wrap(words: list[str], indent: str = "  ") -> str:
    """One command, over several lines when it has many options: each -o/-O with its value."""
    groups: list[str] = []
    head: list[str] = []
    i = 0
    while i < len(words) and words[i] not in ("-o", "-O"):
        head.append(words[i])
        i += 1
    opts: list[str] = []
    while i < len(words) and words[i] in ("-o", "-O") and i + 1 < len(words):
        opts.append(f"{words[i]} {words[i + 1]}")
        i += 2
    tail = words[i:]
    if len(opts) <= 2:
        return " ".join([*head, *opts, *tail])
    groups = [" ".join(head), *opts, " ".join(tail)]
    return (" \\\n" + indent).join(g for g in groups if g)


@dataclass(frozen=True)
class JobContext:
    """What the scripts need to know beyond the pool itself."""

    where: str  # "disks[1].partitions[0]", for the header
    temp_name: str
    base: str  # the guest path the partition's tree lands on ("/")
    has_payload: bool
    partition: int | None = None  # partition number in the verify disk, None = whole disk
    whole_disk: bool = False  # the pool gets the whole vdev disk (ZFS partitions it; needs udev)


def build_script(pool: ZfsPool, ctx: JobContext) -> str:
    """The build job: create the pool and datasets, mount, unpack the tree, unmount, export."""
    name, tmp = pool.pool, ctx.temp_name
    nodes = pool.nodes()
    root = nodes[0]
    out = [
        "#!/bin/sh",
        f"# diskwright: build ZFS pool {name!r} for {ctx.where} in the helper VM (busybox sh).",
        f"# Inside the VM the pool is called {tmp!r} (zpool create -t); on disk, and at",
        f"# every later import, it is {name!r}.",
        "set -eux",
    ]
    compat = compat_files(pool)
    if compat:
        out += ["", "# the feature sets named by compatibility (the VM has no /usr/share/zfs)"]
        out.append("mkdir -p /etc/zfs/compatibility.d")
        for fname, text in sorted(compat.items()):
            tag = "DISKWRIGHT_COMPAT"
            body = text if text.endswith("\n") else text + "\n"
            out.append(f"cat >/etc/zfs/compatibility.d/{q(fname)} <<'{tag}'\n{body}{tag}")
    pool_props = {
        k: ("on" if v is True else "off" if v is False else str(v))
        for k, v in pool.pool_properties.items()
        if k != "bootfs"
    }
    create = ["zpool", "create", "-t", q(tmp), "-R", ALTROOT]
    create += _opts("-o", pool_props) + _opts("-O", root.properties)
    if ctx.whole_disk:
        create += [q(name), by_id(VDEV_SERIAL)]
        out += [
            "",
            "# udev: zpool create on a whole disk writes ZFS's own GPT (partitions 1 and 9)",
            "# and waits until udev reports partition 1, so run udevd for it",
            *udev_start(VDEV_SERIAL),
            "",
            "# the pool, owning the whole vdev disk (whole_disk=1: autoexpand can relabel it)",
        ]
    else:
        create += [q(name), by_id(VDEV_SERIAL, 1)]
        out += ["", "# the pool, on partition 1 of the vdev disk"]
    out.append(_wrap(create))
    mounts = pool.mounts()
    root_mounts = [m for m in mounts if m.dataset == name and not m.legacy]
    if root_mounts:
        out += [
            "# zpool create mounted the root file system; unmount it so that everything",
            "# mounts below in mount-point order",
            "zfs umount -a",
        ]
    rest = nodes[1:]
    if rest:
        out += ["", "# datasets, each after its parent (a walk of the tree), none mounted yet"]
    for node in rest:
        out.append(_create(node, name, tmp))
    bootfs = pool.pool_properties.get("bootfs")
    if bootfs is not None:
        out += ["", "# the boot file system (only settable once it exists)"]
        out.append(f"zpool set {q('bootfs=' + _in_vm(str(bootfs), name, tmp))} {q(tmp)}")
    if mounts:
        out += ["", "# mount in mount-point order, parents first"]
        for m in mounts:
            out += _mount_cmds(m, _in_vm(m.dataset, name, tmp), readonly=False)
    if ctx.has_payload:
        target = _mnt(ctx.base)
        out += ["", "# the tree: every file lands in the file system mounted at its path"]
        if ctx.base != "/":
            out.append(f"mkdir -p {q(target)}")
        out += _copy_with_progress(by_id("payload"), target)
    out += [
        "sync",
        f"zfs list -o name,used,available,referenced,compressratio,mountpoint -r {q(tmp)}",
    ]
    if mounts:
        out += ["", "# unmount in reverse order"]
        for m in reversed(mounts):
            out.append(_umount_cmd(m, _in_vm(m.dataset, name, tmp)))
    out += ["", f"zpool export {q(tmp)}", f"echo 'diskwright: pool {name} exported'"]
    return "\n".join(out) + "\n"


def _copy_with_progress(payload: str, target: str) -> list[str]:
    """Unpack the payload while reporting the bytes tar has read of it (its /proc io).

    The lines "diskwright-progress: DONE TOTAL" go to the host with the job's output;
    the Runner turns them into the step's progress. The loop runs untraced (set +x).
    """
    return [
        "# how far: the bytes tar has read of the payload, looked at 4 times a second",
        f"total=$(blockdev --getsize64 {payload})",
        'echo "diskwright-progress: 0 $total"',
        f"tar -xf {payload} -C {q(target)} &",
        "tar_pid=$!",
        "set +x",
        'while kill -0 "$tar_pid" 2>/dev/null; do',
        """  read_bytes=$(sed -n 's/^rchar: //p' "/proc/$tar_pid/io" 2>/dev/null || true)""",
        '  if [ -n "$read_bytes" ] && [ "$read_bytes" != "${said_bytes-}" ]; then',
        '    echo "diskwright-progress: $read_bytes $total"; said_bytes=$read_bytes',
        "  fi",
        "  usleep 250000",
        "done",
        'tar_rc=0; wait "$tar_pid" || tar_rc=$?',
        "set -x",
        '[ "$tar_rc" = 0 ] || exit "$tar_rc"',
        'echo "diskwright-progress: $total $total"',
    ]


def _create(node: Node, pool: str, tmp: str) -> str:
    words = ["zfs", "create"]
    if node.kind == "volume":
        assert node.volsize is not None
        if node.sparse:
            words.append("-s")
        words += ["-V", str(node.volsize)]
    else:
        words.append("-u")
    words += _opts("-o", node.properties)
    words.append(q(_in_vm(node.name, pool, tmp)))
    text = _wrap(words)
    return text + ("  # parent of listed datasets" if node.implicit else "")


def verify_script(pool: ZfsPool, ctx: JobContext) -> str:
    """The verify job: import read-only under the real name, mount, describe, export."""
    name = pool.pool
    dev = by_id(CHECK_SERIAL, ctx.partition)
    mounts = pool.mounts()
    out = [
        "#!/bin/sh",
        f"# diskwright: check ZFS pool {name!r} of {ctx.where} in a fresh VM boot (busybox sh).",
        "# The pool is imported read-only under its real name; what is found goes back to",
        f"# the host as a tar on the disk with serial {RESULT_SERIAL!r}.",
        "set -eux",
        f"test -e {dev}",
        f"zpool import -d {dev} -o readonly=on -N -R {ALTROOT} {q(name)}",
    ]
    out += ["", "# mount as the guest would, parents first"]
    for m in mounts:
        out += _mount_cmds(m, m.dataset, readonly=True)
    r = "/tmp/dw-result"
    out += [
        "",
        f"mkdir -p {r}",
        f"zpool get -H -p -o property,value,source all {q(name)} >{r}/pool.tsv",
        f"zfs list -H -p -o name,type -t filesystem,volume -r {q(name)} >{r}/datasets.tsv",
        f"zfs get -H -p -o name,property,value,source all -r {q(name)} >{r}/props.tsv",
        f"grep ' zfs ' /proc/mounts >{r}/mounts.txt || true",
    ]
    if ctx.has_payload:
        out += [
            f"cd {q(_mnt(ctx.base))}",
            f"find . -type f -exec sha256sum {{}} + >{r}/files.sha256",
            f"find . -exec stat -c '%a %u %g %F|%n' {{}} + >{r}/entries.txt",
            'find . -type l -exec sh -c \'for f do printf "%s|%s\\n" "$f" "$(readlink "$f")";'
            f" done' sh {{}} + >{r}/links.txt",
            "cd /",
        ]
    if mounts:
        out += ["", "# unmount in reverse order"]
        for m in reversed(mounts):
            out.append(_umount_cmd(m, m.dataset))
    out += [
        f"zpool export {q(name)}",
        f"wc -l {r}/*",
        f"tar -cf {by_id(RESULT_SERIAL)} -C {r} .",
        "echo 'diskwright: findings written'",
    ]
    return "\n".join(out) + "\n"


def expectation(pool: ZfsPool, *, base: str, has_payload: bool) -> dict[str, object]:
    """What the verifier compares the imported pool with: names, properties, mounts."""
    props: dict[str, dict[str, str]] = {}
    datasets: dict[str, str] = {}
    for node in pool.nodes():
        datasets[node.name] = "volume" if node.kind == "volume" else "filesystem"
        mine = dict(node.properties)
        if node.kind == "volume" and node.volsize is not None:
            mine["volsize"] = str(node.volsize)
        if mine:
            props[node.name] = mine
    pool_props = {
        k: ("on" if v is True else "off" if v is False else str(v))
        for k, v in pool.pool_properties.items()
    }
    return {
        "pool": pool.pool,
        "altroot": ALTROOT,
        "base": base,
        "has_payload": has_payload,
        "pool_properties": pool_props,
        "datasets": datasets,
        "properties": props,
        "create_only": sorted(CREATE_ONLY | {"volsize", "volblocksize"}),
        "mounts": [
            {"path": m.path, "dataset": m.dataset, "legacy": m.legacy} for m in pool.mounts()
        ],
        "mount_dirs": sorted(mount_dirs(pool, base)),
    }


def expectation_text(pool: ZfsPool, *, base: str, has_payload: bool) -> str:
    return json.dumps(expectation(pool, base=base, has_payload=has_payload), indent=1) + "\n"


def mount_dirs(pool: ZfsPool, base: str) -> set[str]:
    """Folders (relative to `base`, "./…") the mounts create: the VM may hold them empty."""
    out: set[str] = set()
    b = PurePosixPath(base)
    for m in pool.mounts():
        p = PurePosixPath(m.path)
        if p == b or b in p.parents:
            rel = p.relative_to(b)
            parts = rel.parts
            for i in range(1, len(parts) + 1):
                out.add("./" + "/".join(parts[:i]))
    return out


__all__ = [
    "ALTROOT",
    "CHECK_SERIAL",
    "RESULT_SERIAL",
    "VDEV_SERIAL",
    "JobContext",
    "build_script",
    "compat_files",
    "expectation",
    "expectation_text",
    "mount_dirs",
    "verify_script",
]
