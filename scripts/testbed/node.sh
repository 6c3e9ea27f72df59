#!/usr/bin/env bash
# A real Kubernetes node for the test bed (issue 14): a kubelet built from the same wrapper module as the control
# plane, Debian's containerd/runc/CNI plugins, a private containerd, a locally built pause image and the example app's
# image from the debootstrap base, joined to a control plane made by `kube.sh up NAME KUBECONFIG real-node`.
# No registry is reachable: pods use `imagePullPolicy: Never` and `hostNetwork: true` (MariaDB listens on loopback).
# metrics-server (built like the rest, test/cluster/metrics-server) scrapes the kubelet and serves the Metrics API
# through the API server's aggregation layer, so a HorizontalPodAutoscaler scales on the pods' real CPU use.
#
#   node.sh ensure                 apt packages, kubelet, metrics-server and the control plane binaries, image tarballs
#                                  (cached)
#   node.sh ensure-images          only the apt packages and image tarballs (no Go build)
#   node.sh start NAME KUBECONFIG  cluster NAME gets a real node (containerd + kubelet); waits until it is Ready
#   node.sh restart-kubelet NAME   stop the kubelet and start it again with the same settings (pods keep running)
#   node.sh stop NAME              stop the node and undo everything it did outside its directory
#   node.sh image app|pause        print the image reference pods use (imported into the node's containerd)
#
# Everything lives in $KWOK_WORKDIR/clusters/NAME/node (kube.sh down and prune call `node.sh stop` first). Outside it
# the node touches, and `stop` undoes: /var/log/containers links, shim sockets in /run/containerd/s, /run/netns/cni-*,
# the kubelet's cgroup root under each cgroup controller, the CNI bridge, the kubelet's bind mount of its own root
# dir, and the kernel settings the kubelet sets (vm.overcommit_memory, kernel.panic, ...). One real node at a time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${POOLTUNER_CACHE:-$HOME/.cache/pooltuner}"
export KWOK_WORKDIR="$cache/kwok"
images="$cache/images"
# Bump when the image recipes below change, so cached image tarballs are rebuilt.
readonly IMAGE_RECIPE=1
readonly PACKAGES=(containerd runc containernetworking-plugins debootstrap)
readonly CNI_BIN=/usr/lib/cni
readonly NODE_NAME=real-node-0
# The kernel settings the kubelet writes on start (its setupKernelTunables); `stop` puts back what was there.
readonly TUNABLES=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys
  kernel/keys/root_maxbytes)

say() { printf '[node.sh] %s\n' "$*" >&2; }
die() {
  printf '[node.sh] ERROR: %s\n' "$*" >&2
  exit 1
}

require_root() { [[ $EUID -eq 0 ]] || die "a real node needs root (running as uid $EUID)"; }

# --- ensure: packages, binaries, image tarballs ------------------------------------------------------------------

install_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]} (apt)"
  # Installing containerd must not start the system's own containerd: policy-rc.d denies service starts.
  local made_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends) rc=0
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${missing[@]}" >&2; then
    say "install failed; refreshing apt lists and retrying"
    { apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${missing[@]}" >&2; } || rc=$?
  fi
  [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || die "apt-get install ${missing[*]} failed"
}

kubelet_bin() { bash "$here/kube.sh" bin kubelet; }
kube_version() { basename "$(kubelet_bin)" | cut -d- -f2; }

# The k8s.io/kubernetes module the wrapper pins, from the Go module cache (the kubelet build downloaded it).
kubernetes_module_dir() {
  local v
  v="$(kube_version)"
  (cd "$repo/test/cluster/kube" && PATH="/usr/local/go/bin:$PATH" GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
    go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^\t"Dir": "\(.*\)",*$/\1/p')
}

# pack_image OUT REF CONFIG_JSON LAYER_TAR...: a docker-save tarball (what `ctr images import` reads), no daemon.
# CONFIG_JSON is the image's "config" object; the rootfs diff_ids are computed here.
pack_image() {
  local out="$1" ref="$2" config="$3"
  shift 3
  local work layer n=0 diff_ids=() layers=() sum
  work="$(mktemp -d "$images/.pack.XXXXXX")"
  for layer in "$@"; do
    sum="$(sha256sum "$layer" | cut -d' ' -f1)"
    mkdir -p "$work/$sum"
    ln "$layer" "$work/$sum/layer.tar" 2>/dev/null || cp "$layer" "$work/$sum/layer.tar"
    diff_ids+=("\"sha256:$sum\"")
    layers+=("\"$sum/layer.tar\"")
    n=$((n + 1))
  done
  local IFS=,
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$config" "${diff_ids[*]}" >"$work/config.json"
  sum="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
  mv "$work/config.json" "$work/$sum.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$sum" "$ref" "${layers[*]}" >"$work/manifest.json"
  (cd "$work" && tar -cf "$out.tmp.$$" manifest.json "$sum.json" "${layers[@]//\"/}") && mv -f "$out.tmp.$$" "$out"
  rm -rf "$work"
}

# The sandbox image: Kubernetes' own pause.c from the module, compiled static (what registry.k8s.io/pause is).
pause_tarball() {
  local src
  src="$(kubernetes_module_dir)/build/pause/linux/pause.c"
  [[ -f "$src" ]] || die "pause.c not found in the k8s.io/kubernetes module ($src)"
  local hash
  hash="$( (echo "recipe=$IMAGE_RECIPE" && cat "$src") | sha256sum | cut -c1-12)"
  echo "$images/node-pause-$hash.tar pooltuner.local/pause:$hash"
}

build_pause() {
  local tarball ref
  read -r tarball ref < <(pause_tarball)
  [[ -s "$tarball" ]] && return 0
  command -v gcc >/dev/null || die "gcc is needed to build the pause image"
  local work
  work="$(mktemp -d)"
  mkdir -p "$work/root"
  gcc -Os -static -o "$work/root/pause" "$(kubernetes_module_dir)/build/pause/linux/pause.c" ||
    die "compiling pause.c failed (gcc -Os -static needs libc6-dev)"
  strip "$work/root/pause" 2>/dev/null || true
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$work/root" -cf "$work/layer.tar" pause
  pack_image "$tarball" "$ref" '{"Entrypoint":["/pause"],"User":"65535:65535"}' "$work/layer.tar"
  rm -rf "$work"
  say "pause image: $ref ($tarball)"
}

# The example app (examples/lineage) on the same debootstrap base the compose suite uses (docker.sh's package list).
python_packages() {
  sed -n 's/^readonly PYTHON_PACKAGES=\(.*\)$/\1/p' "$here/docker.sh"
}

app_tarball() {
  local base
  base="$(bash "$here/rootfs.sh" base-python "$(python_packages)")" || die "building the base-python rootfs failed"
  local hash
  hash="$( (echo "recipe=$IMAGE_RECIPE base=${base##*/}" && cat "$repo/examples/lineage/app.py" \
    "$repo/examples/lineage/gunicorn.conf.py") | sha256sum | cut -c1-12)"
  echo "$images/node-lineage-$hash.tar pooltuner.local/lineage:$hash $base"
}

build_app() {
  local tarball ref base
  read -r tarball ref base < <(app_tarball)
  [[ -s "$tarball" ]] && return 0
  local work
  work="$(mktemp -d)"
  mkdir -p "$work/root/app"
  cp "$repo/examples/lineage/app.py" "$repo/examples/lineage/gunicorn.conf.py" "$work/root/app/"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$work/root" -cf "$work/layer.tar" app
  pack_image "$tarball" "$ref" \
    '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","PYTHONUNBUFFERED=1","PYTHONDONTWRITEBYTECODE=1"],"WorkingDir":"/app","Cmd":["gunicorn","-c","gunicorn.conf.py","app:app"]}' \
    "$base" "$work/layer.tar"
  rm -rf "$work"
  say "app image: $ref ($tarball)"
}

ensure_images() {
  install_packages
  mkdir -p "$images"
  exec 9>"$images/.node-images.lock"
  flock 9
  build_pause
  build_app
  exec 9>&-
}

cmd_ensure() {
  require_root
  local start=$SECONDS
  ensure_images
  bash "$here/kube.sh" build
  bash "$here/kube.sh" build-kubelet
  bash "$here/kube.sh" build-metrics-server
  say "ensure: node test bed ready ($((SECONDS - start))s)"
}

# Without the Go builds, so scripts/test.sh can run them in the background meanwhile.
cmd_ensure_images() {
  require_root
  local start=$SECONDS
  ensure_images
  say "ensure-images: packages and image tarballs ready ($((SECONDS - start))s)"
}

cmd_image() {
  local tarball ref base
  case "${1:-}" in
  pause) read -r tarball ref < <(pause_tarball) ;;
  app) read -r tarball ref base < <(app_tarball) ;;
  *) die "usage: node.sh image app|pause" ;;
  esac
  echo "$ref"
}

# --- start ----------------------------------------------------------------------------------------------------------

cluster_dir() { echo "$KWOK_WORKDIR/clusters/$1"; }

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    ss -Htln "sport = :$port" | grep -q . || {
      echo "$port"
      return 0
    }
  done
  die "no free port found"
}

node_ip() {
  local ip
  ip="$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1) }')"
  [[ -n "$ip" ]] || ip="$(hostname -I 2>/dev/null | awk '{ print $1 }')"
  [[ -n "$ip" ]] || die "no non-loopback IPv4 address for the node (the kubelet refuses loopback)"
  echo "$ip"
}

# Every mounted cgroup v1 hierarchy (symlinked aliases like cpu,cpuacct skipped) plus the unified one if any.
cgroup_hierarchies() {
  local d
  for d in /sys/fs/cgroup/*; do
    [[ -d "$d" && ! -L "$d" ]] && mountpoint -q "$d" && echo "$d"
  done
  return 0
}

# The kubelet's cgroup root, private to this node, so its kubepods tree never meets another node's or Docker's.
make_cgroup_root() {
  local root="$1" h
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h$root"
    if [[ -f "$h/cpuset.cpus" ]]; then
      cat "$h/cpuset.cpus" >"$h$root/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h$root/cpuset.mems"
    fi
  done
}

write_certs() {
  local dir="$1" pki="$2"
  # The Node authorizer knows the kubelet by this subject.
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/kubelet-client.key" \
    -subj "/O=system:nodes/CN=system:node:$NODE_NAME" -out "$dir/kubelet-client.csr" 2>/dev/null ||
    die "openssl could not make the kubelet's key"
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >"$dir/kubelet-client.ext"
  openssl x509 -req -in "$dir/kubelet-client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -CAserial "$dir/ca.srl" -days 7 -extfile "$dir/kubelet-client.ext" -out "$dir/kubelet-client.crt" 2>/dev/null ||
    die "openssl could not sign the kubelet's client certificate"
  chmod 600 "$dir/kubelet-client.key"
}

write_containerd_config() {
  local dir="$1" pause="$2" bridge="$3"
  mkdir -p "$dir/cni/net.d"
  cat >"$dir/containerd.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.ttrpc.sock"
[debug]
  address = "$dir/containerd.debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  # Root here lacks CAP_SYS_RESOURCE: runc cannot lower a sandbox's oom_score_adj below its own.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # Pod network namespaces under the private state dir, not /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$dir/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$dir/cni/net.d"
EOF
  # Without a CNI config the node stays NotReady even for hostNetwork pods. ipMasq off: no iptables rules.
  cat >"$dir/cni/net.d/10-pooltuner.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "pooltuner",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.251.0.0/24" }]],
        "dataDir": "$dir/cni/ipam"
      }
    }
  ]
}
EOF
}

# write_kubeconfig FILE USER SERVER CA CERT KEY: a kubeconfig that authenticates USER by a client certificate.
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: pooltuner
    cluster: { server: "$3", certificate-authority: "$4" }
users:
  - name: $2
    user: { client-certificate: "$5", client-key: "$6" }
contexts:
  - name: $2
    context: { cluster: pooltuner, user: $2 }
current-context: $2
EOF
}

write_kubelet_config() {
  local dir="$1" pki="$2" server="$3" port="$4" ip="$5" cgroup_root="$6"
  write_kubeconfig "$dir/kubelet.kubeconfig" kubelet "$server" "$pki/ca.crt" "$dir/kubelet-client.crt" \
    "$dir/kubelet-client.key"
  cat >"$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: "$ip"
port: $port
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: "$pki/ca.crt" }
authorization: { mode: Webhook }
containerRuntimeEndpoint: "unix://$dir/containerd.sock"
cgroupDriver: cgroupfs
cgroupRoot: "$cgroup_root"
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
podLogsDir: "$dir/pod-logs"
failSwapOn: false
makeIPTablesUtilChains: false
resolvConf: /etc/resolv.conf
# The test images exist only in this containerd: never garbage-collect them, never evict for a busy disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
serializeImagePulls: false
maxPods: 110
EOF
}

start_containerd() {
  local dir="$1" i
  setsid containerd --config "$dir/containerd.toml" >>"$dir/logs/containerd.log" 2>&1 </dev/null &
  echo $! >"$dir/containerd.pid"
  for i in $(seq 1 100); do
    ctr_ "$dir" version >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null || break
    sleep 0.2
  done
  tail -n 30 "$dir/logs/containerd.log" >&2
  die "containerd did not start (log: $dir/logs/containerd.log)"
}

ctr_() {
  local dir="$1"
  shift
  ctr --address "$dir/containerd.sock" -n k8s.io "$@"
}

import_images() {
  local dir="$1" tarball ref base
  read -r tarball ref < <(pause_tarball)
  [[ -s "$tarball" ]] || die "pause image tarball missing (run: bash scripts/testbed/node.sh ensure)"
  ctr_ "$dir" images import "$tarball" >/dev/null || die "importing $ref into containerd failed"
  read -r tarball ref base < <(app_tarball)
  [[ -s "$tarball" ]] || die "app image tarball missing (run: bash scripts/testbed/node.sh ensure)"
  ctr_ "$dir" images import "$tarball" >/dev/null || die "importing $ref into containerd failed"
}

start_kubelet() {
  local dir="$1"
  local ip
  ip="$(cat "$dir/node-ip")"
  setsid "$(kubelet_bin)" --config "$dir/kubelet.yaml" --kubeconfig "$dir/kubelet.kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "$ip" --root-dir "$dir/kubelet" --cert-dir "$dir/kubelet/pki" \
    --v 1 >>"$dir/logs/kubelet.log" 2>&1 </dev/null &
  echo $! >"$dir/kubelet.pid"
}

wait_node_ready() {
  local dir="$1" kubeconfig="$2" i kubectl
  kubectl="$(bash "$here/kube.sh" bin kubectl)"
  for i in $(seq 1 240); do
    [[ "$("$kubectl" --kubeconfig "$kubeconfig" get node "$NODE_NAME" \
      -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]] && return 0
    kill -0 "$(cat "$dir/kubelet.pid")" 2>/dev/null || break
    sleep 0.5
  done
  tail -n 40 "$dir/logs/kubelet.log" >&2
  die "node $NODE_NAME did not become Ready (logs: $dir/logs/kubelet.log, $dir/logs/containerd.log)"
}

# metrics-server with the admin credentials kwokctl made (its client certificate is the one the kubelet's webhook
# authentication accepts and the API server's aggregator presents as its proxy client), on loopback. A loop keeps it
# running: it exits when the API server cannot be reached while it starts (it reads the
# extension-apiserver-authentication ConfigMap then), as after the restart test's API server crash; a kubelet would
# restart a metrics-server pod the same way.
start_metrics_server() {
  local dir="$1" pki="$2" server="$3" port="$4" bin
  bin="$(bash "$here/kube.sh" bin metrics-server)"
  [[ -x "$bin" ]] || die "metrics-server missing (run: bash scripts/testbed/node.sh ensure)"
  mkdir -p "$dir/metrics-server"
  write_kubeconfig "$dir/metrics-server.kubeconfig" metrics-server "$server" "$pki/ca.crt" "$pki/admin.crt" \
    "$pki/admin.key"
  local args=(--bind-address=127.0.0.1 "--secure-port=$port" "--cert-dir=$dir/metrics-server"
    "--tls-cert-file=$pki/admin.crt" "--tls-private-key-file=$pki/admin.key"
    "--kubeconfig=$dir/metrics-server.kubeconfig" "--authentication-kubeconfig=$dir/metrics-server.kubeconfig"
    "--authorization-kubeconfig=$dir/metrics-server.kubeconfig"
    --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port --kubelet-insecure-tls
    --metric-resolution=10s --kubelet-request-timeout=8s)
  # shellcheck disable=SC2016
  setsid bash -c 'while :; do "$@"; echo "[node.sh] metrics-server exited ($?); starting it again in 2 s"; sleep 2; done' \
    "$dir/metrics-server.loop" "$bin" "${args[@]}" >>"$dir/logs/metrics-server.log" 2>&1 </dev/null &
  echo $! >"$dir/metrics-server.pid"
}

# The Metrics API, registered with the aggregation layer. The Service is an ExternalName one (no kube-proxy here):
# the aggregator resolves it to 127.0.0.1 and the port. metrics-server serves the admin certificate, which does not
# name the Service, hence insecureSkipTLSVerify, as in metrics-server's own manifest.
register_metrics_api() {
  local kubeconfig="$1" port="$2" kubectl
  kubectl="$(bash "$here/kube.sh" bin kubectl)"
  "$kubectl" --kubeconfig "$kubeconfig" apply -f - >&2 <<EOF || die "could not register the Metrics API"
apiVersion: v1
kind: Service
metadata: { name: metrics-server, namespace: kube-system }
spec: { type: ExternalName, externalName: 127.0.0.1 }
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1beta1.metrics.k8s.io }
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: { name: metrics-server, namespace: kube-system, port: $port }
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF
}

# Ready when the Metrics API serves the node's usage (the first scrape comes one resolution after the start).
wait_metrics_ready() {
  local dir="$1" kubeconfig="$2" kubectl
  kubectl="$(bash "$here/kube.sh" bin kubectl)"
  for _ in $(seq 1 240); do
    "$kubectl" --kubeconfig "$kubeconfig" get --raw "/apis/metrics.k8s.io/v1beta1/nodes/$NODE_NAME" 2>/dev/null |
      grep -q '"usage"' && return 0
    sleep 0.5
  done
  tail -n 30 "$dir/logs/metrics-server.log" >&2
  "$kubectl" --kubeconfig "$kubeconfig" get apiservice v1beta1.metrics.k8s.io -o yaml >&2 || true
  die "the Metrics API never served node $NODE_NAME's usage (log: $dir/logs/metrics-server.log)"
}

cmd_start() {
  local name="${1:?usage: node.sh start NAME KUBECONFIG}" kubeconfig="${2:?usage: node.sh start NAME KUBECONFIG}"
  require_root
  local cdir dir
  cdir="$(cluster_dir "$name")"
  dir="$cdir/node"
  [[ -d "$cdir/pki" ]] || die "no cluster $name (create it with: kube.sh up $name KUBECONFIG real-node)"
  [[ ! -e "$dir" ]] || die "cluster $name already has a node"
  local other
  for other in "$KWOK_WORKDIR"/clusters/*/node/kubelet.pid; do
    [[ -f "$other" ]] && kill -0 "$(cat "$other")" 2>/dev/null && die "another real node runs ($other); one at a time"
  done
  local tool
  for tool in containerd runc ctr "$CNI_BIN/bridge" "$CNI_BIN/host-local" "$(kubelet_bin)"; do
    command -v "$tool" >/dev/null || [[ -x "$tool" ]] || die "$tool missing (run: bash scripts/testbed/node.sh ensure)"
  done
  mkdir -p "$dir/logs" "$dir/pod-logs" "$dir/kubelet"
  local start=$SECONDS
  trap 'rc=$?; if ((rc != 0)); then say "start: failed; stopping the half-started node"; cmd_stop "$name" || true; fi' EXIT
  # What is there before the node starts, so `stop` removes only what the node added or changed.
  local t
  for t in "${TUNABLES[@]}"; do
    [[ -r "/proc/sys/$t" ]] && echo "$t $(cat "/proc/sys/$t")" >>"$dir/tunables.before"
  done
  ls -d /run/netns/cni-* 2>/dev/null >"$dir/netns.before" || true
  [[ -d /run/containerd/s ]] || touch "$dir/made-run-containerd-s"
  local id bridge cgroup_root ip port server pause
  id="$(echo "$name" | sha256sum | cut -c1-8)"
  bridge="ptn$id"
  cgroup_root="/pooltuner-node-$id"
  echo "$bridge" >"$dir/bridge"
  echo "$cgroup_root" >"$dir/cgroup-root"
  ip="$(node_ip)"
  echo "$ip" >"$dir/node-ip"
  port="$(free_port)"
  server="$("$(bash "$here/kube.sh" bin kubectl)" --kubeconfig "$kubeconfig" config view --minify \
    -o 'jsonpath={.clusters[0].cluster.server}')"
  read -r _ pause < <(pause_tarball)
  write_certs "$dir" "$cdir/pki"
  write_containerd_config "$dir" "$pause" "$bridge"
  write_kubelet_config "$dir" "$cdir/pki" "$server" "$port" "$ip" "$cgroup_root"
  make_cgroup_root "$cgroup_root"
  start_containerd "$dir"
  import_images "$dir"
  start_kubelet "$dir"
  wait_node_ready "$dir" "$kubeconfig"
  local ready=$((SECONDS - start)) msport
  msport="$(free_port)"
  start_metrics_server "$dir" "$cdir/pki" "$server" "$msport"
  register_metrics_api "$kubeconfig" "$msport"
  wait_metrics_ready "$dir" "$kubeconfig"
  trap - EXIT
  say "start: node $NODE_NAME Ready in ${ready}s, Metrics API serving it after $((SECONDS - start))s (kubelet :$port on $ip, metrics-server :$msport, containerd $dir/containerd.sock)"
}

cmd_restart_kubelet() {
  local name="${1:?usage: node.sh restart-kubelet NAME}" dir
  dir="$(cluster_dir "$name")/node"
  [[ -f "$dir/kubelet.pid" ]] || die "no node in cluster $name"
  stop_pid "$(cat "$dir/kubelet.pid")" kubelet
  start_kubelet "$dir"
  say "restart-kubelet: kubelet restarted (pid $(cat "$dir/kubelet.pid"))"
}

# --- stop -----------------------------------------------------------------------------------------------------------

stop_pid() {
  local pid="$1" what="$2" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "stop: $what did not exit on SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# Shim sockets live in /run/containerd/s whatever containerd's state dir is; a live shim's listening socket is
# found through its open file descriptors.
shim_sockets() {
  local pid inode
  for pid in "$@"; do
    for inode in $(find "/proc/$pid/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n'); do
      awk -v inode="$inode" '$7 == inode && $8 ~ /^\/run\/containerd\/s\// { print $8 }' /proc/net/unix
    done
  done | sort -u
}

# Processes started from this node's directory (shims carry its containerd socket on their command line).
node_processes() {
  local dir="$1"
  pgrep -f -- "$dir/" | grep -vx "$$" || true
}

stop_containers() {
  local dir="$1" id
  [[ -S "$dir/containerd.sock" ]] || return 0
  ctr_ "$dir" version >/dev/null 2>&1 || return 0
  for id in $(ctr_ "$dir" tasks ls -q 2>/dev/null); do
    ctr_ "$dir" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr_ "$dir" tasks ls -q 2>/dev/null); do
    ctr_ "$dir" tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr_ "$dir" containers ls -q 2>/dev/null); do
    ctr_ "$dir" containers delete "$id" >/dev/null 2>&1 || true
  done
}

undo_outside() {
  local dir="$1" f link t v
  # Kernel settings the kubelet changed.
  if [[ -f "$dir/tunables.before" ]]; then
    while read -r t v; do
      [[ "$(cat "/proc/sys/$t" 2>/dev/null)" == "$v" ]] || echo "$v" >"/proc/sys/$t" 2>/dev/null ||
        say "stop: could not restore /proc/sys/$t to $v"
    done <"$dir/tunables.before"
  fi
  # /var/log/containers links into this node's pod logs.
  for link in /var/log/containers/*.log; do
    [[ -L "$link" ]] && [[ "$(readlink "$link")" == "$dir/"* ]] && rm -f "$link"
  done
  # Network namespaces the CRI made for this node's pods.
  if [[ -f "$dir/netns.before" ]]; then
    for f in /run/netns/cni-*; do
      [[ -e "$f" ]] || continue
      grep -qxF "$f" "$dir/netns.before" && continue
      umount "$f" 2>/dev/null || true
      rm -f "$f"
    done
  fi
  [[ -f "$dir/bridge" ]] && ip link show "$(cat "$dir/bridge")" >/dev/null 2>&1 && ip link delete "$(cat "$dir/bridge")"
  [[ -f "$dir/made-run-containerd-s" ]] && rmdir /run/containerd/s 2>/dev/null && rmdir /run/containerd 2>/dev/null
  # The kubelet's cgroup tree, deepest first (empty once every process of the node is gone).
  if [[ -f "$dir/cgroup-root" ]]; then
    local root h
    root="$(cat "$dir/cgroup-root")"
    [[ "$root" == /pooltuner-node-* ]] || die "stop: unexpected cgroup root '$root'"
    for h in $(cgroup_hierarchies); do
      [[ -d "$h$root" ]] || continue
      find "$h$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ ! -d "$h$root" ]] || say "stop: could not remove cgroup $h$root (a process still in it?)"
    done
  fi
  return 0
}

unmount_under() {
  local dir="$1" m
  for m in $(findmnt -rn -o TARGET | grep -F -- "$dir" | sort -r); do
    [[ "$m" == "$dir"* ]] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "stop: could not unmount $m"
  done
}

cmd_stop() {
  local name="${1:?usage: node.sh stop NAME}" dir
  require_root
  dir="$(cluster_dir "$name")/node"
  [[ -d "$dir" ]] || return 0
  local start=$SECONDS
  # The loop first, so it does not start metrics-server again; metrics-server itself goes with the node's processes.
  [[ -f "$dir/metrics-server.pid" ]] && stop_pid "$(cat "$dir/metrics-server.pid")" "metrics-server's loop"
  [[ -f "$dir/kubelet.pid" ]] && stop_pid "$(cat "$dir/kubelet.pid")" kubelet
  stop_containers "$dir"
  local shims sockets pid
  shims="$(node_processes "$dir")"
  # shellcheck disable=SC2086
  sockets="$(shim_sockets $shims)"
  [[ -f "$dir/containerd.pid" ]] && stop_pid "$(cat "$dir/containerd.pid")" containerd
  for pid in $(node_processes "$dir"); do
    stop_pid "$pid" "process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
  done
  local s
  for s in $sockets; do rm -f "$s"; done
  unmount_under "$dir"
  undo_outside "$dir"
  if findmnt -rn -o TARGET | grep -qF -- "$dir"; then
    die "stop: mounts remain under $dir; not deleting it"
  fi
  rm -rf "$dir"
  say "stop: node of $name stopped and cleaned up in $((SECONDS - start))s"
}

case "${1:-}" in
ensure) cmd_ensure ;;
ensure-images) cmd_ensure_images ;;
start) cmd_start "${2:-}" "${3:-}" ;;
restart-kubelet) cmd_restart_kubelet "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
image) cmd_image "${2:-}" ;;
*) die "usage: node.sh ensure|ensure-images|start NAME KUBECONFIG|restart-kubelet NAME|stop NAME|image app|pause" ;;
esac
