#!/bin/bash
# bench/push.sh - does a slow push webhook cost p2p latency? (issue 15)
#
# Runs tern-bench's p2p scenario (p2p -U 1000 -r 10 -q 1 -s 256, as in
# bench/compare.sh) against a fresh ternd, alternately without and with
# push_webhook (nopush, push, nopush, push, ...), ROUNDS rounds each.
# In both arms the same background load runs: OFFLINE persistent
# sessions subscribed to push/t that never connect again, and a
# tern-bench fanin publisher sending QoS 1 to push/t at LOAD_RATE
# messages/s, so that every message is queued for every offline session
# (max_queued_messages is raised so their queues do not fill). In the
# push arm each of those queued messages is a webhook event, and the
# webhook (a Python http.server on 127.0.0.1) answers every request
# after 2 s: the node always has a request hanging and events waiting.
# Prints a markdown table of the medians over the rounds (p50, p99,
# messages/s, the webhook's requests and events), the push/nopush ratios
# of those medians and the median of the per-round ratios. The broker is pinned to one core and the load to the other
# (taskset). Every process it starts is stopped by PID on exit.
#
#   bench/push.sh [--builddir DIR] [--rounds N] [--duration S]
#                 [--offline N] [--load-rate N] [--delay S] [--ids]
#                 [--keep]
#
#   --builddir DIR   build directory holding broker/ternd and
#                    clients/tern-bench, configured WITHOUT sanitizers
#                    (default $TERN_BUILDDIR, else ./build/run)
#   --rounds N       rounds of each arm (default 3)
#   --duration S     p2p run length in seconds (default 20)
#   --offline N      offline persistent sessions (default 10)
#   --load-rate N    QoS 1 messages/s to them (default 100: with 10
#                    sessions, 1000 webhook events/s)
#   --delay S        the webhook's answer time (default 2)
#   --ids            a third arm, ids: message_id_property true and no
#                    webhook (push_webhook gives every message an id, as
#                    that key does: this arm tells the ids' cost apart)
#   --keep           keep the work directory
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${TERN_BUILDDIR:-}
rounds=3
duration=20
offline=10
load_rate=100
delay=2
arms="nopush push"
keep=0
BROKER_CPU=0
LOAD_CPU=1

usage() {
	sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) builddir=${2:?}; shift ;;
	--rounds) rounds=${2:?}; shift ;;
	--duration) duration=${2:?}; shift ;;
	--offline) offline=${2:?}; shift ;;
	--load-rate) load_rate=${2:?}; shift ;;
	--delay) delay=${2:?}; shift ;;
	--ids) arms="nopush push ids" ;;
	--keep) keep=1 ;;
	-h|--help) usage ;;
	*) echo "push.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done
for v in "$rounds" "$duration" "$offline" "$load_rate"; do
	case "$v" in ''|*[!0-9]*|0) echo "push.sh: bad number $v" >&2
		exit 2 ;; esac
done
[ -n "$builddir" ] || builddir=$top/build/run
TERND=$builddir/broker/ternd
BENCH=$builddir/clients/tern-bench
for f in "$TERND" "$BENCH"; do
	[ -x "$f" ] || { echo "push.sh: $f not built" >&2; exit 2; }
done
if grep -q '^SAN_CFLAGS = .*fsanitize' "$builddir/Makefile" 2>/dev/null
then
	echo "push.sh: $builddir is a sanitizer build; configure one without" \
	    >&2
	exit 2
fi

work=$(mktemp -d /tmp/tern-push-bench.XXXXXX)
broker_pid=
hook_pid=
load_pid=
cleanup() {
	for p in $load_pid $broker_pid $hook_pid; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ "$keep" = 1 ]; then
		echo "push.sh: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The webhook: answers 200 after $delay s; counts requests and events
# in $work/hook-<arm>-<round>.txt when it is stopped (SIGTERM).
start_hook() {
	local out=$1
	hook_port=$(free_port)
	# On the load's core: its JSON parsing of each 150 KB request must
	# not take the broker's core from it.
	taskset -c "$LOAD_CPU" python3 - "$hook_port" "$delay" "$out" <<-'EOF' &
	import http.server, json, signal, sys, threading, time
	port, delay, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
	n = {"requests": 0, "events": 0}
	lock = threading.Lock()
	class H(http.server.BaseHTTPRequestHandler):
	    protocol_version = "HTTP/1.1"
	    def log_message(self, *a):
	        pass
	    def do_POST(self):
	        body = self.rfile.read(int(self.headers["Content-Length"]))
	        time.sleep(delay)
	        with lock:
	            n["requests"] += 1
	            n["events"] += len(json.loads(body))
	        self.send_response(200)
	        self.send_header("Content-Length", "0")
	        self.end_headers()
	srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
	srv.daemon_threads = True
	def stop(*a):
	    with open(out, "w") as f:
	        f.write("requests=%d events=%d\n" % (n["requests"], n["events"]))
	    sys.exit(0)
	signal.signal(signal.SIGTERM, stop)
	srv.serve_forever()
	EOF
	hook_pid=$!
}

# start_broker ARM DIR: sets broker_pid and broker_port
start_broker() {
	local arm=$1 dir=$2 _
	mkdir -p "$dir"
	cat >"$dir/ternd.conf" <<-EOF
	listener 0 127.0.0.1
	data_dir $dir/data
	log_level warning
	max_queued_messages 1000000
	EOF
	[ "$arm" = push ] &&
	    echo "push_webhook http://127.0.0.1:$hook_port/push" \
	    >>"$dir/ternd.conf"
	[ "$arm" = ids ] && echo "message_id_property true" >>"$dir/ternd.conf"
	taskset -c "$BROKER_CPU" "$TERND" -c "$dir/ternd.conf" \
	    >"$dir/broker.log" 2>&1 &
	broker_pid=$!
	for _ in $(seq 1 200); do
		[ -s "$dir/data/ternd.ready" ] && break
		kill -0 "$broker_pid" 2>/dev/null || break
		sleep 0.05
	done
	broker_port=$(awk '{ print $3; exit }' "$dir/data/ternd.ready" \
	    2>/dev/null)
	[ -n "$broker_port" ]
}

# OFFLINE persistent sessions subscribed to push/t, then gone.
make_offline() {
	python3 - "$top/test/lib" "$broker_port" "$offline" <<-'EOF'
	import sys
	sys.path.insert(0, sys.argv[1])
	import mqttraw as raw
	port, n = int(sys.argv[2]), int(sys.argv[3])
	for i in range(n):
	    c = raw.Client(port, version=raw.V5)
	    c.connect("offline-%d" % i, clean=False,
	              properties={"session_expiry_interval": 86400})
	    c.subscribe("push/t", qos=1)
	    c.disconnect()
	EOF
}

results=$work/results.txt
: >"$results"
for round in $(seq 1 "$rounds"); do
	for arm in $arms; do
		dir=$work/$arm-$round
		start_hook "$work/hook-$arm-$round.txt"
		start_broker "$arm" "$dir" || {
			echo "push.sh: ternd did not start ($dir)" >&2; exit 1; }
		make_offline || { echo "push.sh: setup failed" >&2; exit 1; }
		taskset -c "$LOAD_CPU" "$BENCH" fanin -P 1 -r "$load_rate" \
		    -q 1 --topic push/t -d $((duration + 10)) -p "$broker_port" \
		    --quiet --id-prefix load >"$dir/load.out" 2>&1 &
		load_pid=$!
		sleep 3 # the webhook is busy before p2p starts
		out=$(taskset -c "$LOAD_CPU" "$BENCH" p2p -U 1000 -r 10 -q 1 \
		    -s 256 -d "$duration" -p "$broker_port" --pid "$broker_pid" \
		    --quiet --label "$arm" </dev/null 2>"$dir/p2p.err")
		line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
		kill "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null
		load_pid=
		kill "$broker_pid"; wait "$broker_pid" 2>/dev/null
		broker_pid=
		kill "$hook_pid"; wait "$hook_pid" 2>/dev/null
		hook_pid=
		[ -n "$line" ] || { echo "push.sh: p2p failed ($arm $round)" \
		    >&2; tail -3 "$dir/p2p.err" >&2; exit 1; }
		hook=$(cat "$work/hook-$arm-$round.txt" 2>/dev/null)
		echo "$arm $round $line $hook" >>"$results"
		echo "  round $round $arm: $(printf '%s\n' "$line" |
		    tr ' ' '\n' | grep -E '^lat_p(50|99)_us=' | tr '\n' ' ')" \
		    "$hook" >&2
	done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
	else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { # field ARM KEY: the values of KEY over the rounds
	awk -v a="$1" -v key="$2" '$1 == a { for (i = 3; i <= NF; i++) {
		split($i, kv, "="); if (kv[1] == key) print kv[2] } }' \
	    "$results"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
	if (b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo
echo "| arm | p50 us | p99 us | msg/s | webhook requests | webhook events |"
echo "| --- | --- | --- | --- | --- | --- |"
for arm in $arms; do
	echo "| $arm | $(field $arm lat_p50_us | median) |" \
	    "$(field $arm lat_p99_us | median) |" \
	    "$(field $arm throughput | median) |" \
	    "$(field $arm requests | median) | $(field $arm events | median) |"
done
echo
echo "push / nopush: p50 $(ratio "$(field push lat_p50_us | median)" \
    "$(field nopush lat_p50_us | median)"), p99 $(ratio \
    "$(field push lat_p99_us | median)" \
    "$(field nopush lat_p99_us | median)") (medians of $rounds rounds)"
# Rounds alternate, so a pair (nopush then push of one round) saw about
# the same machine: the median of the per-round ratios is less swayed by
# a round where the shared machine was busy than the ratio of medians.
paired() { # paired ARM KEY: median over the rounds of ARM/nopush
	paste <(field "$1" "$2") <(field nopush "$2") |
	    awk '$2 > 0 { print $1 / $2 }' | median; }
for arm in $arms; do
	[ "$arm" = nopush ] && continue
	echo "median of the per-round ratios $arm / nopush: p50 $(paired \
	    "$arm" lat_p50_us | xargs printf '%.2f'), p99 $(paired "$arm" \
	    lat_p99_us | xargs printf '%.2f')"
done
echo
echo "per round (p50/p99 us):"
for arm in $arms; do
	echo "  $arm: $(paste -d/ <(field $arm lat_p50_us) \
	    <(field $arm lat_p99_us) | tr '\n' ' ')"
done
