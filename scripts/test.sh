#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install everything, then run every test: GoogleTest (through ctest) and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "==> C++ build and tests (cmake preset ci)"
cmake --preset ci >/dev/null
cmake --build --preset ci
ctest --preset ci -j2

echo "==> Benchmarks, one short repetition (they check their output counts)"
build/ci/bench/engine_bench --events 100000 --repeat 1

echo "==> Python tests"
.venv/bin/python -m pytest -q

echo "==> Fuzz targets, 30 s each (the 10-minute runs: scripts/fuzz.sh, see docs/development.md)"
scripts/fuzz.sh 30
