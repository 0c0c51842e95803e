#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install everything Varpulis needs on Debian 12, then build and install the Python package
# (which also installs the `varpulis` executable) into .venv/. Safe to run again: it only
# installs what is missing and rebuilds incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  python3 python3-venv python3-dev
  libboost1.81-dev nlohmann-json3-dev libantlr4-runtime-dev antlr4 libsimdjson-dev libssl-dev
  libmosquitto-dev mosquitto mosquitto-clients
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  wrk openssl
  clang-19 libclang-rt-19-dev   # the fuzz targets (scripts/fuzz.sh): libFuzzer with ASan + UBSan
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> python3 -m venv .venv"
  python3 -m venv .venv
fi
echo "==> pip install (build of the C++ core and the Python extension)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q pytest pyyaml paho-mqtt jsonschema openapi-spec-validator
CMAKE_BUILD_PARALLEL_LEVEL=2 .venv/bin/python -m pip install -q .
echo "==> installed: $(.venv/bin/varpulis --version)"
