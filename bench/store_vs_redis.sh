#!/usr/bin/env bash
# The store's data path against redis on the same machine, same run: a throwaway redis-server
# and a throwaway cluster (mooncake_master + 2 mooncake_node) on loopback, then
# redis-benchmark SET/GET and store_bench put/get at 4 KiB, 64 KiB and 1 MiB with one client,
# and 4 KiB batched (redis -P 16, store batch 64). Prints both, the ratios (ops/s and bytes/s;
# store / redis), and one RESULT line per workload and op.
# Usage: bench/store_vs_redis.sh [duration_s]   (binaries from build/bin, or $MC_BIN_DIR;
#        MC_PROTOCOL=tcp|shm|auto picks the store's transport, default tcp)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-5}"
PROTOCOL="${MC_PROTOCOL:-tcp}"
mc_need_bins "$BIN" mooncake_master mooncake_node store_bench
mc_need_tools redis-server redis-benchmark redis-cli

work=$(mktemp -d)
mc_track_path "$work"
mc_start_redis "$work"

mc_start_cluster -n 2 -d "$work" --log_level=warn -- --segment_size=1GiB --log_level=warn

# redis NAME SIZE [PIPELINE]: SET then GET; sized by a short calibration run to last about
# DURATION seconds each. Prints "NAME SET rps p50_ms" and "NAME GET rps p50_ms".
redis() {
  local name=$1 size=$2 pipeline=${3:-1} n
  n=$(redis-benchmark -p "$REDIS_PORT" -t get -d "$size" -c 1 -P "$pipeline" -n 500 --csv |
      awk -F'"' -v d="$DURATION" '$2=="GET" {n=int($4*d); print (n<500?500:n)}')
  redis-benchmark -p "$REDIS_PORT" -t set,get -d "$size" -c 1 -P "$pipeline" -n "$n" --csv |
    awk -F'"' -v name="$name" '$2=="SET"||$2=="GET" {print name, $2, $4, $10}'
}

# store NAME OP SIZE BATCH: one store_bench run; prints "NAME OP ops_per_s p50_us".
store() {
  local name=$1 op=$2 size=$3 batch=$4 line
  line=$("$BIN/store_bench" --master="$MC_MASTER" --op="$op" --value_size="$size" \
         --batch_size="$batch" --threads=1 --duration="$DURATION" --protocol="$PROTOCOL" |
         grep '^RESULT') || { echo "store_vs_redis: store_bench $op $size failed" >&2; exit 1; }
  echo "$name $op $(mc_result_field "$line" ops_per_s) $(mc_result_field "$line" p50_us)"
}

results="$work/results"
: >"$results"
for spec in "4KiB:4096:1:1" "64KiB:65536:1:1" "1MiB:1048576:1:1" "4KiB-batched:4096:16:64"; do
  IFS=: read -r name size pipeline batch <<<"$spec"
  echo "== $name: redis-benchmark -d $size -c 1 -P $pipeline; store_bench --batch_size=$batch" >&2
  redis "$name" "$size" "$pipeline" >>"$results"
  store "$name" put "$size" "$batch" >>"$results"
  store "$name" get "$size" "$batch" >>"$results"
done

python3 - "$results" "$PROTOCOL" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
protocol = sys.argv[2]
sizes = {"4KiB": 4096, "64KiB": 65536, "1MiB": 1048576, "4KiB-batched": 4096}
redis = {(r[0], {"SET": "put", "GET": "get"}[r[1]]): (float(r[2]), float(r[3]) * 1000) for r in rows if r[1] in ("SET", "GET")}
store = {(r[0], r[1]): (float(r[2]), float(r[3])) for r in rows if r[1] in ("put", "get")}
print()
print(f"{'workload':14s} {'op':8s} {'redis ops/s':>12s} {'redis GB/s':>10s} {'p50 us':>7s}"
      f" {'store ops/s':>12s} {'store GB/s':>10s} {'p50 us':>7s} {'ratio':>6s}")
lines = []
for (name, op), (rops, rp50) in redis.items():
    sops, sp50 = store[(name, op)]
    size = sizes[name]
    rgb, sgb = rops * size / 1e9, sops * size / 1e9
    ratio = sops / rops if rops else 0
    label = f"{op}/{'SET' if op == 'put' else 'GET'}"
    print(f"{name:14s} {label:8s} {rops:12.0f} {rgb:10.3f} {rp50:7.1f} {sops:12.0f} {sgb:10.3f} {sp50:7.1f} {ratio:6.2f}")
    lines.append(f"RESULT bench=store_vs_redis workload={name} op={op} value_size={size} protocol={protocol} "
                 f"redis_ops_per_s={rops:.0f} store_ops_per_s={sops:.0f} ratio_ops={ratio:.2f} "
                 f"redis_GBps={rgb:.3f} store_GBps={sgb:.3f} ratio_bytes={ratio:.2f} "
                 f"redis_p50_us={rp50:.1f} store_p50_us={sp50:.1f}")
print("(ratio = store / redis; same value size, so ops/s and bytes/s ratios are equal;"
      " batched: redis -P 16, store batch 64; store p50 is per call)")
print("\n".join(lines))
PY
