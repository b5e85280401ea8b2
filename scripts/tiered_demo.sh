#!/usr/bin/env bash
# The tiers demo: a DRAM + SSD + object-store cluster on one machine. Starts mooncake_master
# with an object store (file:// in a temp dir by default) and a policy (write-back by default),
# and two mooncake_node with a small DRAM segment and an SSD file each; puts more objects than
# DRAM holds (cold ones are demoted to SSD, every one is uploaded), prints `mooncake stat`, then
# throws the whole cache away — processes killed, SSD files deleted — starts a cold cluster on
# the same object store and reads every object back by read-through, byte for byte.
#
# Usage: scripts/tiered_demo.sh [--objects N] [--size BYTES] [--policy write-back|write-through]
#                               [--object_store URL [--endpoint http://host:port]]
# An s3:// store takes its credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
# Uses build/bin (scripts/quickstart.sh builds it), or $MC_BIN_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
OBJECTS=48
SIZE=$((1 << 20))
POLICY=write-back
STORE=""
ENDPOINT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) OBJECTS="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;;
    --policy) POLICY="$2"; shift 2 ;;
    --object_store) STORE="$2"; shift 2 ;;
    --endpoint) ENDPOINT="$2"; shift 2 ;;
    *) echo "usage: $0 [--objects N] [--size BYTES] [--policy write-back|write-through]" \
            "[--object_store URL [--endpoint URL]]"; exit 2 ;;
  esac
done
mc_need_bins "$BIN" mooncake_master mooncake_node mooncake

work=$(mktemp -d /tmp/mooncake_tiers.XXXXXX)
mc_track_path "$work"
show_logs() {  # on failure, say what the processes said
  [ "$MC_EXIT_RC" -eq 0 ] && return 0
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; }; done
}
mc_on_exit show_logs
# shellcheck disable=SC2034  # read by mc_cleanup
MC_CLUSTER_STOP_SIGNAL=KILL  # on exit too, as before (here a node's drain on TERM takes > 10 s)
[ -n "$STORE" ] || STORE="file://$work/bucket"

MASTER_PORT=$(mc_free_port)
METRICS_PORT=$(mc_free_port)  # not the default 9003: another cluster may hold it
MASTER=127.0.0.1:$MASTER_PORT
# Each node: DRAM for about a quarter of the objects, SSD for all of them.
DRAM=$(( (OBJECTS * SIZE / 8 + (1 << 20) - 1) / (1 << 20) ))MiB
SSD_BYTES=$(( (OBJECTS * (SIZE + 8192) / 4096 + 1) * 4096 ))
tiers_cluster() {  # TAG: the same ports, object store and SSD files every time
  local extra=()
  [ -n "$ENDPOINT" ] && extra+=("--object_store_endpoint=$ENDPOINT")
  mc_start_cluster -n 2 -d "$work" -t "$1" -p "$MASTER_PORT" -m "$METRICS_PORT" --log_level=warn \
    --object_store="$STORE" --object_store_policy="$POLICY" --tick_interval=50 "${extra[@]}" \
    -- --segment_size="$DRAM" --ssd_path="$work/node{i}.ssd" --ssd_size="$SSD_BYTES" \
    --log_level=warn
}
stat_line() { "$BIN/mooncake" --master="$MASTER" stat | grep -E "$1" || true; }

echo "tiered_demo: master --object_store=$STORE --object_store_policy=$POLICY;" \
     "2 nodes with $DRAM DRAM + $SSD_BYTES bytes of SSD each;" \
     "status page http://127.0.0.1:$METRICS_PORT/"
tiers_cluster first
mkdir -p "$work/values"
start=$(date +%s.%N)
for i in $(seq 1 "$OBJECTS"); do
  head -c "$SIZE" /dev/urandom >"$work/values/$i"
  "$BIN/mooncake" --master="$MASTER" put "tiers/$i" "$work/values/$i" >/dev/null
done
echo "tiered_demo: put $OBJECTS objects of $SIZE bytes in" \
     "$(python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$start") s"

# Write-back: the nodes upload after the puts were acknowledged; wait (bounded) for the backlog.
for _ in $(seq 1 600); do
  stat_line "object tier" | grep -q "backlog 0 objects" && break
  [ "$POLICY" = write-back ] || break
  sleep 0.1
done
stat_line "object tier" | grep -Eq "uploads $OBJECTS,|uploads $OBJECTS$" ||
  { echo "tiered_demo: not every object reached the object store:"; stat_line "object tier"; exit 1; }

for i in $(seq 1 "$OBJECTS"); do
  "$BIN/mooncake" --master="$MASTER" get "tiers/$i" "$work/back" >/dev/null
  cmp -s "$work/values/$i" "$work/back" || { echo "tiered_demo: tiers/$i differs"; exit 1; }
done
echo "tiered_demo: read all $OBJECTS objects back from the pool (DRAM and SSD)"
"$BIN/mooncake" --master="$MASTER" stat | sed -n '/^tiers:/,/^$/p'

echo "tiered_demo: killing every process and deleting the SSD files (the whole cache is lost)"
mc_stop_cluster KILL
rm -f "$work"/node*.ssd
tiers_cluster cold
start=$(date +%s.%N)
for i in $(seq 1 "$OBJECTS"); do
  "$BIN/mooncake" --master="$MASTER" get "tiers/$i" "$work/back" >/dev/null
  cmp -s "$work/values/$i" "$work/back" || { echo "tiered_demo: tiers/$i differs"; exit 1; }
done
echo "tiered_demo: cold cluster read all $OBJECTS objects back from the object store, byte for byte," \
     "in $(python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$start") s"
"$BIN/mooncake" --master="$MASTER" stat | sed -n '/^tiers:/,/^$/p'
echo "RESULT tiered_demo objects=$OBJECTS size=$SIZE policy=$POLICY ok"
