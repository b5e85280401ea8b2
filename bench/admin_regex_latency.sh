#!/usr/bin/env bash
# What whole-index admin calls cost everyone else (issue #20): the p50/p99 of small single-key
# RPCs (ExistKey / GetReplicaList) on an idle master and, in the same run, while another client
# loops RemoveByRegex('^(a+)+$') and ListKeys over the index (a tenth of the keys are long runs
# of 'a' ending in 'b', the worst case for a backtracking matcher). Goal: loaded p99 < 50 ms.
# Usage: bench/admin_regex_latency.sh [keys] [duration_s]   (uses build/bin, or $MC_BIN_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
KEYS="${1:-20000}"
DURATION="${2:-5}"
mc_need_bins "$BIN" mooncake_master master_bench

mc_start_cluster -n 0 --log_level=warn
out=$("$BIN/master_bench" --master="$MC_MASTER" --op=admin --keys="$KEYS" --duration="$DURATION" |
      tee /dev/stderr)
mc_stop_cluster

loaded_p99=$(mc_result_field "$out" loaded_p99_us)
echo
echo "small-RPC p99 idle $(mc_result_field "$out" idle_p99_us) us, under admin load ${loaded_p99} us" \
     "(x$(mc_result_field "$out" p99_loaded_over_idle)); goal < 50000 us:" \
     "$(awk -v p="$loaded_p99" 'BEGIN { print (p < 50000 ? "met" : "NOT met") }')"
echo "$out" | grep '^RESULT'
