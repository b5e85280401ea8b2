#!/usr/bin/env bash
# What the cluster secret costs the Transfer Engine (--auth_secret_file: a challenge–response at
# each connection's HELLO; the per-slice data path is unchanged): the same READ run against a
# target with the secret (initiator with it too) and one without (initiator without), at 4 KiB
# and 1 MiB blocks (MC_BENCH_BLOCKS="..."), over tcp and shm (MC_BENCH_PROTOCOLS="..."). Runs
# alternate off/on ROUNDS times per cell (which goes first alternates too) and the medians are
# compared, so slow drifts of a shared machine hit both sides. ratio = on / off throughput (goal >= 0.97; 1.00: free).
# Usage: bench/te_auth_overhead.sh [duration_s] [rounds]   (uses build/bin, or MC_BIN=dir)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-3}"
ROUNDS="${2:-3}"
BATCH="${MC_BENCH_BATCH:-128}"
SIZE="${MC_BENCH_BUFFER:-1GiB}"
BLOCKS="${MC_BENCH_BLOCKS:-4096 1048576}"
PROTOCOLS="${MC_BENCH_PROTOCOLS:-tcp shm}"
mc_need_bins "$BIN" transfer_engine_bench

work=$(mktemp -d /tmp/mc_auth_bench.XXXXXX)
mc_track_path "$work"
secret="$work/secret"
(umask 077 && openssl rand -hex 32 >"$secret" 2>/dev/null) ||
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret")

mc_start_target "$work/target_off.log" --buffer_size="$SIZE"
segment_off=$MC_SEGMENT
mc_start_target "$work/target_on.log" --buffer_size="$SIZE" --auth_secret_file="$secret"
segment_on=$MC_SEGMENT

read_gbps() {  # protocol block on|off -> GB/s
  local segment=$segment_off auth=()
  if [ "$3" = on ]; then
    segment=$segment_on
    auth=(--auth_secret_file="$secret")
  fi
  "$BIN/transfer_engine_bench" --mode=initiator --protocol="$1" --segment_id="$segment" \
    --operation=read --block_size="$2" --batch_size="$BATCH" --buffer_size="$SIZE" \
    --duration="$DURATION" "${auth[@]}" | mc_result_field - throughput_GBps
}

printf "%-9s %-8s %12s %12s %8s\n" protocol block "off GB/s" "on GB/s" ratio
summary=""
for protocol in $PROTOCOLS; do
  for size in $BLOCKS; do
    off=() on=()
    for round in $(seq "$ROUNDS"); do
      # Which side runs first alternates, so that a drift within a round favours neither.
      if [ $((round % 2)) -eq 1 ]; then
        off+=("$(read_gbps "$protocol" "$size" off)") || exit 1
        on+=("$(read_gbps "$protocol" "$size" on)") || exit 1
      else
        on+=("$(read_gbps "$protocol" "$size" on)") || exit 1
        off+=("$(read_gbps "$protocol" "$size" off)") || exit 1
      fi
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
echo "RESULT bench=te_auth_overhead duration_s=$DURATION rounds=$ROUNDS batch_size=$BATCH" \
  "buffer=$SIZE$summary"
