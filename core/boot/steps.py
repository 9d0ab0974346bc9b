"""The boot steps of a plan: loader files onto the ESP, GRUB's BIOS code onto the disk.

Everything runs rootless on image files like the rest of the plan: the ESP's
loader tree is put together in the workspace ($W/boot-esp: EFI binaries,
Boot Loader Specification Type #1 entries and loader.conf, grub.cfg, copies
of a kernel/initrd the ESP does not already receive) and merged into the
finished FAT image with mcopy; GRUB's i386-pc core image is made by
grub-mkimage and written into the bios-boot partition (or the MBR gap) of
the assembled raw disk by `diskwright helper grub-bios-install`, which
keeps the partition table. grub-mkimage, mcopy (with SOURCE_DATE_EPOCH) and
the patch are deterministic, so two builds give the same bytes.
"""

from __future__ import annotations

import re

from ..disk import disk_file, first_start
from ..errors import ProfileError
from ..layout import PartInfo
from ..plan import Arg, Arith, Step, Var, Word, cmd, ws
from ..profile import Profile
from ..scan import BLOCK_SIZES, Scan, Stats
from . import grub
from .model import Loader
from .resolve import BootSetup, boot_setup

STAGE = "boot-esp"
MEMDISK_DIR = "boot-memdisk"  # no ESP: grub.cfg goes into the core image as a memdisk tar
MEMDISK = "boot.grub-memdisk.tar"
EARLY_CFG = "boot.grub-early.cfg"
CORE_IMG = "boot.grub-core.img"
CONF_BYTES = 4096  # loader.conf, the entry, grub.cfg: a cluster each at most


def _entry_id(profile: Profile) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", profile.name) or "diskwright"


def setup(profile: Profile, scan: Scan | None) -> BootSetup | None:
    s, _ = boot_setup(profile, scan)
    return s


def check(profile: Profile, scan: Scan | None) -> list[ProfileError]:
    """Boot problems a person can fix: profile gaps, and missing loader packages (with hints)."""
    s, errors = boot_setup(profile, scan)
    if s is None:
        return errors
    if grub.which_mkimage() is None and (s.bios or s.loader == Loader.grub):
        errors.append(
            ProfileError(
                "boot.loader", "grub-mkimage is not installed", grub.install_hint("grub-mkimage")
            )
        )
    if s.loader == Loader.systemd_boot and grub.systemd_boot_efi() is None:
        errors.append(
            ProfileError(
                "boot.loader",
                "systemd-bootx64.efi is not installed",
                grub.install_hint("systemd-boot"),
            )
        )
    if s.loader == Loader.grub and s.uefi and grub.grub_dir("x86_64-efi") is None:
        errors.append(
            ProfileError(
                "boot.loader",
                "GRUB's x86_64-efi modules are not installed",
                grub.install_hint("x86_64-efi"),
            )
        )
    if s.bios and grub.grub_dir("i386-pc") is None:
        errors.append(
            ProfileError(
                "boot.bios",
                "GRUB's i386-pc modules are not installed",
                grub.install_hint("i386-pc"),
            )
        )
    if s.bios and s.bios_part is not None and s.bios_part.part.size != "auto":
        from ..units import parse_size

        if parse_size(s.bios_part.part.size) < 256 * 1024:
            errors.append(
                ProfileError(
                    f"{s.bios_part.where}.size",
                    "GRUB's core image needs about 150 KiB",
                    "make the bios-boot partition 1MiB",
                )
            )
    return errors


def esp_stats(profile: Profile, scan: Scan | None, info: PartInfo) -> Stats | None:
    """What the boot steps add to the ESP, so its auto size has room for them."""
    s = setup(profile, scan)
    if s is None or s.esp is None or s.esp.key != info.key:
        return None
    sizes = [CONF_BYTES] * 3 + [f.size for f in s.copies]
    if s.loader == Loader.systemd_boot:
        efi = grub.systemd_boot_efi()
        n = efi.stat().st_size if efi else 128 * 1024
        sizes += [n, n]
    elif s.uefi:
        sizes.append(grub.module_bytes("x86_64-efi"))
    st = Stats(files=len(sizes), dirs=6)
    st.bytes = sum(sizes)
    st.tail_bytes = sum(n % 4096 for n in sizes)
    st.small_files = sum(1 for n in sizes if n < 4096)
    st.name_bytes = 24 * len(sizes) + 40
    st.blocks = [sum(-(-n // b) * b for n in sizes) for b in BLOCK_SIZES]
    return st


def grub_cfg(profile: Profile, s: BootSetup) -> str:
    boot = profile.boot
    lines = [
        "# grub.cfg written by diskwright (core/boot/steps.py)",
        f"set timeout={boot.timeout}",
        "set default=0",
        "serial --unit=0 --speed=115200",
        "terminal_input console serial",
        "terminal_output console serial",
        f"menuentry '{boot.title}' {{",
        f"\tlinux {s.kernel.dest} {s.options}",
    ]
    if s.initrd is not None:
        lines.append(f"\tinitrd {s.initrd.dest}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def early_cfg(s: BootSetup) -> str:
    """Built into GRUB's core images: find the boot partition (the ESP by its volume id) and
    read grub.cfg there, or, without an ESP, from the core image's own memdisk."""
    prefix = "(memdisk)/grub" if s.memdisk else "($root)/grub"
    return f"{s.find_boot}\nset prefix={prefix}\n"


def loader_conf(profile: Profile) -> str:
    return (
        f"timeout {profile.boot.timeout}\n"
        f"default {_entry_id(profile)}.conf\n"
        "editor no\n"
        "console-mode keep\n"
    )


def bls_entry(profile: Profile, s: BootSetup) -> str:
    """A Boot Loader Specification Type #1 entry."""
    lines = [f"title {profile.boot.title}", f"linux {s.kernel.dest}"]
    if s.initrd is not None:
        lines.append(f"initrd {s.initrd.dest}")
    lines.append(f"options {s.options}")
    return "\n".join(lines) + "\n"


def _st(sid: str, title: str, phase: str = "filesystem", **kw: object) -> Step:
    return Step(id=f"boot-{sid}", title=title, phase=phase, **kw)  # type: ignore[arg-type]


def _stage(rel: str) -> Word:
    return ws(f"{STAGE}/{rel}")


def _mkimage(platform: str, out: Arg, s: BootSetup) -> list[Arg]:
    d = grub.grub_dir(platform)
    mods = list(grub.GRUB_MODULES[platform])
    if s.grub_fs not in mods:
        mods.append(s.grub_fs)
    memdisk: list[Arg] = []
    if s.memdisk:
        mods += ["memdisk", "tar"]
        memdisk = ["-m", ws(MEMDISK)]
    return [
        "grub-mkimage", "-O", platform, "-d", str(d), "-o", out, "-c", ws(EARLY_CFG),
        *memdisk, "-p", "/grub", *mods,
    ]  # fmt: skip


def _memdisk_steps(profile: Profile, s: BootSetup) -> list[Step]:
    """No ESP: grub.cfg into a tar that grub-mkimage puts in the BIOS core image."""
    epoch = profile.reproducible.source_date_epoch
    tar: list[Arg] = [
        "tar", "--sort=name", f"--mtime=@{epoch}", "--owner=0", "--group=0", "--numeric-owner",
        "--mode=u=rwX,go=rX", "--format=ustar", "-C", ws(MEMDISK_DIR), "-cf", ws(MEMDISK), "grub",
    ]  # fmt: skip
    return [
        _st(
            "stage",
            "Make the folder for GRUB's config (no ESP: it goes inside GRUB's core image)",
            expr=cmd("mkdir", "-p", ws(f"{MEMDISK_DIR}/grub")),
            weight=0.01,
        ),
        _st(
            "grub-early",
            f"Write GRUB's built-in config: find the {s.boot_part.spoken}, read grub.cfg "
            "from the core image",
            kind="write",
            path=ws(EARLY_CFG),
            content=early_cfg(s),
            weight=0.01,
        ),
        _st(
            "grub-cfg",
            f"Write grub.cfg: boot {s.kernel.tree_path} from the {s.boot_part.spoken}",
            kind="write",
            path=ws(f"{MEMDISK_DIR}/grub/grub.cfg"),
            content=grub_cfg(profile, s),
            weight=0.01,
        ),
        _st(
            "grub-memdisk",
            "Pack grub.cfg for GRUB's memdisk (tar, sorted, fixed owner and time)",
            expr=cmd(*tar),
            weight=0.01,
        ),
    ]


def esp_steps(profile: Profile, scan: Scan | None) -> list[Step]:
    """Loader files into the finished ESP image (after the filesystems are made)."""
    s = setup(profile, scan)
    if s is None:
        return []
    if s.esp is None:
        return _memdisk_steps(profile, s)
    esp_img = ws(f"{s.esp.key}.img")
    dirs = ["grub"]
    if s.uefi:
        dirs.append("EFI/BOOT")
    if s.loader == Loader.systemd_boot:
        dirs += ["EFI/systemd", "loader/entries"]
    for f in s.copies:
        dirs.append(f.dest.rsplit("/", 1)[0].lstrip("/"))
    dirs = sorted(set(dirs))
    steps = [
        _st(
            "stage",
            "Make the folder for the ESP's boot files",
            expr=cmd("mkdir", "-p", *[_stage(d) for d in dirs]),
            weight=0.01,
        ),
    ]
    if s.bios or s.loader == Loader.grub:
        steps.append(
            _st(
                "grub-early",
                "Write GRUB's built-in config: find the ESP by its id",
                kind="write",
                path=ws(EARLY_CFG),
                content=early_cfg(s),
                weight=0.01,
            )
        )
        steps.append(
            _st(
                "grub-cfg",
                f"Write grub.cfg: boot {s.kernel.tree_path}",
                kind="write",
                path=_stage("grub/grub.cfg"),
                content=grub_cfg(profile, s),
                weight=0.01,
            )
        )
    if s.loader == Loader.systemd_boot:
        efi = str(grub.systemd_boot_efi() or grub.SYSTEMD_BOOT[0])
        steps.append(
            _st(
                "sd-boot",
                "Copy systemd-boot (systemd-boot-efi) as the ESP's loader",
                expr=cmd("cp", efi, _stage("EFI/systemd/systemd-bootx64.efi")),
                weight=0.01,
            )
        )
        steps.append(
            _st(
                "sd-boot-fallback",
                "Make it the removable-media fallback too",
                expr=cmd("cp", efi, _stage("EFI/BOOT/BOOTX64.EFI")),
                weight=0.01,
            )
        )
        steps.append(
            _st(
                "loader-conf",
                "Write loader/loader.conf",
                kind="write",
                path=_stage("loader/loader.conf"),
                content=loader_conf(profile),
                weight=0.01,
            )
        )
        steps.append(
            _st(
                "bls-entry",
                "Write the Boot Loader Specification entry",
                kind="write",
                path=_stage(f"loader/entries/{_entry_id(profile)}.conf"),
                content=bls_entry(profile, s),
                weight=0.01,
            )
        )
    elif s.uefi:
        steps.append(
            _st(
                "grub-efi",
                "Make GRUB's UEFI image (grub-mkimage -O x86_64-efi)",
                expr=cmd(*_mkimage("x86_64-efi", _stage("EFI/BOOT/BOOTX64.EFI"), s)),
                weight=0.2,
            )
        )
    for i, f in enumerate(s.copies):
        steps.append(
            _st(
                f"copy{i}",
                f"Copy {f.tree_path} for the loader to {f.dest}",
                expr=cmd("cp", "--", f.host, _stage(f.dest.lstrip("/"))),
                weight=max(f.size / (64 << 20), 0.05),
            )
        )
    tops = sorted({d.split("/")[0] for d in dirs})
    steps.append(
        _st(
            "esp-copy",
            f"Merge the boot files into the ESP (on disk {s.esp.disk.name}) with mtools",
            expr=cmd(
                "mcopy",
                "-s",
                "-o",
                "-Q",
                "-i",
                esp_img,
                *[_stage(t) for t in tops],
                "::/",
                env={"MTOOLS_SKIP_CHECK": "1"},
            ),
            weight=0.1,
        )
    )
    return steps


def disk_steps(profile: Profile, scan: Scan | None, d: int) -> list[Step]:
    """GRUB's BIOS boot code into disk `d`'s raw file (after assembly, before conversion)."""
    s = setup(profile, scan)
    if s is None or not s.bios or s.bios_disk != d:
        return []
    raw = disk_file(d)
    if s.bios_part is not None:
        start: Arg = Var(f"{s.bios_part.var}_START")
        room: Arg = Var(f"{s.bios_part.var}_SECTORS")
        where = f"the bios-boot partition on disk {s.bios_part.disk.name}"
    else:
        first = profile.disks[d].partitions[0]
        begin = first_start(profile.disks[d]) // 512
        start = "1"
        room = Arith((Var(f"D{d}P1_START"), " - 1")) if first.start is not None else str(begin - 1)
        where = "the gap before the first partition"
    grub_pc = grub.grub_dir("i386-pc")
    boot_img = str(grub_pc / "boot.img") if grub_pc else "/usr/lib/grub/i386-pc/boot.img"
    return [
        _st(
            "grub-core",
            "Make GRUB's BIOS core image (grub-mkimage -O i386-pc)",
            phase="disk",
            expr=cmd(*_mkimage("i386-pc", ws(CORE_IMG), s)),
            weight=0.2,
        ),
        _st(
            "grub-bios",
            f"Put GRUB's boot code in the MBR (first 440 bytes, the table kept) and "
            f"the core image in {where}",
            phase="disk",
            expr=cmd(
                "diskwright",
                "helper",
                "grub-bios-install",
                raw,
                boot_img,
                ws(CORE_IMG),
                start,
                room,
            ),
            weight=0.05,
        ),
    ]


def verify_steps(profile: Profile, scan: Scan | None) -> list[Step]:
    """Read the loader files back from the ESP and GRUB's code from the disk."""
    s = setup(profile, scan)
    if s is None:
        return []
    steps: list[Step] = []
    if s.esp is not None:
        esp_img = ws(f"{s.esp.key}.img")
        names = [s.kernel.dest] + ([s.initrd.dest] if s.initrd else [])
        if s.uefi:
            names.append("/EFI/BOOT/BOOTX64.EFI")
        if s.loader == Loader.systemd_boot:
            names += ["/loader/loader.conf", f"/loader/entries/{_entry_id(profile)}.conf"]
        if s.bios or s.loader == Loader.grub:
            names.append("/grub/grub.cfg")
        steps.append(
            _st(
                "check-esp",
                "Check the loader, its config, kernel and initrd are on the ESP (mdir)",
                phase="verify",
                expr=cmd(
                    "mdir",
                    "-b",
                    "-i",
                    esp_img,
                    *[f"::{n}" for n in names],
                    env={"MTOOLS_SKIP_CHECK": "1"},
                ),
                weight=0.02,
            )
        )
    else:
        steps.append(
            _st(
                "check-memdisk",
                "Check grub.cfg is in the memdisk GRUB's core image carries",
                phase="verify",
                expr=cmd("tar", "-tf", ws(MEMDISK), "grub/grub.cfg"),
                weight=0.01,
            )
        )
    if s.bios:
        start: Arg = Var(f"{s.bios_part.var}_START") if s.bios_part else "1"
        steps.append(
            _st(
                "check-bios",
                "Check GRUB's MBR code and core image on the disk",
                phase="verify",
                expr=cmd(
                    "diskwright",
                    "helper",
                    "grub-bios-check",
                    disk_file(s.bios_disk),
                    ws(CORE_IMG),
                    start,
                ),
                weight=0.02,
            )
        )
    return steps


__all__ = ["check", "disk_steps", "esp_stats", "esp_steps", "setup", "verify_steps"]
