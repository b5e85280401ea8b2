#!/usr/bin/env bash
# File segments next to fio on the same filesystem, measured back to back in the same run:
#   fio          sequential O_DIRECT read/write, --bs=block, io_uring, --iodepth=depth
#   local        transfer_engine_bench reading/writing a file segment of its own engine
#                (straight to io_uring, O_DIRECT), batches of `depth` blocks
#   remote tcp   the same file segment served by a target process, read/written by an
#                initiator over TCP on loopback
#   tcp memory   the anchor for remote: the same initiator reading/writing the target's DRAM
# Ratios: local / fio, remote / min(fio, tcp memory).
# Usage: bench/te_file_vs_fio.sh [duration_s] [dir]   (uses build/bin, or MC_BIN=dir)
#   MC_BENCH_FILE_SIZE (default 1GiB), MC_BENCH_BLOCK (1048576), MC_BENCH_DEPTH (16).
#   dir defaults to a fresh directory under $TMPDIR or /tmp; it must be on the filesystem to
#   measure (not tmpfs, where O_DIRECT means nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MC_BIN:-build/bin}"
DURATION="${1:-3}"
SIZE="${MC_BENCH_FILE_SIZE:-1GiB}"
BLOCK="${MC_BENCH_BLOCK:-1048576}"
DEPTH="${MC_BENCH_DEPTH:-16}"
[ -x "$BIN/transfer_engine_bench" ] || { echo "build first: scripts/quickstart.sh"; exit 1; }
command -v fio >/dev/null || { echo "fio is missing: scripts/install-deps.sh"; exit 1; }

WORK="${2:-}"
own_dir=0
if [ -z "$WORK" ]; then WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc_file_bench.XXXXXX"); own_dir=1; fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -f "$WORK"/fio.bin "$WORK"/local.bin "$WORK"/remote.bin "$WORK"/*.log
  [ "$own_dir" = 1 ] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
fs=$(df -T "$WORK" | awk 'NR==2 {print $2}')
bytes=$(python3 -c "
import re,sys
m=re.fullmatch(r'(\d+)([KMG]i?B)?','$SIZE'); u={'KiB':1<<10,'MiB':1<<20,'GiB':1<<30,None:1}
print(int(m.group(1))*u.get(m.group(2),1))")

field() { sed -n "s/^RESULT .*$1=\([0-9.]*\).*/\1/p"; }
fio_gbps() {  # rw -> GB/s
  fio --name=mc --filename="$WORK/fio.bin" --size="$bytes" --rw="$1" --bs="$BLOCK" --direct=1 \
    --ioengine=io_uring --iodepth="$DEPTH" --time_based --runtime="$DURATION" \
    --output-format=json 2>/dev/null |
    python3 -c "import json,sys; j=json.load(sys.stdin)['jobs'][0]; \
print('%.3f' % (j['$2']['bw_bytes'] / 1e9))"
}
te() {  # extra args... -> GB/s
  "$BIN/transfer_engine_bench" --mode=initiator --block_size="$BLOCK" --batch_size="$DEPTH" \
    --buffer_size="$SIZE" --duration="$DURATION" "$@" | field throughput_GBps
}
ratio() { python3 -c "a,b=$1,$2; print('%.2f' % (a / b if b > 0 else 0))"; }
min() { python3 -c "print(min($1, $2))"; }

# Lay the fio file out first so its reads hit allocated blocks, as ours do.
fio --name=prep --filename="$WORK/fio.bin" --size="$bytes" --rw=write --bs=4M --direct=1 \
  --ioengine=psync >/dev/null 2>&1

log="$WORK/target.log"
"$BIN/transfer_engine_bench" --mode=target --local_server_name=127.0.0.1:0 \
  --buffer_size="$SIZE" --target_file="$WORK/remote.bin" >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do grep -q '^READY' "$log" && break; sleep 0.1; done
segment=$(sed -n 's/^READY segment=\([^ ]*\).*/\1/p' "$log")
[ -n "$segment" ] || { cat "$log"; exit 1; }
mem_log="$WORK/mem_target.log"
"$BIN/transfer_engine_bench" --mode=target --local_server_name=127.0.0.1:0 \
  --buffer_size="$SIZE" >"$mem_log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do grep -q '^READY' "$mem_log" && break; sleep 0.1; done
mem_segment=$(sed -n 's/^READY segment=\([^ ]*\).*/\1/p' "$mem_log")
[ -n "$mem_segment" ] || { cat "$mem_log"; exit 1; }

echo "filesystem: $fs at $WORK; file $SIZE, block $BLOCK, depth/batch $DEPTH, ${DURATION}s per run"
printf "%-6s %10s %10s %8s %12s %12s %8s\n" op "fio GB/s" "local" "ratio" "remote tcp" "tcp memory" ratio
summary=""
for op in read write; do
  anchor=$(fio_gbps "$op" "$op")
  local_gbps=$(te --operation="$op" --target_file="$WORK/local.bin")
  remote=$(te --operation="$op" --protocol=tcp --segment_id="$segment" --target_file=remote)
  tcp_mem=$(te --operation="$op" --protocol=tcp --segment_id="$mem_segment")
  r_local=$(ratio "$local_gbps" "$anchor")
  r_remote=$(ratio "$remote" "$(min "$anchor" "$tcp_mem")")
  printf "%-6s %10s %10s %8s %12s %12s %8s\n" "$op" "$anchor" "$local_gbps" "$r_local" \
    "$remote" "$tcp_mem" "$r_remote"
  summary+=" fio_${op}_GBps=$anchor local_${op}_GBps=$local_gbps ratio_local_${op}=$r_local"
  summary+=" remote_${op}_GBps=$remote tcp_memory_${op}_GBps=$tcp_mem ratio_remote_${op}=$r_remote"
done
echo "RESULT bench=te_file_vs_fio fs=$fs size=$SIZE block=$BLOCK depth=$DEPTH$summary"
