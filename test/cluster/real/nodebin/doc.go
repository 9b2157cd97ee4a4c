// Package nodebin pins the kubelet and kube-proxy that real nodes run (test/cluster/real): the
// `tool` lines of go.mod name them, and test/cluster/real/images.ts builds them with `go build`,
// from the same Kubernetes version and staging replaces as the harness (test/cluster/go.mod).
package nodebin
