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

if wants mysql postgres cli kube controller docker compose conformance node; then
  step "test bed: MariaDB binaries (each suite starts its own private mariadbd)"
  bash scripts/testbed/mariadb.sh ensure
fi
if wants postgres controller compose; then
  step "test bed: PostgreSQL 15 binaries (each suite starts its own private postgres; the controller project mixes engines, the compose project runs the Django example on one)"
  bash scripts/testbed/postgres.sh ensure
fi
if wants kube controller conformance; then
  step "test bed: Kubernetes binaries (built once, cached)"
  bash scripts/testbed/kube.sh build
fi
if wants kube; then
  step "test bed: promtool (checks and unit-tests the chart's alerts; built once, cached)"
  bash scripts/testbed/kube.sh build-promtool
fi
if wants node; then
  step "test bed: a real Kubernetes node (kubelet, containerd, runc, CNI plugins, local images; built once, cached)"
  bash scripts/testbed/node.sh ensure
fi
if wants compose; then
  step "test bed: Docker Compose CLI (built once from the Go module proxy, cached)"
  bash scripts/testbed/kube.sh build-compose
fi
if wants docker compose conformance; then
  step "test bed: Docker Engine and registry-free base images"
  bash scripts/testbed/docker.sh ensure
fi

# Each project also writes a JSON report, so the end of the run can name every failed test and its first error
# line: CI keeps only the tail of a long log.
reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
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
