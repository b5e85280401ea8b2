#!/usr/bin/env bash
# What verifying every read costs (docs/integrity.md): store_bench gets with the CRC32C check
# on (the default) and off (--verify_checksum=false), alternating for ROUNDS rounds against one
# throwaway cluster (mooncake_master + 2 mooncake_node on loopback), and redis GET of the same
# size in the same run as the outside anchor. Workloads: 1 MiB over tcp, 1 MiB over shm,
# 4 KiB batched x64 (auto), and 4 KiB ranges of 1 MiB values batched x64 (GetIntoRanges,
# which checks the 64 KiB block each range lies in; redis anchor: GET of 4 KiB). Prints the median ops/s of each, the ratio on/off, the ratio
# on/redis, and one RESULT line per workload.
# Usage: bench/integrity_overhead.sh [duration_s] [rounds]   (binaries from build/bin or
#        $MC_BIN_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-3}"
ROUNDS="${2:-3}"
mc_need_bins "$BIN" mooncake_master mooncake_node store_bench
mc_need_tools redis-server redis-benchmark redis-cli

work=$(mktemp -d)
mc_track_path "$work"
mc_start_redis "$work"

mc_start_cluster -n 2 -d "$work" --log_level=warn -- --segment_size=1GiB --log_level=warn

# redis_get SIZE PIPELINE: GET ops/s, sized to last about DURATION seconds (the calibration
# run's SET stores the value the GETs read).
redis_get() {
  local size=$1 pipeline=$2 n
  n=$(redis-benchmark -p "$REDIS_PORT" -t set,get -d "$size" -c 1 -P "$pipeline" -n 500 --csv |
      awk -F'"' -v d="$DURATION" '$2=="GET" {n=int($4*d); print (n<500?500:n)}')
  redis-benchmark -p "$REDIS_PORT" -t get -d "$size" -c 1 -P "$pipeline" -n "$n" --csv |
    awk -F'"' '$2=="GET" {print $4}'
}

# store_get SIZE BATCH PROTOCOL VERIFY RANGE: store_bench get ops/s and p50 (RANGE 0: whole
# values).
store_get() {
  local line
  line=$("$BIN/store_bench" --master="$MC_MASTER" --op=get --value_size="$1" --batch_size="$2" \
         --threads=1 --duration="$DURATION" --protocol="$3" --verify_checksum="$4" \
         --range_size="$5" |
         grep '^RESULT') || mc_die "store_bench get $1 x$2 over $3 (verify $4) failed"
  echo "$(mc_result_field "$line" ops_per_s) $(mc_result_field "$line" p50_us)"
}

results="$work/results"
: >"$results"
# name:value size:batch:protocol:redis pipeline:range size (0: whole values)
for spec in "1MiB-tcp:1048576:1:tcp:1:0" "1MiB-shm:1048576:1:shm:1:0" \
            "4KiB-batched:4096:64:auto:16:0" "4KiB-ranges:1048576:64:auto:16:4096"; do
  IFS=: read -r name size batch protocol pipeline range <<<"$spec"
  echo "== $name: $ROUNDS rounds of verify on/off, ${DURATION} s each; redis GET -P $pipeline" >&2
  for ((round = 0; round < ROUNDS; ++round)); do
    echo "$name on $(store_get "$size" "$batch" "$protocol" true "$range")" >>"$results"
    echo "$name off $(store_get "$size" "$batch" "$protocol" false "$range")" >>"$results"
  done
  redis_size=$size
  [[ "$range" != 0 ]] && redis_size=$range
  echo "$name redis $(redis_get "$redis_size" "$pipeline") 0" >>"$results"
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
names = list(dict.fromkeys(r[0] for r in rows))
def med(name, what, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == name and r[1] == what)
print()
print(f"{'workload':14s} {'verify on':>10s} {'p50 us':>7s} {'verify off':>10s} {'p50 us':>7s}"
      f" {'on/off':>7s} {'redis GET':>10s} {'on/redis':>9s}")
lines = []
for name in names:
    on, off, redis = med(name, "on", 2), med(name, "off", 2), med(name, "redis", 2)
    on50, off50 = med(name, "on", 3), med(name, "off", 3)
    print(f"{name:14s} {on:10.0f} {on50:7.1f} {off:10.0f} {off50:7.1f} {on/off:7.2f} {redis:10.0f} {on/redis:9.2f}")
    lines.append(f"RESULT bench=integrity_overhead workload={name} verify_on_ops_per_s={on:.0f} "
                 f"verify_off_ops_per_s={off:.0f} ratio_on_off={on/off:.2f} redis_get_ops_per_s={redis:.0f} "
                 f"ratio_on_redis={on/redis:.2f} on_p50_us={on50:.1f} off_p50_us={off50:.1f}")
print("(ops/s: median of the rounds; batched: store batch 64 per call vs redis -P 16, ops = keys)")
print("\n".join(lines))
PY
