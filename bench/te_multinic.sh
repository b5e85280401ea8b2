#!/usr/bin/env bash
# Multi-NIC aggregation on emulated hosts: two network namespaces joined by two veth links,
# each shaped to 1 Gbit/s (tbf, burst 256kb, latency 50ms). In the same run: iperf3 with two
# streams, each bound to one link (the anchor), then transfer_engine_bench with --nics over both
# links (1 submitting thread, 1 MiB blocks). Prints both aggregates and the ratio.
# Needs root. Usage: bench/te_multinic.sh [duration_s] [read|write]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
DURATION="${1:-5}"
OP="${2:-read}"
PREFIX="mc$$"
[ -x "$BIN/transfer_engine_bench" ] || { echo "build first: scripts/quickstart.sh"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "te_multinic: needs root for network namespaces"; exit 1; }

target_pid=""
cleanup() {
  if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; fi
  tests/netns/netns.sh down "$PREFIX" >/dev/null 2>&1 || true
}
trap cleanup EXIT
tests/netns/netns.sh up "$PREFIX" 1gbit >/dev/null
A="ip netns exec $PREFIX-a"
B="ip netns exec $PREFIX-b"

# Anchor: two iperf3 streams, one per link, at the same time; sum of receiver rates (Gbit/s).
$B iperf3 -s -p 5201 -B 10.250.1.2 -1 >/dev/null 2>&1 &
$B iperf3 -s -p 5202 -B 10.250.2.2 -1 >/dev/null 2>&1 &
sleep 0.5
$A iperf3 -c 10.250.1.2 -p 5201 -B 10.250.1.1 -t "$DURATION" -J >/tmp/$PREFIX-1.json 2>/dev/null &
p1=$!
$A iperf3 -c 10.250.2.2 -p 5202 -B 10.250.2.1 -t "$DURATION" -J >/tmp/$PREFIX-2.json 2>/dev/null &
p2=$!
wait $p1 $p2
anchor=$(python3 -c "
import json
t = sum(json.load(open(f))['end']['sum_received']['bits_per_second'] for f in ['/tmp/$PREFIX-1.json', '/tmp/$PREFIX-2.json'])
print('%.3f' % (t / 1e9))")
rm -f /tmp/$PREFIX-1.json /tmp/$PREFIX-2.json

log=$(mktemp)
$B "$BIN/transfer_engine_bench" --mode=target --local_server_name=10.250.1.2:12345 \
  --nics=10.250.1.2,10.250.2.2 --buffer_size=1GiB >"$log" 2>&1 &
target_pid=$!
for _ in $(seq 1 100); do grep -q '^READY' "$log" && break; sleep 0.1; done
grep -q '^READY' "$log" || { cat "$log"; exit 1; }
out=$($A "$BIN/transfer_engine_bench" --mode=initiator --segment_id=10.250.1.2:12345 \
  --nics=10.250.1.1,10.250.2.1 --operation="$OP" --block_size=1048576 --batch_size=128 \
  --duration="$DURATION")
rm -f "$log"
echo "$out" | grep -E '^(Test completed|RESULT)'
gbps=$(echo "$out" | sed -n 's/^RESULT .*throughput_GBps=\([0-9.]*\).*/\1/p')
ours=$(python3 -c "print('%.3f' % ($gbps * 8))")
ratio=$(python3 -c "print('%.2f' % ($ours / $anchor if $anchor > 0 else 0))")
printf "%-34s %8s Gbit/s\n" "iperf3, 2 streams (one per link)" "$anchor" "TE --nics (both links), $OP" "$ours"
echo "ratio TE / iperf3: $ratio"
echo "RESULT bench=te_multinic operation=$OP duration_s=$DURATION iperf3_2streams_Gbps=$anchor te_Gbps=$ours ratio=$ratio"
