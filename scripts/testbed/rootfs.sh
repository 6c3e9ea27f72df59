#!/usr/bin/env bash
# Builds a trimmed Debian rootfs tarball with debootstrap, for `docker import` (no registry is reachable here).
#
# usage: scripts/testbed/rootfs.sh NAME PACKAGES
#   NAME      a slug for the file name, e.g. base-python
#   PACKAGES  comma-separated Debian packages added to the minbase variant ("" for none)
# Prints the tarball path on stdout; progress goes to stderr.
#
# The tarball lives in ${POOLTUNER_CACHE:-$HOME/.cache/pooltuner}/images/NAME-SUITE-HASH.tar, HASH covering the
# recipe below and the package list: it is rebuilt only when missing or when the recipe changes.
# Environment: POOLTUNER_CACHE, POOLTUNER_DEBIAN_MIRROR (default: the bookworm mirror from /etc/apt/sources.list*).
set -euo pipefail

# Bump when the build or trim steps change, so every cached tarball is rebuilt.
readonly RECIPE_VERSION=1
readonly SUITE=bookworm

log() { printf '[rootfs] %s\n' "$*" >&2; }
die() {
  printf '[rootfs] ERROR: %s\n' "$*" >&2
  exit 1
}

[[ $# -eq 2 ]] || die "usage: $0 NAME PACKAGES (comma-separated)"
name=$1
packages=$(tr ', ' '\n\n' <<<"$2" | sed '/^$/d' | sort -u | paste -sd, -)
[[ $name =~ ^[a-z0-9][a-z0-9.-]*$ ]] || die "bad image slug: $name"
[[ $EUID -eq 0 ]] || die "debootstrap needs root (running as uid $EUID)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/testbed/docker.sh ensure installs it)"

cache=${POOLTUNER_CACHE:-$HOME/.cache/pooltuner}
images=$cache/images
mkdir -p "$images/debs"

hash=$(printf 'recipe=%s\nsuite=%s\nvariant=minbase\npackages=%s\narch=%s\n' \
  "$RECIPE_VERSION" "$SUITE" "$packages" "$(dpkg --print-architecture)" | sha256sum | cut -c1-16)
tarball=$images/$name-$SUITE-$hash.tar

if [[ -s $tarball ]]; then
  log "cached: $tarball"
  printf '%s\n' "$tarball"
  exit 0
fi

# One build per tarball at a time; a second caller waits and then finds the tarball.
exec 9>"$images/.$name.lock"
flock 9
if [[ -s $tarball ]]; then
  printf '%s\n' "$tarball"
  exit 0
fi

# The bookworm mirror this machine's apt already uses (deb822 .sources first, then one-line .list entries).
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v suite="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; suites = ""; types = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites = " " $i " "; sub(/^ Suites:/, "", suites) }
          if ($i ~ /^Types:/) { types = " " $i " " }
          if ($i ~ /^Enabled:[ \t]*no/) { enabled = "no" }
        }
        if (enabled == "yes" && types ~ / deb / && suites ~ (" " suite " ")) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }'
  done
}
mirror=${POOLTUNER_DEBIAN_MIRROR:-$(find_mirror | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}

work=$images/.build-$name-$hash
# debootstrap mounts /proc and /sys in the target; an interrupted build leaves them mounted.
unmount_under() {
  awk -v p="$1" 'index($2, p "/") == 1 || $2 == p { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
}
cleanup() {
  unmount_under "$work"
  rm -rf --one-file-system "$work" "$tarball.tmp"
}
trap cleanup EXIT
cleanup

log "debootstrap $SUITE (minbase + ${packages:-nothing}) from $mirror"
start=$SECONDS
include=()
[[ -n $packages ]] && include=(--include="$packages")
if ! debootstrap --variant=minbase --components=main --cache-dir="$images/debs" \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "${include[@]}" \
  "$SUITE" "$work/root" "$mirror" >"$work.log" 2>&1; then
  tail -n 40 "$work.log" >&2 || true
  [[ -f $work/root/debootstrap/debootstrap.log ]] && tail -n 40 "$work/root/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (full log: $work.log)"
fi
log "debootstrap took $((SECONDS - start)) s"

root=$work/root
unmount_under "$root"
# Like Debian's slim images: no docs (except copyright), man pages, locales or apt lists, now or after a later install.
cat >"$root/etc/dpkg/dpkg.cfg.d/pooltuner-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
cat >"$root/etc/apt/apt.conf.d/pooltuner-slim" <<'EOF'
APT::Install-Recommends "false";
Acquire::GzipIndexes "true";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
chroot "$root" apt-get clean
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,info,lintian}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
  "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/tmp/* "$root"/var/tmp/* "$root/debootstrap"
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
find "$root/var/log" -type f -delete
# Docker provides these per container.
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
: >"$root/etc/machine-id"

tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" \
  --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
# Older builds of the same image are dead weight once this one exists.
find "$images" -maxdepth 1 -name "$name-$SUITE-*.tar" -not -name "${tarball##*/}" -delete
log "built $tarball ($(du -m "$tarball" | cut -f1) MiB) in $((SECONDS - start)) s"
printf '%s\n' "$tarball"
