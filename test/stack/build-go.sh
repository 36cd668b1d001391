#!/usr/bin/env bash
# Builds the stack's Go binaries, each cached per pinned version under
# ${SHIPLINE_CACHE:-~/.cache/shipline}/<name>-<version>/bin (a `.done` marker means complete).
# Default GOMODCACHE/GOCACHE are kept so later builds are warm.
# Usage: build-go.sh [k8s|containerd|runc|etcd|pause|capfilter|buildkit|buildx|act|actionlint|all]...
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC1091
source "$HERE/versions.env"
CACHE="${SHIPLINE_CACHE:-$HOME/.cache/shipline}"
export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local
mkdir -p "$CACHE"

log() { echo "[build-go $(date -u +%H:%M:%S)] $*"; }

# wrapper <dir> <module> <version>: a throwaway module requiring <module>@<version>, so that the
# dependency's own replace directives (which `go install pkg@v` rejects) are ignored.
wrapper() {
  mkdir -p "$1"
  printf 'module shipline.local/build\n\ngo 1.26.0\n\nrequire %s %s\n' "$2" "$3" > "$1/go.mod"
  printf 'package build\n' > "$1/doc.go"
}

build_k8s() {
  local v="$K8S_VERSION" out="$CACHE/kubernetes-$K8S_VERSION"
  [[ -f "$out/.done" ]] && { log "kubernetes $v cached"; return; }
  local minor major commit date
  major="${v#v}"; major="${major%%.*}"
  minor="$(echo "$v" | cut -d. -f2)"
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  commit="0000000000000000000000000000000000000000"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitCommit=$commit -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  mkdir -p "$out/bin"
  log "kubernetes $v: building"
  (cd "$HERE/go/k8s" && go build -p 2 -tags selinux,notest -ldflags "$ld" -o "$out/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
  touch "$out/.done"; log "kubernetes $v: done"
}

build_containerd() {
  local v="$CONTAINERD_VERSION" out="$CACHE/containerd-$CONTAINERD_VERSION"
  [[ -f "$out/.done" ]] && { log "containerd $v cached"; return; }
  mkdir -p "$out/bin"; wrapper "$out/src" github.com/containerd/containerd/v2 "$v"
  log "containerd $v: building"
  local ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$v -X github.com/containerd/containerd/v2/version.Revision=pinned"
  (cd "$out/src" && CGO_ENABLED=0 go build -p 2 -tags no_btrfs -ldflags "$ld" -o "$out/bin/" \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr)
  touch "$out/.done"; log "containerd $v: done"
}

build_etcd() {
  local v="$ETCD_VERSION" out="$CACHE/etcd-$ETCD_VERSION"
  [[ -f "$out/.done" ]] && { log "etcd $v cached"; return; }
  mkdir -p "$out/bin"; wrapper "$out/src" go.etcd.io/etcd/server/v3 "$v"
  log "etcd $v: building"
  (cd "$out/src" && CGO_ENABLED=0 go build -p 2 -ldflags "-s -w" -o "$out/bin/etcd" go.etcd.io/etcd/server/v3)
  touch "$out/.done"; log "etcd $v: done"
}

build_buildkit() {
  local v="$BUILDKIT_VERSION" out="$CACHE/buildkit-$BUILDKIT_VERSION"
  [[ -f "$out/.done" ]] && { log "buildkit $v cached"; return; }
  mkdir -p "$out/bin"; wrapper "$out/src" github.com/moby/buildkit "$v"
  log "buildkit $v: building"
  local ld="-s -w -X github.com/moby/buildkit/version.Version=$v -X github.com/moby/buildkit/version.Revision=pinned"
  (cd "$out/src" && CGO_ENABLED=0 go build -p 2 -tags "netgo osusergo static_build" -ldflags "$ld -extldflags -static" -o "$out/bin/" \
    github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl)
  touch "$out/.done"; log "buildkit $v: done"
}

build_buildx() {
  local v="$BUILDX_VERSION" out="$CACHE/buildx-$BUILDX_VERSION"
  [[ -f "$out/.done" ]] && { log "buildx $v cached"; return; }
  mkdir -p "$out/bin"; wrapper "$out/src" github.com/docker/buildx "$v"
  log "buildx $v: building"
  local ld="-s -w -X github.com/docker/buildx/version.Version=$v -X github.com/docker/buildx/version.Revision=pinned -X github.com/docker/buildx/version.Package=github.com/docker/buildx"
  (cd "$out/src" && CGO_ENABLED=0 go build -p 2 -ldflags "$ld" -o "$out/bin/docker-buildx" github.com/docker/buildx/cmd/buildx)
  touch "$out/.done"; log "buildx $v: done"
}

build_act() {
  local v="$ACT_VERSION" out="$CACHE/act-$ACT_VERSION"
  [[ -f "$out/.done" ]] && { log "act $v cached"; return; }
  mkdir -p "$out/bin"; wrapper "$out/src" github.com/nektos/act "$v"
  log "act $v: building"
  (cd "$out/src" && CGO_ENABLED=0 go build -p 2 -ldflags "-s -w -X main.version=${v#v}" -o "$out/bin/act" github.com/nektos/act)
  touch "$out/.done"; log "act $v: done"
}

# actionlint checks the workflows (scripts/actionlint.ts); its version string is set the way its
# release builds set it, so `actionlint -version` names the pin.
build_actionlint() {
  local v="$ACTIONLINT_VERSION" out="$CACHE/actionlint-$ACTIONLINT_VERSION"
  [[ -f "$out/.done" ]] && { log "actionlint $v cached"; return; }
  mkdir -p "$out/bin"; wrapper "$out/src" github.com/rhysd/actionlint "$v"
  log "actionlint $v: building"
  (cd "$out/src" && CGO_ENABLED=0 go build -p 2 -ldflags "-s -w -X github.com/rhysd/actionlint.version=$v" -o "$out/bin/actionlint" github.com/rhysd/actionlint/cmd/actionlint)
  touch "$out/.done"; log "actionlint $v: done"
}

# runc for the kubelet's containerd: Debian's 1.1.5 dies in `runc init` ("can't get final
# child's PID from pipe: EOF") on the specs containerd 2.2's CRI writes. Needs cgo + libseccomp-dev.
build_runc() {
  local v="$RUNC_VERSION" out="$CACHE/runc-$RUNC_VERSION"
  [[ -f "$out/.done" ]] && { log "runc $v cached"; return; }
  mkdir -p "$out/bin"; wrapper "$out/src" github.com/opencontainers/runc "$v"
  log "runc $v: building"
  (cd "$out/src" && CGO_ENABLED=1 go build -p 2 -tags seccomp -ldflags "-s -w -X main.version=${v#v} -X main.gitCommit=pinned" -o "$out/bin/runc" github.com/opencontainers/runc)
  touch "$out/.done"; log "runc $v: done"
}

# Small programs kept in go/<name>: cached per hash of their source.
build_local() {
  local name="$1" h out
  h="$(sha256sum "$HERE/go/$name/main.go" | cut -c1-12)"; out="$CACHE/$name-$h"
  [[ -f "$out/.done" ]] && { log "$name $h cached"; return; }
  mkdir -p "$out/bin"
  (cd "$HERE/go/$name" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$out/bin/$name" .)
  touch "$out/.done"; log "$name $h: done"
}
build_pause() { build_local pause; }
build_capfilter() { build_local runc-capfilter; }

targets=("$@")
[[ ${#targets[@]} -eq 0 || "${targets[0]}" == all ]] && targets=(k8s containerd runc etcd pause capfilter buildkit buildx act actionlint)
rc=0
for t in "${targets[@]}"; do
  # One builder per target at a time (two `up`s, or a manual build beside one); the loser finds
  # the winner's .done marker once it gets the lock.
  if ! ( flock 9 && "build_$t" ) 9>"$CACHE/.$t.lock"; then log "FAILED: $t"; rc=1; fi
done
exit $rc
