#!/usr/bin/env bash
# A private Docker Engine for the test suite (DESIGN §5): Debian's docker.io with its own data root and socket,
# and base images imported from debootstrap rootfs tarballs, because no registry is reachable here.
#
# usage: scripts/testbed/docker.sh COMMAND
#   ensure  install docker.io/debootstrap/docker-compose (1.29) if missing, start or reuse dockerd, import the base images;
#           prints the socket path on stdout (progress goes to stderr)
#   daemon  the same without the images
#   images  import the base images into the running daemon when missing or built from another recipe
#   stop    stop the private dockerd (its containers stop too; images and the rootfs cache stay)
#   crash   SIGKILL the private dockerd (a fault-injection test: no clean shutdown), then start it again; both under
#           the test bed lock, so another suite's `ensure` waits for the restarted daemon instead of racing it.
#           Prints the socket path. Containers without a restart policy are stopped by the restart.
#   status  print the socket path and exit 0 if the daemon answers, exit 1 otherwise
#   purge   stop and delete the data root (images are re-imported from the cached rootfs tarballs)
#
# Environment:
#   POOLTUNER_CACHE       cache root (default ~/.cache/pooltuner): data root in docker/, rootfs tarballs in images/
#   POOLTUNER_DOCKER_RUN  runtime dir for the socket, pidfile and exec root (default /run/pooltuner)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${POOLTUNER_CACHE:-$HOME/.cache/pooltuner}
run_dir=${POOLTUNER_DOCKER_RUN:-/run/pooltuner}
sock=$run_dir/docker.sock
pidfile=$run_dir/docker.pid
exec_root=$run_dir/docker-exec
daemon_config=$run_dir/docker-daemon.json
data_root=$cache/docker
log_file=$cache/log/dockerd.log
# Debian's client matches the daemon (20.10, API 1.41); a newer client on PATH negotiates down anyway.
docker_cli=/usr/bin/docker

# name | packages added to debootstrap minbase | `docker import --change` lines (';'-separated)
readonly PYTHON_IMAGE=pooltuner/base-python:bookworm
readonly PYTHON_PACKAGES=python3,python3-flask,python3-sqlalchemy,python3-pymysql,gunicorn,curl,ca-certificates,procps,netbase
# The Django example (examples/django) on its own image and tarball: Django 3.2, psycopg2 2.9, Gunicorn. Kept apart from
# base-python so changing one package list never rebuilds (or deletes the tarball of) the other.
readonly DJANGO_IMAGE=pooltuner/base-django:bookworm
readonly DJANGO_PACKAGES=python3,python3-django,python3-psycopg2,gunicorn,curl,ca-certificates,procps,netbase
readonly SLIM_IMAGE=pooltuner/base-slim:bookworm
# libstdc++6 is what the node binary links besides libc; named so it stays if minbase ever drops it.
readonly SLIM_PACKAGES=ca-certificates,libstdc++6
readonly BASE_ENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin;ENV LANG=C.UTF-8'

log() { printf '[docker-testbed] %s\n' "$*" >&2; }
die() {
  printf '[docker-testbed] ERROR: %s\n' "$*" >&2
  exit 1
}

require_root() { [[ $EUID -eq 0 ]] || die "dockerd and debootstrap need root (running as uid $EUID)"; }

ping_daemon() { [[ $(curl -sS --max-time 3 --unix-socket "$sock" http://localhost/_ping 2>/dev/null) == OK ]]; }

# Live dockerd processes of this test bed, found by socket or data root on their command line rather than by the
# pidfile alone: a daemon still shutting down has already removed its pidfile, and a pid in a stale pidfile may
# belong to another process by now.
testbed_dockerd_pids() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $(cat "$dir/comm" 2>/dev/null) == dockerd ]] || continue
    tr '\0' '\n' <"$dir/cmdline" 2>/dev/null | grep -qxF -e "unix://$sock" -e "$data_root" && echo "$pid"
  done
  return 0
}

install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    case $pkg in
    docker.io) [[ -x /usr/sbin/dockerd && -x /usr/bin/docker ]] || missing+=(docker.io) ;;
    *) command -v "$pkg" >/dev/null || missing+=("$pkg") ;;
    esac
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]} (apt)"
  # Installing docker.io must not start the system's own dockerd: policy-rc.d denies service starts.
  local made_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${missing[@]}" >&2; then
    log "install failed; refreshing apt lists and retrying"
    apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${missing[@]}" >&2 ||
      { [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
  fi
  [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# kill -0 alone calls a zombie alive, and the daemon we just started stays one until this script exits.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  # dockerd gives containers up to 15 s to stop on shutdown.
  for ((i = 0; i < 300; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "dockerd $pid still running after 30 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  die "could not stop dockerd $pid"
}

# Leftovers of a dockerd that died or a machine that rebooted (/run may be a persistent disk): a pidfile whose
# pid is gone or reused, a socket nobody listens on, a managed-containerd pidfile naming a dead process.
clear_stale_state() {
  if [[ -e $pidfile ]]; then
    log "removing stale pidfile $pidfile"
    rm -f "$pidfile"
  fi
  if [[ -e $sock ]]; then
    log "removing stale socket $sock"
    rm -f "$sock"
  fi
  local cpidfile=$exec_root/containerd/containerd.pid cpid
  if [[ -e $cpidfile ]]; then
    cpid=$(cat "$cpidfile" 2>/dev/null || true)
    # A zombie counts as gone (PID 1 on this kind of machine may not reap), though dockerd would wait for it.
    if ! [[ $cpid =~ ^[0-9]+$ && $(cat "/proc/$cpid/comm" 2>/dev/null) == containerd ]] || ! alive "$cpid"; then
      log "removing stale containerd pidfile $cpidfile"
      rm -f "$cpidfile"
    fi
  fi
}

start_daemon() {
  require_root
  install_packages docker.io curl
  mkdir -p "$run_dir" "$data_root" "${log_file%/*}"
  if ping_daemon; then
    local root
    root=$(curl -sS --max-time 10 --unix-socket "$sock" http://localhost/info | grep -o '"DockerRootDir":"[^"]*"' | cut -d'"' -f4)
    [[ $root == "$data_root" ]] ||
      die "the dockerd answering on $sock uses data root '$root', not $data_root (POOLTUNER_CACHE changed?): stop it (POOLTUNER_CACHE=${root%/docker} $0 stop) or set POOLTUNER_DOCKER_RUN to another directory"
    log "reusing dockerd at $sock (pid $(testbed_dockerd_pids | paste -sd' ' -))"
    return 0
  fi
  local pids pid i
  pids=$(testbed_dockerd_pids)
  if [[ -n $pids ]]; then
    # Still starting (restoring containers after a crash) or still shutting down: wait for one or the other.
    log "dockerd $pids is running but does not answer on $sock; waiting up to 30 s"
    for ((i = 0; i < 150; i++)); do
      ping_daemon && return 0
      pids=$(testbed_dockerd_pids)
      [[ -z $pids ]] && break
      sleep 0.2
    done
    for pid in $pids; do
      log "dockerd $pid does not answer; stopping it"
      stop_pid "$pid"
    done
  fi
  clear_stale_state
  # An empty config file of our own: /etc/docker/daemon.json (e.g. with "hosts") must not leak in.
  printf '{}\n' >"$daemon_config"
  log "starting dockerd $(/usr/sbin/dockerd --version | sed 's/^Docker version //'): data root $data_root, log $log_file"
  if [[ $(stat -c %s "$log_file" 2>/dev/null || echo 0) -gt $((20 * 1024 * 1024)) ]]; then
    mv -f "$log_file" "$log_file.1"
  fi
  printf '\n=== %s dockerd start ===\n' "$(date -Is)" >>"$log_file"
  # 8>&-: the daemon outlives this script and must not keep holding the testbed lock.
  setsid /usr/sbin/dockerd \
    --config-file "$daemon_config" \
    --host "unix://$sock" \
    --data-root "$data_root" \
    --exec-root "$exec_root" \
    --pidfile "$pidfile" \
    --storage-driver "${POOLTUNER_DOCKER_STORAGE_DRIVER:-overlay2}" \
    </dev/null >>"$log_file" 2>&1 8>&- &
  pid=$!
  local start=$SECONDS
  for ((i = 0; i < 600; i++)); do
    if ping_daemon; then
      log "dockerd $pid ready on $sock in $((SECONDS - start)) s"
      return 0
    fi
    if ! alive "$pid"; then
      tail -n 30 "$log_file" >&2
      die "dockerd exited during startup (log above, full log: $log_file)"
    fi
    sleep 0.1
  done
  tail -n 30 "$log_file" >&2
  die "dockerd $pid did not answer on $sock within 60 s (full log: $log_file)"
}

stop_daemon() {
  local pids pid
  pids=$(testbed_dockerd_pids)
  if [[ -n $pids ]]; then
    for pid in $pids; do
      log "stopping dockerd $pid"
      stop_pid "$pid"
    done
  elif ping_daemon; then
    die "something answers on $sock but is not a dockerd of this test bed; not stopping it"
  else
    log "dockerd is not running"
  fi
  rm -f "$pidfile" "$sock"
}

# SIGKILL, as a crash would: no container is stopped first, no pidfile or socket removed (start_daemon clears them).
crash_daemon() {
  require_root
  local pids pid i
  pids=$(testbed_dockerd_pids)
  [[ -n $pids ]] || die "dockerd is not running: nothing to crash"
  for pid in $pids; do
    log "killing dockerd $pid (SIGKILL)"
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in $pids; do
    for ((i = 0; i < 100; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && die "dockerd $pid is still alive 10 s after SIGKILL"
  done
  start_daemon
}

docker_() { DOCKER_HOST=unix://$sock "$docker_cli" "$@"; }

# Imports IMAGE from the rootfs tarball unless the image already carries that tarball's name in a label.
ensure_image() {
  local image=$1 slug=$2 packages=$3 changes=$4 tarball current start
  tarball=$(bash "$here/rootfs.sh" "$slug" "$packages") || die "building the $slug rootfs failed"
  current=$(docker_ image inspect -f '{{ index .Config.Labels "org.pooltuner.testbed.rootfs" }}' "$image" 2>/dev/null || true)
  if [[ $current == "${tarball##*/}" ]]; then
    log "$image is up to date (${tarball##*/})"
    return 0
  fi
  local args=() lines line
  IFS=';' read -ra lines <<<"$changes;LABEL org.pooltuner.testbed.rootfs=${tarball##*/}"
  for line in "${lines[@]}"; do args+=(--change "$line"); done
  start=$SECONDS
  docker_ import "${args[@]}" --message "debootstrap rootfs ${tarball##*/}" "$tarball" "$image" >/dev/null ||
    die "docker import of $image failed"
  log "imported $image in $((SECONDS - start)) s ($(docker_ image inspect -f '{{ .Size }}' "$image" | awk '{ printf "%d MiB", $1 / 1048576 }'))"
}

ensure_images() {
  require_root
  install_packages debootstrap
  ping_daemon || die "dockerd does not answer on $sock (run: $0 daemon)"
  ensure_image "$PYTHON_IMAGE" base-python "$PYTHON_PACKAGES" \
    "$BASE_ENV;ENV PYTHONUNBUFFERED=1;ENV PYTHONDONTWRITEBYTECODE=1;WORKDIR /app;CMD [\"python3\"]"
  ensure_image "$SLIM_IMAGE" base-slim "$SLIM_PACKAGES" "$BASE_ENV;CMD [\"bash\"]"
  ensure_image "$DJANGO_IMAGE" base-django "$DJANGO_PACKAGES" \
    "$BASE_ENV;ENV PYTHONUNBUFFERED=1;ENV PYTHONDONTWRITEBYTECODE=1;WORKDIR /app;CMD [\"python3\"]"
}

# Serialise concurrent callers (test.sh, vitest globalSetup, another engineer's run) on one lock.
lock() {
  mkdir -p "$cache"
  exec 8>"$cache/docker-testbed.lock"
  flock 8
}

case ${1:-} in
ensure)
  require_root
  lock
  # docker-compose: Debian's Compose 1.29 (the compose suite keeps its short env_file form working)
  install_packages docker.io debootstrap curl docker-compose
  start_daemon
  ensure_images
  printf '%s\n' "$sock"
  ;;
daemon)
  lock
  start_daemon
  printf '%s\n' "$sock"
  ;;
images)
  lock
  ensure_images
  ;;
stop)
  lock
  stop_daemon
  ;;
crash)
  lock
  crash_daemon
  printf '%s\n' "$sock"
  ;;
status)
  ping_daemon || {
    log "dockerd does not answer on $sock"
    exit 1
  }
  printf '%s\n' "$sock"
  ;;
purge)
  lock
  stop_daemon
  log "deleting $data_root"
  rm -rf --one-file-system "$data_root"
  ;;
*) die "usage: $0 ensure|daemon|images|stop|crash|status|purge" ;;
esac
