#!/usr/bin/env bash
# The Kubernetes test bed (DESIGN §5): a real kube-apiserver, kube-controller-manager, kube-scheduler and etcd,
# with kwok faking the nodes, started by kwokctl's binary runtime. Everything is built from the Go module proxy at
# the versions pinned by the wrapper modules in test/cluster/ (their go.mod is the one place a version is set), and
# cached outside the repo under a name that carries the version and a hash of the wrapper's go.mod/go.sum.
#
#   kube.sh build                    build whatever binary is missing (idempotent; loud on failure)
#   kube.sh build-kubelet            build the kubelet too (only the real-node test bed needs it: scripts/testbed/node.sh)
#   kube.sh build-promtool           build Prometheus' promtool (only the kube project needs it: it checks and unit-tests
#                                    the chart's alerting rules, test/integration/kube/prometheus-rules.test.ts)
#   kube.sh build-compose            build Docker Compose (v2+ CLI, test/cluster/compose) for the compose suite; it is
#                                    called directly with DOCKER_HOST set, not installed as a docker CLI plugin
#   kube.sh build-metrics-server     build metrics-server (test/cluster/metrics-server) for the real-node test bed
#   kube.sh up NAME KUBECONFIG       create cluster NAME (RBAC on, one fake Ready node), write an admin kubeconfig
#   kube.sh up NAME KUBECONFIG real-node
#                                    the same control plane without kwok and without the fake node, ready for a real
#                                    kubelet to join (scripts/testbed/node.sh start does that)
#   kube.sh down NAME                delete cluster NAME
#   kube.sh prune                    delete pooltuner clusters whose owning process is gone (a crashed run)
#   kube.sh bin NAME                 print the cached path of binary NAME (kwokctl, helm, ...)
#
# Clusters live under $POOLTUNER_CACHE/kwok and are named pooltuner-*; each records the process that owns it
# (POOLTUNER_KUBE_OWNER_PID, default the caller), so `up` can delete leftovers of a crashed run and only those.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# module_version WRAPPER MODULE: the version WRAPPER's go.mod requires MODULE at.
module_version() {
  local v
  v="$(sed -n "s#^\(require\)\{0,1\}[[:space:]]*$2 \(v[^ ]*\).*#\2#p" "$repo/test/cluster/$1/go.mod" | head -n 1)"
  [[ -n "$v" ]] || {
    echo "[kube.sh] ERROR: test/cluster/$1/go.mod does not require $2" >&2
    exit 1
  }
  echo "$v"
}
ETCD_VERSION="$(module_version etcd go.etcd.io/etcd/server/v3)"
KUBE_VERSION="$(module_version kube k8s.io/kubernetes)"
KWOK_VERSION="$(module_version kwok sigs.k8s.io/kwok)"
HELM_VERSION="$(module_version helm helm.sh/helm/v3)"
PROMETHEUS_VERSION="$(module_version promtool github.com/prometheus/prometheus)"
COMPOSE_VERSION="$(module_version compose github.com/docker/compose/v5)"
METRICS_SERVER_VERSION="$(module_version metrics-server sigs.k8s.io/metrics-server)"

cache="${POOLTUNER_CACHE:-$HOME/.cache/pooltuner}"
bindir="$cache/bin"
logdir="$cache/buildlogs"
export KWOK_WORKDIR="$cache/kwok"
export PATH="/usr/local/go/bin:$PATH"
# The wrapper modules say which Go they need; never fetch another toolchain behind our back.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" CGO_ENABLED=0 GOFLAGS=-mod=readonly

say() { printf '[kube.sh] %s\n' "$*" >&2; }
die() {
  printf '[kube.sh] ERROR: %s\n' "$*" >&2
  exit 1
}

# A dependency bump in a wrapper changes its hash, so a stale binary is never taken for the new one.
wrapper_hash() { cat "$repo/test/cluster/$1/go.mod" "$repo/test/cluster/$1/go.sum" | sha256sum | cut -c1-10; }

binary_path() {
  case "$1" in
  etcd) echo "$bindir/etcd-$ETCD_VERSION-$(wrapper_hash etcd)" ;;
  kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet)
    echo "$bindir/$1-$KUBE_VERSION-$(wrapper_hash kube)"
    ;;
  kwok | kwokctl) echo "$bindir/$1-$KWOK_VERSION-$(wrapper_hash kwok)" ;;
  helm) echo "$bindir/helm-$HELM_VERSION-$(wrapper_hash helm)" ;;
  promtool) echo "$bindir/promtool-$PROMETHEUS_VERSION-$(wrapper_hash promtool)" ;;
  compose) echo "$bindir/docker-compose-$COMPOSE_VERSION-$(wrapper_hash compose)" ;;
  metrics-server) echo "$bindir/metrics-server-$METRICS_SERVER_VERSION-$(wrapper_hash metrics-server)" ;;
  *) die "unknown binary '$1'" ;;
  esac
}

# Sums the resident memory of the go command and every process under it (compile, link), so the recorded peak is
# what the build really held at once, not only its largest single process.
sample_tree_rss() {
  local root="$1" out="$2" peak=0 now
  while kill -0 "$root" 2>/dev/null; do
    now="$(ps -e -o pid=,ppid=,rss= | awk -v root="$root" '
      { parent[$1] = $2; rss[$1] = $3 }
      END {
        for (p in parent) { q = p; while (q != "" && q != 0 && q != root) q = parent[q]; if (q == root) sum += rss[p] }
        print sum + 0
      }')"
    ((now > peak)) && peak="$now"
    echo "$peak" >"$out"
    sleep 0.5
  done
}

# go_build NAME WRAPPER_DIR PACKAGE LDFLAGS [TAGS]
go_build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" tags="${5:-}"
  local out
  out="$(binary_path "$name")"
  if [[ -x "$out" ]]; then
    say "$name: cached at $out"
    return 0
  fi
  command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"
  mkdir -p "$bindir" "$logdir"
  say "$name: building $pkg in $dir (cold builds take minutes; log: $logdir/$name.log)"
  local start=$SECONDS
  rm -f "$logdir/$name.time"
  (
    cd "$dir"
    # GNU time gives the largest single process's peak; it is optional (the sampler below still measures).
    timer=()
    [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -v -o "$logdir/$name.time")
    exec "${timer[@]}" go build -trimpath ${tags:+-tags "$tags"} -ldflags "-s -w $ldflags" -o "$out.tmp.$$" "$pkg"
  ) >"$logdir/$name.log" 2>&1 &
  local pid=$!
  sample_tree_rss "$pid" "$logdir/$name.peak-kb" &
  local sampler=$!
  local rc=0
  wait "$pid" || rc=$?
  wait "$sampler" 2>/dev/null || true
  if ((rc != 0)); then
    rm -f "$out.tmp.$$"
    tail -n 40 "$logdir/$name.log" >&2
    die "$name: go build failed (exit $rc); full log in $logdir/$name.log"
  fi
  mv -f "$out.tmp.$$" "$out"
  local largest tree
  largest="$(awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$logdir/$name.time" 2>/dev/null || true)"
  tree="$(($(cat "$logdir/$name.peak-kb" 2>/dev/null || echo 0) / 1024))"
  say "$name: built in $((SECONDS - start))s; peak RSS ${tree} MiB for the whole build, ${largest:-?} MiB largest process"
  echo "$name $((SECONDS - start))s tree=${tree}MiB largest=${largest:-?}MiB $(date -u +%FT%TZ)" >>"$logdir/summary.txt"
}

kube_ldflags() {
  local major minor
  major="${KUBE_VERSION#v}"
  minor="${major#*.}"
  minor="${minor%%.*}"
  major="${major%%.*}"
  local date
  # The module's publication time stands in for the build date, so a rebuild gives the same /version.
  date="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" 2>/dev/null | sed -n 's/^\t"Time": "\(.*\)",*$/\1/p')"
  local flags="" pkg
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit= -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
  done
  echo "$flags"
}

cmd_build() {
  local started=$SECONDS
  say "build: binaries cached in $bindir"
  go_build etcd "$repo/test/cluster/etcd" go.etcd.io/etcd/server/v3 \
    "-X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
  local c kflags=""
  # kubectl too: kwokctl shells out to it to see whether the cluster is served.
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "$(binary_path "$c")" ]] || [[ -n "$kflags" ]] || kflags="$(kube_ldflags)"
    go_build "$c" "$repo/test/cluster/kube" "k8s.io/kubernetes/cmd/$c" "$kflags" selinux,notest,grpcnotrace
  done
  local kwflags="-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}"
  go_build kwok "$repo/test/cluster/kwok" sigs.k8s.io/kwok/cmd/kwok "$kwflags"
  go_build kwokctl "$repo/test/cluster/kwok" sigs.k8s.io/kwok/cmd/kwokctl "$kwflags"
  local kminor="${KUBE_VERSION#v1.}"
  kminor="${kminor%%.*}"
  go_build helm "$repo/test/cluster/helm" helm.sh/helm/v3/cmd/helm \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kminor -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kminor"
  say "build: all binaries present ($((SECONDS - started))s)"
}

# The kubelet is built from the same wrapper, with the same tags and version as the control plane it joins.
cmd_build_kubelet() {
  local kflags=""
  [[ -x "$(binary_path kubelet)" ]] || kflags="$(kube_ldflags)"
  go_build kubelet "$repo/test/cluster/kube" k8s.io/kubernetes/cmd/kubelet "$kflags" selinux,notest,grpcnotrace
}

# promtool: Prometheus' module is v0.3XX.Y for release 3.XX.Y (promtool --version prints the release). The
# remove_all_sd tag (Prometheus' own, see its plugins/) drops the optional service-discovery plugins (AWS, Azure, GCE,
# Consul, ...): promtool still checks rules and runs rule unit tests; only `promtool check config` would refuse a
# scrape config naming a removed SD (Kubernetes and file SD stay: promtool imports them directly).
cmd_build_promtool() {
  local n="${PROMETHEUS_VERSION#v0.}"
  local release="$((${n%%.*} / 100)).$((${n%%.*} % 100)).${n#*.}"
  local v=github.com/prometheus/common/version
  go_build promtool "$repo/test/cluster/promtool" github.com/prometheus/prometheus/cmd/promtool \
    "-X $v.Version=$release -X $v.Revision=$PROMETHEUS_VERSION -X $v.Branch=module -X $v.BuildUser=pooltuner" \
    remove_all_sd
}

# Docker Compose for the compose suite (test/integration/compose/compose-cli.test.ts); not one of ALL_BINARIES, which
# the Kubernetes suites need. A cold build took 819 s wall (254 CPU-s, 0.5 GiB peak) on the 2-core test machine.
cmd_build_compose() {
  go_build compose "$repo/test/cluster/compose" github.com/docker/compose/v5/cmd \
    "-X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION"
}

# metrics-server for the real-node test bed (scripts/testbed/node.sh runs it): the Metrics API a real HPA scales by.
cmd_build_metrics_server() {
  local v=k8s.io/client-go/pkg/version
  go_build metrics-server "$repo/test/cluster/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server \
    "-X $v.gitVersion=$METRICS_SERVER_VERSION -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
}

ALL_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwokctl helm)

require_binaries() {
  local b missing=()
  for b in "${ALL_BINARIES[@]}"; do
    [[ -x "$(binary_path "$b")" ]] || missing+=("$b")
  done
  ((${#missing[@]} == 0)) || die "missing binaries: ${missing[*]} (run: bash scripts/testbed/kube.sh build)"
  # kwokctl runs `kubectl` from PATH when there is one; make it ours, not whatever the machine has.
  mkdir -p "$cache/kubectl-path"
  ln -sfn "$(binary_path kubectl)" "$cache/kubectl-path/kubectl"
  export PATH="$cache/kubectl-path:$PATH"
}

kwokctl() { "$(binary_path kwokctl)" "$@"; }

# The owner is recorded as "pid start-time" so a recycled pid is not mistaken for a live owner.
process_identity() { echo "$1 $(ps -o lstart= -p "$1" 2>/dev/null | tr -s ' ')"; }

owner_alive() {
  local file="$1"
  [[ -f "$file" ]] || return 1
  local pid
  pid="$(cut -d' ' -f1 "$file")"
  [[ -n "$pid" ]] && [[ "$(process_identity "$pid")" == "$(cat "$file")" ]]
}

# A real node (node.sh) lives inside its cluster's directory; it is stopped, and what it did outside undone, first.
stop_real_node() {
  [[ -d "$KWOK_WORKDIR/clusters/$1/node" ]] || return 0
  bash "$repo/scripts/testbed/node.sh" stop "$1" || die "the real node of $1 could not be stopped; not deleting its directory"
}

cmd_prune() {
  local dir name
  for dir in "$KWOK_WORKDIR"/clusters/pooltuner-*; do
    [[ -d "$dir" ]] || continue
    name="$(basename "$dir")"
    if owner_alive "$dir/pooltuner-owner"; then
      continue
    fi
    say "prune: deleting leftover cluster $name (its owner is gone)"
    stop_real_node "$name"
    kwokctl delete cluster --name "$name" >&2 || say "prune: kwokctl could not delete $name cleanly"
    stop_leftover_processes "$dir"
    rm -rf "$dir"
  done
}

# Belt and braces after a crash: kwokctl stops what its pid files name; anything still running from this cluster's
# directory (matched by the exact path on its command line, never by a broad name) is stopped here.
stop_leftover_processes() {
  local dir="$1" pid
  for pid in $(pgrep -f -- "$dir/" || true); do
    [[ "$pid" == "$$" ]] && continue
    kill "$pid" 2>/dev/null || true
  done
}

# The real-node cluster's kwokctl settings: kwokctl.yaml's, plus what the API server needs to reach a real kubelet:
# its InternalIP (node names are not in DNS here) and a client certificate that the kubelet's webhook authentication
# accepts (the admin one, signed by the cluster CA the kubelet trusts); and the front-proxy settings of the
# aggregation layer, so metrics-server (node.sh) trusts the API server's proxy certificate (kwokctl's admin one) and
# sees who is asking (the HPA controller), not the proxy. Paths are the cluster's, so written per cluster.
write_real_node_config() {
  local dir="$1"
  cat >"$dir/pooltuner-kwokctl.yaml" <<EOF
kind: KwokctlConfiguration
apiVersion: config.kwok.x-k8s.io/v1alpha1
options:
  bindAddress: 127.0.0.1
componentsPatches:
  - name: kube-apiserver
    extraArgs:
      - key: kubelet-preferred-address-types
        value: InternalIP
      - key: kubelet-client-certificate
        value: $dir/pki/admin.crt
      - key: kubelet-client-key
        value: $dir/pki/admin.key
      - key: requestheader-client-ca-file
        value: $dir/pki/ca.crt
      - key: requestheader-username-headers
        value: X-Remote-User
      - key: requestheader-group-headers
        value: X-Remote-Group
      - key: requestheader-extra-headers-prefix
        value: X-Remote-Extra-
EOF
}

# POOLTUNER_KUBE_CONTROLLERS (fake-node mode only): kube-controller-manager's --controllers, e.g.
# `*,-deployment-controller` for bench/controller.ts, which plays the Deployment controller itself so that 10,000
# Deployments need no ReplicaSets or pods.
write_controllers_config() {
  local dir="$1" controllers="$2"
  [[ "$controllers" =~ ^[a-z*,-]+$ ]] || die "POOLTUNER_KUBE_CONTROLLERS: only names, '*', ',' and '-' (got '$controllers')"
  cat >"$dir/pooltuner-kwokctl.yaml" <<EOF
kind: KwokctlConfiguration
apiVersion: config.kwok.x-k8s.io/v1alpha1
options:
  bindAddress: 127.0.0.1
componentsPatches:
  - name: kube-controller-manager
    extraArgs:
      - key: controllers
        value: "$controllers"
EOF
}

cmd_up() {
  local name="${1:?usage: kube.sh up NAME KUBECONFIG}" kubeconfig="${2:?usage: kube.sh up NAME KUBECONFIG}"
  local mode="${3:-fake-node}"
  [[ "$mode" == fake-node || "$mode" == real-node ]] || die "up: mode must be fake-node or real-node (got '$mode')"
  [[ "$name" == pooltuner-* ]] || die "cluster name must start with pooltuner- (got '$name')"
  require_binaries
  cmd_prune
  [[ ! -e "$KWOK_WORKDIR/clusters/$name" ]] || die "cluster $name already exists; names must be unique per run"
  mkdir -p "$KWOK_WORKDIR/clusters/$name" "$(dirname "$kubeconfig")"
  process_identity "${POOLTUNER_KUBE_OWNER_PID:-$PPID}" >"$KWOK_WORKDIR/clusters/$name/pooltuner-owner"
  # A half-created cluster is deleted on any failure below, so nothing stale outlives this command.
  trap 'rc=$?; if ((rc != 0)); then say "up: failed; deleting the half-created $name"; cmd_down "$name"; fi' EXIT
  local start=$SECONDS
  local config="$repo/test/cluster/kwokctl.yaml" extra=()
  if [[ "$mode" == real-node ]]; then
    write_real_node_config "$KWOK_WORKDIR/clusters/$name"
    config="$KWOK_WORKDIR/clusters/$name/pooltuner-kwokctl.yaml"
    # kwok's controller would manage every node, the real one included.
    extra=(--disable kwok-controller)
  elif [[ -n "${POOLTUNER_KUBE_CONTROLLERS:-}" ]]; then
    write_controllers_config "$KWOK_WORKDIR/clusters/$name" "$POOLTUNER_KUBE_CONTROLLERS"
    config="$KWOK_WORKDIR/clusters/$name/pooltuner-kwokctl.yaml"
  fi
  say "up: creating cluster $name (kube $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION; RBAC on; $mode)"
  if ! kwokctl --config "$config" create cluster --name "$name" --runtime binary "${extra[@]}" \
    --kube-authorization=true --kube-admission=true \
    --etcd-binary "$(binary_path etcd)" \
    --kube-apiserver-binary "$(binary_path kube-apiserver)" \
    --kube-controller-manager-binary "$(binary_path kube-controller-manager)" \
    --kube-scheduler-binary "$(binary_path kube-scheduler)" \
    --kwok-controller-binary "$(binary_path kwok)" \
    --kubeconfig "$KWOK_WORKDIR/clusters/$name/admin.kubeconfig" \
    --wait 2m --quiet-pull >&2; then
    say "up: kwokctl failed; component logs follow"
    tail -n 30 "$KWOK_WORKDIR/clusters/$name"/logs/*.log >&2 2>/dev/null || true
    die "could not create cluster $name"
  fi
  local kubectl
  kubectl="$(binary_path kubectl)"
  # A self-contained copy (certificates inlined) for the caller: usable from anywhere, as long as the cluster runs.
  (umask 077 && "$kubectl" config view --raw --flatten --kubeconfig "$KWOK_WORKDIR/clusters/$name/admin.kubeconfig" >"$kubeconfig") ||
    die "could not write the admin kubeconfig to $kubeconfig"
  if [[ "$mode" == fake-node ]]; then
    "$kubectl" --kubeconfig "$kubeconfig" apply -f "$repo/test/cluster/fake-node.yaml" >&2 ||
      die "could not create the fake node in $name"
    "$kubectl" --kubeconfig "$kubeconfig" wait --for=condition=Ready node/kwok-node-0 --timeout=120s >&2 ||
      die "the fake node of $name never became Ready"
  fi
  # Pods need the namespace's default ServiceAccount (admission is on); the controller-manager creates it.
  local i
  for i in $(seq 1 120); do
    "$kubectl" --kubeconfig "$kubeconfig" -n default get serviceaccount default >/dev/null 2>&1 && break
    ((i == 120)) && die "the default ServiceAccount never appeared in $name"
    sleep 0.5
  done
  trap - EXIT
  say "up: cluster $name ready ($mode) in $((SECONDS - start))s; kubeconfig $kubeconfig"
}

cmd_down() {
  local name="${1:?usage: kube.sh down NAME}"
  [[ "$name" == pooltuner-* ]] || die "cluster name must start with pooltuner- (got '$name')"
  local dir="$KWOK_WORKDIR/clusters/$name"
  [[ -d "$dir" ]] || {
    say "down: no cluster $name"
    return 0
  }
  say "down: deleting cluster $name"
  stop_real_node "$name"
  kwokctl delete cluster --name "$name" >&2 || say "down: kwokctl could not delete $name cleanly"
  stop_leftover_processes "$dir"
  rm -rf "$dir"
}

case "${1:-}" in
build) cmd_build ;;
build-kubelet) cmd_build_kubelet ;;
build-promtool) cmd_build_promtool ;;
build-compose) cmd_build_compose ;;
build-metrics-server) cmd_build_metrics_server ;;
up) cmd_up "${2:-}" "${3:-}" "${4:-}" ;;
down) cmd_down "${2:-}" ;;
prune) cmd_prune ;;
bin) binary_path "${2:?usage: kube.sh bin NAME}" ;;
*) die "usage: kube.sh build|build-kubelet|build-promtool|build-compose|build-metrics-server|up NAME KUBECONFIG [real-node]|down NAME|prune|bin NAME" ;;
esac
