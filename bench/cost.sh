#!/bin/bash
# bench/cost.sh - what a delivery costs a broker, counted rather than timed.
#
# Throughput on a shared, noisy machine says more about the neighbours
# than about the broker. Two counts do not depend on them:
#   - user-space instructions per delivery: the broker runs under
#     valgrind's callgrind (for ternd only inside its event loop,
#     server_run, so start-up is not counted; for the other brokers the
#     whole process, which favours tern slightly less than nothing: their
#     start-up is a few million instructions against hundreds of
#     millions), while tern-bench drives it;
#   - system calls per delivery, by kind (epoll_ctl, writes, reads,
#     ioctl...), counted with perf's syscall tracepoints on the broker
#     running at full speed.
# Each broker is started fresh for each measurement, pinned to CPU 0, the
# load to CPU 1; every process started is stopped by PID.
#
#   bench/cost.sh [--builddir DIR] [--ternd BIN]... [--flashmq BIN]
#                 [--mosquitto] [--only SCENARIO,...] [--secs N]
#
#   --builddir DIR  build holding broker/ternd and clients/tern-bench
#                   (default $TERN_BUILDDIR, else ./build/run)
#   --ternd BIN     measure this ternd (repeatable: e.g. an old and a new
#                   build side by side); default the builddir's
#   --flashmq BIN   also measure FlashMQ (thread_count 1), built outside
#                   the tree; never needed by the build or the tests
#   --mosquitto     also measure Debian's mosquitto
#   --only LIST     scenarios among fanout-q1 fanout-q0 fanin-q1 fanin-q0
#   --secs N        seconds of load per measurement (default 6)
#
# Prints one table: instructions and system calls per delivery.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${TERN_BUILDDIR:-$top/build/run}
terns=()
flashmq=
mosq=0
only=
secs=6
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) builddir=${2:?}; shift ;;
	--ternd) terns+=("${2:?}"); shift ;;
	--flashmq) flashmq=${2:?}; shift ;;
	--mosquitto) mosq=1 ;;
	--only) only=${2:?}; shift ;;
	--secs) secs=${2:?}; shift ;;
	*) sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
	shift
done
BENCH=$builddir/clients/tern-bench
[ ${#terns[@]} -gt 0 ] || terns=("$builddir/broker/ternd")
for t in "${terns[@]}" "$BENCH"; do
	[ -x "$t" ] || { echo "cost.sh: $t is not an executable" >&2; exit 2; }
done
command -v valgrind >/dev/null && command -v perf >/dev/null ||
    { echo "cost.sh: needs valgrind and perf" >&2; exit 2; }

work=$(mktemp -d /tmp/tern-cost.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start KIND BIN WRAP...: sets pid and port
start() {
	local kind=$1 bin=$2 i
	shift 2
	rm -rf "$work/data"
	port=$(free_port)
	case "$kind" in
	tern*)
		printf 'listener %s 127.0.0.1\ndata_dir %s/data\nlog_level warning\nmax_queued_messages 1000\n' \
		    "$port" "$work" >"$work/b.conf"
		taskset -c 0 "$@" "$bin" -c "$work/b.conf" >"$work/b.log" 2>&1 &
		;;
	flashmq)
		printf 'thread_count 1\nallow_anonymous true\nlog_file %s/fm.log\nmax_qos_msg_pending_per_client 1000\nmax_qos_bytes_pending_per_client 1073741824\nlisten {\n protocol mqtt\n port %s\n inet4_bind_address 127.0.0.1\n}\n' \
		    "$work" "$port" >"$work/b.conf"
		taskset -c 0 "$@" "$bin" --config-file "$work/b.conf" >"$work/b.log" 2>&1 &
		;;
	mosquitto)
		printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000\nmax_inflight_messages 0\nlog_dest none\n' \
		    "$port" >"$work/b.conf"
		taskset -c 0 "$@" "$bin" -c "$work/b.conf" >"$work/b.log" 2>&1 &
		;;
	esac
	pid=$!
	for i in $(seq 1 600); do
		(echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "cost.sh: $kind did not start:" >&2
	cat "$work/b.log" >&2
	return 1
}

stop() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}

# load ARGS: runs tern-bench, prints the number of deliveries
load() {
	taskset -c 1 "$BENCH" "$@" -p "$port" --quiet -d "$secs" </dev/null |
	    grep '^RESULT ' | tr ' ' '\n' | awk -F= '$1 == "received" { print $2 }'
}

SCEN="fanout-q1|fanout -S 100 -q 1 -w 250
fanout-q0|fanout -S 100 -q 0 -w 250
fanin-q1|fanin -P 4 -q 1 -w 250
fanin-q0|fanin -P 4 -q 0 -w 250"

SYSCALLS="epoll_ctl epoll_wait write writev read readv ioctl sendmsg recvfrom"
events=$(for s in $SYSCALLS; do printf 'syscalls:sys_enter_%s,' "$s"; done)
events=${events%,}

measure() { # KIND BIN NAME ARGS
	local kind=$1 bin=$2 name=$3 args=$4 n ir toggle= sp line s
	[ "${kind#tern}" != "$kind" ] && toggle=--toggle-collect=server_run
	start "$kind" "$bin" valgrind --tool=callgrind --collect-atstart=no \
	    ${toggle:---collect-atstart=yes} \
	    --callgrind-out-file="$work/cg.out" || return 1
	# shellcheck disable=SC2086
	n=$(load $args)
	stop
	ir=$(callgrind_annotate "$work/cg.out" 2>/dev/null |
	    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
	rm -f "$work"/cg.out*
	line=$(awk -v i="${ir:-0}" -v n="${n:-0}" 'BEGIN { printf "%.0f", (n > 0 ? i / n : 0) }')
	start "$kind" "$bin" || return 1
	perf stat -x, -e "$events" -p "$pid" -o "$work/st.out" &
	sp=$!
	# shellcheck disable=SC2086
	n=$(load $args)
	kill -INT "$sp"
	wait "$sp"
	stop
	for s in $SYSCALLS; do
		line="$line | $(awk -F, -v e="syscalls:sys_enter_$s" -v n="${n:-0}" \
		    '$3 == e && n > 0 { v = $1 / n } END { printf "%.4f", v }' \
		    "$work/st.out")"
	done
	echo "| $name | $kind | $line |"
}

echo "| scenario | broker | instructions | $(echo $SYSCALLS | sed 's/ / | /g') |"
echo "| --- | --- | ---: |$(for s in $SYSCALLS; do printf ' ---: |'; done)"
status=0
while IFS='|' read -r name args; do
	[ -z "$only" ] || case ",$only," in *",$name,"*) ;; *) continue ;; esac
	i=0
	for t in "${terns[@]}"; do
		i=$((i + 1))
		label=tern
		[ ${#terns[@]} -gt 1 ] && label="tern$i"
		measure "$label" "$t" "$name" "$args" || status=1
	done
	[ -n "$flashmq" ] && { measure flashmq "$flashmq" "$name" "$args" || status=1; }
	[ "$mosq" = 1 ] && { measure mosquitto /usr/sbin/mosquitto "$name" "$args" || status=1; }
done <<<"$SCEN"
[ ${#terns[@]} -gt 1 ] && for i in $(seq 1 ${#terns[@]}); do
	echo "tern$i: ${terns[$((i - 1))]}"
done
exit $status
