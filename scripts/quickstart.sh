#!/usr/bin/env bash
# First README command: installs every dependency, builds the Release tree in build/, and
# runs the demo (a Transfer Engine target and initiator on loopback; verified data; throughput).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
scripts/demo.sh
