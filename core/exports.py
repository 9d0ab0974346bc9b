"""The guest side of a profile: NixOS `fileSystems`, an /etc/fstab, systemd-repart definitions.

Everything comes from layout.resolve — the very labels, UUIDs and partition
ids the build writes — so what the guest mounts is what the images carry.
A device is named by filesystem label where there is one, else by partition
label (when unique), partition UUID or filesystem UUID, and only as a last
resort by a guessed device node (a bare squashfs image has no id at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import tools
from .errors import ProfileError
from .fs import spec_for
from .layout import PartInfo, disk_id, resolve, writable_holder
from .profile import GPT_TYPES, Profile, Role, Table, derive_uuid
from .scan import Scan
from .source import ImageSource, RegistrationPlan, image_source
from .units import format_size, round_up
from .zfs import exports as zfs_exports

KINDS = ("nixos", "fstab", "repart")
REPART_TYPES = {
    GPT_TYPES[Role.esp]: "esp",
    GPT_TYPES[Role.root]: "root-x86-64",
    GPT_TYPES[Role.swap]: "swap",
    GPT_TYPES[Role.data]: "linux-generic",
}
REPART_SEPARATOR = re.compile(r"^# -{4} file: (?P<name>[^\n]+?) -{4}$", re.M)


def export(profile: Profile, scan: Scan | None, kind: str) -> str:
    """The text of one export: "nixos", "fstab" or "repart" (files joined by separators)."""
    if kind == "nixos":
        return nixos(profile, scan)
    if kind == "fstab":
        return fstab(profile, scan)
    if kind == "repart":
        return repart(profile, scan)
    raise ProfileError("--as", f"{kind!r} is not an export", f"use one of {', '.join(KINDS)}")


# ------------------------------------------------------------------ mounts


@dataclass(frozen=True)
class Device:
    path: str  # /dev/disk/by-label/nix-store
    spec: str  # LABEL=nix-store (fstab's first field, before escaping)
    how: str  # "filesystem label", for the comment


@dataclass(frozen=True)
class Mount:
    """One guest mount (or swap), in the terms both NixOS and fstab need."""

    point: str  # "none" for swap
    device: str
    spec: str
    fs_type: str
    options: tuple[str, ...] = ()
    needed_for_boot: bool = False
    depends: tuple[str, ...] = ()
    passno: int = 0
    comment: str = ""
    swap: bool = False


@dataclass
class Guest:
    mounts: list[Mount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # comments for the reader
    registration_in_image: bool = False
    registration_target: str = ""  # its path in the image, when there
    registration_beside: str | None = None


def udev_escape(name: str) -> str:
    """How udev spells a label in /dev/disk/by-label (blkid's safe characters, else \\xNN)."""
    out = []
    for ch in name:
        if ch.isascii() and (ch.isalnum() or ch in "#+-.:=@_"):
            out.append(ch)
        elif not ch.isascii():
            out.append(ch)  # valid UTF-8 is kept as is
        else:
            out.append(f"\\x{ord(ch):02x}")
    return "".join(out)


def fstab_escape(text: str) -> str:
    return (text.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
            .replace("\n", "\\012"))


def _unique_names(infos: list[PartInfo]) -> set[str]:
    seen: dict[str, int] = {}
    for i in infos:
        if i.part_name:
            seen[i.part_name] = seen.get(i.part_name, 0) + 1
    return {n for n, c in seen.items() if c == 1}


def device_for(profile: Profile, info: PartInfo, unique: set[str]) -> Device:
    part = info.part
    if part.label and part.rules.label_bytes is not None:
        return Device(f"/dev/disk/by-label/{udev_escape(part.label)}",
                      f"LABEL={part.label}", "filesystem label")
    table = info.disk.table
    if table in (Table.gpt, Table.hybrid) and info.part_name and info.part_name in unique:
        return Device(f"/dev/disk/by-partlabel/{udev_escape(info.part_name)}",
                      f"PARTLABEL={info.part_name}", "GPT partition name")
    if info.partuuid:
        u = info.partuuid.lower()
        return Device(f"/dev/disk/by-partuuid/{u}", f"PARTUUID={u}", "GPT partition UUID")
    if table == Table.mbr:
        u = f"{disk_id(profile, info.disk_index)[2:].lower()}-{info.number:02x}"
        return Device(f"/dev/disk/by-partuuid/{u}", f"PARTUUID={u}", "MBR partition id")
    if info.fs_uuid:
        u = info.fs_uuid
        if part.rules.uuid == "vfat":
            u = f"{u[:4]}-{u[4:]}".upper()
        return Device(f"/dev/disk/by-uuid/{u}", f"UUID={u}", "filesystem UUID")
    node = f"/dev/vd{chr(ord('a') + info.disk_index)}"
    return Device(node, node, f"guessed: disk {info.disk_index + 1} attached as a virtio disk "
                  f"({part.filesystem} has no label or UUID); adjust to your VM")


NEEDED = ("/", "/nix", "/nix/store", "/var", "/var/log", "/var/lib", "/etc", "/usr")


def guest(profile: Profile, scan: Scan | None = None) -> Guest:
    """Every mount the profile's images give a guest, plus overlays and notes."""
    infos = resolve(profile)
    unique = _unique_names(infos)
    g = Guest()
    overlay_parts: list[PartInfo] = []
    for info in infos:
        part = info.part
        fs = part.filesystem
        dev = device_for(profile, info, unique)
        where = f"{info.where}: {part.role.value} {fs}"
        if part.rules.swap and part.rules.fstype is not None:
            g.mounts.append(Mount("none", dev.path, dev.spec, part.rules.fstype, ("sw",),
                                  swap=True, comment=f"{where}, by {dev.how}"))
            continue
        own = spec_for(fs).guest_mounts  # zfs: its datasets (boot.zfs: zfs_exports.nixos_lines)
        if own is not None:
            g.mounts += [Mount(m.point, m.device, m.device, m.fs_type, m.options,
                               m.point in NEEDED, comment=m.comment) for m in own(info)]
            continue
        if part.rules.fstype is None:  # raw space (bios-boot's "none")
            continue
        if part.mount_point is None:
            g.notes.append(f"{info.where} ({fs}) is not mounted: it has no mount_point")
            continue
        opts: list[str] = []
        if part.rules.read_only:
            opts.append("ro")
        if part.role == Role.esp:
            opts += part.rules.esp_options
        passno = 0 if part.rules.read_only else (1 if part.mount_point == "/" else 2)
        needed = part.mount_point in NEEDED or part.overlay is not None or any(
            i.part.overlay is not None
            and writable_holder(infos, i.part.overlay.writable) is info
            for i in infos
        )
        g.mounts.append(Mount(part.mount_point, dev.path, dev.spec, part.rules.fstype, tuple(opts),
                              needed, passno=passno, comment=f"{where}, by {dev.how}"))
        if part.overlay is not None:
            overlay_parts.append(info)
    for info in overlay_parts:
        g.mounts += _overlay_mounts(infos, info)
    reg = image_source(profile, scan).registration()
    g.registration_in_image = reg.image_key is not None
    g.registration_target = reg.target
    g.registration_beside = str(reg.beside) if reg.beside else None
    g.mounts.sort(key=lambda m: (m.swap, PurePosixPath(m.point).parts if not m.swap else ()))
    return g


def _overlay_mounts(infos: list[PartInfo], info: PartInfo) -> list[Mount]:
    ov = info.part.overlay
    assert ov is not None and info.part.mount_point is not None
    lower = info.part.mount_point
    upper, work = f"{ov.writable}/store", f"{ov.writable}/work"
    out: list[Mount] = []
    holder = writable_holder(infos, ov.writable)
    if ov.tmpfs:
        out.append(Mount(ov.writable, "tmpfs", "tmpfs", "tmpfs", ("mode=0755",), True,
                         comment="the overlay's writable layer (lost at reboot)"))
    elif holder is not None and holder.part.rules.read_only:
        raise ProfileError(f"{info.where}.overlay.writable",
                           f"{ov.writable} is on the read-only {holder.where}",
                           "mount a writable volume there, or set tmpfs = true")
    depends = (lower, ov.writable)
    out.append(
        Mount(ov.mount_point, "overlay", "overlay", "overlay",
              (f"lowerdir={lower}", f"upperdir={upper}", f"workdir={work}"), True, depends,
              comment=f"writable view of {lower}: changes go to {upper}"
              + ("" if holder is not None or ov.tmpfs else " on the root filesystem"))
    )
    return out


# ------------------------------------------------------------------ NixOS


def nix_str(s: str) -> str:
    """A Nix double-quoted string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${") + '"'


def nixos(profile: Profile, scan: Scan | None = None) -> str:
    """A NixOS module with `fileSystems`/`swapDevices` for the profile's images."""
    g = guest(profile, scan)
    out = [
        f"# NixOS file systems for the images of diskwright profile {profile.name!r}.",
        "# Made by `diskwright export --as nixos`; import it from your configuration.",
        "{ config, ... }:",
        "{",
    ]
    for m in (m for m in g.mounts if not m.swap):
        out.append(f"  # {m.comment}")
        out.append(f"  fileSystems.{nix_str(m.point)} = {{")
        out.append(f"    device = {nix_str(m.device)};")
        out.append(f"    fsType = {nix_str(m.fs_type)};")
        if m.options:
            out.append(f"    options = [ {' '.join(nix_str(o) for o in m.options)} ];")
        if m.depends:
            out.append(f"    depends = [ {' '.join(nix_str(d) for d in m.depends)} ];")
        if m.needed_for_boot and m.point not in NEEDED:
            out.append("    neededForBoot = true;")
        out.append("  };")
    swaps = [m for m in g.mounts if m.swap]
    if swaps:
        out.append("  swapDevices = [")
        for m in swaps:
            out.append(f"    {{ device = {nix_str(m.device)}; }} # {m.comment}")
        out.append("  ];")
    if g.registration_in_image:
        target = g.registration_target
        out += [
            f"  # The image carries its closure's registration at {target};",
            "  # load it into the Nix database at first boot (as nixpkgs' sd-image does).",
            "  boot.postBootCommands = ''",
            f"    if [ -f {target} ]; then",
            "      ${config.nix.package.out}/bin/nix-store --load-db < "
            f"{target} && rm -f {target}",
            "    fi",
            "  '';",
        ]
    if g.registration_beside:
        out += [
            f"  # The closure's registration is beside the image: {g.registration_beside}",
            "  # (microvm.nix passes such a file as regInfo; else run nix-store --load-db < it).",
        ]
    out += zfs_exports.nixos_lines(profile)
    out += [f"  # {n}" for n in g.notes]
    out.append("}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ fstab


def fstab(profile: Profile, scan: Scan | None = None) -> str:
    """An /etc/fstab for the profile's images."""
    g = guest(profile, scan)
    rows: list[tuple[str, ...]] = []
    comments: list[str] = []
    for m in g.mounts:
        opts = list(m.options) or ["defaults"]
        if m.fs_type == "overlay":
            opts += [f"x-systemd.requires-mounts-for={d}" for d in m.depends]
            dirs = [o.split("=", 1)[1] for o in m.options if o.startswith(("upperdir", "workdir"))]
            comments.append(f"{m.point}: create {' and '.join(dirs)} before it is mounted "
                            "(NixOS's stage 1 does this itself)")
        rows.append((fstab_escape(m.spec), fstab_escape(m.point), m.fs_type, ",".join(opts),
                     "0", str(m.passno), m.comment))
    # pad columns for reading, but let a long value (an overlay's options) run over
    widths = [min(max([len(r[i]) for r in rows] + [len(h)]), 32) for i, h in
              enumerate(("# <file system>", "<mount point>", "<type>", "<options>"))]
    out = [
        f"# /etc/fstab for the images of diskwright profile {profile.name!r}",
        "# (made by `diskwright export --as fstab`)",
        f"{'# <file system>':<{widths[0]}}  {'<mount point>':<{widths[1]}}  "
        f"{'<type>':<{widths[2]}}  {'<options>':<{widths[3]}}  <dump> <pass>",
    ]
    for r in rows:
        out.append(f"# {r[6]}")
        out.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  "
                   f"{r[3]:<{widths[3]}}  {r[4]} {r[5]}")
    out += [f"# {c}" for c in comments + g.notes + zfs_exports.fstab_notes(profile)]
    if g.registration_in_image:
        out.append(f"# load {g.registration_target} once with: nix-store --load-db < "
                   f"{g.registration_target}")
    return "\n".join(out) + "\n"


def parse_fstab(text: str) -> list[tuple[str, str, str, str, int, int]]:
    """(spec, file, vfstype, mntops, freq, passno) per entry, unescaped like getmntent(3)."""

    def un(s: str) -> str:
        return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)

    rows = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        f = line.split()
        if len(f) != 6:
            raise ValueError(f"an fstab line has {len(f)} fields, not 6: {line!r}")
        rows.append((un(f[0]), un(f[1]), f[2], f[3], int(f[4]), int(f[5])))
    return rows


# ------------------------------------------------------------------ repart


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "part"


def _copy_pairs(profile: Profile, scan: Scan | None, src: ImageSource,
                info: PartInfo) -> list[tuple[str, str]]:
    """(host path, path in the partition) pairs for CopyFiles=, leaving nested mounts out.

    The source says where a tree path is on this machine, which folders only
    staging makes and which one it fills whole (a closure's store: one pair per path).
    """
    sub = info.subtree
    if sub is None:
        return []
    pairs: list[tuple[str, str]] = []

    def walk(image_dir: str, target: str) -> None:
        phys = src.physical(image_dir)
        inner = [e for e in info.exclude if PurePosixPath(image_dir) in PurePosixPath(e).parents]
        filled = src.fills(image_dir)
        if phys is not None and not inner and not src.made_by_staging(image_dir):
            pairs.append((phys, target))
            return
        if scan is None:
            return
        for name in scan.top_level(image_dir):
            child = str(PurePosixPath(image_dir) / name)
            if child in info.exclude:
                continue
            child_target = str(PurePosixPath(target) / name)
            child_phys = src.physical(child) if filled else None
            if child_phys is not None:
                pairs.append((child_phys, child_target))
            else:
                walk(child, child_target)

    walk(sub, "/")
    for fm in info.files:
        pairs.append((str(profile.resolve(fm.source)),
                      "/" + str(PurePosixPath(fm.target).relative_to(sub))))
    return pairs


def _repart_type(info: PartInfo) -> str:
    gpt_type = info.gpt_type or info.part.gpt_type or GPT_TYPES[info.part.role]
    return REPART_TYPES.get(gpt_type, gpt_type.lower())


def _repart_floor(fstype: str, repart_type: str) -> tuple[int, str]:
    """(bytes, whose rule) below which systemd-repart will not make a Format=`fstype` partition.

    The definitions run where the image is used, whose systemd-repart may be another
    version than the one here (ext4: 1 MiB in 252, 32 MiB in 257): they ask for the
    largest minimum known (257's), which every version accepts, and for more when the
    installed systemd-repart answers more. A probe that gets no answer is not a 4 KiB floor.
    """
    known = tools.REPART_KNOWN_MINIMA.get(fstype, 4096)
    version = tools.repart_version()
    here = tools.repart_min_size(fstype, repart_type) if version else None
    if here is not None and here > known:
        return here, f"systemd-repart {version} (installed here)"
    return known, "systemd-repart 257" if known > 4096 else "systemd-repart"


def _repart_sizes(profile: Profile, scan: Scan | None) -> dict[str, tuple[int, int, str]]:
    """Per partition key: (diskwright's size, the size the definition asks, why they differ)."""
    from .planner import estimate

    images = {p.key: p.image for d in estimate(profile, scan).disks for p in d.parts}
    out: dict[str, tuple[int, int, str]] = {}
    for info in resolve(profile):
        if info.disk.table == Table.none:
            continue
        ours = round_up(max(images[info.key], 4096), 4096)
        fstype = info.part.rules.fstype
        want, why = ours, ""
        if fstype is not None:
            floor, who = _repart_floor(fstype, _repart_type(info))
            if floor > ours:
                want = round_up(floor, 4096)
                why = (f"{who} makes {fstype} no smaller than {format_size(floor)}, so this "
                       f"partition is {format_size(want)} (diskwright's: {format_size(ours)})")
        out[info.key] = (ours, want, why)
    return out


def repart_files(profile: Profile, scan: Scan | None = None) -> dict[str, str]:
    """repart.d definitions per partitioned disk: relative file name → text.

    One disk: flat names ("10-esp.conf"); several: one folder per disk
    ("vm/10-esp.conf"), each folder a --definitions= of its own.
    """
    infos = resolve(profile)
    sizes = _repart_sizes(profile, scan)
    src = image_source(profile, scan)
    reg = src.registration()
    partitioned = [d for d, disk in enumerate(profile.disks) if disk.table != Table.none]
    files: dict[str, str] = {}
    for d in partitioned:
        disk = profile.disks[d]
        folder = f"{disk.name}/" if len(partitioned) > 1 else ""
        for info in (i for i in infos if i.disk_index == d):
            slug = _slug(info.part_name or info.part.label or info.part.role.value)
            name = f"{folder}{10 * info.number:02d}-{slug}.conf"
            files[name] = _repart_one(profile, scan, src, info, sizes[info.key], reg)
    return files


def _repart_one(profile: Profile, scan: Scan | None, src: ImageSource, info: PartInfo,
                size: tuple[int, int, str], reg: RegistrationPlan) -> str:
    part, disk = info.part, info.disk
    fs = part.filesystem
    partuuid = info.partuuid or (part.partuuid or derive_uuid(profile, "part", info.disk_index,
                                                              info.index)).upper()
    label = info.part_name or part.label or part.role.value
    head = [f"# {info.where}: {part.role.value} {fs}"
            + (f" {part.label!r}" if part.label else "")
            + (f", mounted at {part.mount_point}" if part.mount_point else "")
            + f" — disk {disk.name!r} ({disk.output.path})"]
    if disk.table == Table.mbr:
        head.append("# systemd-repart writes GPT only; this disk is MBR in the profile")
    body = ["[Partition]", f"Type={_repart_type(info)}",
            f"Label={label}", f"UUID={partuuid.lower()}"]
    if part.rules.fstype is not None:
        body.append(f"Format={part.rules.fstype}")
    if part.rules.repart_note:  # what Format= needs, or why there is none (zfs)
        head.append(f"# {part.rules.repart_note}")
    if (part.rules.fstype is not None and part.label and not part.rules.swap
            and part.label != label):
        head.append(f"# repart labels the filesystem like the partition ({label!r}); "
                    f"diskwright uses {part.label!r}")
    # CopyFiles= fills only a filesystem repart makes (Format=): not a pool, not raw space
    copies = part.rules.contents and part.rules.fstype is not None
    pairs = _copy_pairs(profile, scan, src, info) if copies else []
    for host, dst in pairs:
        body.append(f"CopyFiles={host}:{dst}")
    if info.exclude and pairs:  # nested mount points stay as empty folders
        rel = [str(PurePosixPath("/") / PurePosixPath(e).relative_to(info.subtree or "/"))
               for e in info.exclude]
        body.append("MakeDirectories=" + " ".join(rel))
    if reg.image_key == info.key:
        if reg.beside is not None:
            body.append(f"CopyFiles={reg.beside}:{reg.target}")
        else:
            head.append(f"# {reg.target} (the closure's registration) has no "
                        "repart equivalent: set registration = \"both\" and copy it from there")
    ours, n, why = size
    if part.size != "auto":
        head.append(f"# size {format_size(ours)}, fixed")
    else:
        head.append(f"# size {format_size(ours)}: content + headroom as estimated; drop "
                    "SizeMaxBytes= to let repart grow it")
    if why:
        head.append(f"# {why}")
    body += [f"SizeMinBytes={n}", f"SizeMaxBytes={n}"]
    return "\n".join(head + body) + "\n"


def repart_size(profile: Profile, scan: Scan | None, d: int) -> int:
    """A --size= for disk `d` that holds its definitions as repart lays them out on GPT.

    GPT even for an MBR disk: 1 MiB before the first partition, the backup table at
    the end, each partition at a MiB boundary (roomier than repart needs, never short),
    each as large as the definition asks (repart's own minimum may exceed ours).
    """
    from .planner import estimate

    dk = estimate(profile, scan).disks[d]
    sizes = _repart_sizes(profile, scan)
    MiB = 1024 * 1024
    return max(round_up(dk.disk_bytes, MiB),
               2 * MiB + sum(round_up(sizes[p.key][1], MiB) for p in dk.parts))


def repart(profile: Profile, scan: Scan | None = None) -> str:
    """All definitions as one text; `split_repart` (or the separators) give the files back."""
    files = repart_files(profile, scan)
    out = [
        f"# systemd-repart definitions for diskwright profile {profile.name!r}",
        "# Each '# ---- file: NAME ----' line starts a repart.d file; put them in a folder and",
        "# run: systemd-repart --empty=create --size=SIZE --definitions=FOLDER IMAGE",
    ]
    for disk in profile.disks:
        if disk.table == Table.none:
            out.append(f"# disk {disk.name!r} ({disk.output.path}) is a bare filesystem without a "
                       "partition table: repart only makes partitioned disks, so it has no "
                       "definitions (use the image as it is, or CopyBlocks= it into a partition)")
    for d, disk in enumerate(profile.disks):
        if disk.table != Table.none:
            out.append(f"# disk {disk.name!r}: --size={repart_size(profile, scan, d)} fits it")
    for name, text in files.items():
        out.append(f"# ---- file: {name} ----")
        out.append(text.rstrip("\n"))
    return "\n".join(out) + "\n"


def split_repart(text: str) -> dict[str, str]:
    """The files of a `repart` export text."""
    marks = list(REPART_SEPARATOR.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m.group("name")] = text[m.end() :end].lstrip("\n")
    return out


def write_repart(profile: Profile, scan: Scan | None, folder: Path) -> list[Path]:
    """Write the definitions into `folder` (one subfolder per disk when there are several)."""
    written = []
    for name, text in repart_files(profile, scan).items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        written.append(p)
    return written


__all__ = ["KINDS", "export", "fstab", "guest", "nixos", "parse_fstab", "repart",
           "repart_files", "repart_size", "split_repart", "write_repart"]
