"""Starting points for the wizard: one preset per example profile, plus a blank one.

Headless on purpose (no Textual, no questionary): the wizard, plain mode and
tests all read the same list. A preset is the example's TOML with its source
made absolute, so the profile works from whatever folder the user is in.
"""

from __future__ import annotations

import copy
import os
import shutil
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


def _examples() -> Path:
    """The example profiles shipped as `diskwright.examples` (importlib.resources).

    Found the same way from a wheel and from an editable checkout; named
    relative to this package, like every import between core/ and tui/.
    """
    top = __package__.rpartition(".")[0]  # diskwright.core → diskwright
    return Path(str(resources.files(f"{top}.examples")))


EXAMPLES = _examples()

# "Who it is for", in one line each; the examples' own description is the fallback.
WHO_FOR: dict[str, str] = {
    "vm-disk": "a QEMU/libvirt guest: GPT disk, FAT ESP + ext4 root, qcow2",
    "sd-card": "Raspberry Pi style boards: MBR, FAT firmware + ext4 root, zstd-compressed",
    "microvm-store": "microVMs: read-only erofs /nix/store disk + an empty ext4 volume",
    "squashfs-store": "live media and read-only stores: a Nix store as zstd squashfs",
    "nix-microvm": "microvm.nix users: erofs store disk from a closure + overlay and /var",
    "nix-sd-ext4": "NixOS SD/ext4 images: a closure's ext4 root with registration, zstd",
    "nix-store-erofs": "qemu-vm style guests: a closure's store as erofs labelled nix-store",
    "nix-store-squashfs": "installers and live media: a closure's store as zstd squashfs",
    "boot-disk": "a VM that boots: bios-boot + ESP + ext4 root, systemd-boot and GRUB",
    "zfs-root": "a ZFS root: boot disk + a disk the pool tank owns, with datasets",
}
TITLES: dict[str, str] = {
    "vm-disk": "VM disk",
    "sd-card": "SD card",
    "microvm-store": "microVM store",
    "squashfs-store": "squashfs store",
    "nix-microvm": "Nix microVM",
    "nix-sd-ext4": "Nix ext4 root",
    "nix-store-erofs": "Nix store (erofs)",
    "nix-store-squashfs": "Nix store (squashfs)",
    "boot-disk": "Boot disk",
    "zfs-root": "ZFS root",
}
ORDER = (
    "vm-disk",
    "sd-card",
    "microvm-store",
    "squashfs-store",
    "nix-store-erofs",
    "nix-store-squashfs",
    "nix-microvm",
    "nix-sd-ext4",
)


@dataclass(frozen=True)
class Preset:
    """One example profile offered on the start screen."""

    name: str
    title: str
    who_for: str
    path: Path
    data: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def profile_data(self) -> dict[str, Any]:
        """A fresh copy of the profile dict with its source paths made absolute.

        Outputs stay relative, so they land in the folder the wizard runs in,
        while the example tree (or Nix store) is found wherever that is.
        """
        data = copy.deepcopy(self.data)
        src = data.get("source")
        if isinstance(src, dict):
            absolutize_source(src, self.path.parent)
        return data

    def demo_paths(self) -> list[str]:
        """The example's relative source entries that exist beside it (its demo tree, store…)."""
        src = self.data.get("source")
        if not isinstance(src, dict):
            return []
        names: list[Any] = [src.get(k) for k in ("path", "store", "registration_file")]
        names += list(src.get("closure") or [])
        names += [fm.get("source") for fm in src.get("files") or [] if isinstance(fm, dict)]
        base = self.path.parent.resolve()
        found: list[str] = []
        for n in names:
            if not isinstance(n, str) or not n.strip() or Path(n).is_absolute():
                continue
            full = (base / n).resolve()
            if full.is_relative_to(base) and full != base and os.path.lexists(base / n) \
                    and n not in found:
                found.append(n)
        return found

    def clashes(self, target: Path, *, with_demo: bool) -> list[Path]:
        """What copying to profile file `target` would overwrite: asked before, never done.

        The dialog and plain mode ask this first so the person can choose another
        name, instead of learning it from a failed copy.
        """
        names = self.demo_paths() if with_demo else []
        return [p for p in [target, *(target.parent / n for n in names)] if os.path.lexists(p)]

    def copy_to(self, dest: Path, *, with_demo: bool, name: str | None = None) -> Path:
        """Copy the example profile (its text as written, comments kept) into `dest`.

        Every path in it stays relative to the profile, so the copy is portable
        and fit for git; it never names the install folder. With `with_demo`, the
        example's demo tree (and any store or file it reads) is copied beside it;
        without, the source points at a folder the user still has to choose.
        Refuses to overwrite anything, so a preset never clobbers the user's files.
        """
        target = dest / (name or new_profile_name(dest, self.name))
        clash = self.clashes(target, with_demo=with_demo)
        if clash:
            raise FileExistsError(str(clash[0]))
        names = self.demo_paths() if with_demo else []
        # an entry inside another one (nix-demo/result in nix-demo) comes with it
        names = [n for n in names
                 if not any(Path(n).is_relative_to(o) and n != o for o in names)]
        made: list[Path] = []
        try:
            for d in [dest, *((dest / n).parent for n in names)]:
                for missing in reversed([p for p in [d, *d.parents] if not p.exists()]):
                    missing.mkdir()
                    made.append(missing)
            for n in names:
                frm, to = self.path.parent / n, dest / n
                if frm.is_dir() and not frm.is_symlink():
                    _copy_tree(frm, to)
                else:
                    shutil.copy2(frm, to, follow_symlinks=False)
                made.append(to)
            shutil.copyfile(self.path, target)
        except BaseException:
            _remove(target)  # half a copy is worse than none: take back what was made
            for p in reversed(made):
                _remove(p)
            raise
        return target


def _copy_tree(frm: Path, to: Path) -> None:
    """copytree that keeps hard links hard links, as `cp -a` does: the demo tree's
    libdemo.so.1 and .so.1.0 are one file, and an image of a copy that made them two
    differed from the example's (the README's sha256) in their inode."""
    seen: dict[tuple[int, int], str] = {}

    def copy(src: str, dst: str) -> str:
        st = os.lstat(src)
        if st.st_nlink > 1:
            first = seen.setdefault((st.st_dev, st.st_ino), dst)
            if first != dst:
                os.link(first, dst)
                return dst
        return str(shutil.copy2(src, dst, follow_symlinks=False))

    shutil.copytree(frm, to, symlinks=True, copy_function=copy)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def new_profile_name(folder: Path, stem: str) -> str:
    """A file name for a new profile made from preset `stem`: not the example's own, not taken."""
    base = f"my-{stem}"
    for i in range(1, 1000):
        cand = f"{base}.toml" if i == 1 else f"{base}-{i}.toml"
        if not os.path.lexists(folder / cand):
            return cand
    return f"{base}-{os.getpid()}.toml"


def _absolute(value: Any, base: Path, *, must_exist: bool = False) -> Any:
    if not isinstance(value, str) or not value.strip():
        return value
    p = Path(value).expanduser()
    if p.is_absolute() or (must_exist and not os.path.lexists(base / p)):
        return value
    return os.path.abspath(base / p)


def absolutize_source(src: dict[str, Any], base: Path) -> None:
    """Make a source section's relative paths absolute against `base` (in place).

    Closure entries may be installables (nixpkgs#hello); only those naming an
    existing file relative to `base` are treated as paths.
    """
    for key in ("path", "store", "registration_file"):
        if key in src:
            src[key] = _absolute(src[key], base)
    if isinstance(src.get("closure"), list):
        src["closure"] = [_absolute(c, base, must_exist=True) for c in src["closure"]]
    for fm in src.get("files") or []:
        if isinstance(fm, dict):
            fm["source"] = _absolute(fm.get("source"), base)


def _who_for(name: str, data: dict[str, Any]) -> str:
    if name in WHO_FOR:
        return WHO_FOR[name]
    desc = str(data.get("description", "")).strip()
    return desc.split("—", 1)[-1].strip() if "—" in desc else desc or "an example profile"


def presets(folder: Path = EXAMPLES) -> list[Preset]:
    """Every example profile in `folder`, the well-known ones first."""
    found: list[Preset] = []
    for toml in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(toml.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue  # a broken example must not break the start screen
        name = toml.stem
        title = TITLES.get(name, name.replace("-", " "))
        found.append(Preset(name, title, _who_for(name, data), toml, data))
    rank = {n: i for i, n in enumerate(ORDER)}
    found.sort(key=lambda p: (rank.get(p.name, len(rank)), p.name))
    return found


def preset(name: str, folder: Path = EXAMPLES) -> Preset:
    for p in presets(folder):
        if p.name == name:
            return p
    raise KeyError(name)


BLANK_WHO_FOR = "anything else: one ext4 image of a folder, to shape step by step"


def blank_profile_data() -> dict[str, Any]:
    """The smallest useful profile: one bare ext4 image of a folder still to choose."""
    return {
        "version": 1,
        "name": "image",
        "description": "",
        "source": {"path": None, "files": []},
        "disks": [
            {
                "name": "disk",
                "table": "none",
                "output": {"path": "image.img", "format": "raw", "compression": "none"},
                "partitions": [
                    {"role": "root", "filesystem": "ext4", "mount_point": "/", "label": "root"}
                ],
            }
        ],
    }


__all__ = [
    "BLANK_WHO_FOR",
    "EXAMPLES",
    "Preset",
    "absolutize_source",
    "blank_profile_data",
    "new_profile_name",
    "preset",
    "presets",
]
