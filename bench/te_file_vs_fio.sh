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
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-3}"
SIZE="${MC_BENCH_FILE_SIZE:-1GiB}"
BLOCK="${MC_BENCH_BLOCK:-1048576}"
DEPTH="${MC_BENCH_DEPTH:-16}"
mc_need_bins "$BIN" transfer_engine_bench
mc_need_tools fio

WORK="${2:-}"
if [ -z "$WORK" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc_file_bench.XXXXXX")
  mc_track_path "$WORK"
fi
mc_track_path "$WORK"/{fio,local,remote}.bin "$WORK"/{target,mem_target}.log
fs=$(df -T "$WORK" | awk 'NR==2 {print $2}')
bytes=$(mc_bytes "$SIZE")

fio_gbps() {  # rw -> GB/s
  fio --name=mc --filename="$WORK/fio.bin" --size="$bytes" --rw="$1" --bs="$BLOCK" --direct=1 \
    --ioengine=io_uring --iodepth="$DEPTH" --time_based --runtime="$DURATION" \
    --output-format=json 2>/dev/null |
    python3 -c "import json,sys; j=json.load(sys.stdin)['jobs'][0]; \
print('%.3f' % (j['$2']['bw_bytes'] / 1e9))"
}
te() {  # extra args... -> GB/s
  "$BIN/transfer_engine_bench" --mode=initiator --block_size="$BLOCK" --batch_size="$DEPTH" \
    --buffer_size="$SIZE" --duration="$DURATION" "$@" | mc_result_field - throughput_GBps
}
min() { python3 -c "print(min($1, $2))"; }

# Lay the fio file out first so its reads hit allocated blocks, as ours do.
fio --name=prep --filename="$WORK/fio.bin" --size="$bytes" --rw=write --bs=4M --direct=1 \
  --ioengine=psync >/dev/null 2>&1

mc_start_target "$WORK/target.log" --buffer_size="$SIZE" --target_file="$WORK/remote.bin"
segment=$MC_SEGMENT
mc_start_target "$WORK/mem_target.log" --buffer_size="$SIZE"
mem_segment=$MC_SEGMENT

echo "filesystem: $fs at $WORK; file $SIZE, block $BLOCK, depth/batch $DEPTH, ${DURATION}s per run"
printf "%-6s %10s %10s %8s %12s %12s %8s\n" op "fio GB/s" "local" "ratio" "remote tcp" "tcp memory" ratio
summary=""
for op in read write; do
  anchor=$(fio_gbps "$op" "$op")
  local_gbps=$(te --operation="$op" --target_file="$WORK/local.bin")
  remote=$(te --operation="$op" --protocol=tcp --segment_id="$segment" --target_file=remote)
  tcp_mem=$(te --operation="$op" --protocol=tcp --segment_id="$mem_segment")
  r_local=$(mc_ratio "$local_gbps" "$anchor")
  r_remote=$(mc_ratio "$remote" "$(min "$anchor" "$tcp_mem")")
  printf "%-6s %10s %10s %8s %12s %12s %8s\n" "$op" "$anchor" "$local_gbps" "$r_local" \
    "$remote" "$tcp_mem" "$r_remote"
  summary+=" fio_${op}_GBps=$anchor local_${op}_GBps=$local_gbps ratio_local_${op}=$r_local"
  summary+=" remote_${op}_GBps=$remote tcp_memory_${op}_GBps=$tcp_mem ratio_remote_${op}=$r_remote"
done
echo "RESULT bench=te_file_vs_fio fs=$fs size=$SIZE block=$BLOCK depth=$DEPTH$summary"
