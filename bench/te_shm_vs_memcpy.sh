#!/usr/bin/env bash
# Transfer Engine over shared memory (same host) next to a single-thread memcpy of the same
# block size, measured back to back in the same run, at 4 KiB, 64 KiB and 1 MiB. Both walk
# 1 GiB DRAM-resident buffers block after block (batches of --batch_size blocks, 1 thread);
# the TE initiator uses --protocol=shm, so every byte is one memcpy into the target's memfd.
# Also prints the target's AllocateBuffer time (1 GiB memfd, prefaulted in parallel).
# Usage: bench/te_shm_vs_memcpy.sh [duration_s]   (uses build/bin, or MC_BIN=dir)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MC_BIN:-build/bin}"
DURATION="${1:-3}"
BATCH="${MC_BENCH_BATCH:-128}"
SIZE="${MC_BENCH_BUFFER:-1GiB}"
[ -x "$BIN/transfer_engine_bench" ] || { echo "build first: scripts/quickstart.sh"; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

log=$(mktemp)
"$BIN/transfer_engine_bench" --mode=target --local_server_name=127.0.0.1:0 \
  --buffer_size="$SIZE" >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do grep -q '^READY' "$log" && break; sleep 0.1; done
segment=$(sed -n 's/^READY segment=\([^ ]*\).*/\1/p' "$log")
[ -n "$segment" ] || { cat "$log"; exit 1; }
alloc=$(sed -n 's/.*allocate_buffer_s=\([0-9.]*\).*/\1/p' "$log")

field() { sed -n "s/^RESULT .*$1=\([0-9.]*\).*/\1/p"; }
memcpy_gbps() {
  "$BIN/transfer_engine_bench" --mode=memcpy --block_size="$1" --batch_size="$BATCH" \
    --buffer_size="$SIZE" --duration="$DURATION" | field throughput_GBps
}
te() {  # op block -> "GBps alloc_s"
  local out
  out=$("$BIN/transfer_engine_bench" --mode=initiator --protocol=shm --segment_id="$segment" \
    --operation="$1" --block_size="$2" --batch_size="$BATCH" --buffer_size="$SIZE" \
    --duration="$DURATION")
  echo "$(echo "$out" | field throughput_GBps) $(echo "$out" | field allocate_buffer_s)"
}

printf "%-9s %-6s %12s %12s %8s\n" block op "memcpy GB/s" "shm GB/s" ratio
summary=""
init_alloc=""
for size in 4096 65536 1048576; do
  anchor=$(memcpy_gbps "$size")
  summary+=" memcpy_${size}_GBps=$anchor"
  for op in read write; do
    read -r ours a <<<"$(te "$op" "$size")"
    init_alloc="$a"
    ratio=$(python3 -c "print('%.2f' % ($ours / $anchor if $anchor > 0 else 0))")
    printf "%-9s %-6s %12s %12s %8s\n" "$size" "$op" "$anchor" "$ours" "$ratio"
    summary+=" shm_${op}_${size}_GBps=$ours ratio_${op}_${size}=$ratio"
  done
done
echo "AllocateBuffer($SIZE, shared memfd, prefaulted): target ${alloc} s, initiator ${init_alloc} s"
echo "RESULT bench=te_shm_vs_memcpy duration_s=$DURATION batch_size=$BATCH buffer=$SIZE" \
  "allocate_buffer_shared_s=$alloc$summary"
