"""The OpenZFS properties a profile may set, as data: names, one-line help, allowed values.

Why a catalog: the model validates values where OpenZFS has a closed set, the
wizard renders choices and help from the same entries, and the verifier uses
`same_value` to compare what `zfs get -p` prints with what the profile says
(OpenZFS shows some values under another name: posixacl as posix, gzip-6 as
gzip). Checked against OpenZFS 2.1 (Debian bookworm) in the helper VM; values
newer than that carry `since`, and the builder refuses them when the kit's
OpenZFS is older.

Every check raises ValueError("<name>: problem; fix"), the profile's style.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["index", "number", "size", "text", "path"]
Target = Literal["pool", "filesystem", "volume"]
Value = str | int | bool

ON_OFF = ("on", "off")
FS = frozenset({"filesystem"})
VOL = frozenset({"volume"})
BOTH = frozenset({"filesystem", "volume"})
UINT64_MAX = 2**64 - 1


@dataclass(frozen=True)
class Prop:
    """One property: how it is written, what it means, which values OpenZFS takes."""

    name: str
    kind: Kind
    description: str
    values: tuple[str, ...] = ()  # the closed set (index) or suggestions (others)
    default: str | None = None
    targets: frozenset[str] = BOTH  # "pool" for pool properties
    create_only: bool = False  # only at creation; `zfs get` shows source "-"
    aliases: dict[str, str] = field(default_factory=dict)  # written → shown by zfs get
    since: str | None = None  # first OpenZFS release that has it
    value_since: dict[str, str] = field(default_factory=dict)
    none_value: int | None = None  # what `zfs get -p` prints for "none" (sizes, counts)
    check: Callable[[str], str | None] | None = None  # extra rule: error text or None
    inherit: bool = True  # children take the parent's value (zfs_prop_inheritable)

    @property
    def closed(self) -> bool:
        return self.kind == "index"


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    since: str = "0.6.1"


# ----------------------------------------------------------------- sizes


_ZFS_SIZE_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([bkmgtpez]|[kmgtpez](?:b|ib))?$", re.I)
_SHIFT = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60, "z": 70}


def zfs_size(text: str) -> int:
    """Bytes the way zfs_nicestrtonum reads them: binary K/M/G (KB = KiB = K), no spaces."""
    m = _ZFS_SIZE_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a size; write it like 512K, 10G or 1073741824")
    number, unit = m.groups()
    shift = _SHIFT[unit[0].lower()] if unit else 0
    value = float(number) * (1 << shift) if "." in number else int(number) << shift
    if value > UINT64_MAX:
        raise ValueError(f"{text!r} is larger than OpenZFS can count; use a smaller size")
    return int(value)


def _size_rule(*, minimum: int = 0, pow2: tuple[int, int] | None = None, none: bool = False):
    def check(v: str) -> str | None:
        if none and v == "none":
            return None
        try:
            n = zfs_size(v)
        except ValueError as err:
            return str(err) + (" or none" if none else "")
        if pow2 is not None:
            lo, hi = pow2
            if n < lo or n > hi or n & (n - 1):
                return (
                    f"{v} is not a power of two from {_human(lo)} to {_human(hi)}; "
                    f"use e.g. {_human(min(max(lo, 128 * 1024), hi))}"
                )
        elif n < minimum:
            return f"{v} is below the minimum {_human(minimum)}; raise it"
        return None

    return check


def _human(n: int) -> str:
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def _count_rule(v: str) -> str | None:
    if v == "none" or re.fullmatch(r"\d+", v):
        return None
    return f"{v!r} is not a count; write a whole number or none"


def _special_small(v: str) -> str | None:
    if v == "0":
        return None
    return _size_rule(pow2=(512, 1024 * 1024))(v)


def _mountpoint(v: str) -> str | None:
    if v in ("none", "legacy"):
        return None
    if not v.startswith("/"):
        return f"{v!r} is not an absolute path; write a path like /home, or none or legacy"
    if any(part in (".", "..") for part in v.split("/")):
        return f"{v!r} has . or .. in it; write the plain absolute path"
    if any(len(part.encode()) > 255 for part in v.split("/")):
        return "a folder name in it is longer than 255 bytes; shorten it"
    return None


def _comment(v: str) -> str | None:
    if len(v) > 32:
        return f"the comment has {len(v)} characters, OpenZFS keeps 32; shorten it"
    if not all(32 <= ord(c) < 127 for c in v):
        return "the comment may hold printable ASCII only; remove other characters"
    return None


def _version_fs(v: str) -> str | None:
    if v == "current" or v in ("1", "2", "3", "4", "5"):
        return None
    return f"{v!r} is not a file system version; use 1 to 5 or current"


def _version_pool(v: str) -> str | None:
    if re.fullmatch(r"\d+", v) and 1 <= int(v) <= 28:
        return None
    return f"{v!r} is not a legacy pool version; use 1 to 28, or remove it for feature flags"


def _ashift(v: str) -> str | None:
    if re.fullmatch(r"\d+", v) and (int(v) == 0 or 9 <= int(v) <= 16):
        return None
    return f"{v!r} is out of range; use 9 to 16 (12 for 4K-sector disks) or 0 to let ZFS choose"


def _copies(v: str) -> str | None:
    return None if v in ("1", "2", "3") else f"{v!r} is not 1, 2 or 3; choose one of them"


def _selinux(v: str) -> str | None:
    return None if v and "," not in v else "an SELinux context without commas, or none"


# ----------------------------------------------------------------- values

COMPRESSION = (
    *("on", "off", "lz4", "zstd", "zstd-fast", "gzip", "lzjb", "zle"),
    *(f"gzip-{i}" for i in range(1, 10)),
    *(f"zstd-{i}" for i in range(1, 20)),
    *(f"zstd-fast-{i}" for i in (*range(1, 11), *range(20, 101, 10), 500, 1000)),
)
CHECKSUM: tuple[str, ...] = ("on", "off", "fletcher2", "fletcher4", "sha256", "noparity")
CHECKSUM += ("sha512", "skein", "edonr", "blake3")
_DEDUP_BASE = ("sha256", "sha512", "skein", "blake3")
DEDUP = ("off", "on", "verify", *_DEDUP_BASE, *(f"{h},verify" for h in _DEDUP_BASE), "edonr,verify")

POOL_PROPERTIES: dict[str, Prop] = {
    p.name: p
    for p in [
        Prop(
            "ashift",
            "number",
            "Sector size as a power of two (12 = 4 KiB); fixed for the vdev's life",
            ("9", "12", "13", "0"),
            "0",
            frozenset({"pool"}),
            check=_ashift,
        ),
        Prop(
            "autoexpand",
            "index",
            "Grow the pool when its partition or disk grows",
            ON_OFF,
            "off",
            frozenset({"pool"}),
        ),
        Prop(
            "autoreplace",
            "index",
            "Use a new device in the same place automatically",
            ON_OFF,
            "off",
            frozenset({"pool"}),
        ),
        Prop(
            "autotrim",
            "index",
            "Pass freed space to the device (TRIM/discard) as it is freed",
            ON_OFF,
            "off",
            frozenset({"pool"}),
        ),
        Prop(
            "bootfs",
            "text",
            "The default boot dataset (set after the datasets exist), e.g. tank/root",
            (),
            None,
            frozenset({"pool"}),
        ),
        Prop(
            "comment",
            "text",
            "A short note stored in the pool (printable ASCII, 32 characters)",
            (),
            None,
            frozenset({"pool"}),
            check=_comment,
        ),
        Prop(
            "compatibility",
            "text",
            "Limit features to a set other systems support: off, legacy or names like grub2",
            ("off", "legacy", "grub2", "openzfs-2.1-linux", "openzfs-2.0-linux"),
            "off",
            frozenset({"pool"}),
        ),
        Prop(
            "delegation",
            "index",
            "Let non-root users use permissions given with zfs allow",
            ON_OFF,
            "on",
            frozenset({"pool"}),
        ),
        Prop(
            "failmode",
            "index",
            "What happens when the pool loses its devices",
            ("wait", "continue", "panic"),
            "wait",
            frozenset({"pool"}),
        ),
        Prop(
            "listsnapshots",
            "index",
            "Show snapshots in zfs list without -t snapshot",
            ON_OFF,
            "off",
            frozenset({"pool"}),
        ),
        Prop(
            "version",
            "number",
            "Legacy on-disk version 1-28 (no feature flags); only for very old systems",
            ("28",),
            None,
            frozenset({"pool"}),
            check=_version_pool,
        ),
    ]
}

# Pool properties a profile cannot set, each with the reason and the fix.
POOL_FORBIDDEN: dict[str, str] = {
    "altroot": "diskwright builds under its own altroot (-R /mnt); remove it",
    "cachefile": "a pool built under -R has no cache file; remove it and import on first boot",
    "readonly": "readonly is an import option, not a pool setting; remove it",
    "multihost": (
        "the helper VM has no hostid, and OpenZFS refuses multihost without one; remove it "
        "and run zpool set multihost=on on the guest"
    ),
    "dedupditto": "dedupditto is gone from OpenZFS; remove it",
}
POOL_READ_ONLY = frozenset(
    "allocated capacity checkpoint dedupratio expandsize fragmentation free freeing guid "
    "health leaked load_guid size".split()
)

FS_PROPERTIES: dict[str, Prop] = {
    p.name: p
    for p in [
        Prop(
            "aclinherit",
            "index",
            "How new files inherit ACL entries (NFSv4 ACLs)",
            ("discard", "noallow", "restricted", "passthrough", "passthrough-x"),
            "restricted",
            FS,
        ),
        Prop(
            "aclmode",
            "index",
            "How chmod changes an ACL (NFSv4 ACLs)",
            ("discard", "groupmask", "passthrough", "restricted"),
            "discard",
            FS,
        ),
        Prop(
            "acltype",
            "index",
            "ACL flavour: posix (posixacl) for Linux ACLs, off for none",
            ("off", "posix", "nfsv4", "posixacl", "noacl"),
            "off",
            FS,
            aliases={"posixacl": "posix", "noacl": "off", "disabled": "off"},
        ),
        Prop("atime", "index", "Update access times on read", ON_OFF, "on", FS),
        Prop(
            "canmount",
            "index",
            "Whether the dataset mounts (noauto: only when asked); not inherited",
            ("on", "off", "noauto"),
            "on",
            FS,
        ),
        Prop(
            "casesensitivity",
            "index",
            "Case-sensitive file names (mixed/insensitive for SMB shares)",
            ("sensitive", "insensitive", "mixed"),
            "sensitive",
            FS,
            create_only=True,
        ),
        Prop(
            "checksum",
            "index",
            "Block checksum; on = fletcher4",
            CHECKSUM,
            "on",
            BOTH,
            value_since={"blake3": "2.2"},
        ),
        Prop(
            "compression",
            "index",
            "Compression: lz4 (fast, the usual choice), zstd, gzip, zle or off",
            COMPRESSION,
            "off",
            BOTH,
            aliases={"gzip-6": "gzip", "zstd-fast-1": "zstd-fast"},
        ),
        Prop(
            "context",
            "text",
            "SELinux context for the whole file system",
            (),
            "none",
            FS,
            check=_selinux,
        ),
        Prop(
            "copies",
            "number",
            "Copies of each data block (1-3)",
            ("1", "2", "3"),
            "1",
            BOTH,
            check=_copies,
        ),
        Prop(
            "dedup",
            "index",
            "Deduplication (needs much RAM; rarely worth it)",
            DEDUP,
            "off",
            BOTH,
            value_since={v: "2.2" for v in DEDUP if v.startswith("blake3")},
        ),
        Prop(
            "defcontext",
            "text",
            "SELinux default context for unlabeled files",
            (),
            "none",
            FS,
            check=_selinux,
        ),
        Prop("devices", "index", "Allow device nodes", ON_OFF, "on", FS),
        Prop(
            "dnodesize",
            "index",
            "Dnode size; auto stores more attributes in place (pair with xattr=sa)",
            ("legacy", "auto", "1k", "2k", "4k", "8k", "16k"),
            "legacy",
            FS,
        ),
        Prop("exec", "index", "Allow running programs", ON_OFF, "on", FS),
        Prop(
            "filesystem_limit",
            "number",
            "Most file systems and volumes allowed below this one",
            ("none",),
            "none",
            FS,
            none_value=UINT64_MAX,
            check=_count_rule,
        ),
        Prop(
            "fscontext",
            "text",
            "SELinux context for the file system itself",
            (),
            "none",
            FS,
            check=_selinux,
        ),
        Prop(
            "logbias",
            "index",
            "Synchronous writes: latency (use a log device) or throughput",
            ("latency", "throughput"),
            "latency",
            BOTH,
        ),
        Prop(
            "mountpoint",
            "path",
            "Where ZFS mounts it: a path, legacy (mounted by fstab/NixOS) or none",
            ("legacy", "none"),
            None,
            FS,
            check=_mountpoint,
        ),
        Prop("nbmand", "index", "Non-blocking mandatory locks (SMB)", ON_OFF, "off", FS),
        Prop(
            "normalization",
            "index",
            "Unicode normalization of file names (formD is what macOS and NixOS images use)",
            ("none", "formC", "formD", "formKC", "formKD"),
            "none",
            FS,
            create_only=True,
        ),
        Prop("overlay", "index", "Allow mounting over a non-empty folder", ON_OFF, "on", FS),
        Prop(
            "primarycache",
            "index",
            "What the ARC caches",
            ("all", "none", "metadata"),
            "all",
            BOTH,
        ),
        Prop(
            "quota",
            "size",
            "Most space this dataset and its children may use",
            ("none",),
            "none",
            FS,
            none_value=0,
            check=_size_rule(none=True),
        ),
        Prop("readonly", "index", "Mount read-only", ON_OFF, "off", BOTH),
        Prop(
            "recordsize",
            "size",
            "Largest block for files (power of two, 512 to 1M)",
            ("128K", "1M", "16K"),
            "128K",
            FS,
            check=_size_rule(pow2=(512, 1024 * 1024)),
        ),
        Prop(
            "redundant_metadata",
            "index",
            "Extra copies of metadata",
            ("all", "most", "some", "none"),
            "all",
            BOTH,
        ),
        Prop(
            "refquota",
            "size",
            "Most space this dataset alone may reference",
            ("none",),
            "none",
            FS,
            none_value=0,
            check=_size_rule(none=True),
        ),
        Prop(
            "refreservation",
            "size",
            "Space guaranteed to this dataset alone (auto: a volume's full size)",
            ("none", "auto"),
            "none",
            BOTH,
            none_value=0,
            check=_size_rule(none=True),
        ),
        Prop("relatime", "index", "Update access times at most once a day", ON_OFF, "off", FS),
        Prop(
            "reservation",
            "size",
            "Space guaranteed to this dataset and its children",
            ("none",),
            "none",
            BOTH,
            none_value=0,
            check=_size_rule(none=True),
        ),
        Prop(
            "rootcontext",
            "text",
            "SELinux context of the root inode",
            (),
            "none",
            FS,
            check=_selinux,
        ),
        Prop(
            "secondarycache",
            "index",
            "What the L2ARC caches",
            ("all", "none", "metadata"),
            "all",
            BOTH,
        ),
        Prop("setuid", "index", "Honour setuid bits", ON_OFF, "on", FS),
        Prop("sharenfs", "text", "Share over NFS: on, off or exports options", ON_OFF, "off", FS),
        Prop("sharesmb", "text", "Share over SMB: on, off or share options", ON_OFF, "off", FS),
        Prop(
            "snapdev",
            "index",
            "Show volume snapshots as devices",
            ("hidden", "visible"),
            "hidden",
            BOTH,
        ),
        Prop(
            "snapdir",
            "index",
            "Show the .zfs folder",
            ("hidden", "visible"),
            "hidden",
            FS,
        ),
        Prop(
            "snapshot_limit",
            "number",
            "Most snapshots allowed below this dataset",
            ("none",),
            "none",
            BOTH,
            none_value=UINT64_MAX,
            check=_count_rule,
        ),
        Prop(
            "special_small_blocks",
            "size",
            "Blocks up to this size go to a special vdev (0 = none)",
            ("0",),
            "0",
            FS,
            check=_special_small,
        ),
        Prop(
            "sync",
            "index",
            "Synchronous write semantics (disabled is unsafe on power loss)",
            ("standard", "always", "disabled"),
            "standard",
            BOTH,
        ),
        Prop(
            "utf8only",
            "index",
            "Refuse file names that are not UTF-8 (on when normalization is set)",
            ON_OFF,
            "off",
            FS,
            create_only=True,
        ),
        Prop(
            "version",
            "number",
            "File system version 1-5 or current",
            ("current",),
            None,
            FS,
            check=_version_fs,
        ),
        Prop(
            "volblocksize",
            "size",
            "Block size of a volume (power of two, 512 to 128K)",
            ("16K", "8K", "4K"),
            None,
            VOL,
            create_only=True,
            check=_size_rule(pow2=(512, 128 * 1024)),
        ),
        Prop(
            "volmode",
            "index",
            "How a volume shows up: full (device + partitions), dev, none",
            ("default", "full", "geom", "dev", "none"),
            "default",
            VOL,
        ),
        Prop("vscan", "index", "Virus-scan on open/close (illumos)", ON_OFF, "off", FS),
        Prop(
            "xattr",
            "index",
            "Extended attributes: sa (in the dnode, fast; NixOS' choice), on (in folders; "
            "OpenZFS 2.3 reads on as sa), off",
            ("on", "off", "sa", "dir"),
            "on",
            FS,
            aliases={"dir": "on"},
        ),
        Prop("zoned", "index", "Managed from a container or zone", ON_OFF, "off", FS),
    ]
}

# PROP_DEFAULT / PROP_ONETIME_DEFAULT in OpenZFS' zfs_prop.c: a child does not take the
# parent's value. volblocksize is set-once but only volumes have it, and they have no children.
NOT_INHERITED = frozenset(
    "canmount context defcontext filesystem_limit fscontext quota refquota refreservation "
    "reservation rootcontext snapshot_limit version volblocksize".split()
)
FS_PROPERTIES = {n: replace(p, inherit=n not in NOT_INHERITED) for n, p in FS_PROPERTIES.items()}
POOL_PROPERTIES = {n: replace(p, inherit=False) for n, p in POOL_PROPERTIES.items()}

ENCRYPTION_HELP = (
    "the helper VM runs unattended and cannot be given a key; build without encryption and "
    "create encrypted datasets on the guest"
)
FS_FORBIDDEN: dict[str, str] = {
    "encryption": ENCRYPTION_HELP,
    "keyformat": ENCRYPTION_HELP,
    "keylocation": ENCRYPTION_HELP,
    "pbkdf2iters": ENCRYPTION_HELP,
    "volsize": 'a volume\'s size is its size setting; write size = "…" instead',
    "jailed": "jailed is a FreeBSD property; use zoned on Linux",
    "mlslabel": "mlslabel is for Trusted Extensions on illumos only; remove it",
}
FS_READ_ONLY = frozenset(
    "available compressratio createtxg creation clones defer_destroy encryptionroot "
    "filesystem_count keystatus guid logicalreferenced logicalused mounted objsetid origin "
    "receive_resume_token redact_snaps referenced refcompressratio snapshot_count type used "
    "usedbychildren usedbydataset usedbyrefreservation usedbysnapshots userrefs written "
    "snapshots_changed".split()
)
_QUOTA_RE = re.compile(r"^(user|group|project)(obj)?quota@[A-Za-z0-9._\-$]+$")

FEATURES: dict[str, Feature] = {
    f.name: f
    for f in [
        Feature("allocation_classes", "Special and dedup allocation class vdevs", "0.8.0"),
        Feature("async_destroy", "Destroy file systems in the background"),
        Feature("avz_v2", "Per-vdev ZAPs for top-level vdevs too", "2.2"),
        Feature("blake3", "BLAKE3 checksums", "2.2"),
        Feature("block_cloning", "Clone blocks between files (copy_file_range)", "2.2"),
        Feature("bookmark_v2", "Bookmarks for encrypted datasets", "0.8.0"),
        Feature("bookmark_written", "Space written since a bookmark", "2.0"),
        Feature("bookmarks", "zfs bookmark"),
        Feature("device_rebuild", "Sequential rebuild (resilver) of mirrors and dRAID", "2.0"),
        Feature("device_removal", "Remove top-level vdevs", "0.8.0"),
        Feature("draid", "Distributed spare RAID-Z vdevs", "2.1"),
        Feature("dynamic_gang_header", "Gang headers sized to the sector", "2.4"),
        Feature("edonr", "Edon-R checksums", "0.8.0"),
        Feature("embedded_data", "Tiny blocks stored in the block pointer"),
        Feature("empty_bpobj", "Snapshots with no data take no space"),
        Feature("enabled_txg", "Record when a feature was enabled"),
        Feature("encryption", "Native encryption", "0.8.0"),
        Feature("extensible_dataset", "Datasets with extra fields"),
        Feature("fast_dedup", "Fast deduplication log", "2.3"),
        Feature("filesystem_limits", "filesystem_limit and snapshot_limit"),
        Feature("head_errlog", "Error log per dataset head", "2.2"),
        Feature("hole_birth", "Birth times of holes, for incremental send"),
        Feature("large_blocks", "recordsize above 128K", "0.6.5"),
        Feature("large_dnode", "dnodesize other than legacy", "0.7.0"),
        Feature("large_microzap", "Micro ZAPs above 128K", "2.3"),
        Feature("livelist", "Faster clone deletion", "2.0"),
        Feature("log_spacemap", "Log space maps for faster syncing", "2.0"),
        Feature("longname", "File names up to 1023 bytes", "2.3"),
        Feature("lz4_compress", "LZ4 compression"),
        Feature("multi_vdev_crash_dump", "Crash dumps over several vdevs"),
        Feature("obsolete_counts", "Accounting after device removal", "0.8.0"),
        Feature("physical_rewrite", "zfs rewrite -P keeps birth times", "2.4"),
        Feature("project_quota", "Project quotas", "0.8.0"),
        Feature("raidz_expansion", "Add disks to RAID-Z vdevs", "2.3"),
        Feature("redacted_datasets", "Redacted send streams", "2.0"),
        Feature("redaction_bookmarks", "Redaction bookmarks", "2.0"),
        Feature("redaction_list_spill", "Large redaction lists", "2.3"),
        Feature("resilver_defer", "Defer new resilvers while one runs", "0.8.0"),
        Feature("sha512", "SHA-512/256 checksums", "0.6.5"),
        Feature("skein", "Skein checksums", "0.6.5"),
        Feature("spacemap_histogram", "Space map histograms"),
        Feature("spacemap_v2", "Space maps with larger entries", "0.8.0"),
        Feature("userobj_accounting", "Per-user object counts", "0.7.0"),
        Feature("vdev_zaps_v2", "Per-vdev ZAPs for the root vdev", "2.2"),
        Feature("zilsaxattr", "Log xattr=sa changes in the ZIL", "2.2"),
        Feature("zpool_checkpoint", "zpool checkpoint", "0.8.0"),
        Feature("zstd_compress", "Zstandard compression", "2.0"),
    ]
}

# What the compatibility sets of OpenZFS 2.1 are called (files in compatibility.d).
COMPATIBILITY_NAMES = (
    "compat-2018 compat-2019 compat-2020 compat-2021 2018 2019 2020 2021 freebsd-11.0 "
    "freebsd-11.1 freebsd-11.2 freebsd-11.3 freebsd-11.4 freebsd-12.0 freebsd-12.1 "
    "freebsd-12.2 freenas-9.10.2 freenas-11.0 freenas-11.1 freenas-11.2 freenas-11.3 grub2 "
    "openzfs-2.0-freebsd openzfs-2.0-linux openzfs-2.1-freebsd openzfs-2.1-linux "
    "openzfs-2.2 openzfs-2.3 openzfs-2.4 openzfsonosx-1.7.0 openzfsonosx-1.8.1 "
    "openzfsonosx-1.9.3 openzfsonosx-1.9.4 openzfsonosx-2.0 openzfsonosx-2.1 "
    "openzfsonosx-2.2 truenas-12.0 truenas-13.0 truenas-scale-23.10 truenas-scale-24.04 "
    "ubuntu-18.04 ubuntu-20.04 ubuntu-22.04 ubuntu-24.04 zol-0.6.1 zol-0.6.4 zol-0.6.5 "
    "zol-0.7 zol-0.8"
).split()

# Bytes of data that survive compression, roughly, for a typical system tree. The
# auto size uses these, so they lean to the safe side (incompressible data needs
# headroom or a fixed size).
COMPRESSION_RATIO: dict[str, float] = {"off": 1.0, "zle": 0.95, "lzjb": 0.75, "lz4": 0.7}
COMPRESSION_RATIO |= {"on": 0.7, "gzip": 0.6, "zstd": 0.6, "zstd-fast": 0.68}


def compression_ratio(value: str | None) -> float:
    if value is None:
        return 1.0
    v = str(value)
    if v in COMPRESSION_RATIO:
        return COMPRESSION_RATIO[v]
    if v.startswith("zstd-fast"):
        return 0.68
    if v.startswith(("gzip-", "zstd-")):
        return 0.6
    return 1.0


def required_feature(name: str, value: str) -> str | None:
    """The pool feature a file system property value needs, if any."""
    v = str(value)
    if name == "dnodesize" and v != "legacy":
        return "large_dnode"
    if name == "compression":
        if v.startswith("zstd"):
            return "zstd_compress"
        if v in ("lz4", "on"):
            return "lz4_compress"
    if name == "recordsize":
        try:
            return "large_blocks" if zfs_size(v) > 128 * 1024 else None
        except ValueError:
            return None
    if name in ("checksum", "dedup"):
        algo = v.split(",")[0]
        if algo in ("sha512", "skein", "edonr", "blake3"):
            return algo
    return None


# ----------------------------------------------------------------- checking


USER_PROP_RE = re.compile(r"^[a-z0-9_.][a-z0-9_.:-]*$")


def is_user_property(name: str) -> bool:
    return ":" in name


def _check_user(name: str, value: str) -> str:
    if len(name) > 255:
        raise ValueError(f"{name[:40]}…: a user property name holds 255 bytes; shorten it")
    if not USER_PROP_RE.match(name) or name.startswith(":"):
        raise ValueError(
            f"{name}: a user property name is lower-case letters, digits and : - . _ "
            "with a colon after the module; write it like com.example:owner"
        )
    if len(value.encode()) > 8191:
        raise ValueError(f"{name}: a user property value holds 8191 bytes; shorten it")
    return value


def _as_text(name: str, value: Value, prop: Prop | None) -> str:
    """TOML true/false mean on/off; numbers are written as OpenZFS reads them."""
    if isinstance(value, bool):
        if prop is not None and prop.values[:2] != ON_OFF and "on" not in prop.values:
            raise ValueError(
                f"{name}: true/false only fit on/off properties; write one of "
                f"{', '.join(prop.values[:8])}"
            )
        return "on" if value else "off"
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{name}: {value} is negative; give a positive number")
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{name}: {value!r} is not text, a number or true/false; quote it")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{name}: the value has control characters or newlines; remove them")
    return value


def _check_known(prop: Prop, text: str) -> None:
    if prop.closed and text not in prop.values and text not in prop.aliases:
        shown = [v for v in prop.values if not re.search(r"-\d+$", v)]
        more = "" if len(shown) == len(prop.values) else " (and gzip-1…9, zstd-1…19, zstd-fast-N)"
        raise ValueError(
            f"{prop.name}: {text!r} is not a valid {prop.name}; use one of {', '.join(shown)}{more}"
        )
    if prop.check is not None:
        problem = prop.check(text)
        if problem:
            if "; " not in problem:
                problem += f"; see `man zfsprops` for {prop.name}"
            raise ValueError(f"{prop.name}: {problem}")


def check_pool_property(name: str, value: Value) -> str | int:
    """Validate one `zpool create -o` property; returns the value to store."""
    if name.startswith("feature@"):
        feature = name.removeprefix("feature@")
        if feature not in FEATURES:
            raise ValueError(
                f"{name}: OpenZFS has no feature {feature!r}; check the spelling against "
                "`man zpool-features` (e.g. feature@zstd_compress)"
            )
        text = _as_text(name, value, None)
        if text not in ("enabled", "disabled"):
            raise ValueError(f"{name}: {text!r} is not allowed; use enabled or disabled")
        return text
    if is_user_property(name):
        return _check_user(name, _as_text(name, value, None))
    if name in POOL_FORBIDDEN:
        raise ValueError(f"{name}: {POOL_FORBIDDEN[name]}")
    if name in POOL_READ_ONLY:
        raise ValueError(f"{name}: is reported by OpenZFS, not set; remove it")
    prop = POOL_PROPERTIES.get(name)
    if prop is None and name in FS_PROPERTIES:
        raise ValueError(
            f"{name}: is a file system property, not a pool property; move it to "
            "filesystem_properties (zpool create -O)"
        )
    if prop is None:
        raise ValueError(
            f"{name}: not a pool property OpenZFS knows; use one of "
            f"{', '.join(sorted(POOL_PROPERTIES))}, feature@… or module:name"
        )
    text = _as_text(name, value, prop)
    if name == "compatibility":
        for part in text.split(","):
            if part not in ("off", "legacy", *COMPATIBILITY_NAMES) and not re.fullmatch(
                r"[A-Za-z0-9][A-Za-z0-9._+-]*", part
            ):
                raise ValueError(
                    f"compatibility: {part!r} is not a feature-set name; use off, legacy or "
                    "names from /usr/share/zfs/compatibility.d like grub2"
                )
        if ("off" in text.split(",") or "legacy" in text.split(",")) and "," in text:
            raise ValueError("compatibility: off and legacy stand alone; give one of them alone")
    _check_known(prop, text)
    return int(text) if isinstance(value, int) and not isinstance(value, bool) else text


def check_fs_property(name: str, value: Value, target: Target = "filesystem") -> str | int:
    """Validate one file system (-O / zfs create -o) or volume property."""
    if is_user_property(name):
        return _check_user(name, _as_text(name, value, None))
    if _QUOTA_RE.match(name):
        if target != "filesystem":
            raise ValueError(f"{name}: quotas apply to file systems only; remove it")
        text = _as_text(name, value, None)
        problem = _size_rule(none=True)(text)
        if problem:
            raise ValueError(f"{name}: {problem}")
        return text
    if name in FS_FORBIDDEN:
        if name == "encryption" and value == "off":
            return "off"
        raise ValueError(f"{name}: {FS_FORBIDDEN[name]}")
    if name in FS_READ_ONLY:
        raise ValueError(f"{name}: is reported by OpenZFS, not set; remove it")
    prop = FS_PROPERTIES.get(name)
    if prop is None and (name in POOL_PROPERTIES or name.startswith("feature@")):
        raise ValueError(
            f"{name}: is a pool property; move it to pool_properties (zpool create -o)"
        )
    if prop is None:
        near = difflib.get_close_matches(name, FS_PROPERTIES, n=3)
        hint = f"did you mean {' or '.join(near)}? " if near else ""
        raise ValueError(
            f"{name}: not a property OpenZFS knows; {hint}check the spelling against "
            "`man zfsprops`, or name your own like com.example:note"
        )
    if target not in prop.targets:
        what = "volumes" if target == "volume" else "file systems"
        raise ValueError(f"{name}: does not apply to {what}; remove it")
    text = _as_text(name, value, prop)
    if name == "refreservation" and text == "auto" and target != "volume":
        raise ValueError("refreservation: auto is for volumes only; give a size or none")
    if not (name == "refreservation" and text == "auto"):
        _check_known(prop, text)
    return int(text) if isinstance(value, int) and not isinstance(value, bool) else text


# ----------------------------------------------------------------- comparing


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def newer_than(need: str, have: str) -> bool:
    """True when `need` (e.g. "2.2") is a later release than `have` ("2.1.11-1+deb12u1")."""
    a, b = _version_key(need), _version_key(have)
    return a > b[: len(a)]


def needs_version(name: str, value: str, target: Target) -> str | None:
    """The OpenZFS release a property or value needs, when newer than 2.1."""
    if name.startswith("feature@"):
        feat = FEATURES.get(name.removeprefix("feature@"))
        return feat.since if feat and value == "enabled" else None
    if is_user_property(name):
        return "2.2" if target == "pool" else None
    table = POOL_PROPERTIES if target == "pool" else FS_PROPERTIES
    prop = table.get(name)
    if prop is None:
        return None
    return prop.value_since.get(value) or prop.since


def release_of(pool_props: Iterable[str]) -> str | None:
    """The oldest OpenZFS release that knows every feature `zpool get all` listed.

    `zpool get all` lists each feature the running OpenZFS knows (enabled or
    not), so the newest such feature dates the release that made the pool.
    """
    since = [
        FEATURES[n.removeprefix("feature@")].since
        for n in pool_props
        if n.startswith("feature@") and n.removeprefix("feature@") in FEATURES
    ]
    return max(since, key=_version_key) if since else None


# OpenZFS 2.3 made xattr=sa the meaning of `on` (and shows sa as on); `dir` is
# the old directory-based kind. Before 2.3, `on` meant dir and sa was its own.
XATTR_ALIASES_SINCE_2_3 = {"sa": "on"}


def same_value(
    name: str,
    expected: str,
    actual: str,
    target: Target = "filesystem",
    release: str | None = None,
) -> bool:
    """Does `zfs get -p`/`zpool get -p` output `actual` mean the profile's `expected`?

    `release` is the OpenZFS that reported `actual` (see `release_of`), where a
    value's meaning changed between releases; None means 2.1's meanings.
    """
    if name.startswith("feature@"):
        return actual in (("enabled", "active") if expected == "enabled" else ("disabled",))
    table = POOL_PROPERTIES if target == "pool" else FS_PROPERTIES
    prop = table.get(name)
    if prop is None:
        return expected == actual
    if expected == "auto" or (name == "ashift" and expected == "0"):
        return True  # chosen by OpenZFS: nothing to compare
    if expected == "current":
        return actual == "5"  # the newest ZPL version
    if prop.kind in ("size", "number"):
        try:
            want = prop.none_value if expected == "none" else zfs_size(expected)
            return want == int(actual)
        except ValueError:
            return expected == actual
    aliases = prop.aliases
    if name == "xattr" and release is not None and not newer_than("2.3", release):
        aliases = XATTR_ALIASES_SINCE_2_3
    return aliases.get(expected, expected) == aliases.get(actual, actual)


__all__ = [
    "COMPRESSION",
    "FEATURES",
    "FS_PROPERTIES",
    "POOL_PROPERTIES",
    "Feature",
    "Prop",
    "check_fs_property",
    "check_pool_property",
    "compression_ratio",
    "is_user_property",
    "needs_version",
    "newer_than",
    "release_of",
    "required_feature",
    "same_value",
    "zfs_size",
]
