#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install everything, then run the main demo: the distributed Mandelbrot benchmark of the cluster
# tutorial (Part 10). It prints a results table and writes mandelbrot.png here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo
echo "==> python bench/bench.py  (1 context, 16 contexts, 4 workers x 4 contexts; median of 3 runs)"
.venv/bin/python bench/bench.py --runs 3 --out mandelbrot.png --run-dir "${VARPULIS_RUN_DIR:-.varpulis-run}"
