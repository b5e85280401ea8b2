#!/usr/bin/env bash
# Transfer Engine over UCX (--protocol=ucx) next to our TCP and shared-memory transports,
# measured back to back in the same run on loopback, at 64 KiB and 1 MiB blocks (1 submitting
# thread, batches of --batch_size). Two targets: one default (serves TCP and shared memory),
# one --protocol=ucx. UCX runs with its defaults unless UCX_TLS is set (e.g. UCX_TLS=tcp,self
# or sm,self); without an RDMA NIC it uses its shared memory between processes on one host
# (the default here) or emulates RMA over its tcp (expect that well below our TCP).
# Ratios are ucx / tcp and ucx / shm of the same run.
# Usage: bench/te_ucx_vs_tcp.sh [duration_s]   (uses build/bin, or MC_BIN=dir)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-3}"
BATCH="${MC_BENCH_BATCH:-128}"
SIZE="${MC_BENCH_BUFFER:-256MiB}"
mc_need_bins "$BIN" transfer_engine_bench

work=$(mktemp -d /tmp/mc_ucx_bench.XXXXXX)
mc_track_path "$work"
mc_start_target "$work/auto_target.log" --protocol=auto --buffer_size="$SIZE"
auto_target=$MC_SEGMENT
mc_start_target "$work/ucx_target.log" --protocol=ucx --buffer_size="$SIZE"
ucx_target=$MC_SEGMENT

te() {  # protocol segment op block -> GBps
  "$BIN/transfer_engine_bench" --mode=initiator --protocol="$1" --segment_id="$2" \
    --operation="$3" --block_size="$4" --batch_size="$BATCH" --buffer_size="$SIZE" \
    --duration="$DURATION" | mc_result_field - throughput_GBps
}

echo "UCX_TLS=${UCX_TLS:-<UCX defaults>}"
printf "%-8s %-6s %10s %10s %10s %10s %10s\n" block op "tcp GB/s" "shm GB/s" "ucx GB/s" \
  "ucx/tcp" "ucx/shm"
summary=""
for size in 65536 1048576; do
  for op in read write; do
    tcp=$(te tcp "$auto_target" "$op" "$size")
    shm=$(te shm "$auto_target" "$op" "$size")
    ucx=$(te ucx "$ucx_target" "$op" "$size")
    printf "%-8s %-6s %10s %10s %10s %10s %10s\n" "$size" "$op" "$tcp" "$shm" "$ucx" \
      "$(mc_ratio "$ucx" "$tcp")" "$(mc_ratio "$ucx" "$shm")"
    summary+=" tcp_${op}_${size}_GBps=$tcp shm_${op}_${size}_GBps=$shm"
    summary+=" ucx_${op}_${size}_GBps=$ucx ratio_ucx_tcp_${op}_${size}=$(mc_ratio "$ucx" "$tcp")"
  done
done
echo "RESULT bench=te_ucx_vs_tcp duration_s=$DURATION batch_size=$BATCH buffer=$SIZE" \
  "ucx_tls=${UCX_TLS:-default}$summary"
