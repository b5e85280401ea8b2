#!/usr/bin/env bash
# The quickstart demo: starts a Transfer Engine target and an initiator on loopback (two
# processes), moves data both ways with 1 MiB blocks, verifies it and prints throughput.
# Uses the Release tree in build/ (scripts/quickstart.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
DURATION="${MC_DEMO_DURATION:-3}"
log=$(mktemp)
target_pid=""
cleanup() {
  [ -n "$target_pid" ] && kill "$target_pid" 2>/dev/null && wait "$target_pid" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT

"$BIN/transfer_engine_bench" --mode=target --local_server_name=127.0.0.1:0 --buffer_size=1GiB >"$log" 2>&1 &
target_pid=$!
for _ in $(seq 1 100); do
  grep -q '^READY' "$log" && break
  kill -0 "$target_pid" 2>/dev/null || { cat "$log"; echo "demo: target exited"; exit 1; }
  sleep 0.1
done
segment=$(sed -n 's/^READY segment=\([^ ]*\).*/\1/p' "$log")
[ -n "$segment" ] || { cat "$log"; echo "demo: target did not become READY"; exit 1; }
echo "demo: target serving segment $segment"

for op in write read; do
  out=$("$BIN/transfer_engine_bench" --mode=initiator --segment_id="$segment" --operation=$op \
        --block_size=1048576 --batch_size=128 --duration="$DURATION")
  echo "$out" | grep -E '^(Test completed|RESULT)'
done
echo "demo: data verified on both paths (write, then read back)"
