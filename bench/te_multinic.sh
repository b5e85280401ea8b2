#!/usr/bin/env bash
# Multi-NIC aggregation on emulated hosts: two network namespaces joined by two veth links,
# each shaped to 1 Gbit/s (tbf, burst 256kb, latency 50ms). In the same run: iperf3 with two
# streams, each bound to one link (the anchor), then transfer_engine_bench with --nics over both
# links (1 submitting thread, 1 MiB blocks). Prints both aggregates and the ratio.
# Needs root. Usage: bench/te_multinic.sh [duration_s] [read|write]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=$(mc_bin_dir)
DURATION="${1:-5}"
OP="${2:-read}"
PREFIX="mc$$"
mc_need_bins "$BIN" transfer_engine_bench
[ "$(id -u)" -eq 0 ] || { echo "te_multinic: needs root for network namespaces"; exit 1; }

work=$(mktemp -d /tmp/mc_multinic.XXXXXX)
mc_track_path "$work"
mc_on_exit "tests/netns/netns.sh down $PREFIX >/dev/null 2>&1 || true"
tests/netns/netns.sh up "$PREFIX" 1gbit >/dev/null
A="ip netns exec $PREFIX-a"
B="ip netns exec $PREFIX-b"

# Anchor: two iperf3 streams, one per link, at the same time; sum of receiver rates (Gbit/s).
$B iperf3 -s -p 5201 -B 10.250.1.2 -1 >/dev/null 2>&1 &
$B iperf3 -s -p 5202 -B 10.250.2.2 -1 >/dev/null 2>&1 &
sleep 0.5
$A iperf3 -c 10.250.1.2 -p 5201 -B 10.250.1.1 -t "$DURATION" -J >"$work/1.json" 2>/dev/null &
p1=$!
$A iperf3 -c 10.250.2.2 -p 5202 -B 10.250.2.1 -t "$DURATION" -J >"$work/2.json" 2>/dev/null &
p2=$!
wait $p1 $p2
anchor=$(python3 -c "
import json
t = sum(json.load(open(f))['end']['sum_received']['bits_per_second'] for f in ['$work/1.json', '$work/2.json'])
print('%.3f' % (t / 1e9))")

log=$work/target.log
$B "$BIN/transfer_engine_bench" --mode=target --local_server_name=10.250.1.2:12345 \
  --nics=10.250.1.2,10.250.2.2 --buffer_size=1GiB >"$log" 2>&1 &
mc_track $!
mc_wait_ready "$log" $!
out=$($A "$BIN/transfer_engine_bench" --mode=initiator --segment_id=10.250.1.2:12345 \
  --nics=10.250.1.1,10.250.2.1 --operation="$OP" --block_size=1048576 --batch_size=128 \
  --duration="$DURATION")
echo "$out" | grep -E '^(Test completed|RESULT)'
gbps=$(mc_result_field "$out" throughput_GBps)
ours=$(python3 -c "print('%.3f' % ($gbps * 8))")
ratio=$(mc_ratio "$ours" "$anchor")
printf "%-34s %8s Gbit/s\n" "iperf3, 2 streams (one per link)" "$anchor" "TE --nics (both links), $OP" "$ours"
echo "ratio TE / iperf3: $ratio"
echo "RESULT bench=te_multinic operation=$OP duration_s=$DURATION iperf3_2streams_Gbps=$anchor te_Gbps=$ours ratio=$ratio"
