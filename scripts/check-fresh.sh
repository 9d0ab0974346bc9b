#!/usr/bin/env bash
# Proves the README's two commands on a fresh Debian: builds a new root of the
# release with mmdebstrap (Debian's packages only: no python3-venv, no pip, no
# tools — setup.sh must bring them), gives it the sources a new install has
# (deb822 debian.sources, `Components: main`), clones this checkout's HEAD into
# it, then, inside it as a new user would:
#   1. scripts/start.sh   in tmux: the wizard must show the VM-disk example; Ctrl+Q quits it
#   2. scripts/test.sh    the whole suite, ZFS included (extra args go to pytest)
# and prints the times and the pytest summary. Takes long (apt, DKMS, the
# suite): it is not part of .ci/run. Run as root on a Debian machine.
#   scripts/check-fresh.sh debian12|debian13 [--keep] [pytest args…]
# Logs and the root live under $FRESH_DIR (default ${TMPDIR:-/tmp}); --keep keeps
# the root afterwards (unmounted). MIRROR=URL overrides the Debian mirror, which is
# otherwise the one this machine's own apt sources name.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

case "${1:-}" in
  debian12) suite=bookworm ;;
  debian13) suite=trixie ;;
  *) echo "usage: scripts/check-fresh.sh debian12|debian13 [--keep] [pytest args…]" >&2; exit 2 ;;
esac
release=$1
shift
keep=0
if [ "${1:-}" = --keep ]; then keep=1; shift; fi
[ "$(id -u)" -eq 0 ] || { echo "check-fresh.sh: needs root (chroot, bind mounts)" >&2; exit 2; }

base=${FRESH_DIR:-${TMPDIR:-/tmp}}
root="$base/fresh-$release"
log="$base/fresh-$release.log"
mkdir -p "$base"
say() { echo "check-fresh[$release]: $*" | tee -a "$log"; }
: >"$log"

# The mirror this machine already uses (deb822 or one-line), never a guessed host.
host_uri() {  # $1: debian | debian-security
  local want=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk -v w="$want" 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) { u = $i; sub(/\/+$/, "", u); n = split(u, p, "/"); if (p[n] == w) { print u; exit } } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && awk -v w="$want" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { u = $i; sub(/\/+$/, "", u); n = split(u, p, "/"); if (p[n] == w) print u; break } }' "$f"
  done
  return 0
}
mirror=${MIRROR:-$(host_uri debian | head -n1 || true)}
security=${SECURITY_MIRROR:-$(host_uri debian-security | head -n1 || true)}
[ -n "$mirror" ] || { echo "check-fresh.sh: no Debian mirror in this machine's apt sources; set MIRROR=URL" >&2; exit 2; }

mounts=(proc sys dev dev/pts dev/shm)
cleanup() {
  local m i
  tmux kill-session -t "fresh-$release" 2>/dev/null || true
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m="$root/${mounts[$i]}"
    mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m"; }
  done
  mountpoint -q "$root" 2>/dev/null && { umount "$root" 2>/dev/null || umount -l "$root"; }
  if mount | grep -qF " $root/"; then
    say "WARNING: still mounted under $root:"; mount | grep -F " $root/" | tee -a "$log"
  elif [ "$keep" = 0 ] && [ -d "$root" ]; then
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT
trap 'say "FAILED at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM

# Commands in the root get a clean environment, as a user logging in has
# (nothing of this shell's TMPDIR, PATH, virtualenv or proxy settings).
clean_env=(env -i HOME=/root TERM=xterm-256color LANG=C.UTF-8
           PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
clean_chroot() { "${clean_env[@]}" chroot "$root" "$@"; }

command -v mmdebstrap >/dev/null || { say "installing mmdebstrap"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap >>"$log" 2>&1; }
[ ! -e "$root" ] || { say "removing the previous $root"; cleanup; rm -rf --one-file-system "$root"; }

t0=$(date +%s)
say "mmdebstrap $suite from $mirror → $root"
mmdebstrap --variant=apt --include=ca-certificates,git,sudo \
  "$suite" "$root" "$mirror" >>"$log" 2>&1
# A new install's sources: deb822, main only (setup.sh must enable contrib).
rm -f "$root/etc/apt/sources.list"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" "$suite" "$suite"
  if [ -n "$security" ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security" "$suite"
  fi
} >"$root/etc/apt/sources.list.d/debian.sources"
# This machine's extra CA certificates (a TLS-inspecting proxy), so pip verifies.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  clean_chroot update-ca-certificates >>"$log" 2>&1
fi
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# The root is a mount point of its own, as / is on a real machine (systemd-repart 252
# remounts / as MS_SLAVE before it copies files in, which fails on a plain chroot folder).
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --bind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs tmpfs "$root/dev/shm"
t1=$(date +%s)
say "root ready in $((t1 - t0)) s: $(clean_chroot sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), python3: $(clean_chroot sh -c 'command -v python3 || echo none')"

git -C "$here" diff --quiet HEAD || say "note: uncommitted changes are not part of the check (it clones HEAD $(git -C "$here" rev-parse --short HEAD))"
git clone -q --no-hardlinks "$here" "$root/root/diskwright"
# the clone's origin is this checkout, a path that does not exist in the root
git -C "$root/root/diskwright" remote remove origin

in_root() {  # a shell in the clone, in the root
  clean_chroot /bin/bash -c "cd /root/diskwright && $1"
}

# 1. scripts/start.sh: install, then the wizard on the built-in example.
say "scripts/start.sh (in tmux; output in $root/root/start.log)"
tmux new-session -d -s "fresh-$release" -x 120 -y 40 \
  "${clean_env[*]} chroot $(printf %q "$root") /bin/bash -c 'cd /root/diskwright && script -qfec scripts/start.sh /root/start.log; echo START-EXITED-\$?; sleep 600'"
pane() { tmux capture-pane -p -t "fresh-$release" 2>/dev/null || true; }
deadline=$(( $(date +%s) + 3600 ))
until pane | grep -q "vm · gpt · disk\|START-EXITED"; do
  [ "$(date +%s)" -lt "$deadline" ] || { say "FAIL: the wizard did not appear within an hour"; pane | tee -a "$log"; exit 1; }
  sleep 5
done
t2=$(date +%s)
pane >"$base/fresh-$release-wizard.txt"
if pane | grep -q START-EXITED; then
  say "FAIL: start.sh ended before the wizard showed:"; tail -30 "$root/root/start.log" | tee -a "$log"; exit 1
fi
sleep 2
pane >"$base/fresh-$release-wizard.txt"
tmux send-keys -t "fresh-$release" C-q
sleep 3
pane | grep -q "START-EXITED-0" || { tmux send-keys -t "fresh-$release" C-q; sleep 3; }
pane | grep -q "START-EXITED-0" || { say "FAIL: the wizard did not quit with 0 on Ctrl+Q"; pane | tee -a "$log"; exit 1; }
tmux kill-session -t "fresh-$release" 2>/dev/null || true
say "start.sh: wizard on screen after $((t2 - t1)) s (screen in $base/fresh-$release-wizard.txt); quit with 0"

# 2. scripts/test.sh: the whole suite.
say "scripts/test.sh $* (output in $base/fresh-$release-test.log)"
set +e
in_root "scripts/test.sh $(printf '%q ' "$@")" >"$base/fresh-$release-test.log" 2>&1
rc=$?
set -e
t3=$(date +%s)
summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error)|(passed|failed|error).* in [0-9.]+s' "$base/fresh-$release-test.log" | tail -1)
say "test.sh: exit $rc after $((t3 - t2)) s: ${summary:-no pytest summary (see the log)}"
in_root '. /etc/os-release; echo "versions: $PRETTY_NAME; $(.venv/bin/python -V); e2fsprogs $(dpkg-query -W -f="\${Version}" e2fsprogs), erofs-utils $(dpkg-query -W -f="\${Version}" erofs-utils), zfs $(dpkg-query -W -f="\${Version}" zfsutils-linux 2>/dev/null)"' | tee -a "$log"
say "total $((t3 - t0)) s"
exit "$rc"
