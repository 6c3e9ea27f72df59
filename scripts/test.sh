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

ALL_PROJECTS=(unit mysql cli kube docker controller compose conformance)
projects=("$@")
[ ${#projects[@]} -gt 0 ] || projects=("${ALL_PROJECTS[@]}")
wants() { local p; for p in "${projects[@]}"; do [[ " $* " == *" $p "* ]] && return 0; done; return 1; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "static checks: types, lint, core purity"
npx tsc --noEmit -p tsconfig.json
npx biome check .
npx depcruise src --config .dependency-cruiser.cjs

if wants mysql cli kube controller docker compose conformance; then
  step "test bed: MariaDB binaries (each suite starts its own private mariadbd)"
  bash scripts/testbed/mariadb.sh ensure
fi
if wants kube controller conformance; then
  step "test bed: Kubernetes binaries (built once, cached)"
  bash scripts/testbed/kube.sh build
fi
if wants docker compose conformance; then
  step "test bed: Docker Engine and registry-free base images"
  bash scripts/testbed/docker.sh ensure
fi

failed=()
for p in "${projects[@]}"; do
  step "vitest project: $p"
  if ! npx vitest run --project "$p"; then failed+=("$p"); fi
done
if [ ${#failed[@]} -gt 0 ]; then
  printf '\n\033[31mFAILED projects: %s\033[0m\n' "${failed[*]}" >&2
  exit 1
fi
printf '\nall projects passed: %s\n' "${projects[*]}"
