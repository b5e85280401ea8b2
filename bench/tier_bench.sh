#!/usr/bin/env bash
# Lower-tier benchmarks, each next to an anchor measured in the same run.
#   S3: object_store_bench put/get of whole objects (default 4 x 64 MiB) through our s3://
#       backend vs `aws s3 cp` of the same objects, both against one throwaway s3rver
#       (npm s3rver@3.7.1 from scripts/install-deps.sh) on loopback. Goal: ratio >= 1.
#   Read-through: a cluster (master --object_store=s3://..., 1 node) takes 1 MiB objects
#       (write-through); a brand-new cluster on the same bucket then serves them: the first
#       `mooncake get` of each reads through from S3 (and puts it back into the pool), the second
#       is a pool hit. Both are whole CLI runs (process start included): their difference is
#       what read-through costs.
#   Put latency by object-tier policy: 1 MiB puts through store_bench for a second each with no
#       object tier (the anchor), write-through and write-back (same s3rver).
#   SSD demote/promote (bench/tier_ssd_section.sh): a master (short tick) and one node with a
#       small DRAM segment and an SSD file; tier_copy_bench fills DRAM just past the high
#       watermark and times the demotions the master schedules, then looks every demoted object
#       up twice (promote_after_hits) and times the promotions. Anchor: fio sequential O_DIRECT
#       write (demotion) and read (promotion) on the same filesystem, block = object size,
#       iodepth = the node's copy parallelism. Goal: ratio >= 0.8.
# Usage: bench/tier_bench.sh [--only s3|ssd] [count] [size]   (uses build/bin, or MC_BIN=dir)
#   --only s3: S3 put/get and read-through; --only ssd: demote/promote (needs fio, not s3rver).
#   count/size are the S3 section's; the SSD section's knobs are in tier_ssd_section.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
ONLY=""
if [ "${1:-}" = "--only" ]; then
  ONLY="${2:-}"
  case "$ONLY" in s3|ssd) ;; *) echo "usage: $0 [--only s3|ssd] [count] [size]"; exit 2 ;; esac
  shift 2
fi
if [ "$ONLY" = ssd ]; then
  exec bench/tier_ssd_section.sh
fi
COUNT="${1:-4}"
SIZE="${2:-64MiB}"
S3RVER="${MC_TOOLS_PREFIX:-/opt/mooncake-tools}/node_modules/.bin/s3rver"
mc_need_bins "$BIN" object_store_bench mooncake_master mooncake_node mooncake store_bench
[ -x "$S3RVER" ] || { echo "s3rver missing: scripts/install-deps.sh"; exit 1; }
mc_need_tools aws

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc_tier_bench.XXXXXX")
mc_track_path "$WORK"
port=$(mc_free_port)
mkdir -p "$WORK/s3"
"$S3RVER" -d "$WORK/s3" -a 127.0.0.1 -p "$port" --silent --configure-bucket bench >"$WORK/s3rver.log" 2>&1 &
mc_track $!
mc_wait_for 20 s3rver mc_port_open "$port"
endpoint="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

bytes=$(mc_bytes "$SIZE")
head -c "$bytes" /dev/urandom >"$WORK/object"
now() { python3 -c "import time; print(time.monotonic())"; }
mbps() { python3 -c "print('%.1f' % ($bytes * $COUNT / ($2 - $1) / 1e6))"; }

t0=$(now)
for i in $(seq 1 "$COUNT"); do
  aws --endpoint-url "$endpoint" s3 cp --only-show-errors "$WORK/object" "s3://bench/cli/obj-$i"
done
t1=$(now)
for i in $(seq 1 "$COUNT"); do
  aws --endpoint-url "$endpoint" s3 cp --only-show-errors "s3://bench/cli/obj-$i" "$WORK/back"
done
t2=$(now)
cmp -s "$WORK/object" "$WORK/back" || { echo "aws s3 cp returned different bytes"; exit 1; }
cli_put=$(mbps "$t0" "$t1")
cli_get=$(mbps "$t1" "$t2")

out=$("$BIN/object_store_bench" --url=s3://bench/mooncake --endpoint="$endpoint" --op=both \
  --size="$SIZE" --count="$COUNT")
ours_put=$(mc_result_field "$out" put_MBps)
ours_get=$(mc_result_field "$out" get_MBps)

echo "S3 (s3rver on loopback), $COUNT objects of $SIZE, whole-object put/get:"
printf "%-4s %14s %14s %7s\n" op "aws s3 cp MB/s" "mooncake MB/s" ratio
printf "%-4s %14s %14s %7s\n" put "$cli_put" "$ours_put" "$(mc_ratio "$ours_put" "$cli_put")"
printf "%-4s %14s %14s %7s\n" get "$cli_get" "$ours_get" "$(mc_ratio "$ours_get" "$cli_get")"

# ---- read-through latency ----
tier_cluster() {  # [POLICY [SEGMENT]] -> sets MASTER (POLICY none: no object store)
  local policy="${1:-write-through}" segment="${2:-256MiB}" tier=()
  [ "$policy" = none ] || tier=(--object_store=s3://bench/pool --object_store_endpoint="$endpoint"
                                --object_store_policy="$policy")
  mc_start_cluster -d "$WORK" "${tier[@]}" -- --segment_size="$segment"
  MASTER=$MC_MASTER
}
RT_COUNT=10
head -c 1048576 /dev/urandom >"$WORK/mib"
tier_cluster
for i in $(seq 1 "$RT_COUNT"); do "$BIN/mooncake" --master="$MASTER" put "rt/$i" "$WORK/mib" >/dev/null; done
mc_stop_cluster KILL
tier_cluster
timed_get() { python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print('%.1f' % ((time.monotonic() - t) * 1000))
PY
}
through=(); hit=()
for i in $(seq 1 "$RT_COUNT"); do
  through+=("$(timed_get "$BIN/mooncake" --master="$MASTER" get "rt/$i" "$WORK/rt_out")")
  cmp -s "$WORK/mib" "$WORK/rt_out" || { echo "read-through returned different bytes"; exit 1; }
  hit+=("$(timed_get "$BIN/mooncake" --master="$MASTER" get "rt/$i" "$WORK/rt_out")")
done
mc_stop_cluster KILL
rt_ms=$(mc_median "${through[@]}")
hit_ms=$(mc_median "${hit[@]}")
echo
echo "Read-through of a 1 MiB object (median of $RT_COUNT, whole 'mooncake get' runs):"
echo "  first get (read-through from S3 + put back): ${rt_ms} ms; second get (pool hit): ${hit_ms} ms;" \
  "read-through costs $(python3 -c "print('%.1f' % ($rt_ms - $hit_ms))") ms more"
# ---- put latency by policy ----
# 1 MiB puts for POLICY_SECONDS through store_bench (one client, zero-copy): without an object
# tier (the anchor), write-through (the put waits for its S3 upload) and write-back (the node
# uploads after the ack). The node's 2 GiB segment holds every write-back put of the run, so
# none waits for the backlog.
POLICY_SECONDS="${MC_TIER_POLICY_SECONDS:-1}"
declare -A put_p50 put_mbps
for policy in none write-through write-back; do
  tier_cluster "$policy" 2GiB
  line=$("$BIN/store_bench" --master="$MASTER" --op=put --value_size=1MiB \
    --duration="$POLICY_SECONDS" | grep '^RESULT')
  mc_stop_cluster KILL
  put_p50[$policy]=$(mc_result_field "$line" p50_us)
  put_mbps[$policy]=$(mc_result_field "$line" throughput_GBps |
    python3 -c "import sys; print('%.1f' % (float(sys.stdin.read()) * 1000))")
done
echo
echo "1 MiB puts by object-tier policy (store_bench, ${POLICY_SECONDS} s each, s3rver behind):"
printf "%-14s %10s %10s %14s\n" policy "p50 us" "MB/s" "p50 / no tier"
for policy in none write-through write-back; do
  printf "%-14s %10s %10s %14s\n" "$policy" "${put_p50[$policy]}" "${put_mbps[$policy]}" \
    "$(mc_ratio "${put_p50[$policy]}" "${put_p50[none]}")"
done

s3_result="s3_size=$SIZE s3_count=$COUNT aws_put_MBps=$cli_put"
s3_result+=" ours_put_MBps=$ours_put ratio_put=$(mc_ratio "$ours_put" "$cli_put") aws_get_MBps=$cli_get"
s3_result+=" ours_get_MBps=$ours_get ratio_get=$(mc_ratio "$ours_get" "$cli_get")"
s3_result+=" readthrough_1MiB_ms=$rt_ms pool_hit_1MiB_ms=$hit_ms"
s3_result+=" put_p50_us_none=${put_p50[none]} put_p50_us_write_through=${put_p50[write-through]}"
s3_result+=" put_p50_us_write_back=${put_p50[write-back]}"
ssd_result=""
if [ "$ONLY" != s3 ] && ! command -v fio >/dev/null; then
  echo; echo "SSD demote/promote section skipped: fio is missing (scripts/install-deps.sh)"
elif [ "$ONLY" != s3 ]; then
  echo
  bench/tier_ssd_section.sh | tee "$WORK/ssd.out"
  ssd_result=" $(sed -n 's/^RESULT bench=tier_ssd //p' "$WORK/ssd.out")"
fi
echo "RESULT bench=tier_bench $s3_result$ssd_result"
