#!/usr/bin/env bash
# What the cluster secret costs the store (docs/security.md): store_bench get and put of 1 MiB
# values against two throwaway clusters in the same run, one open (no secret) and one whose
# master and nodes require a secret (--auth_secret_file; store_bench signs with the same one),
# alternating open/secret for ROUNDS rounds. Prints the median ops/s and p50 of each, the ratio
# secret/open (goal >= 0.97), and one RESULT line per workload.
# What the secret covers: every master RPC carries an HMAC-SHA256 credential that the
# master checks (PutStart/PutEnd per put; a get asks the master only when its location cache
# misses), and every Transfer Engine connection proves the secret once at HELLO (the slices
# themselves carry nothing extra).
# Usage: bench/store_auth_overhead.sh [duration_s] [rounds] [protocol]   (binaries from
#        build/bin or $MC_BIN_DIR; protocol tcp (default), shm or auto)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-3}"
ROUNDS="${2:-3}"
PROTOCOL="${3:-tcp}"
mc_need_bins "$BIN" mooncake_master mooncake_node store_bench

work=$(mktemp -d)
mc_track_path "$work"
secret="$work/secret"
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret")

mc_start_cluster -n 2 -d "$work" -t open --log_level=warn -- --segment_size=512MiB \
  --log_level=warn
open_master=$MC_MASTER
# Both clusters run side by side so that rounds alternate: the open one stays tracked (stopped
# at exit by mc_cleanup) while mc_start_cluster, which holds one cluster at a time, starts the
# other.
MC_CLUSTER_PIDS=()
mc_start_cluster -n 2 -d "$work" -t secret --log_level=warn --auth_secret_file="$secret" -- \
  --segment_size=512MiB --log_level=warn --auth_secret_file="$secret"
secret_master=$MC_MASTER

# store_run OP MASTER [FLAG...]: store_bench OP of 1 MiB values, "ops/s p50_us".
store_run() {
  local op=$1 master=$2 line
  shift 2
  line=$("$BIN/store_bench" --master="$master" --op="$op" --value_size=1MiB --batch_size=1 \
         --threads=1 --duration="$DURATION" --protocol="$PROTOCOL" "$@" | grep '^RESULT') ||
    mc_die "store_bench $op against $master failed"
  echo "$(mc_result_field "$line" ops_per_s) $(mc_result_field "$line" p50_us)"
}

results="$work/results"
: >"$results"
for op in ${MC_AUTH_BENCH_OPS:-get put}; do
  echo "== $op 1 MiB over $PROTOCOL: $ROUNDS rounds of open/secret, ${DURATION} s each" >&2
  for ((round = 0; round < ROUNDS; ++round)); do
    echo "$op open $(store_run "$op" "$open_master")" >>"$results"
    echo "$op secret $(store_run "$op" "$secret_master" --auth_secret_file="$secret")" >>"$results"
  done
done

python3 - "$results" "$PROTOCOL" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
protocol = sys.argv[2]
def med(op, what, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == op and r[1] == what)
print()
print(f"{'workload':16s} {'open ops/s':>10s} {'p50 us':>7s} {'secret ops/s':>12s} {'p50 us':>7s}"
      f" {'secret/open':>11s}")
lines = []
for op in dict.fromkeys(r[0] for r in rows):
    name = f"{op}-1MiB-{protocol}"
    open_ops, secret_ops = med(op, "open", 2), med(op, "secret", 2)
    open50, secret50 = med(op, "open", 3), med(op, "secret", 3)
    ratio = secret_ops / open_ops
    print(f"{name:16s} {open_ops:10.0f} {open50:7.1f} {secret_ops:12.0f} {secret50:7.1f}"
          f" {ratio:11.3f}")
    lines.append(f"RESULT bench=store_auth_overhead workload={name} open_ops_per_s={open_ops:.0f} "
                 f"secret_ops_per_s={secret_ops:.0f} ratio_secret_open={ratio:.3f} "
                 f"open_p50_us={open50:.1f} secret_p50_us={secret50:.1f} goal=0.97")
print("(ops/s: median of the rounds; one client thread, batch 1)")
print("\n".join(lines))
PY
