#!/usr/bin/env bash
# Transfer Engine over shared memory (same host) next to a single-thread memcpy of the same
# block size, measured back to back in the same run, at 4 KiB, 64 KiB and 1 MiB. Both walk
# 1 GiB DRAM-resident buffers block after block (batches of --batch_size blocks, 1 thread);
# the TE initiator uses --protocol=shm, so every byte is one memcpy into the target's memfd.
# Also prints the target's AllocateBuffer time (1 GiB memfd, prefaulted in parallel).
# Usage: bench/te_shm_vs_memcpy.sh [duration_s]   (uses build/bin, or MC_BIN=dir)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-3}"
BATCH="${MC_BENCH_BATCH:-128}"
SIZE="${MC_BENCH_BUFFER:-1GiB}"
mc_need_bins "$BIN" transfer_engine_bench

work=$(mktemp -d /tmp/mc_shm_bench.XXXXXX)
mc_track_path "$work"
mc_start_target "$work/target.log" --buffer_size="$SIZE"
segment=$MC_SEGMENT
alloc=$(mc_ready_field "$work/target.log" allocate_buffer_s)

memcpy_gbps() {
  "$BIN/transfer_engine_bench" --mode=memcpy --block_size="$1" --batch_size="$BATCH" \
    --buffer_size="$SIZE" --duration="$DURATION" | mc_result_field - throughput_GBps
}
te() {  # op block -> "GBps alloc_s"
  local out
  out=$("$BIN/transfer_engine_bench" --mode=initiator --protocol=shm --segment_id="$segment" \
    --operation="$1" --block_size="$2" --batch_size="$BATCH" --buffer_size="$SIZE" \
    --duration="$DURATION")
  echo "$(mc_result_field "$out" throughput_GBps) $(mc_result_field "$out" allocate_buffer_s)"
}

printf "%-9s %-6s %12s %12s %8s\n" block op "memcpy GB/s" "shm GB/s" ratio
summary=""
init_alloc=""
for size in 4096 65536 1048576; do
  anchor=$(memcpy_gbps "$size")
  summary+=" memcpy_${size}_GBps=$anchor"
  for op in read write; do
    read -r ours a <<<"$(te "$op" "$size")"
    init_alloc="$a"
    ratio=$(mc_ratio "$ours" "$anchor")
    printf "%-9s %-6s %12s %12s %8s\n" "$size" "$op" "$anchor" "$ours" "$ratio"
    summary+=" shm_${op}_${size}_GBps=$ours ratio_${op}_${size}=$ratio"
  done
done
echo "AllocateBuffer($SIZE, shared memfd, prefaulted): target ${alloc} s, initiator ${init_alloc} s"
echo "RESULT bench=te_shm_vs_memcpy duration_s=$DURATION batch_size=$BATCH buffer=$SIZE" \
  "allocate_buffer_shared_s=$alloc$summary"
