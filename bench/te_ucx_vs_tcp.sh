#!/usr/bin/env bash
# Transfer Engine over UCX (--protocol=ucx) next to our TCP and shared-memory transports,
# measured back to back in the same run on loopback, at 64 KiB and 1 MiB blocks (1 submitting
# thread, batches of --batch_size). Two targets: one default (serves TCP and shared memory),
# one --protocol=ucx. UCX runs with its defaults unless UCX_TLS is set (e.g. UCX_TLS=tcp,self
# or sm,self); without an RDMA NIC it uses its shared memory between processes on one host
# (the default here) or emulates RMA over its tcp (expect that well below our TCP).
# Ratios are ucx / tcp and ucx / shm of the same run.
# Usage: bench/te_ucx_vs_tcp.sh [duration_s]   (uses build/bin, or MC_BIN=dir)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MC_BIN:-build/bin}"
DURATION="${1:-3}"
BATCH="${MC_BENCH_BATCH:-128}"
SIZE="${MC_BENCH_BUFFER:-256MiB}"
[ -x "$BIN/transfer_engine_bench" ] || { echo "build first: scripts/quickstart.sh"; exit 1; }

pids=()
logs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -f "${logs[@]}"
}
trap cleanup EXIT

segment=""
start_target() {  # protocol -> $segment (not a $(...) subshell: the pid must reach cleanup)
  local log
  log=$(mktemp)
  logs+=("$log")
  "$BIN/transfer_engine_bench" --mode=target --local_server_name=127.0.0.1:0 \
    --protocol="$1" --buffer_size="$SIZE" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do grep -q '^READY' "$log" && break; sleep 0.1; done
  segment=$(sed -n 's/^READY segment=\([^ ]*\).*/\1/p' "$log")
  [ -n "$segment" ] || { cat "$log" >&2; exit 1; }
}
start_target auto
auto_target=$segment
start_target ucx
ucx_target=$segment

field() { sed -n "s/^RESULT .*$1=\([0-9.]*\).*/\1/p"; }
te() {  # protocol segment op block -> GBps
  "$BIN/transfer_engine_bench" --mode=initiator --protocol="$1" --segment_id="$2" \
    --operation="$3" --block_size="$4" --batch_size="$BATCH" --buffer_size="$SIZE" \
    --duration="$DURATION" | field throughput_GBps
}
ratio() { python3 -c "print('%.2f' % ($1 / $2 if $2 > 0 else 0))"; }

echo "UCX_TLS=${UCX_TLS:-<UCX defaults>}"
printf "%-8s %-6s %10s %10s %10s %10s %10s\n" block op "tcp GB/s" "shm GB/s" "ucx GB/s" \
  "ucx/tcp" "ucx/shm"
summary=""
for size in 65536 1048576; do
  for op in read write; do
    tcp=$(te tcp "$auto_target" "$op" "$size")
    shm=$(te shm "$auto_target" "$op" "$size")
    ucx=$(te ucx "$ucx_target" "$op" "$size")
    printf "%-8s %-6s %10s %10s %10s %10s %10s\n" "$size" "$op" "$tcp" "$shm" "$ucx" \
      "$(ratio "$ucx" "$tcp")" "$(ratio "$ucx" "$shm")"
    summary+=" tcp_${op}_${size}_GBps=$tcp shm_${op}_${size}_GBps=$shm"
    summary+=" ucx_${op}_${size}_GBps=$ucx ratio_ucx_tcp_${op}_${size}=$(ratio "$ucx" "$tcp")"
  done
done
echo "RESULT bench=te_ucx_vs_tcp duration_s=$DURATION batch_size=$BATCH buffer=$SIZE" \
  "ucx_tls=${UCX_TLS:-default}$summary"
