#!/usr/bin/env bash
# First README command: installs every dependency, builds the Release tree in build/, runs the
# Transfer Engine demo (scripts/demo.sh, 1 s per direction), then the store demo
# (scripts/cluster_demo.sh: master + 2 nodes on loopback, store_bench, a CLI round trip, the
# status page's URL), then the tiers demo (scripts/tiered_demo.sh, small: DRAM + SSD + a file://
# object store, the cache thrown away and every object read back). `--keep` leaves the store
# demo's cluster running.
# Usage: scripts/quickstart.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
MC_DEMO_DURATION=1 scripts/demo.sh
scripts/tiered_demo.sh --objects 24
scripts/cluster_demo.sh "$@"
