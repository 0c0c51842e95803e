#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer targets (cmake preset `fuzz`: clang, ASan + UBSan) and run each for a while.
#
#   scripts/fuzz.sh                 every target for 600 s (the documented clean run)
#   scripts/fuzz.sh 30              every target for 30 s (what scripts/test.sh runs)
#   scripts/fuzz.sh 600 vpl_fuzz    one target
#
# Each target starts from its seed corpus tests/fuzz/corpus/<name>/ (read only) and grows its own
# in build/fuzz/corpus/<name>/, kept between runs. A finding (crash, sanitizer report, leak,
# timeout, or an answer the target refuses) stops the run with a non-zero exit and leaves its input
# in build/fuzz/findings/; replay it with `build/fuzz/tests/fuzz/<target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(vpl_fuzz json_body_fuzz evt_fuzz)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}"

mkdir -p build/fuzz/findings
for target in "${targets[@]}"; do
  name="${target%_fuzz}"
  seeds="tests/fuzz/corpus/$name"
  grown="build/fuzz/corpus/$name"
  log="build/fuzz/$target.log"
  mkdir -p "$grown"
  options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1
           -artifact_prefix="build/fuzz/findings/$target-")
  case "$target" in
    json_body_fuzz) options+=(-max_len=16384) ;;
    *) options+=(-max_len=4096) ;;
  esac
  [ -f "tests/fuzz/$name.dict" ] && options+=(-dict="tests/fuzz/$name.dict")
  echo "==> $target for ${seconds}s (log: $log)"
  if ! "build/fuzz/tests/fuzz/$target" "${options[@]}" "$grown" "$seeds" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "==> $target: FINDING (input saved under build/fuzz/findings/)" >&2
    exit 1
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  echo "==> $target: clean, $runs executions, corpus $(ls "$grown" | wc -l) inputs"
done
