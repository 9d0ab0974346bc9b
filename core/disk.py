"""Partition tables: layout arithmetic, the sfdisk script and the sparse copy-in.

The same arithmetic runs twice: in Python for the estimate (from predicted
image sizes) and in the plan as shell arithmetic over the real image sizes,
so the printed script lays out the disk exactly as the build does.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layout import PartInfo, disk_id
from .model import Disk, Profile, Table
from .plan import Arg, Arith, Pipe, Step, Var, Word, cmd, cost, prefixed, w, ws
from .units import parse_size, round_up

SECTOR = 512
GPT_RESERVED = 34 * SECTOR  # protective MBR + header + 32 sectors of entries
GPT_BACKUP = 33 * SECTOR


def first_start(disk: Disk) -> int:
    """Byte offset of the first partition."""
    align = disk.align_bytes()
    if disk.table in (Table.gpt, Table.hybrid):
        return round_up(GPT_RESERVED, align)
    return round_up(SECTOR, align)


def tail_room(disk: Disk) -> int:
    return round_up(GPT_BACKUP, disk.align_bytes()) if disk.table != Table.mbr else 0


@dataclass(frozen=True)
class PartPlace:
    start: int
    size: int


def layout(disk: Disk, image_sizes: list[int]) -> tuple[list[PartPlace], int]:
    """Places of partitions and the disk size, from the images' sizes (Python side)."""
    if disk.table == Table.none:
        return [PartPlace(0, image_sizes[0])], image_sizes[0]
    align = disk.align_bytes()
    pos = first_start(disk)
    places = []
    for part, size in zip(disk.partitions, image_sizes, strict=True):
        if part.start is not None:
            pos = max(pos, parse_size(part.start))
        rounded = round_up(size, align)
        places.append(PartPlace(pos, rounded))
        pos += rounded
    total = pos + tail_room(disk)
    if disk.size != "auto":
        total = max(total, parse_size(disk.size))
    return places, total


def shell_check(step_id: str, title: str, script: str, *args: Arg) -> Step:
    """A disk-phase check run by `sh -c` with its values as positional arguments.

    Values stay out of the script text, so nothing a profile says is parsed as code.
    """
    return Step(
        id=step_id,
        title=title,
        phase="disk",
        expr=cmd("sh", "-c", script, "check", *args),
        weight=0.01,
    )


def disk_file(d: int) -> Word:
    return ws(f"disk{d}.raw")


def assemble_steps(
    profile: Profile, d: int, infos: list[PartInfo], data: dict[str, int] | None = None
) -> list[Step]:
    """Shell steps that lay out disk `d` and copy each filesystem image into place.

    `data`: the estimate's bytes of content per partition key (a sparse copy's cost).
    """
    disk = profile.disks[d]
    if disk.table == Table.none:
        return []
    align = disk.align_bytes()
    align_s = align // SECTOR
    steps: list[Step] = []
    prev: tuple[Var, Var] | None = None
    for info in infos:
        var = info.var
        start = Var(f"{var}_START")
        sectors = Var(f"{var}_SECTORS")
        if info.part.start is not None:
            begin = Arith((str(parse_size(info.part.start) // SECTOR),))
        elif prev:
            begin = Arith((prev[0], " + ", prev[1]))
        else:
            begin = Arith((str(first_start(disk) // SECTOR),))
        steps.append(
            Step(
                id=f"{info.key}-start",
                title=f"Place the {info.spoken}",
                phase="disk",
                kind="capture",
                capture=start.name,
                value=begin,
                weight=0.01,
            )
        )
        if info.part.start is not None and prev:
            steps.append(
                shell_check(
                    f"{info.key}-no-overlap",
                    f"Check {info.where} starts after the previous partition ends",
                    'test "$(($1 + $2))" -le "$3" || { echo "$4.start: overlaps the '
                    "previous partition, which ends at sector $(($1 + $2)); move it later"
                    '" >&2; exit 1; }',
                    prev[0],
                    prev[1],
                    start,
                    info.where,
                )
            )
        steps.append(
            Step(
                id=f"{info.key}-sectors",
                title=f"Size the {info.spoken} to whole {disk.alignment} units",
                phase="disk",
                kind="capture",
                capture=sectors.name,
                value=Arith(("(", Var(f"{var}_BYTES"), f" + {align - 1}) / {align} * {align_s}")),
                weight=0.01,
            )
        )
        prev = (start, sectors)
    assert prev is not None
    total = Var(f"D{d}_SECTORS")
    need = Arith((prev[0], " + ", prev[1], f" + {tail_room(disk) // SECTOR}"))
    steps.append(
        Step(
            id=f"disk{d}-sectors",
            title=f"Size disk {disk.name}",
            phase="disk",
            kind="capture",
            capture=total.name,
            value=need,
            weight=0.01,
        )
    )
    raw = disk_file(d)
    if disk.size != "auto":
        fixed = parse_size(disk.size) // SECTOR
        steps.append(
            shell_check(
                f"disk{d}-fits",
                f"Check the partitions fit the fixed disk size {disk.size}",
                'test "$1" -le "$2" || { echo "disks[$3].size: the partitions need '
                '$(($1 * 512)) bytes, more than the fixed size; raise it or use auto" >&2;'
                " exit 1; }",
                total,
                str(fixed),
                str(d),
            )
        )
        size_arg: Arg = str(fixed * SECTOR)
        last_lba = str(fixed - tail_room(disk) // SECTOR - 1)
    else:
        size_arg = Arith((total, " * 512"))
        last_lba = None
    steps.append(
        Step(
            id=f"disk{d}-alloc",
            title=f"Allocate the sparse disk file for {disk.name}",
            phase="disk",
            expr=cmd("truncate", "-s", size_arg, raw),
            weight=0.01,
        )
    )
    lines = sfdisk_lines(profile, d, infos, last_lba)
    steps.append(
        Step(
            id=f"disk{d}-table",
            title=f"Write the {disk.table.value} partition table (sfdisk)",
            phase="disk",
            expr=Pipe(
                (
                    cmd("printf", "%s\\n", *lines),
                    cmd("sfdisk", "--no-reread", "--no-tell-kernel", "-q", raw),
                )
            ),
            weight=0.05,
        )
    )
    if disk.table == Table.hybrid:
        nums = ":".join(str(i.number) for i in infos[:3])
        steps.append(
            Step(
                id=f"disk{d}-hybrid",
                title="Add the hybrid MBR (sgdisk)",
                phase="disk",
                expr=cmd("sgdisk", f"--hybrid={nums}", raw),
                weight=0.05,
            )
        )
    for info in infos:
        steps.append(
            Step(
                id=f"{info.key}-copy",
                title=f"Copy the {info.spoken} into the disk (sparse)",
                phase="disk",
                expr=cmd(
                    "dd",
                    prefixed("if=", ws(f"{info.key}.img")),
                    prefixed("of=", raw),
                    "bs=1M",
                    w("seek=", Arith((Var(f"{info.var}_START"), " * 512"))),
                    "oflag=seek_bytes",
                    "conv=sparse,notrunc",
                    "status=none",
                ),
                weight=cost((data or {}).get(info.key, 0), 250, 0.02),
            )
        )
    return steps


def sfdisk_lines(
    profile: Profile, d: int, infos: list[PartInfo], last_lba: str | None
) -> list[Arg]:
    disk = profile.disks[d]
    gpt = disk.table in (Table.gpt, Table.hybrid)
    lines: list[Arg] = [f"label: {'gpt' if gpt else 'dos'}", f"label-id: {disk_id(profile, d)}"]
    lines += ["unit: sectors", "sector-size: 512"]
    if gpt:
        lines.append("first-lba: 34")
        if last_lba is not None:
            lines.append(f"last-lba: {last_lba}")
    for info in infos:
        start, sectors = Var(f"{info.var}_START"), Var(f"{info.var}_SECTORS")
        if gpt:
            tail = f', type={info.gpt_type}, uuid={info.partuuid}, name="{info.part_name}"'
        else:
            tail = f", type={info.mbr_type}"
        lines.append(w("start=", start, ", size=", sectors, tail))
    return lines


def check_table_step(profile: Profile, d: int, infos: list[PartInfo]) -> Step:
    """Read the table back with sfdisk -J and compare it with what the plan wrote."""
    disk = profile.disks[d]
    gpt = disk.table in (Table.gpt, Table.hybrid)
    expect: list[Arg] = ["gpt" if gpt else "dos", disk_id(profile, d)]
    for info in infos:
        typ = info.gpt_type if gpt else info.mbr_type
        expect.append(
            w(
                Var(f"{info.var}_START"),
                ":",
                Var(f"{info.var}_SECTORS"),
                f":{typ}:{info.partuuid or ''}:{info.part_name or ''}",
            )
        )
    return Step(
        id=f"disk{d}-check-table",
        title=f"Read the partition table of {disk.name} back (sfdisk -J) and compare",
        phase="verify",
        expr=cmd("diskwright", "helper", "check-table", disk_file(d), *expect),
        weight=0.05,
    )
