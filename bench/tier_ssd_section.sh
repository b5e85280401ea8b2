#!/usr/bin/env bash
# SSD tier demote/promote throughput next to fio on the same filesystem (bench/tier_bench.sh
# --only ssd runs this). Each round:
#   1. a master (--tick_interval=TICK_MS, high watermark 0.9, low 0.05, promote_after_hits 2) and
#      one node (DRAM segment of DRAM bytes, --ssd_path on a file in DIR, --copy_parallelism=PAR)
#      on free ports;
#   2. tier_copy_bench: puts OBJECT-sized objects until DRAM is just past the watermark (the
#      last one alone, after the others), times the demotions from the first one seen scheduled
#      to the last one seen done (GetClusterInfo polled every 5 ms; the puts are not timed);
#      then looks each demoted object up twice in batch lookups (no bytes read) and times the
#      promotions the same way; reads every object back and compares;
#   3. the cluster is killed and its file removed; fio writes then reads the same number of
#      bytes sequentially in a fresh sparse file in DIR of the SSD file's size (as the node's:
#      writes fill holes inside the file, never extend it): --direct=1 --bs=OBJECT
#      --iodepth=PAR --ioengine=io_uring (libaio, then psync, where io_uring is refused).
# Figures are medians over the rounds; ratio = ours / fio (demote vs write, promote vs read).
# "steady" leaves out the time to the first copy seen done: the node getting its tasks and the
# first copy's latency; "1st done" is that time for the promotions. With the node's default
# 500 ms heartbeat a promotion burst often waits 150-320 ms for its tasks: the node's heartbeat
# loop sleeps a whole interval after a reply that brought copy tasks but no manifest changes.
# Usage: bench/tier_ssd_section.sh   (uses build/bin, or MC_BIN=dir)
#   MC_TIER_SSD_DIR  directory on the filesystem to measure (default: a fresh one under
#                    $TMPDIR or /var/tmp; tmpfs is refused: O_DIRECT means nothing there)
#   MC_TIER_DRAM (512MiB)  MC_TIER_OBJECT (4MiB)  MC_TIER_COPY_PARALLELISM (4)
#   MC_TIER_TICK_MS (10)   MC_TIER_ROUNDS (3)   MC_TIER_HEARTBEAT_MS (the node's default, 500)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MC_BIN:-build/bin}"
DRAM="${MC_TIER_DRAM:-512MiB}"
OBJECT="${MC_TIER_OBJECT:-4MiB}"
PAR="${MC_TIER_COPY_PARALLELISM:-4}"
TICK_MS="${MC_TIER_TICK_MS:-10}"
ROUNDS="${MC_TIER_ROUNDS:-3}"
HEARTBEAT_MS="${MC_TIER_HEARTBEAT_MS:-500}"
HIGH=0.9
for b in mooncake_master mooncake_node tier_copy_bench; do
  [ -x "$BIN/$b" ] || { echo "build first: scripts/quickstart.sh ($BIN/$b missing)"; exit 1; }
done
command -v fio >/dev/null || { echo "fio is missing: scripts/install-deps.sh"; exit 1; }

own_dir=0
DIR="${MC_TIER_SSD_DIR:-}"
if [ -z "$DIR" ]; then
  DIR=$(mktemp -d "${TMPDIR:-/var/tmp}/mc_tier_ssd.XXXXXX")
  own_dir=1
fi
pids=()
stop_cluster() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
  rm -f "$DIR/ssd.bin"
}
cleanup() {
  stop_cluster
  rm -f "$DIR/fio.bin" "$DIR"/*.log
  [ "$own_dir" = 1 ] && rm -rf "$DIR"
  return 0
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM
fs=$(df -T "$DIR" | awk 'NR==2 {print $2}')
[ "$fs" != tmpfs ] || { echo "$DIR is on tmpfs: set MC_TIER_SSD_DIR to a disk"; exit 1; }

bytes_of() {
  python3 -c "
import re
m=re.fullmatch(r'(\d+)([KMG]i?B)?','$1'); u={'KiB':1<<10,'MiB':1<<20,'GiB':1<<30,None:1}
print(int(m.group(1))*u.get(m.group(2),1))"
}
dram_bytes=$(bytes_of "$DRAM")
object_bytes=$(bytes_of "$OBJECT")
ssd_bytes=$((dram_bytes * 2 / 4096 * 4096))
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
wait_ready() {  # log pid
  for _ in $(seq 1 300); do
    grep -qs '^READY' "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "not ready:"; cat "$1"; exit 1
}
start_cluster() {  # -> MASTER
  local mport
  mport=$(free_port)
  # Logs are removed first: a backgrounded command truncates its log only once it runs, so an
  # old READY line could otherwise pass for this round's.
  rm -f "$DIR/master.log" "$DIR/node.log"
  "$BIN/mooncake_master" --host=127.0.0.1 --port="$mport" --metrics_port=-1 \
    --tick_interval="$TICK_MS" --eviction_high_watermark_ratio="$HIGH" --eviction_ratio=0.85 \
    --promote_after_hits=2 >"$DIR/master.log" 2>&1 &
  pids+=($!)
  wait_ready "$DIR/master.log" "$!"
  MASTER="127.0.0.1:$mport"
  "$BIN/mooncake_node" --master="$MASTER" --listen="127.0.0.1:$(free_port)" \
    --segment_size="$dram_bytes" --ssd_path="$DIR/ssd.bin" --ssd_size="$ssd_bytes" \
    --copy_parallelism="$PAR" --heartbeat_interval_ms="$HEARTBEAT_MS" --drain_timeout=0 \
    >"$DIR/node.log" 2>&1 &
  pids+=($!)
  wait_ready "$DIR/node.log" "$!"
}

# fio's engine: io_uring where the kernel allows it.
ENGINE=""
for e in io_uring libaio psync; do
  if fio --name=probe --filename="$DIR/fio.bin" --size=1048576 --bs=4096 --rw=write --direct=1 \
      --ioengine="$e" >/dev/null 2>&1; then
    ENGINE=$e
    break
  fi
done
rm -f "$DIR/fio.bin"
[ -n "$ENGINE" ] || { echo "fio cannot do O_DIRECT I/O in $DIR"; exit 1; }
fio_mbps() {  # rw size -> MB/s (the first `size` bytes of fio.bin, made by the caller)
  fio --name=mc --filename="$DIR/fio.bin" --size="$2" --rw="$1" --bs="$object_bytes" --direct=1 \
    --ioengine="$ENGINE" --iodepth="$PAR" --fallocate=none --output-format=json 2>/dev/null |
    python3 -c "import json,sys; j=json.load(sys.stdin)['jobs'][0]; \
print('%.1f' % (j['$1']['bw_bytes'] / 1e6))"
}
field() { sed -n "s/^RESULT .*[ ]$1=\([0-9.]*\).*/\1/p"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "a,b=$1,$2; print('%.2f' % (a / b if b > 0 else 0))"; }
load() { cut -d' ' -f1 /proc/loadavg; }

echo "SSD tier demote/promote: $fs at $DIR; DRAM $DRAM, objects of $OBJECT," \
  "copy_parallelism $PAR, tick ${TICK_MS} ms, node heartbeat ${HEARTBEAT_MS} ms;" \
  "fio $ENGINE O_DIRECT bs=$OBJECT iodepth=$PAR; load $(load) at start"
row() { printf "%-6s %7s %8s %7s %6s %6s %8s %8s %7s %8s %6s %6s %5s\n" "$@"; }
row round demoted "MB/s" steady "write" ratio promoted "MB/s" steady "1st done" read \
  ratio load
row "" "" demote "" "fio" "" "" promote "" "ms" fio "" ""
dem=(); dst=(); pro=(); pst=(); fw=(); fr=()
for round in $(seq 1 "$ROUNDS"); do
  start_cluster
  out=$("$BIN/tier_copy_bench" --master="$MASTER" --object_size="$object_bytes" \
    --high_watermark="$HIGH" --promote_after_hits=2) || { echo "$out"; cat "$DIR/node.log"; exit 1; }
  stop_cluster
  demoted=$(echo "$out" | field demoted)
  promoted=$(echo "$out" | field promoted)
  d=$(echo "$out" | field demote_MBps)
  ds=$(echo "$out" | field demote_steady_MBps)
  p=$(echo "$out" | field promote_MBps)
  ps=$(echo "$out" | field promote_steady_MBps)
  first_ms=$(python3 -c "print('%.0f' % ($(echo "$out" | field promote_first_done_s) * 1000))")
  truncate -s "$ssd_bytes" "$DIR/fio.bin"  # sparse, like the node's SSD file
  w=$(fio_mbps write "$((demoted * object_bytes))")
  r=$(fio_mbps read "$((demoted * object_bytes))")
  rm -f "$DIR/fio.bin"
  dem+=("$d"); dst+=("$ds"); pro+=("$p"); pst+=("$ps"); fw+=("$w"); fr+=("$r")
  row "$round" "$demoted" "$d" "$ds" "$w" "$(ratio "$d" "$w")" "$promoted" "$p" "$ps" \
    "$first_ms" "$r" "$(ratio "$p" "$r")" "$(load)"
done
md=$(median "${dem[@]}"); mds=$(median "${dst[@]}"); mp=$(median "${pro[@]}")
mps=$(median "${pst[@]}"); mw=$(median "${fw[@]}"); mr=$(median "${fr[@]}")
row median "" "$md" "$mds" "$mw" "$(ratio "$md" "$mw")" "" "$mp" "$mps" "" "$mr" \
  "$(ratio "$mp" "$mr")" ""
echo "(MB = 1e6 B of object data; ours: first copy seen scheduled to last seen done, 5 ms polls;" \
  "load = 1-min load average after the round)"
echo "RESULT bench=tier_ssd fs=$fs dram=$DRAM object=$OBJECT copy_parallelism=$PAR" \
  "tick_ms=$TICK_MS heartbeat_ms=$HEARTBEAT_MS fio_engine=$ENGINE rounds=$ROUNDS" \
  "demote_MBps=$md demote_steady_MBps=$mds fio_write_MBps=$mw ratio_demote=$(ratio "$md" "$mw")" \
  "promote_MBps=$mp promote_steady_MBps=$mps fio_read_MBps=$mr" \
  "ratio_promote=$(ratio "$mp" "$mr") ratio_promote_steady=$(ratio "$mps" "$mr") load1=$(load)"
