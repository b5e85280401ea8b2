#!/usr/bin/env bash
# Two emulated hosts for bench scripts (the shell counterpart of netns_topology.h).
#
#   netns.sh up PREFIX [RATE]   namespaces PREFIX-a and PREFIX-b joined by two veth pairs:
#                                 PREFIX-a mcnic1 10.250.1.1/24 <-> PREFIX-b mcnic1 10.250.1.2/24
#                                 PREFIX-a mcnic2 10.250.2.1/24 <-> PREFIX-b mcnic2 10.250.2.2/24
#                               every end shaped by `tc qdisc add ... root tbf rate RATE
#                               burst 256kb latency 50ms`; RATE defaults to 1gbit, "none" means
#                               unshaped. Already up (same addresses, same shaping): no change.
#                               A half-built leftover is removed and rebuilt. A failed `up`
#                               removes what it built.
#   netns.sh down PREFIX        kills every process inside the two namespaces and deletes them
#                               (with their veths). Nothing to delete is not an error.
#
# Run a command inside with `ip netns exec PREFIX-a CMD...`. PREFIX must start with "mc" (e.g.
# "mc$$": names "mc<pid>-a" of a script that gets killed are swept by the next NetnsTopology
# test once that pid is gone). Needs root and iproute2.
set -euo pipefail

readonly BURST=256kb
readonly LATENCY=50ms
readonly LINKS=(1 2)

die() {
  echo "netns.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 up PREFIX [RATE|none] | down PREFIX" >&2
  exit 2
}

check_prefix() {
  [[ "$1" =~ ^mc[A-Za-z0-9_]{0,24}$ ]] || die "PREFIX '$1' must match mc[A-Za-z0-9_]{0,24}"
}

ns_exists() {
  ip netns list | awk '{print $1}' | grep -qxF "$1"
}

# Kills what runs inside namespace $1 (bounded rounds), then deletes it. Absent: nothing to do.
remove_ns() {
  local ns=$1 pids
  ns_exists "$ns" || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086  # one pid per word
    kill -9 $pids 2>/dev/null || true
    sleep 0.05
  done
  ip netns delete "$ns"
}

down() {
  local prefix=$1
  remove_ns "$prefix-a"
  remove_ns "$prefix-b"
}

# True when both namespaces exist with both links addressed, up and shaped as asked.
is_up() {
  local prefix=$1 rate=$2 i side ns addr qdisc
  for side in a b; do
    ns_exists "$prefix-$side" || return 1
  done
  for i in "${LINKS[@]}"; do
    for side in a b; do
      ns=$prefix-$side
      if [ "$side" = a ]; then addr=10.250.$i.1/24; else addr=10.250.$i.2/24; fi
      ip -n "$ns" -4 -o addr show dev "mcnic$i" up 2>/dev/null | grep -qF " $addr " || return 1
      qdisc=$(tc -n "$ns" qdisc show dev "mcnic$i" 2>/dev/null) || return 1
      if [ "$rate" = none ]; then
        [[ "$qdisc" != *tbf* ]] || return 1
      else
        [[ "$qdisc" == *tbf* ]] || return 1
      fi
    done
  done
}

# EXIT trap of `up`: a non-zero exit removes the half-built namespaces. Reads the global
# UP_PREFIX because the trap may run outside up's scope.
# shellcheck disable=SC2317  # Invoked by the trap.
on_up_exit() {
  local rc=$?
  trap - EXIT
  if [ "$rc" -ne 0 ]; then
    echo "netns.sh: up $UP_PREFIX failed; removing it" >&2
    down "$UP_PREFIX" || true
  fi
  exit "$rc"
}

up() {
  local prefix=$1 rate=$2 i
  if is_up "$prefix" "$rate"; then
    echo "netns.sh: $prefix-a <-> $prefix-b already up"
    return 0
  fi
  down "$prefix"  # A half-built leftover.
  # From here on, any failure (or signal) removes what was built.
  UP_PREFIX=$prefix
  trap on_up_exit EXIT
  trap 'exit 130' INT TERM
  ip netns add "$prefix-a"
  ip netns add "$prefix-b"
  ip -n "$prefix-a" link set lo up
  ip -n "$prefix-b" link set lo up
  for i in "${LINKS[@]}"; do
    # Created directly inside the namespaces: the names never appear in the root namespace.
    ip link add "mcnic$i" netns "$prefix-a" type veth peer name "mcnic$i" netns "$prefix-b"
    ip -n "$prefix-a" addr add "10.250.$i.1/24" dev "mcnic$i"
    ip -n "$prefix-b" addr add "10.250.$i.2/24" dev "mcnic$i"
    ip -n "$prefix-a" link set dev "mcnic$i" up
    ip -n "$prefix-b" link set dev "mcnic$i" up
    if [ "$rate" != none ]; then
      tc -n "$prefix-a" qdisc add dev "mcnic$i" root tbf rate "$rate" burst $BURST latency $LATENCY
      tc -n "$prefix-b" qdisc add dev "mcnic$i" root tbf rate "$rate" burst $BURST latency $LATENCY
    fi
  done
  trap - EXIT INT TERM
  echo "netns.sh: up $prefix-a (10.250.1.1, 10.250.2.1) <-> $prefix-b (10.250.1.2, 10.250.2.2)," \
    "rate ${rate} per link"
}

main() {
  [ $# -ge 2 ] || usage
  local cmd=$1 prefix=$2
  check_prefix "$prefix"
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
  if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
    die "iproute2 (ip, tc) is not installed"
  fi
  case "$cmd" in
    up)
      [ $# -le 3 ] || usage
      up "$prefix" "${3:-1gbit}"
      ;;
    down)
      [ $# -eq 2 ] || usage
      down "$prefix"
      ;;
    *) usage ;;
  esac
}

main "$@"
