#!/usr/bin/env bash
# `npm run test:e2e:k3d`: the same e2e suites on a k3d cluster (needs Docker and k3d). Suites that drive
# the local harness (hollow nodes, partitions) skip there; the cluster-agnostic ones run.
set -euo pipefail
command -v docker >/dev/null || { echo "test:e2e:k3d: needs Docker (https://docs.docker.com/engine/install/)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "test:e2e:k3d: the Docker engine is not running" >&2; exit 1; }
command -v k3d >/dev/null || { echo "test:e2e:k3d: needs k3d (https://k3d.io)" >&2; exit 1; }
name="${K3D_CLUSTER:-yurt-edge-e2e}"
created=0
if ! k3d cluster get "$name" >/dev/null 2>&1; then
  k3d cluster create "$name" --agents 2 --wait
  created=1
fi
kubeconfig="$(mktemp)"
trap 'rm -f "$kubeconfig"; [ "$created" = 1 ] && [ -z "${KEEP_K3D:-}" ] && k3d cluster delete "$name"' EXIT
k3d kubeconfig get "$name" > "$kubeconfig"
E2E_KUBECONFIG="$kubeconfig" npx vitest run --project e2e
