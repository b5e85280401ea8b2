#!/usr/bin/env bash
# The store demo: starts mooncake_master and two mooncake_node on loopback (serverless
# P2PHANDSHAKE metadata), runs a short store_bench (get, 1 MiB, 2 s) and a CLI round trip of
# a file (put, get, cmp), prints the results and the status page's URL, then stops everything.
# Usage: scripts/cluster_demo.sh [--keep]   (--keep leaves the cluster running)
# Uses build/bin (scripts/quickstart.sh builds it), or $MC_BIN_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MC_BIN_DIR:-build/bin}"
DURATION="${MC_DEMO_DURATION:-2}"
KEEP=0
case "${1:-}" in
  --keep) KEEP=1 ;;
  "") ;;
  *) echo "usage: $0 [--keep]"; exit 2 ;;
esac
for b in mooncake_master mooncake_node mooncake store_bench; do
  [ -x "$BIN/$b" ] || { echo "cluster_demo: $BIN/$b missing: build first (scripts/quickstart.sh)"; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The usual ports when free (so the README's commands work as printed), else any free ones.
port_or_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0",int(sys.argv[1])))' "$1" 2>/dev/null && echo "$1" || free_port
}
logs=$(mktemp -d /tmp/mooncake_demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$logs"
}
[ "$KEEP" = 1 ] || trap cleanup EXIT
# On failure with --keep nothing must be left behind either.
[ "$KEEP" = 1 ] && trap 'rc=$?; [ $rc -ne 0 ] && cleanup; exit $rc' EXIT

wait_ready() {  # LOG PID
  for _ in $(seq 1 300); do
    grep -qs '^READY' "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  cat "$1"; echo "cluster_demo: $(basename "$1" .log) did not become READY"; exit 1
}

MASTER_PORT=$(port_or_free 50051)
METRICS_PORT=$(port_or_free 9003)
MASTER=127.0.0.1:$MASTER_PORT
"$BIN/mooncake_master" --host=127.0.0.1 --port="$MASTER_PORT" --metrics_port="$METRICS_PORT" \
  --log_level=warn >"$logs/master.log" 2>&1 &
pids+=($!)
wait_ready "$logs/master.log" "${pids[-1]}"
for i in 1 2; do
  "$BIN/mooncake_node" --master="$MASTER" --listen=127.0.0.1:"$(free_port)" \
    --segment_size=512MiB --metadata_server=P2PHANDSHAKE --log_level=warn >"$logs/node$i.log" 2>&1 &
  pids+=($!)
done
wait_ready "$logs/node1.log" "${pids[-2]}"
wait_ready "$logs/node2.log" "${pids[-1]}"
echo "cluster_demo: master $MASTER, nodes $(sed -n 's/^READY node=\([^ ]*\).*/\1/p' "$logs"/node*.log | paste -sd' ')"

echo "cluster_demo: store_bench --op=get --value_size=1MiB --duration=$DURATION"
"$BIN/store_bench" --master="$MASTER" --op=get --value_size=1MiB --duration="$DURATION" |
  grep -E '^(get|RESULT)'

file="$logs/demo.bin"
head -c $((8 << 20)) /dev/urandom >"$file"
"$BIN/mooncake" --master="$MASTER" put demo/file "$file" --replica_num=2
"$BIN/mooncake" --master="$MASTER" get demo/file "$file.back"
cmp "$file" "$file.back"
echo "cluster_demo: CLI round trip ok: put, get and cmp of $(stat -c %s "$file") bytes (2 replicas)"
"$BIN/mooncake" --master="$MASTER" stat

echo
echo "Status page: http://127.0.0.1:$METRICS_PORT/   (metrics: http://127.0.0.1:$METRICS_PORT/metrics)"
if [ "$KEEP" = 1 ]; then
  echo "The cluster keeps running (logs in $logs). Try:"
  echo "  $BIN/mooncake --master=$MASTER ls"
  echo "  echo hello | $BIN/mooncake --master=$MASTER put greeting -"
  echo "  $BIN/mooncake --master=$MASTER get greeting"
  echo "Stop it with: kill ${pids[*]}"
else
  "$BIN/mooncake" --master="$MASTER" rm demo/file --force  # just read: its lease is live
  echo "cluster_demo: stopping the cluster (--keep leaves it running)"
fi
