# shellcheck shell=bash
# The helpers every script in scripts/ and bench/ shares: free ports, bounded waits for a
# process's READY line, a cleanup registry (child processes, temp paths, exit hooks), RESULT-line
# parsing, ratios, Transfer Engine targets and a loopback cluster (mooncake_master + N
# mooncake_node). scripts/lib_test.sh tests it.
#
# Source it right after `set -euo pipefail`:
#   cd "$(dirname "$0")/.."; source scripts/lib.sh        (scripts that run from the root)
#   source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"   (from anywhere)
# Sourcing installs an EXIT trap (and INT/TERM/HUP → exit 130/143/129) that runs mc_cleanup and
# keeps the script's exit status. A script sets no EXIT trap of its own: it registers extra
# steps with mc_on_exit.
#
# Functions return non-zero on failure and say why on stderr, prefixed with $MC_TAG (the
# script's name); under `set -e` a plain call stops the script. Inside $(...) bash clears -e,
# so write `|| exit 1` there. Registering (mc_track, mc_track_path, mc_on_exit, mc_start_target,
# mc_start_cluster) works only in the script's own shell, never inside $(...) or a pipeline.

MC_TAG=$(basename "$0" .sh)
MC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
MC_PIDS=()          # tracked child processes (mc_track)
MC_PATHS=()         # tracked files and directories (mc_track_path)
MC_HOOKS=()         # exit hooks (mc_on_exit)
MC_CLUSTER_PIDS=()  # the running cluster: master first, then node 1..N (mc_start_cluster)
MC_CLUSTER_STOP_SIGNAL=TERM  # mc_stop_cluster's default signal, also at exit
MC_STOP_TIMEOUT_S=${MC_STOP_TIMEOUT_S:-10}

# mc_die MSG...: prints "TAG: MSG" on stderr and exits 1.
mc_die() {
  echo "$MC_TAG: $*" >&2
  exit 1
}

# ---- binaries ----

# mc_bin_dir: prints the directory of our binaries: $MC_BIN_DIR, else $MC_BIN (older name),
# else this checkout's build/bin (relative when the current directory is the checkout's root,
# so that the commands a script prints read as in the README).
mc_bin_dir() {
  if [ -n "${MC_BIN_DIR:-}" ]; then
    echo "$MC_BIN_DIR"
  elif [ -n "${MC_BIN:-}" ]; then
    echo "$MC_BIN"
  elif [ "$(pwd -P)" = "$MC_ROOT" ]; then
    echo build/bin
  else
    echo "$MC_ROOT/build/bin"
  fi
}

# mc_need_bins DIR NAME...: returns 0 when every DIR/NAME is executable; else says which one is
# missing and how to build it, and returns 1.
mc_need_bins() {
  local dir=$1 b
  shift
  for b in "$@"; do
    if [ ! -x "$dir/$b" ]; then
      echo "$MC_TAG: $dir/$b missing: build first (scripts/quickstart.sh)" >&2
      return 1
    fi
  done
}

# mc_need_tools CMD...: returns 0 when every CMD is on PATH; else names the missing one and
# returns 1.
mc_need_tools() {
  local c
  for c in "$@"; do
    if ! command -v "$c" >/dev/null; then
      echo "$MC_TAG: $c missing (scripts/install-deps.sh)" >&2
      return 1
    fi
  done
}

# ---- ports ----

# mc_free_port: prints a TCP port that was free on 127.0.0.1 a moment ago.
mc_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# mc_port_or_free PORT: prints PORT when it can be bound on every address, else a free port
# (so the usual ports, and the README's commands, work whenever they can).
mc_port_or_free() {
  if python3 -c 'import socket,sys; s=socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0",int(sys.argv[1])))' \
      "$1" 2>/dev/null; then
    echo "$1"
  else
    mc_free_port
  fi
}

# mc_port_open PORT: returns 0 when something accepts TCP connections on 127.0.0.1:PORT.
mc_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---- waiting (every wait is bounded) ----

# mc__alive PID: true while PID runs (a zombie, dead but not yet reaped, counts as gone).
mc__alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

# mc_wait_line LOG PREFIX [PID] [TIMEOUT_S]: returns 0 once LOG has a line starting with PREFIX.
# Returns 1 — after printing LOG and a message naming the process (LOG's name without .log) on
# stderr — when PID (if given) exits without that line, or after TIMEOUT_S seconds (default 30).
mc_wait_line() {
  local log=$1 prefix=$2 pid=${3:-} timeout=${4:-30} name deadline why
  name=$(basename "$log" .log)
  deadline=$((SECONDS + timeout))
  while :; do
    grep -qs "^$prefix" "$log" && return 0
    if [ -n "$pid" ] && ! mc__alive "$pid"; then
      grep -qs "^$prefix" "$log" && return 0  # printed just before exiting
      why="exited before printing $prefix"
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      why="printed no $prefix line in $timeout s"
      break
    fi
    sleep 0.05
  done
  { echo "--- $log"; cat "$log" 2>/dev/null
    echo "$MC_TAG: $name${pid:+ (pid $pid)} $why"; } >&2
  return 1
}

# mc_wait_ready LOG PID [TIMEOUT_S]: mc_wait_line LOG READY PID TIMEOUT_S (default 30 s).
mc_wait_ready() {
  mc_wait_line "$1" READY "$2" "${3:-30}"
}

# mc_wait_for TIMEOUT_S WHAT CMD...: runs CMD every 0.1 s until it succeeds (returns 0); after
# TIMEOUT_S seconds says "WHAT not ready" and returns 1.
mc_wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$MC_TAG: $what not ready after $timeout s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# ---- parsing and arithmetic ----

# mc_ready_field LOG FIELD: prints the value of FIELD=… on LOG's first READY line (nothing when
# absent), e.g. `mc_ready_field target.log segment`.
mc_ready_field() {
  awk -v k="$2" '$1 == "READY" {
    for (i = 2; i <= NF; i++) {
      p = index($i, "=")
      if (p && substr($i, 1, p - 1) == k) { print substr($i, p + 1); exit }
    }
    exit }' "$1" 2>/dev/null || true
}

# mc_result_field TEXT_OR_FILE KEY: prints the value of KEY=… on the last `RESULT key=value …`
# line that has KEY (nothing when none does). The first argument is read as a file when it names
# one (and holds neither a newline nor starts with RESULT), as text otherwise; "-" reads stdin.
mc_result_field() {
  local src=$1 key=$2
  if [ "$src" = - ]; then
    cat
  elif [[ "$src" != *$'\n'* && "$src" != RESULT* && -f "$src" ]]; then
    cat -- "$src"
  else
    printf '%s\n' "$src"
  fi | awk -v k="$key" '$1 == "RESULT" {
    for (i = 2; i <= NF; i++) {
      p = index($i, "=")
      if (p && substr($i, 1, p - 1) == k) { v = substr($i, p + 1); found = 1 }
    } }
    END { if (found) print v }'
}

# mc_ratio A B [DECIMALS]: prints A / B with DECIMALS (default 2) decimals, or "n/a" when B is
# empty or 0 or either is not a number.
mc_ratio() {
  awk -v a="${1:-}" -v b="${2:-}" -v d="${3:-2}" 'BEGIN {
    num = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
    if (a !~ num || b !~ num || b + 0 == 0) { print "n/a"; exit }
    printf("%." d "f\n", a / b) }'
}

# mc_median N...: prints the median of the numbers (the lower one of the two middle ones).
mc_median() {
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# mc_bytes SIZE: prints SIZE in bytes; SIZE is a number with an optional unit, powers of 1024
# (B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB; any case). Returns 1 on anything else.
mc_bytes() {
  local text=${1// /} n unit
  [[ "$text" =~ ^([0-9]+)([A-Za-z]*)$ ]] || { echo "$MC_TAG: bad size '$1'" >&2; return 1; }
  n=${BASH_REMATCH[1]}
  unit=${BASH_REMATCH[2],,}
  case "$unit" in
    ''|b) echo "$n" ;;
    k|kb|kib) echo $((n << 10)) ;;
    m|mb|mib) echo $((n << 20)) ;;
    g|gb|gib) echo $((n << 30)) ;;
    t|tb|tib) echo $((n << 40)) ;;
    *) echo "$MC_TAG: bad size unit in '$1'" >&2; return 1 ;;
  esac
}

# ---- cleanup registry ----

# mc_track PID...: mc_cleanup stops these processes (children of this shell, started with &).
mc_track() {
  MC_PIDS+=("$@")
}

# mc_untrack PID...: forgets these processes (they were stopped, or must outlive the script).
mc_untrack() {
  local p q keep=()
  for p in "${MC_PIDS[@]}"; do
    for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
    keep+=("$p")
  done
  MC_PIDS=("${keep[@]}")
}

# mc_track_path PATH...: mc_cleanup removes these files or directories (rm -rf).
mc_track_path() {
  MC_PATHS+=("$@")
}

# mc_on_exit CMD: mc_cleanup evals CMD (a string) after it stopped the tracked processes and
# before it removes the tracked paths; hooks run last registered first. $MC_EXIT_RC holds the
# script's exit status while they run.
mc_on_exit() {
  MC_HOOKS+=("$1")
}

# mc_release: forgets every tracked process, path and hook: they outlive the script (--keep).
mc_release() {
  MC_PIDS=()
  MC_PATHS=()
  MC_HOOKS=()
}

# mc_stop [-s SIGNAL] PID...: sends SIGNAL (default TERM) to those PIDs that are still running
# children of this shell, waits up to $MC_STOP_TIMEOUT_S (10) seconds for them, SIGKILLs (and
# names) any left, reaps them all and untracks them. Always returns 0.
mc_stop() {
  local sig=TERM p live=() deadline
  if [ "${1:-}" = -s ]; then sig=$2; shift 2; fi
  for p in "$@"; do
    # Only our own children: a pid that exited long ago may name someone else's process now.
    if mc__alive "$p" && [ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$BASHPID" ]; then
      live+=("$p")
    fi
  done
  # No command between a SIGKILL and its `wait`: bash reports a job killed by a signal other
  # than INT/TERM/PIPE ("... Killed ...") once any command ran before a `wait` collected it.
  for p in "${live[@]}"; do kill -s "$sig" "$p" 2>/dev/null || true; done
  if [ "$sig" != KILL ] && [ "$sig" != 9 ]; then
    deadline=$((SECONDS + MC_STOP_TIMEOUT_S))
    for p in "${live[@]}"; do
      while mc__alive "$p" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
      if mc__alive "$p"; then
        echo "$MC_TAG: pid $p still running ${MC_STOP_TIMEOUT_S} s after SIG$sig: killing it" >&2
        kill -s KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
      fi
    done
  fi
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
  if [ $# -gt 0 ]; then mc_untrack "$@"; fi
  return 0
}

# mc_cleanup: stops the cluster (mc_stop_cluster), then every other tracked process, last
# started first (mc_stop); runs the exit hooks, last registered first; removes every tracked
# path; then forgets them all. Safe to call more than once.
mc_cleanup() {
  local i
  mc_stop_cluster
  for ((i = ${#MC_PIDS[@]} - 1; i >= 0; i--)); do
    mc_stop "${MC_PIDS[i]}"
  done
  for ((i = ${#MC_HOOKS[@]} - 1; i >= 0; i--)); do
    eval "${MC_HOOKS[i]}" || true
  done
  if [ ${#MC_PATHS[@]} -gt 0 ]; then rm -rf -- "${MC_PATHS[@]}"; fi
  mc_release
}

# The EXIT trap: mc_cleanup, keeping the script's exit status. A second Ctrl-C must not cut the
# cleanup short (it is bounded: mc_stop waits at most MC_STOP_TIMEOUT_S).
mc_on_exit_trap() {
  MC_EXIT_RC=$?
  trap - EXIT
  trap '' INT TERM HUP
  set +e
  mc_cleanup
  exit "$MC_EXIT_RC"
}
MC_EXIT_RC=0
trap mc_on_exit_trap EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- Anchors ----

# mc_start_redis DIR: starts a throwaway redis-server (no persistence) on a free loopback port,
# logging to DIR/redis.log, tracks it and waits (10 s) until it answers PING. Sets REDIS_PORT.
# Returns 1 when it does not come up.
mc_start_redis() {
  local dir=$1
  REDIS_PORT=$(mc_free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >"$dir/redis.log" 2>&1 &
  mc_track $!
  mc_wait_for 10 redis-server mc__redis_up || return 1
}
mc__redis_up() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

# ---- Transfer Engine targets and a loopback cluster ----

# mc_start_target LOG [FLAG...]: starts `transfer_engine_bench --mode=target
# --local_server_name=127.0.0.1:0 FLAG...` logging to LOG, tracks it and waits (60 s: a big
# buffer is prefaulted first) until it is READY. Sets MC_SEGMENT (the segment to name in an
# initiator's --segment_id). Returns 1 when it does not become READY.
mc_start_target() {
  local log=$1 bin
  shift
  bin=$(mc_bin_dir)
  rm -f "$log"
  "$bin/transfer_engine_bench" --mode=target --local_server_name=127.0.0.1:0 "$@" >"$log" 2>&1 &
  mc_track $!
  mc_wait_ready "$log" $! 60 || return 1
  # shellcheck disable=SC2034  # read by the scripts
  MC_SEGMENT=$(mc_ready_field "$log" segment)
}

# mc_start_cluster [-n NODES] [-d DIR] [-t TAG] [-p PORT] [-m METRICS_PORT] [MASTER_FLAG...]
#                  [-- NODE_FLAG...]
# Starts mooncake_master on 127.0.0.1:PORT (default a free port; METRICS_PORT default -1, no
# metrics server), then NODES (default 1) mooncake_node, each listening on a free loopback port,
# and waits until every one is READY. MASTER_FLAGs go to the master, NODE_FLAGs to every node;
# "{i}" in a node flag becomes the node's number (1..NODES). Logs: DIR/master[-TAG].log and
# DIR/node<i>[-TAG].log (removed first, so an old READY line cannot pass for a new one); DIR
# defaults to one fresh temp dir per script, removed on exit. Sets MC_MASTER (host:port),
# MC_MASTER_PORT, MC_METRICS_PORT, MC_CLUSTER_DIR and MC_CLUSTER_PIDS (master first); the
# processes are tracked. Returns 1 when one of them does not become READY.
mc_start_cluster() {
  local nodes=1 dir=${MC_CLUSTER_DIR:-} tag="" port="" mport=-1 bin i f log suffix
  local mflags=() nflags=() numbered=()
  while [ $# -gt 0 ]; do
    case "$1" in
      -n) nodes=$2; shift 2 ;;
      -d) dir=$2; shift 2 ;;
      -t) tag=$2; shift 2 ;;
      -p) port=$2; shift 2 ;;
      -m) mport=$2; shift 2 ;;
      *) break ;;
    esac
  done
  while [ $# -gt 0 ] && [ "$1" != -- ]; do mflags+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  nflags=("$@")
  if [ ${#MC_CLUSTER_PIDS[@]} -gt 0 ]; then
    echo "$MC_TAG: a cluster runs already (mc_stop_cluster first)" >&2
    return 1
  fi
  bin=$(mc_bin_dir)
  mc_need_bins "$bin" mooncake_master mooncake_node || return 1
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/mc_cluster.XXXXXX")
    mc_track_path "$dir"
  fi
  [ -n "$port" ] || port=$(mc_free_port)
  suffix=${tag:+-$tag}
  # shellcheck disable=SC2034  # read by the scripts
  MC_CLUSTER_DIR=$dir MC_MASTER_PORT=$port MC_METRICS_PORT=$mport
  MC_MASTER=127.0.0.1:$port

  log="$dir/master$suffix.log"
  rm -f "$log"
  "$bin/mooncake_master" --host=127.0.0.1 --port="$port" --metrics_port="$mport" "${mflags[@]}" \
    >"$log" 2>&1 &
  MC_CLUSTER_PIDS=($!)
  mc_track $!
  mc_wait_ready "$log" $! || return 1
  for i in $(seq 1 "$nodes"); do
    log="$dir/node$i$suffix.log"
    rm -f "$log"
    numbered=()
    for f in "${nflags[@]}"; do numbered+=("${f//\{i\}/$i}"); done
    "$bin/mooncake_node" --master="$MC_MASTER" --listen=127.0.0.1:"$(mc_free_port)" \
      "${numbered[@]}" >"$log" 2>&1 &
    MC_CLUSTER_PIDS+=($!)
    mc_track $!
  done
  for i in $(seq 1 "$nodes"); do
    mc_wait_ready "$dir/node$i$suffix.log" "${MC_CLUSTER_PIDS[i]}" || return 1
  done
}

# mc_stop_cluster [SIGNAL]: stops the cluster of mc_start_cluster, if one runs: the nodes, then
# the master (a node that stops after its master waits out its whole drain timeout), each with
# mc_stop -s SIGNAL (default $MC_CLUSTER_STOP_SIGNAL, TERM: the nodes drain; KILL loses every
# object at once, as a crash would). Always returns 0.
# shellcheck disable=SC2120  # SIGNAL is optional
mc_stop_cluster() {
  local sig=${1:-$MC_CLUSTER_STOP_SIGNAL}
  if [ ${#MC_CLUSTER_PIDS[@]} -gt 1 ]; then mc_stop -s "$sig" "${MC_CLUSTER_PIDS[@]:1}"; fi
  if [ ${#MC_CLUSTER_PIDS[@]} -gt 0 ]; then mc_stop -s "$sig" "${MC_CLUSTER_PIDS[0]}"; fi
  MC_CLUSTER_PIDS=()
}
