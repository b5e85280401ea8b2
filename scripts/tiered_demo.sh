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
BIN="${MC_BIN_DIR:-build/bin}"
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
for b in mooncake_master mooncake_node mooncake; do
  [ -x "$BIN/$b" ] || { echo "tiered_demo: $BIN/$b missing: build first (scripts/quickstart.sh)"; exit 1; }
done

work=$(mktemp -d /tmp/mooncake_tiers.XXXXXX)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
on_exit() {
  local rc=$?
  stop_all
  if [ "$rc" -ne 0 ]; then  # say what the processes said
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; }; done
  fi
  rm -rf "$work"
}
trap on_exit EXIT
[ -n "$STORE" ] || STORE="file://$work/bucket"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {  # LOG PID
  for _ in $(seq 1 300); do
    grep -qs '^READY' "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  cat "$1"; echo "tiered_demo: $(basename "$1" .log) did not become READY"; exit 1
}

MASTER_PORT=$(free_port)
METRICS_PORT=$(free_port)  # not the default 9003: another cluster may hold it
MASTER=127.0.0.1:$MASTER_PORT
# Each node: DRAM for about a quarter of the objects, SSD for all of them.
DRAM=$(( (OBJECTS * SIZE / 8 + (1 << 20) - 1) / (1 << 20) ))MiB
SSD_BYTES=$(( (OBJECTS * (SIZE + 8192) / 4096 + 1) * 4096 ))
start_cluster() {  # TAG
  local extra=()
  [ -n "$ENDPOINT" ] && extra+=("--object_store_endpoint=$ENDPOINT")
  "$BIN/mooncake_master" --host=127.0.0.1 --port="$MASTER_PORT" --metrics_port="$METRICS_PORT" \
    --log_level=warn \
    --object_store="$STORE" --object_store_policy="$POLICY" --tick_interval=50 "${extra[@]}" \
    >"$work/master-$1.log" 2>&1 &
  pids+=($!)
  wait_ready "$work/master-$1.log" "${pids[-1]}"
  for i in 1 2; do
    "$BIN/mooncake_node" --master="$MASTER" --listen=127.0.0.1:"$(free_port)" \
      --segment_size="$DRAM" --ssd_path="$work/node$i.ssd" --ssd_size="$SSD_BYTES" \
      --log_level=warn >"$work/node$i-$1.log" 2>&1 &
    pids+=($!)
    wait_ready "$work/node$i-$1.log" "${pids[-1]}"
  done
}
stat_line() { "$BIN/mooncake" --master="$MASTER" stat | grep -E "$1" || true; }

echo "tiered_demo: master --object_store=$STORE --object_store_policy=$POLICY;" \
     "2 nodes with $DRAM DRAM + $SSD_BYTES bytes of SSD each;" \
     "status page http://127.0.0.1:$METRICS_PORT/"
start_cluster first
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
stop_all
rm -f "$work"/node*.ssd
start_cluster cold
start=$(date +%s.%N)
for i in $(seq 1 "$OBJECTS"); do
  "$BIN/mooncake" --master="$MASTER" get "tiers/$i" "$work/back" >/dev/null
  cmp -s "$work/values/$i" "$work/back" || { echo "tiered_demo: tiers/$i differs"; exit 1; }
done
echo "tiered_demo: cold cluster read all $OBJECTS objects back from the object store, byte for byte," \
     "in $(python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$start") s"
"$BIN/mooncake" --master="$MASTER" stat | sed -n '/^tiers:/,/^$/p'
echo "RESULT tiered_demo objects=$OBJECTS size=$SIZE policy=$POLICY ok"
