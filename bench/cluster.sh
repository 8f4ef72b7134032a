#!/bin/bash
# bench/cluster.sh - what a cluster costs: three ternd nodes on this
# machine, measured against one node in the same run.
#
# Starts three linked nodes (store on, as by default) and one node on its
# own, on 127.0.0.1 free ports, and measures:
#   p2p latency   tern-bench p2p, QoS 1, 10 msg/s per user: all users on
#                 one node, then the same load with users spread over the
#                 three nodes and every message sent to a user on another
#                 node (--cross); p50/p99 and their ratio
#   p2p rate      the same two, as fast as the window allows: messages/s
#                 and the ratio
#   link bytes    bytes the nodes sent each other during the cross-node
#                 rate run ($SYS/.../bytes), per message delivered
#   SUBACK        SUBSCRIBE to SUBACK on a cluster node (held until every
#                 node has the route) against the lone node, and whether
#                 a message published at once on another node arrived
#   takeover      a persistent session with 100 queued messages resumed on
#                 the node that holds it, against on another node (the
#                 session moves): CONNACK and last message
# Rounds are interleaved (same, cross, same, cross ...); medians are
# printed as a markdown table. Every process is stopped by PID on exit.
#
# With --tls, a second three-node cluster whose links are mutual TLS
# (cluster_certfile/keyfile/cafile, throwaway EC P-256 certificates made
# with openssl in the work directory) runs beside the first, and each
# round runs the cross-node latency and rate runs on both, one after the
# other; a second table compares them, with the bytes the nodes sent each
# other per message counted on the sockets (TCP payload, ss bytes_acked
# of every link socket), since $SYS counts MQTT bytes, not records.
#
#   bench/cluster.sh [--rounds N] [--builddir DIR] [--users N]
#                    [--duration S] [--tls] [--keep]
#
#   --builddir DIR   holds broker/ternd and clients/tern-bench (default
#                    $TERN_BUILDDIR, else ./build/run from ./build.sh run)
#   --rounds N       default 3
#   --users N        p2p users (default 300)
#   --duration S     seconds per tern-bench run (default 10)
#   --tls            also plain against TLS cluster links (see above)
#   --keep           keep the work directory (logs, raw results)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
builddir=${TERN_BUILDDIR:-}
users=300
duration=10
keep=0
tls=0

usage() {
	sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) rounds=${2:?}; shift ;;
	--builddir) builddir=${2:?}; shift ;;
	--users) users=${2:?}; shift ;;
	--duration) duration=${2:?}; shift ;;
	--keep) keep=1 ;;
	--tls) tls=1 ;;
	-h|--help) usage ;;
	*) echo "cluster.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done
[ -n "$builddir" ] || builddir=$top/build/run
builddir=$(cd "$builddir" 2>/dev/null && pwd) || {
	echo "cluster.sh: no build directory (./build.sh run, or --builddir)" >&2
	exit 2
}
TERND=$builddir/broker/ternd
BENCH=$builddir/clients/tern-bench
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for f in "$TERND" "$BENCH"; do
	[ -x "$f" ] || { echo "cluster.sh: $f not built" >&2; exit 2; }
done
command -v mosquitto_sub >/dev/null || {
	echo "cluster.sh: mosquitto_sub missing (apt-get install" \
	    "mosquitto-clients)" >&2
	exit 2
}

work=$(mktemp -d "${TMPDIR:-/tmp}/tern-cluster.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$keep" = 1 ]; then
		echo "cluster.sh: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_node NAME [cluster lines...]: sets node_port (not run in a
# subshell, so that its PID is recorded for the cleanup)
start_node() {
	local name=$1 dir=$work/$1 pid _
	shift
	mkdir -p "$dir"
	{
		echo "listener 0 127.0.0.1"
		echo "data_dir $dir/data"
		echo "log_level notice"
		echo "sys_interval 1"
		echo "max_queued_messages 100000"
		for l in "$@"; do echo "$l"; done
	} >"$dir/ternd.conf"
	"$TERND" -c "$dir/ternd.conf" >"$dir/broker.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 1 200); do
		[ -s "$dir/data/ternd.ready" ] && break
		sleep 0.05
	done
	node_port=$(awk '$1 == "listener" { print $3; exit }' \
	    "$dir/data/ternd.ready" 2>/dev/null)
	if [ -z "$node_port" ]; then
		echo "cluster.sh: $name did not start; log:" >&2
		cat "$dir/broker.log" >&2
		exit 1
	fi
}

# make_certs: a CA and a certificate per node (server and client: a node
# is both ends of its links) in $work/tls
make_certs() {
	local d=$work/tls n
	mkdir -p "$d"
	openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" &&
	    openssl req -x509 -new -key "$d/ca.key" -sha256 -days 2 \
	    -subj "/CN=bench cluster CA" -out "$d/ca.crt" || return 1
	printf '%s\n' "basicConstraints=CA:FALSE" \
	    "keyUsage=digitalSignature" \
	    "extendedKeyUsage=serverAuth,clientAuth" >"$d/node.ext"
	for n in t1 t2 t3; do
		openssl ecparam -name prime256v1 -genkey -noout \
		    -out "$d/$n.key" &&
		    openssl req -new -key "$d/$n.key" -subj "/CN=$n" \
		    -out "$d/$n.csr" &&
		    openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" \
		    -CAkey "$d/ca.key" -CAcreateserial -days 2 -sha256 \
		    -extfile "$d/node.ext" -out "$d/$n.crt" || return 1
	done 2>/dev/null
}

# start_cluster PREFIX [extra lines per node, with @N@ for the name]:
# three linked nodes PREFIX1..3, waited for until their links are up;
# sets cports (cluster listeners) and cl_ports (client listeners)
start_cluster() {
	local pre=$1 c i n l extra
	shift
	cports=("$(free_port)" "$(free_port)" "$(free_port)")
	local peers="127.0.0.1:${cports[0]} 127.0.0.1:${cports[1]} 127.0.0.1:${cports[2]}"
	cl_ports=()
	for i in 0 1 2; do
		n=$pre$((i + 1))
		extra=()
		for l in "$@"; do extra+=("${l//@N@/$n}"); done
		start_node "$n" "node_name $n" \
		    "cluster_listener 127.0.0.1:${cports[$i]}" \
		    "cluster_peers $peers" \
		    "cluster_secret bench-cluster-secret" "${extra[@]}"
		cl_ports+=("$node_port")
	done
	for i in 1 2 3; do
		for _ in $(seq 1 200); do
			[ "$(grep -c 'cluster link to .* up' \
			    "$work/$pre$i/broker.log")" -ge 2 ] && break
			sleep 0.05
		done
	done
}

start_cluster n
ports=("${cl_ports[@]}")
pcports=("${cports[@]}")
start_node alone
alone=$node_port
p1=${ports[0]}; p2=${ports[1]}; p3=${ports[2]}
hosts="127.0.0.1:$p1,127.0.0.1:$p2,127.0.0.1:$p3"
echo "cluster.sh: nodes on $p1 $p2 $p3, alone on $alone" >&2
if [ "$tls" = 1 ]; then
	make_certs || { echo "cluster.sh: openssl failed" >&2; exit 1; }
	start_cluster t "cluster_certfile $work/tls/@N@.crt" \
	    "cluster_keyfile $work/tls/@N@.key" \
	    "cluster_cafile $work/tls/ca.crt"
	grep -q "mutual TLS" "$work/t1/broker.log" || {
		echo "cluster.sh: the TLS cluster has no TLS listener" >&2
		exit 1
	}
	tcports=("${cports[@]}"); tports=("${cl_ports[@]}")
	thosts="127.0.0.1:${tports[0]},127.0.0.1:${tports[1]},127.0.0.1:${tports[2]}"
	echo "cluster.sh: TLS-linked nodes on ${tports[*]}" >&2
fi

res=$work/results.txt
: >"$res"

# value KEY FILE: a key=value of tern-bench's RESULT line
value() {
	grep '^RESULT ' "$2" | tr ' ' '\n' |
	    awk -F= -v k="$1" '$1 == k { print $2; exit }'
}
us2ms() { awk -v v="$1" 'BEGIN { if (v == "") print ""; else printf "%.3f", v / 1000 }'; }

# wire_bytes CLUSTERPORT...: TCP payload bytes sent (and acknowledged) so
# far on every socket with one of these cluster listener ports at either
# end: both ends of every link, so what the nodes sent each other
wire_bytes() {
	local f="" p
	for p in "$@"; do
		f="$f${f:+ or }sport = :$p or dport = :$p"
	done
	ss -tinH state established "( $f )" | tr ' ' '\n' |
	    awk -F: '$1 == "bytes_acked" { s += $2 } END { printf "%d\n", s }'
}

# link_bytes [PORT...]: what the three nodes (client ports, default the
# plain cluster's) have sent each other so far, by their $SYS counters
link_bytes() {
	local p sum=0 v
	sleep 1.5 # $SYS refreshes every second
	for p in ${@:-$p1 $p2 $p3}; do
		# the two retained values (one per other node), not the
		# updates that may follow them
		for v in $(mosquitto_sub -p "$p" -C 2 -W 2 \
		    -t '$SYS/broker/cluster/nodes/+/bytes' 2>/dev/null); do
			sum=$((sum + v))
		done
	done
	echo "$sum"
}

per_msg() { # per_msg BEFORE AFTER MESSAGES
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "nan" }'
}

run_bench() { # run_bench LABEL ARGS...
	local label=$1 out=$work/$1.$round.txt
	shift
	"$BENCH" p2p --quiet -q 1 -U "$users" -d "$duration" \
	    --id-prefix "b$round$label" "$@" >"$out" 2>&1
	echo "$label $round p50_ms=$(us2ms "$(value lat_p50_us "$out")")" \
	    "p99_ms=$(us2ms "$(value lat_p99_us "$out")")" \
	    "rate=$(value throughput "$out") received=$(value received "$out")" \
	    "lost=$(value lost "$out") dup=$(value duplicated "$out")" >>"$res"
}

for round in $(seq 1 "$rounds"); do
	echo "cluster.sh: round $round of $rounds" >&2
	run_bench same -h "127.0.0.1:$p1" -r 10
	run_bench cross -h "$hosts" --cross -r 10
	run_bench samerate -h "127.0.0.1:$p1" -r 0
	b0=$(link_bytes)
	[ "$tls" = 1 ] && w0=$(wire_bytes "${pcports[@]}")
	run_bench crossrate -h "$hosts" --cross -r 0
	[ "$tls" = 1 ] && w1=$(wire_bytes "${pcports[@]}")
	b1=$(link_bytes)
	rcv=$(awk -v r="$round" '$1 == "crossrate" && $2 == r { sub("received=", "", $6); print $6 }' "$res")
	echo "bytes $round per_msg=$(awk -v a="$b0" -v b="$b1" -v n="$rcv" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "nan" }')" >>"$res"
	if [ "$tls" = 1 ]; then
		echo "wire $round per_msg=$(per_msg "$w0" "$w1" "$rcv")" >>"$res"
		run_bench crosstls -h "$thosts" --cross -r 10
		w0=$(wire_bytes "${tcports[@]}")
		run_bench crossratetls -h "$thosts" --cross -r 0
		w1=$(wire_bytes "${tcports[@]}")
		rcv=$(awk -v r="$round" '$1 == "crossratetls" && $2 == r { sub("received=", "", $6); print $6 }' "$res")
		echo "wiretls $round per_msg=$(per_msg "$w0" "$w1" "$rcv")" >>"$res"
	fi
	$PY "$top/bench/cluster_probe.py" subscribe "$alone" "$alone" 200 |
	    sed "s/^/alone $round /" >>"$res"
	$PY "$top/bench/cluster_probe.py" subscribe "$p1" "$p2" 200 |
	    sed "s/^/cluster $round /" >>"$res"
	$PY "$top/bench/cluster_probe.py" takeover "$p1" "$p1" 10 100 |
	    sed "s/^/local $round /" >>"$res"
	$PY "$top/bench/cluster_probe.py" takeover "$p1" "$p3" 10 100 |
	    sed "s/^/moved $round /" >>"$res"
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }
bench_med() { # bench_med LABEL FIELD
	awk -v l="$1" -v f="$2=" '$1 == l { for (i = 3; i <= NF; i++) if (index($i, f) == 1) print substr($i, length(f) + 1) }' "$res" | median
}
probe_med() { # probe_med LABEL NAME
	awk -v l="$1" -v n="$2" '$1 == l && $3 == n { print $4 }' "$res" | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

s50=$(bench_med same p50_ms); x50=$(bench_med cross p50_ms)
s99=$(bench_med same p99_ms); x99=$(bench_med cross p99_ms)
sr=$(bench_med samerate rate); xr=$(bench_med crossrate rate)
lost=$(awk '{ for (i = 3; i <= NF; i++) if ($i ~ /^(lost|dup)=/) { split($i, a, "="); s += a[2] } } END { print s + 0 }' "$res")
echo
echo "| figure (median of $rounds rounds, $users users, QoS 1) | one node | across nodes | ratio |"
echo "| --- | --- | --- | --- |"
echo "| p2p latency p50, ms (10 msg/s per user) | $s50 | $x50 | $(ratio "$x50" "$s50") |"
echo "| p2p latency p99, ms | $s99 | $x99 | $(ratio "$x99" "$s99") |"
echo "| p2p rate, msg/s (as fast as the window allows) | $sr | $xr | $(ratio "$xr" "$sr") |"
echo "| bytes between nodes per message delivered | | $(awk '$1 == "bytes" { sub("per_msg=", "", $3); print $3 }' "$res" | median) | |"
a=$(probe_med alone suback_p50_ms); c=$(probe_med cluster suback_p50_ms)
echo "| SUBACK p50, ms (lone node / cluster) | $a | $c | $(ratio "$c" "$a") |"
a=$(probe_med alone suback_p99_ms); c=$(probe_med cluster suback_p99_ms)
echo "| SUBACK p99, ms | $a | $c | $(ratio "$c" "$a") |"
echo "| published on another node right after SUBACK, missed (of 200 per round) | | $(probe_med cluster published_after_suback_missed) | |"
a=$(probe_med local takeover_connack_p50_ms); c=$(probe_med moved takeover_connack_p50_ms)
echo "| resume: CONNECT to CONNACK p50, ms (same node / session moves) | $a | $c | $(ratio "$c" "$a") |"
a=$(probe_med local takeover_all_100_p50_ms); c=$(probe_med moved takeover_all_100_p50_ms)
echo "| resume: CONNECT to the last of 100 queued, p50, ms | $a | $c | $(ratio "$c" "$a") |"
echo "| out of order after a move (sessions) | | $(probe_med moved takeover_out_of_order) | |"
if [ "$tls" = 1 ]; then
	t50=$(bench_med crosstls p50_ms); t99=$(bench_med crosstls p99_ms)
	tr=$(bench_med crossratetls rate)
	pw=$(awk '$1 == "wire" { sub("per_msg=", "", $3); print $3 }' "$res" | median)
	tw=$(awk '$1 == "wiretls" { sub("per_msg=", "", $3); print $3 }' "$res" | median)
	echo
	echo "| across nodes (median of $rounds rounds, $users users, QoS 1) | plain links | TLS links | TLS / plain |"
	echo "| --- | --- | --- | --- |"
	echo "| p2p latency p50, ms (10 msg/s per user) | $x50 | $t50 | $(ratio "$t50" "$x50") |"
	echo "| p2p latency p99, ms | $x99 | $t99 | $(ratio "$t99" "$x99") |"
	echo "| p2p rate, msg/s (as fast as the window allows) | $xr | $tr | $(ratio "$tr" "$xr") |"
	echo "| bytes between nodes per message delivered (TCP payload) | $pw | $tw | $(ratio "$tw" "$pw") |"
fi
echo
echo "lost + duplicated in all p2p runs: $lost"
[ "$lost" = 0 ]
