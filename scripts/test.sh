#!/usr/bin/env bash
# `npm test`: the one test command, the same for a new user and for CI (.ci/run).
# Brings up every real part the integration suites need (idempotent; built things are cached in
# $POOLTUNER_CACHE, default ~/.cache/pooltuner), then runs the suites one after another.
# A part that cannot start fails the run with its own message; nothing is skipped.
#
#   npm test                 everything
#   npm test -- unit mysql   only these vitest projects (the test bed steps they do not need are skipped)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export POOLTUNER_CACHE="${POOLTUNER_CACHE:-$HOME/.cache/pooltuner}"

ALL_PROJECTS=(unit mysql postgres cli kube docker controller compose conformance node)
projects=("$@")
[ ${#projects[@]} -gt 0 ] || projects=("${ALL_PROJECTS[@]}")
wants() { local p; for p in "${projects[@]}"; do [[ " $* " == *" $p "* ]] && return 0; done; return 1; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "static checks: types, lint, core purity"
npx tsc --noEmit -p tsconfig.json
npx biome check .
npx depcruise src --config .dependency-cruiser.cjs

# The Go builds (CPU-bound, minutes each when cold) run in the background while the apt installs and debootstraps
# (mostly network and disk) come up in the foreground; the suites start once both are done. Cached, each is a no-op.
go_steps=()
if wants kube controller conformance node; then go_steps+=(build); fi
if wants kube; then go_steps+=(build-promtool); fi
if wants node; then go_steps+=(build-kubelet build-metrics-server); fi
if wants compose; then go_steps+=(build-compose); fi
go_log="$(mktemp)"
go_pid=
testbed_started=$SECONDS
if [ ${#go_steps[@]} -gt 0 ]; then
  step "test bed: Go builds in the background (kube.sh ${go_steps[*]}; built once, cached; log shown below when done)"
  (
    set -e
    for s in "${go_steps[@]}"; do bash scripts/testbed/kube.sh "$s"; done
  ) >"$go_log" 2>&1 &
  go_pid=$!
fi
trap 'rm -f "$go_log"; [ -z "$go_pid" ] || kill "$go_pid" 2>/dev/null || true' EXIT

if wants mysql postgres cli kube controller docker compose conformance node; then
  step "test bed: MariaDB binaries (each suite starts its own private mariadbd)"
  bash scripts/testbed/mariadb.sh ensure
fi
if wants postgres controller compose; then
  step "test bed: PostgreSQL 15 binaries (each suite starts its own private postgres; the controller project mixes engines, the compose project runs the Django example on one)"
  bash scripts/testbed/postgres.sh ensure
fi
if wants node; then
  step "test bed: a real Kubernetes node's packages and images (containerd, runc, CNI plugins, local images; cached)"
  bash scripts/testbed/node.sh ensure-images
fi
if wants docker compose conformance; then
  step "test bed: Docker Engine and registry-free base images"
  bash scripts/testbed/docker.sh ensure
fi
if [ -n "$go_pid" ]; then
  step "test bed: waiting for the Go builds (kube.sh ${go_steps[*]})"
  if ! wait "$go_pid"; then
    go_pid=
    cat "$go_log" >&2
    printf '\033[31mtest bed: a Go build failed (above)\033[0m\n' >&2
    exit 1
  fi
  go_pid=
  cat "$go_log"
fi
printf 'test bed ready in %d s\n' "$((SECONDS - testbed_started))"

# Each project also writes a JSON report, so the end of the run can name every failed test and its first error
# line: CI keeps only the tail of a long log.
reports="$(mktemp -d)"
trap 'rm -rf "$reports" "$go_log"' EXIT
failed=()
for p in "${projects[@]}"; do
  step "vitest project: $p"
  if ! npx vitest run --project "$p" --reporter=default --reporter=json --outputFile.json="$reports/$p.json"; then
    failed+=("$p")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  for p in "${failed[@]}"; do node scripts/failed-tests.mjs "$p" "$reports/$p.json" >&2 || true; done
  printf '\n\033[31mFAILED projects: %s\033[0m\n' "${failed[*]}" >&2
  exit 1
fi
printf '\nall projects passed: %s\n' "${projects[*]}"
