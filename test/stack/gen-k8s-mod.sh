#!/usr/bin/env bash
# Regenerates go/k8s/go.mod for K8S_VERSION in versions.env: k/k requires every staging module at
# v0.0.0 with a local replace, so a dependent module replaces each with the published v0.<minor>.<patch>.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC1091
source "$HERE/versions.env"
v="$K8S_VERSION"; staging="v0.${v#v1.}"
gomod="$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
{
  echo '// Wrapper module: builds the Kubernetes binaries from the pinned k8s.io/kubernetes release.'
  echo '// k/k requires its staging modules at v0.0.0 with local replaces; a dependent module must'
  echo '// replace each with the published v0.<minor>.<patch>. Regenerate with ../../gen-k8s-mod.sh.'
  echo 'module shipline.local/stack/k8s'; echo; echo 'go 1.26.0'; echo; echo 'godebug default=go1.26'; echo
  echo "require k8s.io/kubernetes $v"; echo; echo 'replace ('
  grep -E '=> \./staging' "$gomod" | awk -v s="$staging" '{print "\t" $1 " => " $1 " " s}'
  echo ')'
} > "$HERE/go/k8s/go.mod"
rm -f "$HERE/go/k8s/go.sum"
echo "go/k8s/go.mod now pins k8s.io/kubernetes $v (staging $staging); build-go.sh k8s fills go.sum"
