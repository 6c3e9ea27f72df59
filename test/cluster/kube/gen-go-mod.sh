#!/usr/bin/env bash
# Regenerates this wrapper's go.mod/go.sum for a Kubernetes version: requires k8s.io/kubernetes and replaces every
# staging module (k8s.io/kubernetes's own go.mod points them at ./staging/...) with the published v0.MINOR.PATCH.
# Usage: bash test/cluster/kube/gen-go-mod.sh v1.34.4   (run by hand when bumping; the result is committed)
set -euo pipefail
version="${1:?usage: gen-go-mod.sh vMAJOR.MINOR.PATCH}"
staging_version="v0.${version#v1.}"
here="$(cd "$(dirname "$0")" && pwd)"
export PATH="/usr/local/go/bin:$PATH" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS=-mod=mod

upstream_mod="$(go mod download -json "k8s.io/kubernetes@${version}" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
[[ -f "$upstream_mod" ]] || { echo "gen-go-mod: cannot find k8s.io/kubernetes@${version} go.mod" >&2; exit 1; }
go_line="$(grep -m1 '^go ' "$upstream_mod")"

cd "$here"
rm -f go.mod go.sum
printf 'module pooltuner.test/cluster/kube\n\n%s\n' "$go_line" > go.mod
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$upstream_mod")
echo "gen-go-mod: ${#staging[@]} staging modules -> ${staging_version}"
for m in "${staging[@]}"; do
  go mod edit -replace "${m}=${m}@${staging_version}"
done
go mod edit -require "k8s.io/kubernetes@${version}"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet; do
  go get -tool "k8s.io/kubernetes/cmd/${cmd}@${version}"
done
go mod tidy
echo "gen-go-mod: wrote $here/go.mod for k8s.io/kubernetes ${version}"
