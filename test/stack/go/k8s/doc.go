// Package k8s only anchors the wrapper module; the binaries are built with
// `go build k8s.io/kubernetes/cmd/...` from this directory (see build-go.sh).
package k8s
