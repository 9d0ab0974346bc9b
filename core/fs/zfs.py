"""ZFS pools, built by real OpenZFS inside the helper VM (core/zfs), rootless.

The plan: a small GPT disk file (sfdisk, one partition of the pool's size),
a reproducible tar of the partition's tree, the in-VM job script written out
in full, one VM boot that creates the pool on that partition, mounts the
datasets and unpacks the tar into them, then a sparse copy of partition 1
into the partition image the disk assembly places. Why a partition: a pool
made on a whole virtio disk waits for udev (absent in the VM) and fails, and
a whole-disk pool copied into a partition does not import, while a pool
made on a partition imports from any GPT partition of at least its size.

Verify: `zdb -l` must show all four labels, then a second boot imports the
pool read-only from the finished disk and the host compares datasets,
properties and every file with the profile and the source.

Not reproducible byte for byte: OpenZFS 2.1 picks pool/vdev GUIDs at random
and stamps transaction groups with the time.
"""

from __future__ import annotations

import functools
from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field, model_validator

from ..disk import disk_file
from ..errors import ProfileError
from ..model import FsRules, PartitionBase, Role, Table, derive_hex, derive_uuid
from ..plan import And, Arg, Pipe, Step, Word, cmd, prefixed, w
from ..units import MiB, format_size, round_up
from ..zfs import exports as zfs_exports
from ..zfs.job import (
    CHECK_SERIAL,
    RESULT_SERIAL,
    VDEV_SERIAL,
    JobContext,
    build_script,
    compat_files,
    expectation_text,
    verify_script,
)
from ..zfs.model import ZfsPool
from ..zfs.props import needs_version, newer_than, required_feature
from ..zfs.size import content_need, partition_for
from .base import FsSize, FsSpec, PartCtx, too_small


class ZfsPartition(PartitionBase):
    rules = FsRules(
        label_bytes=None,
        uuid="random",
        no_uuid="OpenZFS gives each pool a random GUID",
        byte_reproducible=False,
        compresses=True,
        role=Role.zfs,
        role_error='role/filesystem: use role = "zfs" together with filesystem = "zfs"',
        role_only=True,  # a pool is always role zfs: it has a GPT type of its own
        repart_note="the ZFS pool is made by diskwright's helper VM; repart leaves it empty",
    )
    filesystem: Literal["zfs"]
    zfs: ZfsPool | None = Field(
        default=None, description="ZFS pool: name, properties, datasets, volumes"
    )

    @model_validator(mode="after")
    def _pool(self) -> ZfsPartition:
        if self.zfs is None:
            raise ValueError("zfs: a zfs partition has no pool settings; add a [zfs] table")
        return self


ZFS_PART_TYPE = "6A898CC3-1DD2-11B2-99A6-080020736631"
VDEV_LEAD = MiB  # the pool's partition starts 1 MiB into the vdev disk
VDEV_TAIL = MiB  # room for the backup GPT
# A whole-disk pool (a disk with table = "none"): ZFS writes its own GPT with
# partition 1 from 1 MiB and an 8 MiB partition 9 at the end, 1 MiB-aligned,
# so the disk is 10 MiB larger than the pool's partition.
WHOLE_EXTRA = 10 * MiB


def whole_disk(ctx: PartCtx) -> bool:
    """A zfs partition on a table-less disk: the pool owns that whole disk, as make-zfs-image."""
    return ctx.info.disk.table == Table.none


@functools.lru_cache(maxsize=1)
def kit_zfs_version() -> str | None:
    """OpenZFS version of the helper VM, if it can be told without building anything."""
    try:
        from ..zfs.helper import kit_sources
        from ..zfs.kit import kit_status

        return kit_status(*kit_sources()).zfs_version
    except Exception:  # a probe must never break validation
        return None


def _pool(ctx: PartCtx) -> ZfsPool:
    return ctx.options(ZfsPool)


def _base(ctx: PartCtx) -> str:
    return ctx.part.mount_point or "/"


def _align(ctx: PartCtx) -> int:
    return max(ctx.info.disk.align_bytes(), MiB) if ctx.info.disk.table != Table.none else MiB


def _job_ctx(ctx: PartCtx, *, verify: bool) -> JobContext:
    pool = _pool(ctx)
    salt = derive_hex(ctx.profile, 7, "zfs-temp-name", ctx.info.disk_index, ctx.info.index)
    part = None
    if verify:
        part = 1 if whole_disk(ctx) else ctx.info.number
    return JobContext(
        where=ctx.info.where,
        temp_name=pool.temp_name(salt),
        base=_base(ctx),
        has_payload=ctx.src is not None,
        partition=part,
        whole_disk=whole_disk(ctx),
    )


def build_timeout(ctx: PartCtx) -> int:
    """Seconds for the build VM: boot, plus the copy at a pessimistic 3 MiB/s (TCG)."""
    pool = _pool(ctx)
    return pool.vm_timeout or int(240 + ctx.stats.bytes / (3 * MiB))


def verify_timeout(ctx: PartCtx) -> int:
    pool = _pool(ctx)
    return pool.vm_timeout or int(240 + ctx.stats.bytes / (4 * MiB))


class ZfsBuilder:
    def tools(self, ctx: PartCtx) -> list[str]:
        return ["tar", "sfdisk", "dd", "zdb", "qemu-system-x86_64"]

    # ------------------------------------------------------------- checks

    def check(self, ctx: PartCtx) -> list[ProfileError]:
        pool = _pool(ctx)
        where = f"{ctx.info.where}.zfs"
        errors = too_small(ctx, self.estimate(ctx))
        fixed = ctx.fixed_size()
        if fixed is not None:
            align = _align(ctx)
            if fixed < 64 * MiB:
                errors = [
                    ProfileError(
                        f"{ctx.info.where}.size",
                        f"{ctx.part.size} is below the 64 MiB OpenZFS needs for a vdev",
                        "raise it to at least 64MiB or use auto",
                    )
                ]
            elif fixed % align:
                errors.append(
                    ProfileError(
                        f"{ctx.info.where}.size",
                        f"{ctx.part.size} is not a multiple of the disk alignment "
                        f"{format_size(align)}, so the pool's end labels would not sit at the "
                        "partition's end",
                        f"round it to {format_size(round_up(fixed, align))}",
                    )
                )
        for d, disk in enumerate(ctx.profile.disks):
            for i, other in enumerate(disk.partitions):
                if (d, i) >= (ctx.info.disk_index, ctx.info.index):
                    break
                theirs = other.zfs if isinstance(other, ZfsPartition) else None
                if theirs is not None and theirs.pool == pool.pool:
                    errors.append(
                        ProfileError(
                            f"{where}.pool",
                            f"disks[{d}].partitions[{i}] has a pool called {pool.pool!r} too; "
                            "a guest cannot import two pools of one name",
                            "rename one of them",
                        )
                    )
        compat = str(pool.pool_properties.get("compatibility", "off"))
        if compat not in ("off", "legacy"):
            have = compat_files(pool)
            for name in compat.split(","):
                if name not in have:
                    errors.append(
                        ProfileError(
                            f"{where}.pool_properties.compatibility",
                            f"no feature set {name!r} in /usr/share/zfs/compatibility.d or "
                            "/etc/zfs/compatibility.d on this machine",
                            "use a name listed there (e.g. grub2) or install zfsutils-linux",
                        )
                    )
        errors += self._feature_errors(pool, where)
        errors += self._version_errors(ctx, pool, where)
        errors += self._coverage_errors(ctx, pool, where)
        return errors

    def _feature_errors(self, pool: ZfsPool, where: str) -> list[ProfileError]:
        """Property values whose pool feature the compatibility set or a setting leaves out."""
        props = pool.pool_properties
        compat = str(props.get("compatibility", "off"))
        if "version" in props:
            allowed: set[str] | None = set()
            why = f"version={props['version']} has no feature flags"
        elif compat not in ("off", "legacy"):
            allowed = None
            for text in compat_files(pool).values():
                names = {ln.split("#")[0].strip() for ln in text.splitlines()} - {""}
                allowed = names if allowed is None else allowed & names
            why = f"compatibility={compat} leaves it out"
        else:
            allowed, why = None, ""
        disabled = {k.removeprefix("feature@") for k, v in props.items() if v == "disabled"}
        errors = []
        for k, v in props.items():
            feat = k.removeprefix("feature@")
            if k.startswith("feature@") and v == "enabled" and allowed is not None:
                if feat not in allowed:
                    errors.append(
                        ProfileError(
                            f"{where}.pool_properties",
                            f"{k}=enabled, but {why}",
                            "remove one of the two settings",
                        )
                    )
        for node in pool.nodes():
            for k, v in node.properties.items():
                needed = required_feature(k, v)
                if needed is None:
                    continue
                if needed in disabled or (allowed is not None and needed not in allowed):
                    reason = f"feature@{needed}=disabled" if needed in disabled else why
                    errors.append(
                        ProfileError(
                            f"{where}.datasets"
                            if node.kind != "root"
                            else f"{where}.filesystem_properties.{k}",
                            f"{node.name}: {k}={v} needs the pool feature {needed}, but {reason}",
                            f"choose another {k} or drop that pool setting",
                        )
                    )
        return errors

    def _version_errors(self, ctx: PartCtx, pool: ZfsPool, where: str) -> list[ProfileError]:
        have = kit_zfs_version()
        if not have:
            return []
        found: list[tuple[str, str, str]] = []
        for k, v in pool.pool_properties.items():
            found.append((f"{where}.pool_properties", k, str(v)))
        for node in pool.nodes():
            for k, v in node.properties.items():
                found.append((f"{where} ({node.name})", k, v))
        errors = []
        for field, name, value in found:
            target = "pool" if field.endswith("pool_properties") else "filesystem"
            need = needs_version(name, value, target)  # type: ignore[arg-type]
            if need and newer_than(need, have):
                errors.append(
                    ProfileError(
                        field,
                        f"{name}={value} needs OpenZFS {need}; the helper VM has {have}",
                        "remove it, or install newer zfs-dkms and zfsutils-linux",
                    )
                )
        return errors

    def _coverage_errors(self, ctx: PartCtx, pool: ZfsPool, where: str) -> list[ProfileError]:
        """Files of the tree that no mounted dataset would hold (they would be lost)."""
        if ctx.src is None or not ctx.top:
            return []
        base = PurePosixPath(_base(ctx))
        mounts = {PurePosixPath(m.path) for m in pool.mounts()}
        if base in mounts or any(m in base.parents for m in mounts):
            return []
        root = ctx.profile.source_root()
        lost: list[str] = []

        def visit(rel: PurePosixPath, names: list[str]) -> None:
            for name in names:
                guest = base / rel / name
                if guest in mounts or any(m in guest.parents for m in mounts):
                    continue
                if any(guest in m.parents for m in mounts):
                    src = (root / str(PurePosixPath(ctx.info.subtree or "/").relative_to("/"))
                           / str(rel / name)) if root else None  # fmt: skip
                    try:
                        deeper = sorted(p.name for p in src.iterdir()) if src else []
                    except OSError:
                        deeper = []
                    visit(rel / name, deeper)
                else:
                    lost.append(str(guest))

        visit(PurePosixPath(), list(ctx.top))
        if not lost:
            return []
        shown = ", ".join(lost[:3]) + (" …" if len(lost) > 3 else "")
        return [
            ProfileError(
                f"{where}.datasets",
                f"no dataset is mounted at {base} or above {shown}, so those files would be lost",
                f'add a dataset with mount_point = "{base}" (or a mountpoint property)',
            )
        ]

    # ------------------------------------------------------------- sizes

    def estimate(self, ctx: PartCtx) -> FsSize:
        pool = _pool(ctx)
        need = content_need(pool, ctx.stats, ctx.sample)
        align = _align(ctx)
        minimum = partition_for(need, align)
        extra = WHOLE_EXTRA if whole_disk(ctx) else 0
        fixed = ctx.fixed_size()
        if fixed is not None:
            return FsSize(content=need, minimum=minimum + extra, image=fixed, fixed=True)
        image = partition_for(need + ctx.part.headroom_for(need), align)
        return FsSize(content=need, minimum=minimum + extra, image=image + extra, fixed=False)

    # ------------------------------------------------------------- steps

    def steps(self, ctx: PartCtx) -> list[Step]:
        pool, info = _pool(ctx), ctx.info
        size = self.estimate(ctx).image
        vdev = ctx.work_file("vdev")
        payload = ctx.work_file("payload.tar")
        job = ctx.work_file("zfs-build.sh")
        jctx = _job_ctx(ctx, verify=False)
        label_id = derive_uuid(ctx.profile, "zfs-vdev", info.disk_index, info.index).upper()
        lines: list[Arg] = [
            "label: gpt",
            f"label-id: {label_id}",
            "unit: sectors",
            f"start={VDEV_LEAD // 512}, size={size // 512}, type={ZFS_PART_TYPE}, name=zfs",
        ]
        if whole_disk(ctx):
            steps = [
                ctx.step(
                    "zfs-vdev",
                    f"Make the {format_size(size)} vdev disk pool {pool.pool!r} will own whole "
                    "(OpenZFS partitions it)",
                    expr=cmd("truncate", "-s", str(size), vdev),
                    weight=0.05,
                )
            ]
        else:
            steps = [
                ctx.step(
                    "zfs-vdev",
                    f"Make the vdev disk: GPT with one {format_size(size)} partition for pool "
                    f"{pool.pool!r} (sfdisk)",
                    expr=And(
                        (
                            cmd("truncate", "-s", str(VDEV_LEAD + size + VDEV_TAIL), vdev),
                            Pipe(
                                (
                                    cmd("printf", "%s\\n", *lines),
                                    cmd("sfdisk", "--no-reread", "--no-tell-kernel", "-q", vdev),
                                )
                            ),
                        )
                    ),
                    weight=0.05,
                )
            ]
        if ctx.src is not None:
            steps.append(
                ctx.step(
                    "zfs-payload",
                    f"Pack {info.subtree} into a reproducible tar for the VM (sorted, root-owned,"
                    f" mtime {ctx.epoch})",
                    expr=cmd(
                        "tar",
                        "--sort=name",
                        f"--mtime=@{ctx.epoch}",
                        "--owner=0",
                        "--group=0",
                        "--numeric-owner",
                        "--format=gnu",
                        "-C",
                        ctx.src,
                        "-cf",
                        payload,
                        ".",
                    ),
                    weight=max(ctx.stats.bytes / MiB / 200, 0.1),
                )
            )
        steps.append(
            ctx.step(
                "zfs-job",
                "Write the job the helper VM runs (these zpool/zfs commands, as they run)",
                kind="write",
                path=job,
                content=build_script(pool, jctx),
                weight=0.01,
            )
        )
        argv: list[Arg] = ["diskwright", "helper", "zfs-vm", "--job", job]
        if ctx.src is not None:
            argv += ["--payload", payload]
        argv += ["--disk", w_join(vdev, f":{VDEV_SERIAL}")]
        argv += ["--timeout", str(build_timeout(ctx)), "--memory", str(pool.vm_memory)]
        steps.append(
            ctx.step(
                "zfs-build",
                f"Build pool {pool.pool!r} with OpenZFS in the helper VM",
                expr=cmd(*argv),
                weight=5 + ctx.stats.bytes / MiB / 15,
            )
        )
        if whole_disk(ctx):
            steps.append(
                ctx.step(
                    "zfs-extract",
                    "Keep the whole vdev disk as the pool's image",
                    expr=cmd("mv", "-f", vdev, ctx.image),
                    weight=0.01,
                )
            )
            steps.append(ctx.capture_size())
            return steps
        steps.append(
            ctx.step(
                "zfs-extract",
                "Copy the pool's partition out of the vdev disk (sparse) and drop the vdev",
                expr=And(
                    (
                        cmd("truncate", "-s", str(size), ctx.image),
                        cmd(
                            "dd",
                            prefixed("if=", vdev),
                            prefixed("of=", ctx.image),
                            "bs=1M",
                            "iflag=skip_bytes,count_bytes",
                            f"skip={VDEV_LEAD}",
                            f"count={size}",
                            "conv=sparse,notrunc",
                            "status=none",
                        ),
                        cmd("rm", "-f", vdev),
                    )
                ),
                weight=max(size / MiB / 500, 0.1),
            )
        )
        steps.append(ctx.capture_size())
        return steps

    # ------------------------------------------------------------- verify

    def verify(self, ctx: PartCtx) -> list[Step]:
        pool, info = _pool(ctx), ctx.info
        jctx = _job_ctx(ctx, verify=True)
        expect = ctx.work_file("zfs-expect.json")
        job = ctx.work_file("zfs-verify.sh")
        result = ctx.work_file("zfs-result")
        disk: Word = disk_file(info.disk_index) if info.disk.table != Table.none else ctx.image
        result_size = max(16 * MiB, round_up(ctx.stats.entries * 1024, MiB))
        check: list[Arg] = ["diskwright", "helper", "zfs-check", "--expect", expect]
        check += ["--result", result]
        if ctx.src is not None:
            check += ["--source", ctx.src]

        def step(suffix: str, title: str, **kw: object) -> Step:
            return Step(id=f"{info.key}-{suffix}", title=title, phase="verify", **kw)  # type: ignore[arg-type]

        if whole_disk(ctx):
            part1 = ctx.work_file("part1")
            size = self.estimate(ctx).image
            labels = [
                step(
                    "zfs-part1",
                    "Copy partition 1 (the one OpenZFS made) out of the disk to read its labels",
                    expr=cmd(
                        "dd",
                        prefixed("if=", ctx.image),
                        prefixed("of=", part1),
                        "bs=1M",
                        "iflag=skip_bytes,count_bytes",
                        f"skip={VDEV_LEAD}",
                        f"count={size - WHOLE_EXTRA}",
                        "conv=sparse",
                        "status=none",
                    ),
                    weight=0.2,
                ),
                step(
                    "zfs-labels",
                    f"Check all four ZFS labels of pool {pool.pool!r} say whole_disk: 1 (zdb -l)",
                    expr=And(
                        (
                            Pipe(
                                (
                                    cmd("zdb", "-l", part1),
                                    cmd(
                                        "diskwright", "helper", "zfs-labels", pool.pool, info.where
                                    ),
                                )
                            ),
                            Pipe((cmd("zdb", "-l", part1), cmd("grep", "-q", "whole_disk: 1"))),
                            cmd("rm", "-f", part1),
                        )
                    ),
                    weight=0.3,
                ),
            ]
        else:
            labels = [
                step(
                    "zfs-labels",
                    f"Check all four ZFS labels of pool {pool.pool!r} (zdb -l)",
                    expr=Pipe(
                        (
                            cmd("zdb", "-l", ctx.image),
                            cmd("diskwright", "helper", "zfs-labels", pool.pool, info.where),
                        )
                    ),
                    weight=0.3,
                )
            ]
        return [
            *labels,
            step(
                "zfs-expect",
                "Write what the pool must hold: datasets, properties, mounts",
                kind="write",
                path=expect,
                content=expectation_text(pool, base=_base(ctx), has_payload=ctx.src is not None),
                weight=0.01,
            ),
            step(
                "zfs-verify-job",
                "Write the check the helper VM runs (read-only import, as it runs)",
                kind="write",
                path=job,
                content=verify_script(pool, jctx),
                weight=0.01,
            ),
            step(
                "zfs-verify",
                f"Import pool {pool.pool!r} read-only from the finished disk in a fresh VM boot",
                expr=And(
                    (
                        cmd("truncate", "-s", str(result_size), result),
                        cmd(
                            "diskwright",
                            "helper",
                            "zfs-vm",
                            "--job",
                            job,
                            "--disk",
                            w_join(disk, f":{CHECK_SERIAL}:ro"),
                            "--disk",
                            w_join(result, f":{RESULT_SERIAL}"),
                            "--timeout",
                            str(verify_timeout(ctx)),
                            "--memory",
                            str(pool.vm_memory),
                        ),
                    )
                ),
                weight=4 + ctx.stats.bytes / MiB / 40,
            ),
            step(
                "zfs-check",
                "Compare datasets, properties and every file with the profile and the source",
                expr=cmd(*check),
                weight=max(ctx.stats.bytes / MiB / 300, 0.2),
            ),
        ]


def w_join(word: Word, suffix: str) -> Word:
    """One argument from a workspace path and a suffix, e.g. "${W}"/d1p1.vdev:vdev."""
    return w(*word.parts, suffix)


__all__ = ["ZfsBuilder", "build_timeout", "kit_zfs_version", "verify_timeout"]


SPEC = FsSpec(
    name="zfs",
    title="zfs — a ZFS pool (built in a helper VM)",
    help="A ZFS pool with datasets, built by real OpenZFS in a small helper VM.",
    partition=ZfsPartition,
    builder=ZfsBuilder(),
    options=ZfsPool,
    options_title="pool settings",
    guest_mounts=zfs_exports.zfs_mounts,  # the pool's mounted datasets
    own_step=True,
    named_by="pool",
)
