#!/usr/bin/env bash
# The master's RPC throughput and latency next to a 64-byte TCP ping-pong measured in the same
# master_bench run, plus the master's RSS per object after 1M objects.
# Usage: bench/master_bench.sh [duration_s] [rss_keys]   (uses build/bin from scripts/quickstart.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-5}"
RSS_KEYS="${2:-1000000}"
mc_need_bins "$BIN" mooncake_master master_bench

# A master alone, with its /metrics on a free port: MC_MASTER, MC_METRICS_PORT.
start_master() { mc_start_cluster -n 0 -m "$(mc_free_port)" --log_level=warn; }
start_master
run() {
  "$BIN/master_bench" --master="$MC_MASTER" --duration="$DURATION" "$@" | tee /dev/stderr | grep '^RESULT'
}
results=()
results+=("$(run --op=get --batch_size=128 --threads=2 2>/dev/null)")
results+=("$(run --op=exist --batch_size=128 --threads=2 2>/dev/null)")
results+=("$(run --op=get --batch_size=1 --threads=1 2>/dev/null)")
results+=("$(run --op=exist --batch_size=1 --threads=1 2>/dev/null)")
results+=("$(run --op=put --batch_size=128 --threads=2 2>/dev/null)")
mc_stop_cluster

# RSS per object: a fresh master, RSS read from its /metrics before and after the preload.
start_master
rss=$("$BIN/master_bench" --master="$MC_MASTER" --metrics=127.0.0.1:"$MC_METRICS_PORT" --op=exist \
      --keys="$RSS_KEYS" --batch_size=128 --threads=1 --duration=0.5 | grep '^master RSS' || true)

printf '\n%-34s %12s %10s %10s %14s %8s\n' "run" "keys/s" "p50 us" "p99 us" "pingpong p50" "ratio"
for r in "${results[@]}"; do
  python3 - "$r" <<'PY'
import sys
kv = dict(f.split("=", 1) for f in sys.argv[1].split()[1:])
name = f'{kv["op"]} batch={kv["batch_size"]} threads={kv["threads"]}'
print(f'{name:34s} {float(kv["keys_per_s"]):12.0f} {float(kv["p50_us"]):10.1f} '
      f'{float(kv["p99_us"]):10.1f} {float(kv["pingpong_p50_us"]):14.1f} {float(kv["p50_over_pingpong"]):8.2f}')
PY
done
echo "${rss:-master RSS: not measured} ($RSS_KEYS objects)"
