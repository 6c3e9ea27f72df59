#!/usr/bin/env bash
# MariaDB binaries for the test suites (DESIGN §5). The tests start their own private mariadbd per run
# (test/support/mariadb.ts); this only makes sure the Debian binaries are there. Idempotent.
#
# usage: scripts/testbed/mariadb.sh ensure
set -euo pipefail

log() { printf '[mariadb-testbed] %s\n' "$*" >&2; }
die() {
  printf '[mariadb-testbed] ERROR: %s\n' "$*" >&2
  exit 1
}

have_binaries() { [[ -x /usr/sbin/mariadbd && -x /usr/bin/mariadb-install-db ]]; }

ensure() {
  if have_binaries; then
    log "$(/usr/sbin/mariadbd --version)"
    return 0
  fi
  [[ $EUID -eq 0 ]] || die "mariadbd is missing and installing it needs root: apt-get install mariadb-server"
  log "installing mariadb-server (apt)"
  # The tests never use the system's own server: policy-rc.d keeps the package from starting it.
  local made_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)
  local ok=1
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install mariadb-server >&2; then
    log "install failed; refreshing apt lists and retrying"
    apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" install mariadb-server >&2 || ok=
  fi
  [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
  [[ -n $ok ]] || die "apt-get install mariadb-server failed"
  have_binaries || die "mariadb-server installed but /usr/sbin/mariadbd or mariadb-install-db is missing"
  log "$(/usr/sbin/mariadbd --version)"
}

case ${1:-} in
ensure) ensure ;;
*) die "usage: $0 ensure" ;;
esac
