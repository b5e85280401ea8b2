#!/usr/bin/env bash
# Transfer Engine (TCP, loopback) next to iperf3 with one stream, measured back to back in the
# same run, at 4 KiB, 64 KiB and 1 MiB. iperf3 writes with -l equal to the block size; our
# bench moves batches of --batch_size blocks with 1 submitting thread, read and write.
# Usage: bench/te_vs_iperf.sh [duration_s]   (uses build/bin from scripts/quickstart.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-5}"
BATCH="${MC_BENCH_BATCH:-128}"
mc_need_bins "$BIN" transfer_engine_bench
mc_need_tools iperf3

# iperf3 single stream with -l LEN, GB/s (10^9 B/s) as seen by the receiver: $iperf.
iperf_gbps() {
  local port spid
  port=$(mc_free_port)
  iperf3 -s -1 -p "$port" -B 127.0.0.1 >/dev/null 2>&1 &
  spid=$!
  mc_track "$spid"
  sleep 0.3
  iperf=$(iperf3 -c 127.0.0.1 -p "$port" -t "$DURATION" -l "$1" -J 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.3f" % (d["end"]["sum_received"]["bits_per_second"]/8e9))')
  mc_stop "$spid"  # a one-off server (-1): already gone, or going
}

work=$(mktemp -d /tmp/mc_iperf_bench.XXXXXX)
mc_track_path "$work"
mc_start_target "$work/target.log" --buffer_size=1GiB
segment=$MC_SEGMENT
alloc=$(mc_ready_field "$work/target.log" allocate_buffer_s)

te_gbps() {
  "$BIN/transfer_engine_bench" --mode=initiator --protocol=tcp --segment_id="$segment" --operation="$1" \
    --block_size="$2" --batch_size="$BATCH" --duration="$DURATION" |
    mc_result_field - throughput_GBps
}

printf "%-9s %-6s %12s %12s %8s\n" block op "iperf3 GB/s" "TE GB/s" ratio
summary=""
for size in 4096 65536 1048576; do
  iperf_gbps "$size"
  anchor=$iperf
  for op in read write; do
    ours=$(te_gbps "$op" "$size")
    ratio=$(mc_ratio "$ours" "$anchor")
    printf "%-9s %-6s %12s %12s %8s\n" "$size" "$op" "$anchor" "$ours" "$ratio"
    summary+=" ${op}_${size}_GBps=$ours iperf_${size}_GBps=$anchor ratio_${op}_${size}=$ratio"
  done
done
echo "target AllocateBuffer(1 GiB): ${alloc} s"
echo "RESULT bench=te_vs_iperf duration_s=$DURATION batch_size=$BATCH allocate_buffer_1GiB_s=$alloc$summary"
