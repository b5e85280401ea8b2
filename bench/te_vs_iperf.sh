#!/usr/bin/env bash
# Transfer Engine (TCP, loopback) next to iperf3 with one stream, measured back to back in the
# same run, at 4 KiB, 64 KiB and 1 MiB. iperf3 writes with -l equal to the block size; our
# bench moves batches of --batch_size blocks with 1 submitting thread, read and write.
# Usage: bench/te_vs_iperf.sh [duration_s]   (uses build/bin from scripts/quickstart.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
DURATION="${1:-5}"
BATCH="${MC_BENCH_BATCH:-128}"
[ -x "$BIN/transfer_engine_bench" ] || { echo "build first: scripts/quickstart.sh"; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf3 missing: scripts/install-deps.sh"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# iperf3 single stream, GB/s (10^9 B/s) as seen by the receiver.
iperf_gbps() {
  local len=$1 port
  port=$(free_port)
  iperf3 -s -1 -p "$port" -B 127.0.0.1 >/dev/null 2>&1 &
  local spid=$!
  sleep 0.3
  iperf3 -c 127.0.0.1 -p "$port" -t "$DURATION" -l "$len" -J 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.3f" % (d["end"]["sum_received"]["bits_per_second"]/8e9))'
  wait "$spid" 2>/dev/null || true
}

log=$(mktemp)
"$BIN/transfer_engine_bench" --mode=target --local_server_name=127.0.0.1:0 --buffer_size=1GiB >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^READY' "$log" && break; sleep 0.1; done
segment=$(sed -n 's/^READY segment=\([^ ]*\).*/\1/p' "$log")
[ -n "$segment" ] || { cat "$log"; exit 1; }
alloc=$(sed -n 's/.*allocate_buffer_s=\([0-9.]*\).*/\1/p' "$log")

te_gbps() {
  "$BIN/transfer_engine_bench" --mode=initiator --segment_id="$segment" --operation="$1" \
    --block_size="$2" --batch_size="$BATCH" --duration="$DURATION" |
    sed -n 's/^RESULT .*throughput_GBps=\([0-9.]*\).*/\1/p'
}

printf "%-9s %-6s %12s %12s %8s\n" block op "iperf3 GB/s" "TE GB/s" ratio
summary=""
for size in 4096 65536 1048576; do
  anchor=$(iperf_gbps "$size")
  for op in read write; do
    ours=$(te_gbps "$op" "$size")
    ratio=$(python3 -c "print('%.2f' % ($ours / $anchor if $anchor > 0 else 0))")
    printf "%-9s %-6s %12s %12s %8s\n" "$size" "$op" "$anchor" "$ours" "$ratio"
    summary+=" ${op}_${size}_GBps=$ours iperf_${size}_GBps=$anchor ratio_${op}_${size}=$ratio"
  done
done
echo "target AllocateBuffer(1 GiB): ${alloc} s"
echo "RESULT bench=te_vs_iperf duration_s=$DURATION batch_size=$BATCH allocate_buffer_1GiB_s=$alloc$summary"
