#!/usr/bin/env bash
# Enables Debian's `contrib` component (zfs-dkms and zfsutils-linux live there)
# on the release's own apt sources, in every form apt reads them:
#   - deb822 files (/etc/apt/sources.list.d/*.sources): a stanza whose Suites
#     name this release (or stable/oldstable/…) and whose Components include
#     `main` gets ` contrib` appended, whatever else is listed
#     (`main`, `main non-free-firmware`, …);
#   - one-line files (/etc/apt/sources.list, sources.list.d/*.list): the same
#     for each `deb`/`deb-src` line, options in [ … ] and comments kept.
# It says what it changed, or why it changed nothing. Idempotent; other
# repositories (suites that are not Debian's, components without `main`) are
# left alone. Run `apt-get update` afterwards.
#   scripts/enable-contrib.sh [ROOT]    ROOT: a system tree to edit instead of /
set -euo pipefail

root=${1:-}
root=${root%/}
apt_dir="$root/etc/apt"
say() { echo "enable-contrib: $*"; }

id="" codename=""
if [ -r "$root/etc/os-release" ]; then
  id=$(. "$root/etc/os-release" && echo "${ID:-}")
  codename=$(. "$root/etc/os-release" && echo "${VERSION_CODENAME:-}")
fi
if [ "$id" != debian ]; then
  say "this is not Debian (ID=${id:-unknown}); contrib is Debian's component, nothing to do"
  exit 0
fi

# Suites that are this release: its codename (bookworm, bookworm-updates,
# bookworm-security, …) or a Debian alias (stable, oldstable-updates, …).
suites_re="^(${codename:-NONE}|stable|oldstable|oldoldstable|testing|unstable|sid)(-[a-z-]+)?(/updates)?$"

edit_deb822() {  # FILE → edited text on stdout, one report line per change on stderr
  awk -v sre="$suites_re" -v file="$1" '
    function flush(   i, n, w, hasmain, hascontrib, val) {
      if (cidx && suites_ok && enabled) {
        val = lines[cidx]; sub(/^[^:]*:[ \t]*/, "", val); sub(/[ \t]+$/, "", val)
        n = split(val, w, /[ \t]+/); hasmain = 0; hascontrib = 0
        for (i = 1; i <= n; i++) { if (w[i] == "main") hasmain = 1; if (w[i] == "contrib") hascontrib = 1 }
        if (hasmain && !hascontrib) {
          sub(/[ \t]+$/, "", lines[cidx]); lines[cidx] = lines[cidx] " contrib"
          printf "%s: \"Components: %s\" -> \"Components: %s contrib\" (Suites: %s)\n", file, val, val, suites > "/dev/stderr"
        } else if (hascontrib) {
          printf "%s: contrib already enabled (Suites: %s)\n", file, suites > "/dev/stderr"
        }
      }
      for (i = 1; i <= cnt; i++) print lines[i]
      cnt = 0; cidx = 0; suites_ok = 0; enabled = 1; suites = ""
    }
    BEGIN { enabled = 1 }
    /^[ \t]*$/ { flush(); print; next }
    { lines[++cnt] = $0 }
    tolower($0) ~ /^suites:/ {
      suites = $0; sub(/^[^:]*:[ \t]*/, "", suites)
      n = split(suites, s, /[ \t]+/)
      for (i = 1; i <= n; i++) if (s[i] ~ sre) suites_ok = 1
    }
    tolower($0) ~ /^components:/ { cidx = cnt }
    tolower($0) ~ /^enabled:[ \t]*no/ { enabled = 0 }
    END { flush() }
  ' "$1"
}

edit_oneline() {  # FILE → edited text on stdout, one report line per change on stderr
  awk -v sre="$suites_re" -v file="$1" '
    /^[ \t]*deb(-src)?[ \t]/ {
      code = $0; comment = ""
      p = index(code, "#")
      if (p) { comment = substr(code, p); code = substr(code, 1, p - 1) }
      rest = code; sub(/^[ \t]*deb(-src)?[ \t]+/, "", rest)
      if (rest ~ /^\[/) { q = index(rest, "]"); rest = substr(rest, q + 1); sub(/^[ \t]+/, "", rest) }
      sub(/[ \t]+$/, "", rest)
      n = split(rest, f, /[ \t]+/)       # f[1] URI, f[2] suite, f[3..] components
      hasmain = 0; hascontrib = 0
      for (i = 3; i <= n; i++) { if (f[i] == "main") hasmain = 1; if (f[i] == "contrib") hascontrib = 1 }
      if (n >= 3 && f[2] ~ sre && hasmain && !hascontrib) {
        sub(/[ \t]+$/, "", code)
        printf "%s: \"%s\" -> \"%s contrib\"\n", file, code, code > "/dev/stderr"
        print code " contrib" (comment == "" ? "" : " " comment)
        next
      }
      if (n >= 3 && f[2] ~ sre && hascontrib) printf "%s: contrib already enabled (%s)\n", file, f[2] > "/dev/stderr"
    }
    { print }
  ' "$1"
}

files=()
[ -f "$apt_dir/sources.list" ] && files+=("$apt_dir/sources.list")
for f in "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources; do
  [ -f "$f" ] && files+=("$f")
done
if [ "${#files[@]}" -eq 0 ]; then
  say "no apt sources under $apt_dir; add Debian's with 'Components: main contrib'"
  exit 1
fi

tmp=$(mktemp)
report=$(mktemp)
trap 'rm -f "$tmp" "$report"' EXIT
changed=0 seen=0
for f in "${files[@]}"; do
  case "$f" in
    *.sources) edit_deb822 "$f" >"$tmp" 2>"$report" ;;
    *) edit_oneline "$f" >"$tmp" 2>"$report" ;;
  esac
  if [ -s "$report" ]; then
    seen=1
    while IFS= read -r line; do say "$line"; done <"$report"
  fi
  if ! cmp -s "$f" "$tmp"; then
    cat "$tmp" >"$f"  # in place: the file keeps its owner and mode
    changed=1
  fi
done

if [ "$seen" = 0 ]; then
  say "no source for Debian ${codename:-?} with 'main' found in ${files[*]}; add contrib to it yourself"
  exit 1
fi
[ "$changed" = 1 ] || say "nothing to change"
