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
source scripts/lib.sh
BIN=$(mc_bin_dir)
DRAM="${MC_TIER_DRAM:-512MiB}"
OBJECT="${MC_TIER_OBJECT:-4MiB}"
PAR="${MC_TIER_COPY_PARALLELISM:-4}"
TICK_MS="${MC_TIER_TICK_MS:-10}"
ROUNDS="${MC_TIER_ROUNDS:-3}"
HEARTBEAT_MS="${MC_TIER_HEARTBEAT_MS:-500}"
HIGH=0.9
mc_need_bins "$BIN" mooncake_master mooncake_node tier_copy_bench
mc_need_tools fio

DIR="${MC_TIER_SSD_DIR:-}"
if [ -z "$DIR" ]; then
  DIR=$(mktemp -d "${TMPDIR:-/var/tmp}/mc_tier_ssd.XXXXXX")
  mc_track_path "$DIR"
fi
mc_track_path "$DIR/ssd.bin" "$DIR/fio.bin" "$DIR/master.log" "$DIR/node1.log"
fs=$(df -T "$DIR" | awk 'NR==2 {print $2}')
[ "$fs" != tmpfs ] || { echo "$DIR is on tmpfs: set MC_TIER_SSD_DIR to a disk"; exit 1; }

dram_bytes=$(mc_bytes "$DRAM")
object_bytes=$(mc_bytes "$OBJECT")
ssd_bytes=$((dram_bytes * 2 / 4096 * 4096))
ssd_cluster() {  # -> MASTER
  mc_start_cluster -d "$DIR" --tick_interval="$TICK_MS" --eviction_high_watermark_ratio="$HIGH" \
    --eviction_ratio=0.85 --promote_after_hits=2 \
    -- --segment_size="$dram_bytes" --ssd_path="$DIR/ssd.bin" --ssd_size="$ssd_bytes" \
    --copy_parallelism="$PAR" --heartbeat_interval_ms="$HEARTBEAT_MS" --drain_timeout=0
  MASTER=$MC_MASTER
}
# shellcheck disable=SC2034  # read by mc_stop_cluster
MC_CLUSTER_STOP_SIGNAL=KILL  # also on exit
stop_cluster() {
  mc_stop_cluster
  rm -f "$DIR/ssd.bin"
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
  ssd_cluster
  out=$("$BIN/tier_copy_bench" --master="$MASTER" --object_size="$object_bytes" \
    --high_watermark="$HIGH" --promote_after_hits=2) || { echo "$out"; cat "$DIR/node1.log"; exit 1; }
  stop_cluster
  demoted=$(mc_result_field "$out" demoted)
  promoted=$(mc_result_field "$out" promoted)
  d=$(mc_result_field "$out" demote_MBps)
  ds=$(mc_result_field "$out" demote_steady_MBps)
  p=$(mc_result_field "$out" promote_MBps)
  ps=$(mc_result_field "$out" promote_steady_MBps)
  first_ms=$(python3 -c "print('%.0f' % ($(mc_result_field "$out" promote_first_done_s) * 1000))")
  truncate -s "$ssd_bytes" "$DIR/fio.bin"  # sparse, like the node's SSD file
  w=$(fio_mbps write "$((demoted * object_bytes))")
  r=$(fio_mbps read "$((demoted * object_bytes))")
  rm -f "$DIR/fio.bin"
  dem+=("$d"); dst+=("$ds"); pro+=("$p"); pst+=("$ps"); fw+=("$w"); fr+=("$r")
  row "$round" "$demoted" "$d" "$ds" "$w" "$(mc_ratio "$d" "$w")" "$promoted" "$p" "$ps" \
    "$first_ms" "$r" "$(mc_ratio "$p" "$r")" "$(load)"
done
md=$(mc_median "${dem[@]}"); mds=$(mc_median "${dst[@]}"); mp=$(mc_median "${pro[@]}")
mps=$(mc_median "${pst[@]}"); mw=$(mc_median "${fw[@]}"); mr=$(mc_median "${fr[@]}")
row median "" "$md" "$mds" "$mw" "$(mc_ratio "$md" "$mw")" "" "$mp" "$mps" "" "$mr" \
  "$(mc_ratio "$mp" "$mr")" ""
echo "(MB = 1e6 B of object data; ours: first copy seen scheduled to last seen done, 5 ms polls;" \
  "load = 1-min load average after the round)"
echo "RESULT bench=tier_ssd fs=$fs dram=$DRAM object=$OBJECT copy_parallelism=$PAR" \
  "tick_ms=$TICK_MS heartbeat_ms=$HEARTBEAT_MS fio_engine=$ENGINE rounds=$ROUNDS" \
  "demote_MBps=$md demote_steady_MBps=$mds fio_write_MBps=$mw ratio_demote=$(mc_ratio "$md" "$mw")" \
  "promote_MBps=$mp promote_steady_MBps=$mps fio_read_MBps=$mr" \
  "ratio_promote=$(mc_ratio "$mp" "$mr") ratio_promote_steady=$(mc_ratio "$mps" "$mr") load1=$(load)"
