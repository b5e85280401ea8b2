#!/usr/bin/env bash
# P2P Store on emulated hosts: 1 seed + N peers, each a network namespace whose link to a
# bridge is shaped with `tc tbf` (both directions); the bridge lives in its own namespace and
# etcd in another, so nothing is added to the host's network. Addresses 10.250.0.0/16.
#
#   bench/p2p_bench.sh [--size 1GiB] [--peers 4] [--rate 1gbit] [--shard-size 8MiB]
#                      [--bin-dir build/bin]
#   (env P2P_FLAGS: extra mooncake_p2p flags for every process, e.g. "--seed_bias 4")
#
# One object of --size random bytes is registered on the seed; then, each from the same kind
# of start event (every process up and waiting, then one file appears that they all poll):
#   single: one peer alone fetches it (the anchor: one plain transfer over one link);
#   naive:  all peers at once, none serving (--no_serve: everything comes from the seed);
#   p2p:    all peers at once, each serving what it has verified.
# Times run from the start event to the last verified byte (wall clock; all namespaces share
# it). seed_share = bytes the peers read from the seed / all bytes they read, in the p2p run.
# Last line:
#   RESULT peers=N size=BYTES all_done_s=… single_s=… naive_s=… ratio_vs_single=… seed_share=…
# Needs root, iproute2, etcd (/usr/bin/etcd) and build/bin/mooncake_p2p. Cleans up everything
# (processes, namespaces, files), on failure and signals too. Exit 77 (skip) without root.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

SIZE=1GiB
PEERS=4
RATE=1gbit
SHARD_SIZE=8MiB
BIN_DIR=$(mc_bin_dir)
readonly TIMEOUT_S=600

usage() {
  sed -n '2,20p' "$0" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --shard-size) SHARD_SIZE=$2; shift 2 ;;
    --bin-dir) BIN_DIR=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "p2p_bench.sh: unknown argument $1" >&2; usage ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "p2p_bench.sh: SKIP: needs root (network namespaces)" >&2
  exit 77
fi
if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
  mc_die "iproute2 (ip, tc) is not installed"
fi
[ -x /usr/bin/etcd ] || mc_die "/usr/bin/etcd not found (apt-get install etcd-server)"
P2P=$BIN_DIR/mooncake_p2p
[ -x "$P2P" ] || mc_die "$P2P not found (build the mooncake_p2p target)"
if ! [[ "$PEERS" =~ ^[0-9]+$ ]] || [ "$PEERS" -lt 1 ] || [ "$PEERS" -gt 32 ]; then
  mc_die "--peers must be 1..32"
fi

# --size in bytes, with the project's size grammar (powers of 1024).
BYTES=$(mc_bytes "$SIZE") || exit 1
[ "$BYTES" -gt 0 ] || mc_die "--size must be > 0"

P=mc$$                 # namespace prefix: mc<pid>br (bridge), mc<pid>e (etcd), mc<pid>h<i>
BR=${P}br
WORK=$(mktemp -d /dev/shm/mc_p2p_bench.XXXXXX)
mc_track_path "$WORK"
HOSTS=()               # namespaces of the hosts (etcd, seed, peers)

# Kills what runs in the namespaces (bounded rounds), then deletes them.
remove_hosts() {
  local ns pids
  for ns in "${HOSTS[@]}" "$BR"; do
    ip netns list | awk '{print $1}' | grep -qxF "$ns" || continue
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -z "$pids" ] && break
      # shellcheck disable=SC2086  # one pid per word
      kill -9 $pids 2>/dev/null || true
      sleep 0.05
    done
    ip netns delete "$ns" 2>/dev/null || true
  done
}
mc_on_exit remove_hosts

# Host $1 (namespace) at 10.250.0.$2, linked to the bridge; shaped unless $3 = none.
add_host() {
  local ns=$1 octet=$2 rate=$3
  HOSTS+=("$ns")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add mceth0 netns "$ns" type veth peer name "mcp$octet" netns "$BR"
  ip -n "$ns" addr add "10.250.0.$octet/16" dev mceth0
  ip -n "$ns" link set mceth0 up
  ip -n "$BR" link set "mcp$octet" master mcbr0
  ip -n "$BR" link set "mcp$octet" up
  if [ "$rate" != none ]; then
    # Uplink (host egress) and downlink (bridge port egress towards the host).
    tc -n "$ns" qdisc add dev mceth0 root tbf rate "$rate" burst 256kb latency 50ms
    tc -n "$BR" qdisc add dev "mcp$octet" root tbf rate "$rate" burst 256kb latency 50ms
  fi
}

ip netns add "$BR"
HOSTS+=("$BR")
ip -n "$BR" link set lo up
ip -n "$BR" link add mcbr0 type bridge
ip -n "$BR" link set mcbr0 up
add_host "${P}e" 10 none
add_host "${P}h0" 11 "$RATE"
for i in $(seq 1 "$PEERS"); do add_host "${P}h$i" $((20 + i)) "$RATE"; done
echo "p2p_bench: seed + $PEERS peers on $RATE links, etcd unshaped; object $SIZE ($BYTES B)," \
  "shards of $SHARD_SIZE"

# etcd, in its own namespace.
ip netns exec "${P}e" /usr/bin/etcd --name=mc --data-dir="$WORK/etcd" \
  --listen-client-urls=http://10.250.0.10:2379 --advertise-client-urls=http://10.250.0.10:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=mc=http://127.0.0.1:2380 >"$WORK/etcd.log" 2>&1 &
disown  # killed by cleanup; no job-control notice
etcd_up() {
  ip netns exec "${P}h0" curl -fs --max-time 1 http://10.250.0.10:2379/health 2>/dev/null |
    grep -q '"health":"true"'
}
mc_wait_for 15 etcd etcd_up || mc_die "etcd did not start: $(tail -5 "$WORK/etcd.log")"
METADATA=etcd://10.250.0.10:2379

p2p() {  # p2p HOST_INDEX ARGS...: mooncake_p2p on host i
  local i=$1
  shift
  local octet=$((i == 0 ? 11 : 20 + i))
  # shellcheck disable=SC2086  # P2P_FLAGS: extra mooncake_p2p flags, one per word
  ip netns exec "${P}h$i" "$P2P" --metadata_server "$METADATA" --protocol tcp \
    --local_server_name "10.250.0.$octet:0" --lease_ttl 5 ${P2P_FLAGS:-} "$@"
}

head -c "$BYTES" /dev/urandom >"$WORK/object.bin"
p2p 0 register bench "$WORK/object.bin" --shard_size "$SHARD_SIZE" >"$WORK/seed.log" 2>&1 &
seed=$!
disown
mc_wait_ready "$WORK/seed.log" "$seed" "$TIMEOUT_S"

# run_phase NAME COUNT GET_FLAGS...: COUNT peers fetch at once from one start event; prints
# the time of the last DONE after the start, and leaves DONE lines in $WORK/NAME.<i>.log.
run_phase() {
  local name=$1 count=$2 i start end t last=0 pids=()
  shift 2
  for i in $(seq 1 "$count"); do
    p2p "$i" get bench "$WORK/out$i" --discard --start_file "$WORK/$name.start" "$@" \
      >"$WORK/$name.$i.log" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 1 "$count"); do
    mc_wait_ready "$WORK/$name.$i.log" "${pids[i - 1]}" "$TIMEOUT_S" || exit 1  # in $(...): no -e
  done
  start=$(date +%s.%N)
  touch "$WORK/$name.start"
  for i in $(seq 1 "$count"); do
    mc_wait_line "$WORK/$name.$i.log" DONE "${pids[i - 1]}" "$TIMEOUT_S" || exit 1
    end=$(grep '^DONE' "$WORK/$name.$i.log" | sed 's/.* end=\([0-9.]*\).*/\1/')
    t=$(awk -v e="$end" -v s="$start" 'BEGIN { printf "%.3f", e - s }')
    echo "  $name peer $i: ${t} s  $(grep '^DONE' "$WORK/$name.$i.log" | cut -d' ' -f7-)" >&2
    last=$(awk -v a="$last" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
  done
  # Peers started with --stay serve until told to stop; the others exit by themselves.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "$last"
}

echo "single: one peer alone" >&2
SINGLE=$(run_phase single 1)
echo "naive: $PEERS peers, all from the seed" >&2
NAIVE=$(run_phase naive "$PEERS" --no_serve)
echo "p2p: $PEERS peers serving each other" >&2
ALL=$(run_phase p2p "$PEERS" --stay)

FROM_SEEDS=0
FROM_PEERS=0
for i in $(seq 1 "$PEERS"); do
  line=$(grep '^DONE' "$WORK/p2p.$i.log")
  [[ "$line" =~ from_seeds=([0-9]+)\ from_peers=([0-9]+) ]] || mc_die "bad DONE line: $line"
  FROM_SEEDS=$((FROM_SEEDS + BASH_REMATCH[1]))
  FROM_PEERS=$((FROM_PEERS + BASH_REMATCH[2]))
done
RATIO=$(awk -v a="$ALL" -v s="$SINGLE" 'BEGIN { printf "%.2f", a / s }')
SHARE=$(awk -v a="$FROM_SEEDS" -v b="$FROM_PEERS" 'BEGIN { printf "%.3f", a / (a + b) }')
NAIVE_RATIO=$(awk -v a="$NAIVE" -v s="$SINGLE" 'BEGIN { printf "%.2f", a / s }')
echo "workload: $SIZE to $PEERS peers over $RATE links; anchor: one peer alone (single_s)"
echo "p2p all peers: ${ALL} s (${RATIO}x single); naive: ${NAIVE} s (${NAIVE_RATIO}x single);" \
  "seed served ${SHARE} of the bytes ($FROM_SEEDS from the seed, $FROM_PEERS from peers)"
echo "RESULT peers=$PEERS size=$BYTES all_done_s=$ALL single_s=$SINGLE naive_s=$NAIVE" \
  "ratio_vs_single=$RATIO seed_share=$SHARE"
