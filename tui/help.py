"""F1 help for each screen, written for someone building their first disk image."""

from __future__ import annotations

from .fsforms import advice_lines

KEYS = """
## Keys

| key | does |
|---|---|
| Tab / Shift+Tab | move between fields |
| Ctrl+N / Ctrl+B | next step / back |
| Enter on the step list | jump to that step (steps can be visited in any order) |
| F2 | on small terminals: switch between the form, the estimate and the plan |
| Ctrl+S | save the profile (TOML; asks before replacing a file) |
| Ctrl+O | open another profile |
| Ctrl+E | export the plan as a shell script |
| F1 | this help |
| Ctrl+Q | quit (asks if there are unsaved changes) |

A ✓ in the step list means the step is valid, ✗ that something there needs
fixing (the field says what and how), · that it was not checked yet.
"""

# the filesystems as core/fs declares them: one added there is listed here too
FS_LIST = "\n".join(advice_lines())

HELP: dict[str, str] = {
    "start": """
# Welcome to diskwright

diskwright turns a folder of files into a disk image — a VM disk, an SD-card
image, a read-only Nix store — without root, loop devices or mounts.

Pick a **preset** close to what you want; every choice can be changed in the
steps that follow. diskwright asks where your new profile goes (default
`./my-<preset>.toml`) and copies the example there, with its demo files if you
like, so every path in it stays relative to your file. Or open a profile you
saved earlier, or start blank.

On the right of every step you will see how big the result will be and the
exact shell script that will run.
""",
    "source": """
# Source: the files that go into the image

Choose the **folder** whose contents become the image — usually a root
filesystem tree (with `/boot`, `/etc`, `/nix/store`…). diskwright reads it
once (the scan) to count files and bytes; nothing is changed.

Relative paths are relative to the folder the profile is saved in.

**Extra files** are single files placed into the image on top of the tree, for
example a `/etc/hostname` that differs per machine. Give the host file, the
path inside the image and the permission bits.

Press **F5** to scan again after changing the folder's contents.
""",
    "filesystem": f"""
# Filesystem: how each partition stores its files

Pick the partition at the top, then its filesystem:

{FS_LIST}

The **label** lets the guest mount the partition by name
(`root=LABEL=nixos`). Leave the **UUID** empty: diskwright derives a stable one
from the profile's seed, so every build gives the same ids.
""",
    "layout": """
# Layout: the partition table and the partitions on each disk

A **disk** is one output file. Its **table** is:

- **gpt** — the usual choice for UEFI machines and VMs;
- **mbr** — for Raspberry Pi firmware and old BIOSes (max. 4 partitions);
- **none** — no table: the file *is* one filesystem (microVM volumes).

Each partition has a **role** (root, ESP, data, store, swap…) and receives the
part of the source tree at its **mount point**; `/` gets everything the other
partitions do not claim. Tick **empty** for a blank volume.

Use the buttons (or their keys) to add, remove and reorder partitions. The
bar shows how the disk is divided.
""",
    "zfs": """
# ZFS: the pool's datasets

This step appears because a partition has the role **zfs**: it will hold a
ZFS pool, made by real OpenZFS inside a small helper VM during the build.

The **tree** shows the pool: first **⚙ pool** (its name, the helper VM's
time limit and memory, and the pool properties of `zpool create -o`, e.g.
`ashift` = `12`), then the pool's root file system and every dataset and
volume by path. Parents nobody listed are made plain, like `zfs create -p`.

Move in the tree with the arrow keys; the table below lists the highlighted
dataset's properties the way `zfs get` does:

- **set here** — set on this dataset (for the root: `zpool create -O`);
- **inherited from tank/…** — comes down from that parent;
- **default** — OpenZFS' own default (a few, like `canmount` and `quota`,
  are never inherited).

To change one, pick a row (Enter) or press **Pick…** for the whole OpenZFS
catalog with each property's values and default (type to narrow it), type
the value and press Enter or **Set**. **Inherit / default** unsets it here.
`mount_point` is a legacy mount the guest makes (fstab / NixOS
fileSystems); the `mountpoint` property is one ZFS mounts itself.

In the tree: **a** adds a dataset inside the highlighted one, **v** a volume
(e.g. swap), **r** renames (what is inside moves along; renaming the root
renames the pool), **Delete** removes it with everything inside, after asking.
The buttons under the tree do the same.

A value OpenZFS would refuse is listed at the top of the step, in words that
say how to fix it, and Next stays disabled until it is. The files of the
source land in the dataset that owns their path, so some dataset must be
mounted at the partition's mount point.
""",
    "sizes": """
# Sizes: how big everything gets

**auto** makes a filesystem just big enough for its files plus **headroom**
(free space for the guest: `20%`, `256MiB`, or `auto`). A fixed size such as
`2GiB` is used as is — diskwright refuses to build if the files do not fit.

The **alignment** (1 MiB is right for nearly everything) rounds each
partition's start and size. The table shows, per partition, the bytes of
content, the smallest possible image and what will be built.
""",
    "output": """
# Output: the file you get

- **path** — where the image is written (relative to the profile's folder);
- **format** — `raw` for dd and most tools, `qcow2` for QEMU, `vmdk` for
  VMware, …;
- **compression** — `zstd` or `xz` compress the whole file (SD-card images).

If the file already exists, diskwright will not replace it unless you tick
**Replace existing files** — except the files this wizard's own last build
wrote (still exactly as it left them): **Build again** replaces those.

**Reproducibility**: every timestamp in the image is `SOURCE_DATE_EPOCH` and
every UUID derives from the **seed**, so the same profile gives the same bytes.
""",
    "review": """
# Review: everything in one place

Check the summary, read any warnings, and look at the full plan on the right:
it is exactly what the build will run (you can export it with **Ctrl+E** and
run it yourself with `sh`).

Give the profile a name and save it with **Ctrl+S** to rebuild it later —
headless, e.g. in CI, with `diskwright build profile.toml`.
""",
    "build": """
# Build

**Start** runs the plan step by step; the log shows every tool's output.
**Cancel** (asks first) stops the running tool and removes every temporary
file — nothing is written unless every step and check passed.

At the end you get each image with its size and sha256, the checks that ran
and the path of the full log. If a step fails, its last lines are shown;
go back to the step that needs a change and build again.
""",
}


def help_for(step: str) -> str:
    return HELP.get(step, HELP["start"]) + "\n" + KEYS
