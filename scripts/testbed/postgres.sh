#!/usr/bin/env bash
# PostgreSQL binaries for the test suites (DESIGN §5). The tests start their own private postgres per suite
# (test/support/postgres.ts, as the unprivileged postgres user); this only makes sure Debian's postgresql-15
# binaries are there. Idempotent.
#
# usage: scripts/testbed/postgres.sh ensure
set -euo pipefail

log() { printf '[postgres-testbed] %s\n' "$*" >&2; }
die() {
  printf '[postgres-testbed] ERROR: %s\n' "$*" >&2
  exit 1
}

BIN=/usr/lib/postgresql/15/bin
have_binaries() { [[ -x $BIN/postgres && -x $BIN/initdb ]]; }

ensure() {
  if have_binaries; then
    log "$("$BIN/postgres" --version)"
    return 0
  fi
  [[ $EUID -eq 0 ]] || die "postgres is missing and installing it needs root: apt-get install postgresql-15"
  log "installing postgresql-15 (apt)"
  # The tests never use the system's own cluster: policy-rc.d keeps the package from starting it.
  local made_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)
  local ok=1
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install postgresql-15 >&2; then
    log "install failed; refreshing apt lists and retrying"
    apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" install postgresql-15 >&2 || ok=
  fi
  [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
  [[ -n $ok ]] || die "apt-get install postgresql-15 failed"
  have_binaries || die "postgresql-15 installed but $BIN/postgres or initdb is missing"
  log "$("$BIN/postgres" --version)"
}

case ${1:-} in
ensure) ensure ;;
*) die "usage: $0 ensure" ;;
esac
