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
BIN="${MC_BIN_DIR:-build/bin}"
DURATION="${1:-5}"
PROTOCOL="${MC_PROTOCOL:-tcp}"
for b in mooncake_master mooncake_node store_bench; do
  [ -x "$BIN/$b" ] || { echo "store_vs_redis: $BIN/$b missing: build first (scripts/quickstart.sh)"; exit 1; }
done
for b in redis-server redis-benchmark redis-cli; do
  command -v "$b" >/dev/null || { echo "store_vs_redis: $b missing (scripts/install-deps.sh)"; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# wait_ready LOG PID: until LOG has a line starting with READY, or the process dies (30 s).
wait_ready() {
  for _ in $(seq 1 300); do
    grep -qs '^READY' "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  cat "$1"; echo "store_vs_redis: $1 did not become READY"; exit 1
}

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done

MASTER_PORT=$(free_port)
"$BIN/mooncake_master" --host=127.0.0.1 --port="$MASTER_PORT" --metrics_port=-1 --log_level=warn \
  >"$work/master.log" 2>&1 &
pids+=($!)
wait_ready "$work/master.log" "${pids[-1]}"
for i in 1 2; do
  "$BIN/mooncake_node" --master=127.0.0.1:"$MASTER_PORT" --listen=127.0.0.1:"$(free_port)" \
    --segment_size=1GiB --log_level=warn >"$work/node$i.log" 2>&1 &
  pids+=($!)
done
wait_ready "$work/node1.log" "${pids[-2]}"
wait_ready "$work/node2.log" "${pids[-1]}"

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
  line=$("$BIN/store_bench" --master=127.0.0.1:"$MASTER_PORT" --op="$op" --value_size="$size" \
         --batch_size="$batch" --threads=1 --duration="$DURATION" --protocol="$PROTOCOL" |
         grep '^RESULT') || { echo "store_vs_redis: store_bench $op $size failed" >&2; exit 1; }
  echo "$line" | awk -v name="$name" -v op="$op" '{
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    print name, op, v["ops_per_s"], v["p50_us"] }'
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
