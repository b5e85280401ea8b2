#!/usr/bin/env bash
# The store demo: starts mooncake_master and two mooncake_node on loopback (serverless
# P2PHANDSHAKE metadata), runs a short store_bench (get, 1 MiB, 2 s) and a CLI round trip of
# a file (put, get, cmp), prints the results and the status page's URL, then stops everything.
# Usage: scripts/cluster_demo.sh [--keep]   (--keep leaves the cluster running)
# Uses build/bin (scripts/quickstart.sh builds it), or $MC_BIN_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${MC_DEMO_DURATION:-2}"
KEEP=0
case "${1:-}" in
  --keep) KEEP=1 ;;
  "") ;;
  *) echo "usage: $0 [--keep]"; exit 2 ;;
esac
mc_need_bins "$BIN" mooncake_master mooncake_node mooncake store_bench

logs=$(mktemp -d /tmp/mooncake_demo.XXXXXX)
mc_track_path "$logs"  # with --keep too, unless the demo gets to its end (mc_release)
# The usual ports when free (so the README's commands work as printed), else any free ones.
mc_start_cluster -n 2 -d "$logs" -p "$(mc_port_or_free 50051)" -m "$(mc_port_or_free 9003)" \
  --log_level=warn -- --segment_size=512MiB --metadata_server=P2PHANDSHAKE --log_level=warn
MASTER=$MC_MASTER
METRICS_PORT=$MC_METRICS_PORT
echo "cluster_demo: master $MASTER, nodes" \
  "$(mc_ready_field "$logs/node1.log" node) $(mc_ready_field "$logs/node2.log" node)"

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
  echo "Stop it with: kill ${MC_CLUSTER_PIDS[*]}"
  mc_release
else
  "$BIN/mooncake" --master="$MASTER" rm demo/file --force  # just read: its lease is live
  echo "cluster_demo: stopping the cluster (--keep leaves it running)"
fi
