#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ThreadSanitizer run of the server and cluster suites: build the `tsan` preset (Debug, GCC,
# -fsanitize=thread), run the C++ server, cluster and context tests, then the Python suites that
# start real worker and coordinator processes, with those processes built under TSan.
#
#   scripts/tsan.sh               the documented run (about 20 minutes on 2 cores, build included)
#   scripts/tsan.sh -k deploy     extra arguments go to pytest
#
# Every process writes its reports to build/tsan/reports/; the run fails if any report is there,
# whatever the tests said (a server's stderr is not something a test reads).
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset tsan >/dev/null
cmake --build --preset tsan

reports="$PWD/build/tsan/reports"
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="log_path=$reports/tsan second_deadlock_stack=1 history_size=4"

echo "==> C++: server, cluster and context tests"
build/tsan/tests/cpp/varpulis_server_tests
build/tsan/tests/cpp/varpulis_cluster_tests
build/tsan/tests/cpp/varpulis_engine_tests --gtest_filter='ContextTest.*:BudgetTest.*'

echo "==> Python: the suites that run worker and coordinator processes"
export VARPULIS_BINARY="$PWD/build/tsan/cpp/apps/varpulis/varpulis"
# Memory figures (RSS) and connection counts are not what TSan's shadow memory leaves them.
.venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/py/test_server.py tests/py/test_cluster.py tests/py/test_mqtt.py tests/py/test_abuse_state.py \
  tests/py/test_abuse_identity.py tests/py/test_abuse_status_codes.py tests/py/test_abuse_file_root.py \
  -k "not rss and not memory" "$@"

if compgen -G "$reports/tsan*" >/dev/null; then
  echo "ThreadSanitizer reports:" >&2
  for f in "$reports"/tsan*; do echo "--- $f" >&2; head -n 60 "$f" >&2; done
  exit 1
fi
echo "==> ThreadSanitizer: no reports"
