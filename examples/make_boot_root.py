#!/usr/bin/env python3
"""Create the bootable example tree from this machine's Debian kernel (linux-image-amd64).

/boot gets the kernel and a busybox initramfs (written in Python as a newc
cpio) that mounts the root the kernel command line names; the root's
/sbin/init prints the line in /etc/diskwright-boot-marker and powers off.

    python3 examples/make_boot_root.py [DEST] [--zfs] [--marker TEXT]
      [--force]  (default: examples/boot-root; --zfs adds OpenZFS to the initramfs;
      a DEST that exists is replaced only with --force)
"""

from __future__ import annotations

from pathlib import Path

from diskwright.core.boot.demo import make_demo_tree

DEFAULT_MARKER = "boot-disk: root reached"


def main() -> None:
    from _dest import dest_parser, parse_dest  # examples/_dest.py, beside this script

    default = Path(__file__).parent / "boot-root"
    ap = dest_parser(__doc__, default, "the bootable tree")
    ap.add_argument("--zfs", action="store_true", help="an initramfs that imports a ZFS root")
    ap.add_argument("--marker", default=DEFAULT_MARKER, help="the line the guest prints")
    args = parse_dest(ap, default)
    print(make_demo_tree(Path(args.dest), marker=args.marker, zfs=args.zfs))


if __name__ == "__main__":
    main()
