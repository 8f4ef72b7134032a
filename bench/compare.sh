#!/bin/bash
# bench/compare.sh - measure ternd against Debian's mosquitto in one run.
#
# Starts a fresh broker for every measurement (ternd, then mosquitto, with
# the same queue and in-flight limits, on 127.0.0.1 free ports; ternd with
# its durable store on, as by default, mosquitto with persistence off), pins the broker to one core and tern-bench to the other with
# taskset, runs a fixed scenario matrix interleaved (tern, mosquitto,
# tern, mosquitto ... for every scenario, then the next round), and prints
# a markdown table of the medians over the rounds and the tern/mosquitto
# ratios. Every process it starts is stopped by PID on exit.
#
#   bench/compare.sh [--quick] [--rounds N] [--builddir DIR] [--plots DIR]
#                    [--keep] [--mosq-nodelay] [--only SCENARIO,...]
#                    [--durable]
#
#   --quick          short runs, smaller counts (under ~2 minutes)
#   --rounds N       rounds of the matrix (default 3, at least 1)
#   --builddir DIR   build directory holding broker/ternd and
#                    clients/tern-bench (default $TERN_BUILDDIR, else
#                    ./build/run as set up by ./build.sh run)
#   --plots DIR      write one latency-CDF PNG per scenario (gnuplot;
#                    gnuplot-nox is installed when missing and root)
#   --keep           keep the work directory (raw results, broker logs)
#   --mosq-nodelay   also set set_tcp_nodelay true for mosquitto (its
#                    default leaves Nagle on; tern's is TCP_NODELAY)
#   --only LIST      run only these scenarios of the matrix
#   --window N       the in-flight window given to both brokers
#                    (max_inflight_messages, and for tern also
#                    max_inflight_messages_v311), default 20 as before;
#                    "own" leaves each broker at its own defaults (tern:
#                    the client's Receive Maximum up to 65535, 3.1.1
#                    clients 1000; mosquitto: 20)
#   --tern-conf LINE a line added to ternd's configuration (store on
#                    and off), e.g. "group_log_threshold 16" for the
#                    group scenarios with group logs (off by default);
#                    may be given more than once
#   --flashmq BIN    also run FlashMQ (not in Debian: a binary built
#                    outside the tree, e.g. with its cmake) as a third
#                    broker, interleaved, with thread_count 1, anonymous
#                    access, the same queue limit
#                    (max_qos_msg_pending_per_client) and no bytes
#                    limit; the table gains its column and tern/FlashMQ.
#                    Never needed by the build or the tests
#   --durable        the durable-store matrix instead: QoS 1 fan-in into
#                    persistent offline sessions (tern-bench reconnect -P:
#                    the acknowledged rate while queueing, then every
#                    session reconnects and the messages are counted),
#                    three brokers interleaved: ternd with its store on
#                    (tern), ternd with store off (ternoff), mosquitto
#                    with persistence true (its default autosave_interval
#                    1800 s: it acknowledges before anything is on disk);
#                    max_queued_messages 1000000 and max_inflight_messages
#                    250 for all (mosquitto advertises the latter as its
#                    Receive Maximum, so the -w 250 window applies to it).
#                    The same matrix holds the IM group (group-q1: 200
#                    QoS 1 messages into one group of 2,000 offline
#                    persistent members, tern-bench reconnect --group;
#                    metric: group messages acknowledged per second,
#                    rows/s = that x members; group-q1-10k: 10,000
#                    members x 20) and durable IM (durable-im: 10,000
#                    persistent users at 1 msg/s each, QoS 1, half of
#                    them offline at any time, tern-bench p2p --offline
#                    0.5 --cycle 10; metric: p99 latency of the messages
#                    whose recipient was online). The user count is
#                    lowered to what the fd limit allows (the hard limit
#                    less 200) when 10,000 does not fit, with a note.
#                    With --flashmq, FlashMQ is a fourth broker there:
#                    sessions and queues in memory (storage_dir saves
#                    them only every hour and at exit, like mosquitto's
#                    autosave), its queue limit capped at its own
#                    maximum, 65535
#
# Exit status: 0 when every run completed, 1 otherwise (the table is still
# printed). Raw RESULT lines are in WORK/results.txt (see --keep).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
quick=0
rounds=3
builddir=${TERN_BUILDDIR:-}
plots=
keep=0
mosq_nodelay=0
only=
durable=0
BROKER_CPU=0
LOAD_CPU=1
MAXQ=1000
MAXINF=20
window_set=0
FLASHMQ=
TERN_CONF=

usage() {
	sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--rounds) rounds=${2:?}; shift ;;
	--builddir) builddir=${2:?}; shift ;;
	--plots) plots=${2:?}; shift ;;
	--keep) keep=1 ;;
	--mosq-nodelay) mosq_nodelay=1 ;;
	--only) only=${2:?}; shift ;;
	--durable) durable=1 ;;
	--window) MAXINF=${2:?}; window_set=1; shift ;;
	--flashmq) FLASHMQ=${2:?}; shift ;;
	--tern-conf) TERN_CONF="$TERN_CONF${2:?}
"; shift ;;
	-h|--help) usage ;;
	*) echo "compare.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done
case "$rounds" in ''|*[!0-9]*|0) echo "compare.sh: bad --rounds" >&2; exit 2 ;; esac
[ -n "$builddir" ] || builddir=$top/build/run
builddir=$(cd "$builddir" 2>/dev/null && pwd) || {
	echo "compare.sh: no build directory $builddir (run ./build.sh run" \
	    "or give --builddir)" >&2
	exit 2
}
TERND=$builddir/broker/ternd
BENCH=$builddir/clients/tern-bench
for f in "$TERND" "$BENCH"; do
	[ -x "$f" ] || { echo "compare.sh: $f not built" >&2; exit 2; }
done

# --- what must be installed

need_pkg() { # need_pkg COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	[ -x "$1" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "compare.sh: $1 missing; as root: apt-get install -y $2" >&2
		return 1
	fi
	echo "compare.sh: installing $2" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "$2" >/dev/null
}
MOSQUITTO=/usr/sbin/mosquitto
need_pkg "$MOSQUITTO" mosquitto || exit 2
need_pkg taskset util-linux || exit 2
if [ -n "$plots" ]; then
	need_pkg gnuplot gnuplot-nox || plots=
fi
ncpu=$(nproc)
if [ "$ncpu" -lt 2 ]; then
	echo "compare.sh: one CPU: broker and load share it" >&2
	BROKER_CPU=0
	LOAD_CPU=0
fi

# --- processes we start, stopped by PID

work=$(mktemp -d "${TMPDIR:-/tmp}/tern-compare.XXXXXX")
broker_pid=
cleanup() {
	if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
		kill "$broker_pid" 2>/dev/null
		wait "$broker_pid" 2>/dev/null
	fi
	broker_pid=
	if [ "$keep" = 1 ]; then
		echo "compare.sh: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_broker KIND NAME: sets broker_pid and broker_port
start_broker() {
	local kind=$1 dir=$work/$2 _
	rm -rf "$dir"
	mkdir -p "$dir"
	if [ "$kind" = tern ] || [ "$kind" = ternoff ]; then
		cat >"$dir/ternd.conf" <<-EOF
		listener 0 127.0.0.1
		data_dir $dir/data
		log_level warning
		max_queued_messages $MAXQ
		EOF
		if [ "$MAXINF" != own ]; then
			echo "max_inflight_messages $MAXINF"
			echo "max_inflight_messages_v311 $MAXINF"
		fi >>"$dir/ternd.conf"
		[ "$kind" = ternoff ] && echo "store off" >>"$dir/ternd.conf"
		printf '%s' "$TERN_CONF" >>"$dir/ternd.conf"
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
	elif [ "$kind" = flashmq ]; then
		broker_port=$(free_port)
		{
			echo "thread_count 1"
			echo "allow_anonymous true"
			echo "log_file $dir/flashmq.log"
			# FlashMQ's limit is a 16-bit number (also its Receive
			# Maximum in CONNACK)
			echo "max_qos_msg_pending_per_client $((MAXQ > 65535 ? 65535 : MAXQ))"
			[ "$durable" = 1 ] && echo "storage_dir $dir"
			echo "max_qos_bytes_pending_per_client 1073741824"
			echo "listen {"
			echo "  protocol mqtt"
			echo "  port $broker_port"
			echo "  inet4_bind_address 127.0.0.1"
			echo "}"
		} >"$dir/flashmq.conf"
		taskset -c "$BROKER_CPU" "$FLASHMQ" --config-file \
		    "$dir/flashmq.conf" >"$dir/broker.log" 2>&1 &
		broker_pid=$!
		for _ in $(seq 1 200); do
			port_open "$broker_port" && break
			kill -0 "$broker_pid" 2>/dev/null || break
			sleep 0.05
		done
	else
		broker_port=$(free_port)
		{
			echo "listener $broker_port 127.0.0.1"
			echo "allow_anonymous true"
			if [ "$durable" = 1 ]; then
				echo "persistence true"
				echo "persistence_location $dir/"
			else
				echo "persistence false"
			fi
			echo "log_dest stderr"
			echo "log_type error"
			echo "log_type warning"
			echo "max_queued_messages $MAXQ"
			[ "$MAXINF" != own ] &&
			    echo "max_inflight_messages $MAXINF"
			[ "$mosq_nodelay" = 1 ] && echo "set_tcp_nodelay true"
		} >"$dir/mosquitto.conf"
		taskset -c "$BROKER_CPU" "$MOSQUITTO" -c "$dir/mosquitto.conf" \
		    >"$dir/broker.log" 2>&1 &
		broker_pid=$!
		for _ in $(seq 1 200); do
			port_open "$broker_port" && break
			kill -0 "$broker_pid" 2>/dev/null || break
			sleep 0.05
		done
	fi
	if [ -z "$broker_port" ] || ! port_open "$broker_port"; then
		echo "compare.sh: $kind did not start; log:" >&2
		cat "$dir/broker.log" >&2
		return 1
	fi
}

stop_broker() {
	if [ -n "$broker_pid" ]; then
		kill "$broker_pid" 2>/dev/null
		wait "$broker_pid" 2>/dev/null
	fi
	broker_pid=
}

# --- the matrix: name | tern-bench arguments | metric | better

if [ "$quick" = 1 ]; then
	D=1; DP=2; K=2000; KR=500; HOLD=1
else
	D=10; DP=10; K=10000; KR=1000; HOLD=3
fi
MATRIX="
fanin-q0|fanin -P 4 -q 0 -w 250 -d $D|throughput|higher
fanin-q1|fanin -P 4 -q 1 -w 250 -d $D|throughput|higher
fanin-q1-v311|fanin -V 311 -P 4 -q 1 -w 250 -d $D|throughput|higher
fanin-q2-open|fanin -P 4 -q 2 -w 64 --open-loop -d $D|throughput|higher
fanout-q0|fanout -S 100 -q 0 -w 250 -d $D|throughput|higher
fanout-q1|fanout -S 100 -q 1 -w 250 -d $D|throughput|higher
p2p|p2p -U 1000 -r 10 -q 1 -s 256 -d $DP|lat_p99_us|lower
conn|conn -K $K -d $HOLD|kb_per_conn|lower
reconnect|reconnect -K $KR -n 10 -q 1|reconnect_ms|lower
"
KINDS="tern mosquitto"
if [ -n "$FLASHMQ" ]; then
	[ -x "$FLASHMQ" ] || { echo "compare.sh: --flashmq $FLASHMQ is not an executable" >&2; exit 2; }
	KINDS="tern mosquitto flashmq"
fi
if [ "$durable" = 1 ]; then
	# S offline sessions x N messages, from 4 publishers (QoS 1, window
	# 250 each); metric: acknowledged msg/s while queueing
	if [ "$quick" = 1 ]; then N1=50; N2=5; else N1=300; N2=30; fi
		# the IM group: M members x NG messages from one publisher
	if [ "$quick" = 1 ]; then
		GM=500; NG=50; GM2=2000; NG2=10; UIM=1000; DIM=10; CIM=4
	else
		GM=2000; NG=200; GM2=10000; NG2=20; UIM=10000; DIM=30; CIM=10
	fi
	# every user is a connection in tern-bench and in the broker: keep
	# 200 descriptors for the rest (listener, store, logs, publishers)
	fdmax=$(ulimit -n)
	if [ "$fdmax" != unlimited ] && [ "$UIM" -gt $((fdmax - 200)) ]; then
		echo "compare.sh: fd limit $fdmax: durable-im with" \
		    "$((fdmax - 200)) users instead of $UIM" >&2
		UIM=$((fdmax - 200))
	fi
	if [ "$fdmax" != unlimited ] && [ "$GM2" -gt $((fdmax - 200)) ]; then
		echo "compare.sh: fd limit $fdmax: group-q1-10k with" \
		    "$((fdmax - 200)) members instead of $GM2" >&2
		GM2=$((fdmax - 200))
	fi
	MATRIX="
durable-q1|reconnect -P 4 -K 1000 -n $N1 -q 1 -w 250 -c 200|queue_rate|higher
durable-q1-10k|reconnect -P 4 -K 10000 -n $N2 -q 1 -w 250 -c 200|queue_rate|higher
group-q1|reconnect --group -P 1 -K $GM -n $NG -q 1 -w 250 -c 200|queue_rate|higher
group-q1-10k|reconnect --group -P 1 -K $GM2 -n $NG2 -q 1 -w 250 -c 200|queue_rate|higher
durable-im|p2p -U $UIM -r 1 -q 1 --offline 0.5 --cycle $CIM -d $DIM -c 200 --drain 30|lat_online_p99_us|lower
"
	KINDS="tern ternoff mosquitto"
	[ -n "$FLASHMQ" ] && KINDS="tern ternoff mosquitto flashmq"
	MAXQ=1000000
	[ "$window_set" = 1 ] || MAXINF=250
fi

selected() {
	[ -z "$only" ] && return 0
	case ",$only," in *",$1,"*) return 0 ;; esac
	return 1
}

results=$work/results.txt
: >"$results"
status=0
echo "compare.sh: ternd $TERND, mosquitto $($MOSQUITTO -h 2>/dev/null |
    head -1 | awk '{ print $3 }'), $rounds round(s), broker on CPU" \
    "$BROKER_CPU, load on CPU $LOAD_CPU" >&2
for round in $(seq 1 "$rounds"); do
	while IFS='|' read -r name args metric better; do
		[ -n "$name" ] || continue
		selected "$name" || continue
		for kind in $KINDS; do
			start_broker "$kind" "$kind-$name-$round" || {
				echo "FAIL $kind $name $round" >>"$results"
				continue
			}
			cdf=
			[ -n "$plots" ] && cdf="--cdf $work/cdf-$kind-$name-$round.txt"
			# shellcheck disable=SC2086
			out=$(taskset -c "$LOAD_CPU" "$BENCH" $args -p "$broker_port" \
			    --pid "$broker_pid" --quiet --label "$kind" $cdf \
			    </dev/null 2>"$work/$kind-$name-$round.err")
			rc=$?
			line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
			printf '%s\n' "$out" >"$work/$kind-$name-$round.out"
			stop_broker
			if [ -z "$line" ]; then
				echo "compare.sh: $kind $name round $round failed" \
				    "(exit $rc):" >&2
				tail -3 "$work/$kind-$name-$round.err" >&2
				echo "FAIL $kind $name $round" >>"$results"
				continue
			fi
			echo "$kind $name $round $line" >>"$results"
			val=$(printf '%s\n' "$line" | tr ' ' '\n' |
			    awk -F= -v k="$metric" '$1 == k { print $2 }')
			echo "  round $round $name $kind: $metric=$val (exit $rc)" >&2
		done
	done <<<"$MATRIX"
done
grep -q '^FAIL' "$results" && status=1

# --- the table: medians over the rounds

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
	else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { # field KIND NAME KEY: the values of KEY over the rounds
	awk -v k="$1" -v n="$2" -v key="$3" '$1 == k && $2 == n {
		for (i = 4; i <= NF; i++) { split($i, kv, "=");
			if (kv[1] == key) print kv[2] } }' "$results"
}
sum() { awk '{ s += $1 } END { print s + 0 }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "-") print "-";
	else if (v >= 1000) printf "%.0f", v; else printf "%.3g", v }'; }

if [ "$durable" = 1 ]; then
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" ||
		b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
	per_kind() { # per_kind NAME KEY [sum]: "tern / ternoff / mosquitto ..."
		local k v out=
		for k in $KINDS; do
			if [ "${3:-}" = sum ]; then
				v=$(field "$k" "$1" "$2" | sum)
			else
				v=$(fmt "$(field "$k" "$1" "$2" | median)")
			fi
			out="$out${out:+ / }$v"
		done
		printf '%s' "$out"
	}
	names="on / off / mosquitto"
	fcol='' fsep='' fhead=''
	if [ -n "$FLASHMQ" ]; then
		names="$names / FlashMQ"
		fhead=" FlashMQ | on / FlashMQ |"
		fsep=" ---: | ---: |"
	fi
	echo
	echo "| scenario | tern-bench arguments | metric | tern (store on) | tern store off | mosquitto | on / mosquitto | on / off |$fhead lost $names | dup | broker CPU | more, $names |"
	echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |$fsep ---: | ---: | ---: | --- |"
	echo "$MATRIX" | while IFS='|' read -r name args metric better; do
		[ -n "$name" ] || continue
		selected "$name" || continue
		t=$(field tern "$name" "$metric" | median)
		o=$(field ternoff "$name" "$metric" | median)
		m=$(field mosquitto "$name" "$metric" | median)
		fcol=
		if [ -n "$FLASHMQ" ]; then
			f=$(field flashmq "$name" "$metric" | median)
			fcol=" $(fmt "$f") | $(ratio "$t" "$f") |"
		fi
		case "$name" in
		durable-im)
			cpu="$(per_kind "$name" broker_cpu_pct)"
			more="online p50 us $(per_kind "$name" lat_online_p50_us); online samples $(per_kind "$name" online_samples); sent to offline users $(per_kind "$name" sent_offline), lost of them $(per_kind "$name" lost_offline sum)" ;;
		group*)
			cpu="$(per_kind "$name" queue_broker_cpu_pct)"
			more="rows/s $(per_kind "$name" rows_rate); resume ms all $(per_kind "$name" reconnect_ms), per member p50 $(per_kind "$name" session_p50_ms), p99 $(per_kind "$name" session_p99_ms); members complete $(per_kind "$name" sessions_complete)" ;;
		*)
			cpu="$(per_kind "$name" queue_broker_cpu_pct)"
			more="reconnect ms $(per_kind "$name" reconnect_ms)" ;;
		esac
		echo "| $name | \`$args\` | $metric ($better is better) | $(fmt "$t") | $(fmt "$o") | $(fmt "$m") | $(ratio "$t" "$m") | $(ratio "$t" "$o") |$fcol $(per_kind "$name" lost sum) | $(per_kind "$name" duplicated sum) | $cpu | $more |"
	done
	echo
	echo "Medians of $rounds round(s); lost and dup are sums over the rounds" \
	    "(counted after every session reconnected). Broker CPU: % of a" \
	    "core while queueing (durable-im: over the run). Raw lines:" \
	    "$results$([ "$keep" = 1 ] || echo ' (use --keep)')."
	exit $status
fi

ratio_of() { awk -v t="$1" -v m="$2" 'BEGIN { if (t == "-" || m == "-" ||
	m + 0 == 0) print "-"; else printf "%.2f", t / m }'; }
if [ -n "$FLASHMQ" ]; then
	echo
	echo "| scenario | metric | tern | mosquitto | FlashMQ | tern/mosquitto | FlashMQ/mosquitto | tern/FlashMQ | lost t/m/f |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	echo "$MATRIX" | while IFS='|' read -r name args metric better; do
		[ -n "$name" ] || continue
		selected "$name" || continue
		t=$(field tern "$name" "$metric" | median)
		m=$(field mosquitto "$name" "$metric" | median)
		f=$(field flashmq "$name" "$metric" | median)
		echo "| $name | $metric ($better is better) | $(fmt "$t") | $(fmt "$m") | $(fmt "$f") | $(ratio_of "$t" "$m") | $(ratio_of "$f" "$m") | $(ratio_of "$t" "$f") | $(field tern "$name" lost | sum) / $(field mosquitto "$name" lost | sum) / $(field flashmq "$name" lost | sum) |"
	done
fi
echo
echo "| scenario | metric | tern | mosquitto | tern/mosquitto | lost t/m | dup t/m | tern extra |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
echo "$MATRIX" | while IFS='|' read -r name args metric better; do
	[ -n "$name" ] || continue
	selected "$name" || continue
	t=$(field tern "$name" "$metric" | median)
	m=$(field mosquitto "$name" "$metric" | median)
	ratio=$(ratio_of "$t" "$m")
	lt=$(field tern "$name" lost | sum)
	lm=$(field mosquitto "$name" lost | sum)
	dt=$(field tern "$name" duplicated | sum)
	dm=$(field mosquitto "$name" duplicated | sum)
	extra=
	case "$name" in
	p2p) extra="p50 $(fmt "$(field tern p2p lat_p50_us | median)") us, mosquitto p50 $(fmt "$(field mosquitto p2p lat_p50_us | median)") us" ;;
	conn) extra="$(fmt "$(field tern conn connect_rate | median)") conn/s vs $(fmt "$(field mosquitto conn connect_rate | median)")" ;;
	fan*) extra="p99 $(fmt "$(field tern "$name" lat_p99_us | median)") us vs $(fmt "$(field mosquitto "$name" lat_p99_us | median)"); broker CPU $(fmt "$(field tern "$name" broker_cpu_pct | median)")% vs $(fmt "$(field mosquitto "$name" broker_cpu_pct | median)")%" ;;
	esac
	echo "| $name | $metric ($better is better) | $(fmt "$t") | $(fmt "$m") | $ratio | $lt / $lm | $dt / $dm | $extra |"
done
echo
echo "Medians of $rounds round(s); lost and dup are sums over the rounds." \
    "Raw lines: $results$([ "$keep" = 1 ] || echo ' (use --keep)')."

# --- plots
if [ -n "$plots" ]; then
	mkdir -p "$plots"
	echo "$MATRIX" | while IFS='|' read -r name args metric better; do
		[ -n "$name" ] || continue
		selected "$name" || continue
		ft=$work/cdf-tern-$name-$rounds.txt
		fm=$work/cdf-mosquitto-$name-$rounds.txt
		[ -s "$ft" ] && [ -s "$fm" ] || continue
		gnuplot -e "tern='$ft'; mosq='$fm'; out='$plots/cdf-$name.png'; name='$name'" \
		    "$top/bench/cdf.gp" </dev/null &&
		    echo "plot: $plots/cdf-$name.png" >&2
	done
fi
exit $status
