#!/usr/bin/env bash
# One request at a time (batch 1, one thread): the Transfer Engine's p50 next to the anchors
# measured in the same run, at 4 KiB, 64 KiB and 1 MiB (issue "Transfer Engine latency"):
#   - redis GET / SET p50 of the same size (redis-benchmark -c 1 -P 1);
#   - a plain blocking TCP request/response over loopback (latency_anchors --anchor=tcp): a read
#     is a 64-byte request answered by the block, a write the block answered by 64 bytes;
#   - for shm: a futex handoff to a thread that memcpys the block (--anchor=memcpy_wake);
#   - a store get (store_bench, batch 1, tcp) next to the engine's read.
# Prints one table and one RESULT line with every figure and ratio.
# Usage: bench/te_latency.sh [duration_s]   (binaries from build/bin, or $MC_BIN_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-3}"
mc_need_bins "$BIN" transfer_engine_bench latency_anchors store_bench mooncake_master mooncake_node
mc_need_tools redis-server redis-benchmark redis-cli

work=$(mktemp -d /tmp/mc_te_latency.XXXXXX)
mc_track_path "$work"
mc_start_redis "$work"
mc_start_target "$work/target.log" --buffer_size=256MiB
segment=$MC_SEGMENT
mc_start_cluster -n 1 -d "$work" --log_level=warn -- --segment_size=256MiB --log_level=warn

te_p50() {  # protocol op size
  "$BIN/transfer_engine_bench" --mode=initiator --protocol="$1" --segment_id="$segment" \
    --operation="$2" --block_size="$3" --batch_size=1 --buffer_size=256MiB \
    --duration="$DURATION" | mc_result_field - p50_batch_us
}
anchor_p50() {  # anchor request_bytes response_bytes
  "$BIN/latency_anchors" --anchor="$1" --request_bytes="$2" --response_bytes="$3" \
    --round_trips=3000 | mc_result_field - p50_us
}
redis_p50() {  # size -> "set_p50 get_p50 set_per_op get_per_op" in us (SET first: a GET of a
  # missing key is no read). redis-benchmark's p50 leaves out part of a large reply (at 1 MiB
  # its GET p50 is below the wire time), so 1e6 / ops/s at -c 1 -P 1, the whole round trip
  # including the benchmark's own loop, is printed next to it.
  redis-benchmark -p "$REDIS_PORT" -t set,get -d "$1" -c 1 -P 1 -n 3000 --csv |
    awk -F'"' '$2=="SET" {s = $10 * 1000; so = 1e6 / $4} $2=="GET" {g = $10 * 1000; go = 1e6 / $4}
               END {printf "%.1f %.1f %.1f %.1f", s, g, so, go}'
}
store_get_p50() {  # size
  "$BIN/store_bench" --master="$MC_MASTER" --op=get --value_size="$1" --batch_size=1 \
    --threads=1 --duration="$DURATION" --protocol=tcp | grep '^RESULT' | mc_result_field - p50_us
}

printf "%-8s %-6s %9s %9s %11s %9s %8s %8s %8s\n" block op "TE p50" "redis p50" \
  "redis 1/ops" "tcp p50" "x redis" "x 1/ops" "x tcp"
summary=""
for size in 4096 65536 1048576; do
  read -r redis_set redis_get redis_set_op redis_get_op <<<"$(redis_p50 "$size")"
  for op in read write; do
    ours=$(te_p50 tcp "$op" "$size")
    if [ "$op" = read ]; then
      redis=$redis_get
      redis_op=$redis_get_op
      tcp=$(anchor_p50 tcp 64 "$size")
    else
      redis=$redis_set
      redis_op=$redis_set_op
      tcp=$(anchor_p50 tcp "$size" 64)
    fi
    r_redis=$(mc_ratio "$ours" "$redis")
    r_redis_op=$(mc_ratio "$ours" "$redis_op")
    r_tcp=$(mc_ratio "$ours" "$tcp")
    printf "%-8s %-6s %9s %9s %11s %9s %8s %8s %8s\n" "$size" "$op" "$ours" "$redis" \
      "$redis_op" "$tcp" "$r_redis" "$r_redis_op" "$r_tcp"
    summary+=" tcp_${op}_${size}_p50_us=$ours redis_${op}_${size}_p50_us=$redis"
    summary+=" redis_${op}_${size}_us_per_op=$redis_op tcp_anchor_${op}_${size}_p50_us=$tcp"
    summary+=" ratio_redis_${op}_${size}=$r_redis ratio_redis_per_op_${op}_${size}=$r_redis_op"
    summary+=" ratio_tcp_anchor_${op}_${size}=$r_tcp"
  done
done
echo "(all in us; redis 1/ops = 1e6 / ops/s at -c 1 -P 1: the whole round trip)"
echo
printf "%-8s %-6s %10s %14s %9s\n" block op "shm p50 us" "memcpy+wake us" ratio
for size in 4096 65536 1048576; do
  anchor=$(anchor_p50 memcpy_wake 1 "$size")
  for op in read write; do
    ours=$(te_p50 shm "$op" "$size")
    ratio=$(mc_ratio "$ours" "$anchor")
    printf "%-8s %-6s %10s %14s %9s\n" "$size" "$op" "$ours" "$anchor" "$ratio"
    summary+=" shm_${op}_${size}_p50_us=$ours memcpy_wake_${size}_p50_us=$anchor"
    summary+=" ratio_shm_${op}_${size}=$ratio"
  done
done
echo
printf "%-8s %14s %14s %9s\n" block "store get us" "TE read us" ratio
for size in 4096 65536 1048576; do
  store=$(store_get_p50 "$size")
  te=$(te_p50 tcp read "$size")
  ratio=$(mc_ratio "$store" "$te")
  printf "%-8s %14s %14s %9s\n" "$size" "$store" "$te" "$ratio"
  summary+=" store_get_${size}_p50_us=$store ratio_store_over_te_${size}=$ratio"
done
echo "RESULT bench=te_latency duration_s=$DURATION$summary"
