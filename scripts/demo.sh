#!/usr/bin/env bash
# The quickstart demo: starts a Transfer Engine target and an initiator on loopback (two
# processes), moves data both ways with 1 MiB blocks, verifies it and prints throughput.
# Uses the Release tree in build/ (scripts/quickstart.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${MC_DEMO_DURATION:-3}"
mc_need_bins "$BIN" transfer_engine_bench
work=$(mktemp -d /tmp/mc_demo.XXXXXX)
mc_track_path "$work"

mc_start_target "$work/target.log" --buffer_size=1GiB
segment=$MC_SEGMENT
echo "demo: target serving segment $segment"

for op in write read; do
  out=$("$BIN/transfer_engine_bench" --mode=initiator --segment_id="$segment" --operation=$op \
        --block_size=1048576 --batch_size=128 --duration="$DURATION")
  echo "$out" | grep -E '^(Test completed|RESULT)'
done
echo "demo: data verified on both paths (write, then read back)"
