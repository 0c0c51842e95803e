#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install everything, then run the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo
echo "==> varpulis check examples/mandelbrot/distributed/mandelbrot_worker_0.vpl"
.venv/bin/varpulis check examples/mandelbrot/distributed/mandelbrot_worker_0.vpl
echo
echo "==> varpulis check on a program with mistakes (the errors below are expected)"
printf 'stream Alerts = Reading\n    .where(temperature > )\n' > /tmp/varpulis-demo-bad.vpl
.venv/bin/varpulis check /tmp/varpulis-demo-bad.vpl || true
