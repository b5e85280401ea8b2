#!/usr/bin/env bash
# Self-test of scripts/lib.sh: ports, ratios, RESULT/READY parsing, sizes, bounded waits (a
# process that prints READY, one that dies without it — which must fail fast —, one that never
# says anything), the cleanup registry (tracked processes stopped, also one that ignores SIGTERM,
# paths removed, hooks run, the exit status kept, on a plain exit and on SIGINT), --keep's
# mc_release, and — when the binaries are built — a one-node mc_start_cluster / mc_stop_cluster.
# Usage: scripts/lib_test.sh   (binaries from build/bin, or $MC_BIN_DIR; exit 0 when all pass)
# shellcheck disable=SC2016  # eval '...' expands later, on purpose
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

failures=0
checks=0
ok() {  # ok NAME CMD...: CMD must succeed
  local name=$1
  shift
  checks=$((checks + 1))
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
eq() {  # eq NAME GOT WANT
  checks=$((checks + 1))
  if [ "$2" = "$3" ]; then
    echo "ok   $1"
  else
    echo "FAIL $1: got '$2', want '$3'"
    failures=$((failures + 1))
  fi
}
gone() { ! kill -0 "$1" 2>/dev/null; }

work=$(mktemp -d /tmp/mc_lib_test.XXXXXX)
mc_track_path "$work"

# ---- ports ----
port=$(mc_free_port)
ok "mc_free_port gives a port" test "$port" -gt 0 -a "$port" -lt 65536
ok "mc_free_port's port binds" \
  python3 -c "import socket; socket.socket().bind(('127.0.0.1', $port))"
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("0.0.0.0",int(sys.argv[1])))
s.listen(); time.sleep(30)' "$port" &
holder=$!
mc_track "$holder"
mc_wait_for 5 "port holder" mc_port_open "$port"
ok "mc_port_open sees a listener" mc_port_open "$port"
other=$(mc_port_or_free "$port")
ok "mc_port_or_free skips a busy port" test "$other" != "$port"
mc_stop "$holder"
ok "mc_stop stopped the port holder" gone "$holder"
eq "mc_port_or_free keeps a free port" "$(mc_port_or_free "$port")" "$port"

# ---- arithmetic and parsing ----
eq "mc_ratio 3 2" "$(mc_ratio 3 2)" 1.50
eq "mc_ratio 1 3 3" "$(mc_ratio 1 3 3)" 0.333
eq "mc_ratio 1.5 0.5" "$(mc_ratio 1.5 0.5)" 3.00
eq "mc_ratio by zero" "$(mc_ratio 1 0)" n/a
eq "mc_ratio by 0.000" "$(mc_ratio 1 0.000)" n/a
eq "mc_ratio by empty" "$(mc_ratio 1 "")" n/a
eq "mc_ratio of empty" "$(mc_ratio "" 2)" n/a
eq "mc_median odd" "$(mc_median 3 1 2)" 2
eq "mc_median even" "$(mc_median 4 1 3 2)" 2
eq "mc_bytes 64MiB" "$(mc_bytes 64MiB)" 67108864
eq "mc_bytes 1g" "$(mc_bytes 1g)" 1073741824
eq "mc_bytes 300000" "$(mc_bytes 300000)" 300000
ok "mc_bytes refuses 1XB" eval '! mc_bytes 1XB 2>/dev/null'

out=$'some line\nRESULT bench=x xthroughput_GBps=9 throughput_GBps=1.25 p50_us=3\n'
out+=$'RESULT bench=y throughput_GBps=2.5'
eq "mc_result_field: last RESULT line with the key" "$(mc_result_field "$out" throughput_GBps)" 2.5
eq "mc_result_field: exact key" "$(mc_result_field "$out" p50_us)" 3
eq "mc_result_field: absent key" "$(mc_result_field "$out" nope)" ""
eq "mc_result_field: one line" "$(mc_result_field "RESULT a=1 b=x/y" b)" x/y
printf '%s\n' "$out" >"$work/result.txt"
eq "mc_result_field: from a file" "$(mc_result_field "$work/result.txt" bench)" y
eq "mc_result_field: from stdin" "$(mc_result_field - xthroughput_GBps <"$work/result.txt")" 9
printf 'starting\nREADY node=127.0.0.1:5 segment=seg-1 size=10\nREADY node=other\n' \
  >"$work/ready.log"
eq "mc_ready_field node" "$(mc_ready_field "$work/ready.log" node)" 127.0.0.1:5
eq "mc_ready_field segment" "$(mc_ready_field "$work/ready.log" segment)" seg-1
eq "mc_ready_field absent" "$(mc_ready_field "$work/ready.log" epoch)" ""
eq "mc_ready_field no log" "$(mc_ready_field "$work/none.log" node)" ""

# ---- bounded waits ----
(sleep 0.3; echo "READY segment=abc"; exec sleep 30) >"$work/good.log" 2>&1 &
good=$!
mc_track "$good"
ok "mc_wait_ready: a process that prints READY" mc_wait_ready "$work/good.log" "$good" 10
eq "mc_wait_ready: its field" "$(mc_ready_field "$work/good.log" segment)" abc

(echo "error: no such flag"; exit 3) >"$work/dies.log" 2>&1 &
dies=$!
t0=$SECONDS
ok "mc_wait_ready: a process that dies without READY fails" \
  eval '! mc_wait_ready "$work/dies.log" "$dies" 20 2>"$work/dies.err"'
ok "mc_wait_ready: ... fast (well under its 20 s)" test $((SECONDS - t0)) -le 3
ok "mc_wait_ready: ... and shows the log" grep -q "no such flag" "$work/dies.err"
ok "mc_wait_ready: ... and names the process" \
  grep -q "dies (pid $dies) exited before printing READY" "$work/dies.err"

(echo "READY at last"; exit 0) >"$work/quick.log" 2>&1 &
quick=$!
sleep 0.3
ok "mc_wait_ready: READY printed just before exiting counts" \
  mc_wait_ready "$work/quick.log" "$quick" 5

sleep 30 >"$work/silent.log" 2>&1 &
silent=$!
mc_track "$silent"
t0=$SECONDS
ok "mc_wait_ready: a silent process times out" \
  eval '! mc_wait_ready "$work/silent.log" "$silent" 1 2>/dev/null'
ok "mc_wait_ready: ... after about its timeout" test $((SECONDS - t0)) -le 3
ok "mc_wait_for: false times out" eval '! mc_wait_for 1 never false 2>/dev/null'

# ---- cleanup registry (in child scripts, which exit) ----
cat >"$work/child.sh" <<'EOF'
set -euo pipefail
source "$1"
W=$2
mkdir -p "$W/dir"
mc_track_path "$W/dir"
sleep 60 & mc_track $!
echo $! >"$W/plain.pid"
(trap '' TERM; exec sleep 60) & mc_track $!   # ignores SIGTERM: needs the SIGKILL
echo $! >"$W/stubborn.pid"
mc_on_exit 'echo "first rc=$MC_EXIT_RC" >>"$W/hooks"'
mc_on_exit 'echo "second" >>"$W/hooks"; false'   # a failing hook stops nothing
case "$3" in
  exit) exit 3 ;;
  int) kill -INT $$; sleep 5 ;;
  keep) mc_release; exit 0 ;;
esac
EOF
for mode in exit int; do
  rm -f "$work/hooks"
  rc=0
  MC_STOP_TIMEOUT_S=1 bash "$work/child.sh" "$PWD/scripts/lib.sh" "$work" "$mode" \
    2>"$work/child.err" || rc=$?
  want=3; [ "$mode" = int ] && want=130
  eq "cleanup ($mode): exit status kept" "$rc" "$want"
  ok "cleanup ($mode): tracked process stopped" gone "$(cat "$work/plain.pid")"
  ok "cleanup ($mode): one ignoring SIGTERM killed" gone "$(cat "$work/stubborn.pid")"
  ok "cleanup ($mode): ... and named" \
    grep -q "pid $(cat "$work/stubborn.pid") still running" "$work/child.err"
  ok "cleanup ($mode): tracked dir removed" test ! -e "$work/dir"
  eq "cleanup ($mode): hooks, last registered first" "$(paste -sd, "$work/hooks")" \
    "second,first rc=$want"
done
rm -f "$work/hooks"
bash "$work/child.sh" "$PWD/scripts/lib.sh" "$work" keep
kept=$(cat "$work/plain.pid")
ok "mc_release: the process outlives the script" kill -0 "$kept"
ok "mc_release: so does the dir" test -d "$work/dir"
ok "mc_release: no hook ran" test ! -e "$work/hooks"
kill -9 "$kept" "$(cat "$work/stubborn.pid")" 2>/dev/null || true

# ---- a one-node cluster, when built ----
bin=$(mc_bin_dir)
if mc_need_bins "$bin" mooncake_master mooncake_node 2>/dev/null; then
  mc_start_cluster -d "$work" -t t -m "$(mc_free_port)" --log_level=warn -- --segment_size=64MiB \
    '--node_id=node{i}' --log_level=warn
  ok "mc_start_cluster: master READY" grep -q "^READY port=$MC_MASTER_PORT " "$work/master-t.log"
  eq "mc_start_cluster: MC_MASTER" "$MC_MASTER" "127.0.0.1:$MC_MASTER_PORT"
  eq "mc_start_cluster: {i} numbers the node" "$(mc_ready_field "$work/node1-t.log" node)" node1
  ok "mc_start_cluster: metrics served" mc_port_open "$MC_METRICS_PORT"
  pids=("${MC_CLUSTER_PIDS[@]}")
  mc_stop_cluster
  ok "mc_stop_cluster: master gone" gone "${pids[0]}"
  ok "mc_stop_cluster: node gone" gone "${pids[1]}"
  ok "mc_start_cluster: a failing node fails it" \
    eval '! mc_start_cluster -d "$work" -- --no_such_flag 2>/dev/null'
  mc_stop_cluster
else
  echo "skip mc_start_cluster: no binaries in $bin"
fi

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  mc_start_redis "$work"
  ok "mc_start_redis: answers PING" mc__redis_up
  ok "mc_start_redis: on loopback" mc_port_open "$REDIS_PORT"
else
  echo "skip mc_start_redis: no redis-server"
fi

echo "lib_test: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
