#!/usr/bin/env bash
# Installs everything diskwright needs on Debian 12 / Ubuntu: the image tools,
# the ZFS helper-VM packages (from Debian's contrib component) and the Python
# package with its test extras. Idempotent; run as root (or with sudo).
#   scripts/setup.sh            tools + package
#   scripts/setup.sh --no-zfs   skip the ZFS helper-VM packages (faster)
set -euo pipefail
cd "$(dirname "$0")/.."

zfs=1
for arg in "$@"; do
  case "$arg" in
    --no-zfs) zfs=0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

TOOLS=(e2fsprogs erofs-utils squashfs-tools squashfs-tools-ng dosfstools mtools
       fdisk gdisk qemu-utils zstd xz-utils util-linux tmux nix-bin
       systemd librsvg2-bin)
ZFS=(qemu-system-x86 linux-image-amd64 linux-headers-amd64 zfs-dkms
     zfsutils-linux busybox-static dkms build-essential kmod)

if command -v apt-get >/dev/null 2>&1; then
  if [ "$zfs" = 1 ] && [ -f /etc/apt/sources.list.d/debian.sources ] \
     && grep -q '^Components: main$' /etc/apt/sources.list.d/debian.sources; then
    # zfs-dkms and zfsutils-linux live in Debian's contrib component.
    $SUDO sed -i 's/^Components: main$/Components: main contrib/' /etc/apt/sources.list.d/debian.sources
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  pkgs=("${TOOLS[@]}")
  [ "$zfs" = 1 ] && pkgs+=("${ZFS[@]}")
  # zfs-dkms asks a licence question; preseed the answer.
  echo "zfs-dkms zfs-dkms/note-incompatible-licenses note true" | $SUDO debconf-set-selections
  $SUDO apt-get install -y -q --no-install-recommends "${pkgs[@]}"
else
  echo "setup.sh: no apt-get here; install the tools 'diskwright doctor' lists." >&2
fi

python3 -m pip install -q --upgrade pip >/dev/null 2>&1 || true
python3 -m pip install -q -e '.[test]'

# the example profiles read a generated tree (git cannot store its hard link)
python3 examples/make_root.py >/dev/null
if command -v nix-store >/dev/null 2>&1; then
  python3 examples/make_nix_store.py >/dev/null
fi
