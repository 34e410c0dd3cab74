#!/usr/bin/env bash
# make demo: a kind cluster with Envoy Gateway (a maintained Gateway API implementation) and one
# Gateway for the shops, Storefleet installed from the chart with values-local.yaml (stores routed
# by HTTPRoutes), and examples/minimal.yaml provisioned to Ready.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLUSTER=${KIND_CLUSTER:-storefleet}
REGISTRY=${IMAGE_REGISTRY:-localhost/storefleet}
TAG=${IMAGE_TAG:-dev}
HELM=${HELM:-.tools/bin/helm}
ENVOY_GATEWAY_VERSION=${ENVOY_GATEWAY_VERSION:-v1.8.1}

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "demo: $1 is required ($2)" >&2; exit 1; }
}
need docker "a Docker engine: the demo builds images and runs kind"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
docker info >/dev/null 2>&1 || { echo "demo: the Docker engine is not running" >&2; exit 1; }
[ -x "$HELM" ] || make --no-print-directory "$PWD/.tools/bin/helm"

step() { printf '\n==> %s\n' "$*"; }

step "kind cluster $CLUSTER"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --config hack/kind-config.yaml --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

step "Envoy Gateway $ENVOY_GATEWAY_VERSION (with the Gateway API CRDs) and the Gateway 'shops'"
"$HELM" upgrade --install eg oci://docker.io/envoyproxy/gateway-helm --version "$ENVOY_GATEWAY_VERSION" \
  --namespace envoy-gateway-system --create-namespace --wait --timeout 5m
kubectl wait -n envoy-gateway-system deployment/envoy-gateway --for=condition=Available --timeout=300s
kubectl apply --server-side -f hack/demo-gateway.yaml >/dev/null
kubectl wait -n storefleet-gateway gateway/shops --for=condition=Programmed --timeout=300s

step "images $REGISTRY/storefleet-{operator,api,medusa}:$TAG"
make --no-print-directory images IMAGE_REGISTRY="$REGISTRY" IMAGE_TAG="$TAG"
kind load docker-image --name "$CLUSTER" "$REGISTRY/storefleet-operator:$TAG" "$REGISTRY/storefleet-api:$TAG" \
  "$REGISTRY/storefleet-medusa:$TAG"

step "helm install storefleet (values-local.yaml)"
"$HELM" upgrade --install storefleet charts/storefleet --namespace storefleet-system --create-namespace \
  -f charts/storefleet/values-local.yaml --set image.registry="$REGISTRY" --set image.tag="$TAG" --wait --timeout 5m

step "store alice (examples/minimal.yaml)"
kubectl apply -f examples/minimal.yaml
echo "waiting for store alice to be Ready (a few minutes: images, WordPress, WooCommerce)..."
kubectl wait --for=condition=Ready store/alice --timeout=20m
kubectl get stores

url=$(kubectl get store alice -o jsonpath='{.status.url}')
admin=$(kubectl get store alice -o jsonpath='{.status.adminUrl}')
cat <<INFO

Storefleet is running.
  Shop:       $url
  Shop admin: $admin
  Login:      kubectl get secret -n store-alice admin-credentials -o jsonpath='{.data.username}' | base64 -d; echo
              kubectl get secret -n store-alice admin-credentials -o jsonpath='{.data.password}' | base64 -d; echo
  Dashboard:  http://storefleet.localtest.me  (token: demo-tenant-token-change-me, or demo-admin-token-change-me)
  Remove:     kind delete cluster --name $CLUSTER
INFO
