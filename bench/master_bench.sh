#!/usr/bin/env bash
# The master's RPC throughput and latency next to a 64-byte TCP ping-pong measured in the same
# master_bench run, plus the master's RSS per object after 1M objects.
# Usage: bench/master_bench.sh [duration_s] [rss_keys]   (uses build/bin from scripts/quickstart.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
DURATION="${1:-5}"
RSS_KEYS="${2:-1000000}"
[ -x "$BIN/mooncake_master" ] && [ -x "$BIN/master_bench" ] || { echo "build first: scripts/quickstart.sh"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
master_pid=""
cleanup() { [ -n "$master_pid" ] && { kill "$master_pid" 2>/dev/null || true; wait "$master_pid" 2>/dev/null || true; }; }
trap cleanup EXIT

start_master() {
  local log=$1
  "$BIN/mooncake_master" --host=127.0.0.1 --port="$RPC" --metrics_port="$HTTP" --log_level=warn >"$log" 2>&1 &
  master_pid=$!
  for _ in $(seq 1 100); do grep -q '^READY' "$log" && return 0; sleep 0.1; done
  cat "$log"; exit 1
}

RPC=$(free_port); HTTP=$(free_port)
log=$(mktemp)
start_master "$log"
run() {
  "$BIN/master_bench" --master=127.0.0.1:"$RPC" --duration="$DURATION" "$@" | tee /dev/stderr | grep '^RESULT'
}
results=()
results+=("$(run --op=get --batch_size=128 --threads=2 2>/dev/null)")
results+=("$(run --op=exist --batch_size=128 --threads=2 2>/dev/null)")
results+=("$(run --op=get --batch_size=1 --threads=1 2>/dev/null)")
results+=("$(run --op=exist --batch_size=1 --threads=1 2>/dev/null)")
results+=("$(run --op=put --batch_size=128 --threads=2 2>/dev/null)")
cleanup; master_pid=""

# RSS per object: a fresh master, RSS read from its /metrics before and after the preload.
start_master "$log"
rss=$("$BIN/master_bench" --master=127.0.0.1:"$RPC" --metrics=127.0.0.1:"$HTTP" --op=exist \
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
