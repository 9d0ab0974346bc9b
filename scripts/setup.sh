#!/usr/bin/env bash
# Installs everything diskwright needs on Debian 12 / 13 (or Ubuntu): the image
# tools, the ZFS helper-VM packages (Debian's contrib component) and a project
# virtual environment, .venv, made from the SYSTEM Python (/usr/bin/python3, so
# PEP 668 is respected and no other Python on PATH is used), filled from the
# hashed lock requirements/test.lock, then diskwright itself (editable).
# Idempotent; apt steps run as root or through sudo.
#   scripts/setup.sh            tools + .venv
#   scripts/setup.sh --no-zfs   skip the ZFS helper-VM packages (faster)
#   scripts/setup.sh --no-apt   only the .venv (the tools are already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

zfs=1 apt=1
for arg in "$@"; do
  case "$arg" in
    --no-zfs) zfs=0 ;;
    --no-apt) apt=0 ;;
    *) echo "setup.sh: unknown option $arg (known: --no-zfs, --no-apt)" >&2; exit 2 ;;
  esac
done
say() { echo "setup.sh: $*"; }

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

TOOLS=(e2fsprogs erofs-utils squashfs-tools squashfs-tools-ng dosfstools mtools
       fdisk gdisk qemu-utils zstd xz-utils util-linux btrfs-progs tmux nix-bin
       systemd librsvg2-bin procps python3 python3-venv
       # boot loaders as files only (never grub-pc/grub-efi-amd64/systemd-boot:
       # those configure this machine's own boot) and the firmware `diskwright run` uses
       grub-common grub-pc-bin grub-efi-amd64-bin systemd-boot-efi ovmf qemu-system-x86 cpio)
ZFS=(qemu-system-x86 linux-image-amd64 linux-headers-amd64 zfs-dkms
     zfsutils-linux busybox-static dkms build-essential kmod udev)

if [ "$apt" = 1 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if [ "$zfs" = 1 ]; then
    # zfs-dkms and zfsutils-linux live in Debian's contrib component.
    "${SUDO[@]}" bash scripts/enable-contrib.sh
  fi
  "${SUDO[@]}" apt-get update -q
  pkgs=("${TOOLS[@]}")
  [ "$zfs" = 1 ] && pkgs+=("${ZFS[@]}")
  # Debian 13 moved systemd-repart out of `systemd` into its own package;
  # Debian 12 ships it inside `systemd`. Ask apt rather than assume.
  if apt-cache show systemd-repart >/dev/null 2>&1; then
    pkgs+=(systemd-repart)
    say "systemd-repart is its own package here: installing it"
  fi
  # zfs-dkms asks a licence question; preseed the answer.
  echo "zfs-dkms zfs-dkms/note-incompatible-licenses note true" | "${SUDO[@]}" debconf-set-selections
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}"
elif [ "$apt" = 1 ]; then
  say "no apt-get here; install the tools 'diskwright doctor' lists."
fi

# The project venv comes from the distribution's Python, never from whatever
# `python3` is first on PATH (pyenv, conda, …): that is what users have.
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
  PY=$(command -v python3 || true)
  [ -n "$PY" ] || { say "no python3 found; install python3 and python3-venv" >&2; exit 1; }
  say "no /usr/bin/python3; using $PY"
fi
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  say "diskwright needs Python >= 3.11; $PY is $("$PY" -V 2>&1)" >&2; exit 1; }

VENV=.venv
if [ -x "$VENV/bin/python" ] && ! grep -qx "home = $(dirname "$PY")" "$VENV/pyvenv.cfg" 2>/dev/null; then
  say "$VENV was made from another Python; making it again from $PY"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV" || {
    say "could not make a venv with $PY; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
fi

# Exact versions with hashes, so a new upstream release never changes a result.
# The stamp skips the (slow, hash-checking) step when the lock has not changed.
stamp="$VENV/.diskwright-lock"
want=$(sha256sum requirements/test.lock | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing the locked Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    --require-hashes -r requirements/test.lock
  echo "$want" >"$stamp"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  --no-deps --no-build-isolation -e .

# the example profiles read a generated tree (git cannot store its hard link)
"$VENV/bin/python" examples/make_root.py >/dev/null
if command -v nix-store >/dev/null 2>&1; then
  "$VENV/bin/python" examples/make_nix_store.py >/dev/null
fi
# the bootable examples' trees: this machine's Debian kernel + a busybox initramfs
if ls /boot/vmlinuz-* >/dev/null 2>&1; then
  "$VENV/bin/python" examples/make_boot_root.py >/dev/null || say "no boot-root (see above)"
  "$VENV/bin/python" examples/make_boot_root.py examples/zfs-boot-root --zfs \
    --marker "zfs-boot: root reached" >/dev/null 2>&1 || true
fi
say "ready: $VENV/bin/diskwright ($("$VENV/bin/diskwright" --version))"
