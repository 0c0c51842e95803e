#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Validate deploy/ with the libraries the real tools use (compose-go, Prometheus' config and rule
# parsers, the blackbox exporter's config, Kubernetes' strict decoding of the chart's objects).
# Needs Go; the first run downloads its modules. tests/py/test_deploy.py checks the rest, without Go.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
bin="$PWD/build/deploy-check/deploy-check"
(cd scripts/deploy-check && go build -o "$bin" .)

"$bin" compose deploy/docker/docker-compose.cluster.yml
"$bin" prometheus deploy/prometheus/prometheus.yml
"$bin" rules deploy/prometheus/alerts.yml
"$bin" blackbox deploy/prometheus/blackbox.yml

render() {
  if command -v helm >/dev/null; then
    helm template my-cluster deploy/helm/varpulis-cluster/ "$@"
  else
    .venv/bin/python tests/py/helm_render.py deploy/helm/varpulis-cluster my-cluster "$@"
  fi
}
keys=(--set coordinator.apiKey=my-secret --set workers.replicas=4 --set workers.apiKey=worker-secret)
render "${keys[@]}" | "$bin" k8s
render "${keys[@]}" --set mqtt.enabled=true --set metrics.enabled=false \
  --set coordinator.persistence.enabled=true --set workers.persistence.enabled=true | "$bin" k8s
