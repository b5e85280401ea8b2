#!/usr/bin/env bash
# What the engine's CRC32C of reads costs (TransferRequest::crc32c, fused with the shm memcpy and
# the TCP receive): the same READ run with and without --crc32c, over tcp and shm, at 4 KiB,
# 64 KiB and 1 MiB blocks (MC_BENCH_BLOCKS="..." to choose). Runs alternate off/on ROUNDS times per cell and the medians are compared, so
# slow drifts of a shared machine hit both sides. ratio = on / off throughput (1.00: free).
# Usage: bench/te_crc32c_overhead.sh [duration_s] [rounds]   (uses build/bin, or MC_BIN=dir)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-3}"
ROUNDS="${2:-3}"
BATCH="${MC_BENCH_BATCH:-128}"
SIZE="${MC_BENCH_BUFFER:-1GiB}"
BLOCKS="${MC_BENCH_BLOCKS:-4096 65536 1048576}"
mc_need_bins "$BIN" transfer_engine_bench

work=$(mktemp -d /tmp/mc_crc_bench.XXXXXX)
mc_track_path "$work"
mc_start_target "$work/target.log" --buffer_size="$SIZE"
segment=$MC_SEGMENT

read_gbps() {  # protocol block crc32c -> GB/s
  "$BIN/transfer_engine_bench" --mode=initiator --protocol="$1" --segment_id="$segment" \
    --operation=read --block_size="$2" --batch_size="$BATCH" --buffer_size="$SIZE" \
    --duration="$DURATION" --crc32c="$3" | mc_result_field - throughput_GBps
}

printf "%-9s %-8s %12s %12s %8s\n" protocol block "off GB/s" "on GB/s" ratio
summary=""
for protocol in tcp shm; do
  for size in $BLOCKS; do
    off=() on=()
    for _ in $(seq "$ROUNDS"); do
      off+=("$(read_gbps "$protocol" "$size" false)")
      on+=("$(read_gbps "$protocol" "$size" true)")
    done
    off_m=$(mc_median "${off[@]}")
    on_m=$(mc_median "${on[@]}")
    ratio=$(mc_ratio "$on_m" "$off_m" 3)
    printf "%-9s %-8s %12s %12s %8s   (off: %s; on: %s)\n" "$protocol" "$size" "$off_m" "$on_m" \
      "$ratio" "${off[*]}" "${on[*]}"
    summary+=" ${protocol}_${size}_off_GBps=$off_m ${protocol}_${size}_on_GBps=$on_m"
    summary+=" ratio_${protocol}_${size}=$ratio"
  done
done
echo "RESULT bench=te_crc32c_overhead duration_s=$DURATION rounds=$ROUNDS batch_size=$BATCH" \
  "buffer=$SIZE$summary"
