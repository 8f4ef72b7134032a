#!/bin/bash
# bench/restart.sh - how fast ternd restarts with a large durable backlog.
#
# Fills ternd's store with SESSIONS x PER queued QoS 1 messages (default
# 10,000 persistent offline sessions x 100 = 1,000,000) with tern-bench
# reconnect --queue-only, then, ROUNDS times for each way of stopping
# (SIGTERM, then kill -9), stops ternd and starts it again and measures,
# from the exec of the new process:
#   ready_ms     until data_dir/ternd.ready appears (polled every 1 ms)
#   connack_ms   until a client resuming one of the sessions (clean start 0)
#                has its CONNACK (it connects as soon as the ready file is
#                there)
#   first_ms     ... and the first message of that session's queue
#   all_ms       ... and all PER messages of it (each acknowledged)
#   rss_kb       ternd's VmRSS once that client has its queue, and its
#                peak (VmHWM), against the size of tern.db
# Every restart resumes a different session. At the end ternd is stopped
# with SIGTERM and the rows left in the queue table are counted with
# sqlite3 (every message of the sessions not resumed must still be there).
# ternd runs on CPU 0, the load on CPU 1 (taskset). Every process it
# starts is stopped by PID.
#
#   bench/restart.sh [--builddir DIR] [--sessions N] [--per N]
#                    [--publishers N] [--rounds N] [--sync normal|full]
#                    [--keep]
#
# Output: one RESULT line per restart and a markdown table of medians.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${TERN_BUILDDIR:-$top/build/run}
sessions=10000
per=100
pubs=4
rounds=3
sync=normal
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
	--sessions) sessions=${2:?}; shift ;;
	--per) per=${2:?}; shift ;;
	--publishers) pubs=${2:?}; shift ;;
	--rounds) rounds=${2:?}; shift ;;
	--sync) sync=${2:?}; shift ;;
	--keep) keep=1 ;;
	-h|--help) usage ;;
	*) echo "restart.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done
builddir=$(cd "$builddir" 2>/dev/null && pwd) || {
	echo "restart.sh: no build directory (give --builddir)" >&2; exit 2; }
TERND=$builddir/broker/ternd
BENCH=$builddir/clients/tern-bench
for f in "$TERND" "$BENCH"; do
	[ -x "$f" ] || { echo "restart.sh: $f not built" >&2; exit 2; }
done
for c in taskset sqlite3 python3; do
	command -v $c >/dev/null || { echo "restart.sh: needs $c" >&2; exit 2; }
done
[ "$(nproc)" -ge 2 ] || { BROKER_CPU=0; LOAD_CPU=0; }
if [ $((rounds * 2)) -gt "$sessions" ]; then
	echo "restart.sh: need at least 2 x rounds sessions" >&2; exit 2
fi

# wait_gone PID: until the process has exited (ternd restarted by
# restart.py is not a child of this shell, so wait(1) cannot be used)
wait_gone() {
	wait "$1" 2>/dev/null
	while [ -e "/proc/$1" ] &&
	    ! awk '{ exit $3 != "Z" }' "/proc/$1/stat" 2>/dev/null; do
		sleep 0.001
	done
}

work=$(mktemp -d "${TMPDIR:-/tmp}/tern-restart.XXXXXX")
data=$work/data
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		wait_gone "$pid"
	fi
	if [ "$keep" = 1 ]; then
		echo "restart.sh: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null

cat >"$work/ternd.conf" <<-CONF
listener 0 127.0.0.1
data_dir $data
log_level notice
store_sync $sync
max_queued_messages 1000000
CONF

# The restart and the resuming client, timed from one process: start
# ternd (pinned), poll for the ready file, connect as session CID with
# clean start 0, take PER messages (PUBACK each), read ternd's memory.
# Prints one RESULT line; leaves ternd running, its PID in $work/pid.
cat >"$work/restart.py" <<'PY'
import os, socket, struct, subprocess, sys, time

tternd, conf, data, cid, want, cpu, log, pidfile = sys.argv[1:9]
want = int(want)

def varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def s16(b):
    return struct.pack(">H", len(b)) + b

def status(pid):
    d = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            d[k] = v.split()[0] if v.split() else ""
    return d

ready = os.path.join(data, "ternd.ready")
t0 = time.monotonic()
p = subprocess.Popen(["taskset", "-c", cpu, tternd, "-c", conf],
                     stdout=open(log, "ab"), stderr=subprocess.STDOUT)
with open(pidfile, "w") as f:
    f.write("%d\n" % p.pid)
port = None
while time.monotonic() - t0 < 120:
    try:
        with open(ready) as f:
            line = f.readline().split()
        if len(line) >= 3:
            port = int(line[2])
            break
    except FileNotFoundError:
        pass
    if p.poll() is not None:
        sys.exit("ternd exited with %d" % p.returncode)
    time.sleep(0.001)
if port is None:
    sys.exit("no ready file after 120 s")
t_ready = time.monotonic()
rss_ready = int(status(p.pid)["VmRSS"])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
props = b"\x11" + struct.pack(">I", 3600)           # session expiry
vh = s16(b"MQTT") + b"\x05\x00" + struct.pack(">H", 60) + \
    varint(len(props)) + props                      # clean start 0
body = vh + s16(cid.encode())
s.sendall(b"\x10" + varint(len(body)) + body)
buf = b""

def packet():
    global buf
    while True:
        if len(buf) >= 2:
            n, mult, i = 0, 1, 1
            while i < len(buf) and i < 5:
                n += (buf[i] & 127) * mult
                mult *= 128
                i += 1
                if not buf[i - 1] & 128:
                    break
            if not buf[i - 1] & 128 and len(buf) >= i + n:
                pk = (buf[0], buf[i:i + n])
                buf = buf[i + n:]
                return pk
        d = s.recv(262144)
        if not d:
            raise EOFError("connection closed")
        buf += d

h, b = packet()
t_connack = time.monotonic()
if h >> 4 != 2 or b[1] != 0:
    sys.exit("bad CONNACK %x %s" % (h, b.hex()))
present = b[0] & 1
got, bad, t_first = 0, 0, None
while got < want:
    h, b = packet()
    if h >> 4 != 3:
        continue
    tl = struct.unpack(">H", b[:2])[0]
    if b[2:2 + tl] != ("im/u/" + cid).encode():
        bad += 1
    if (h >> 1) & 3:
        s.sendall(b"\x40\x02" + b[2 + tl:4 + tl])
    got += 1
    if t_first is None:
        t_first = time.monotonic()
t_all = time.monotonic()
st = status(p.pid)
s.sendall(b"\xe0\x00")                              # DISCONNECT
s.close()
ms = lambda t: (t - t0) * 1e3
print("RESULT ready_ms=%.1f connack_ms=%.1f first_ms=%.1f all_ms=%.1f "
      "got=%d misrouted=%d session_present=%d rss_ready_kb=%d rss_kb=%s "
      "hwm_kb=%s" % (ms(t_ready), ms(t_connack), ms(t_first), ms(t_all),
                     got, bad, present, rss_ready, st["VmRSS"],
                     st["VmHWM"]))
PY

t_start=$(date +%s)
echo "restart.sh: ternd $TERND, $sessions sessions x $per messages," \
    "store_sync $sync, $rounds round(s); load average: $(cut -d' ' -f1-3 \
    /proc/loadavg)" >&2

# --- fill
taskset -c "$BROKER_CPU" "$TERND" -c "$work/ternd.conf" >>"$work/ternd.log" 2>&1 &
pid=$!
for _ in $(seq 1 400); do
	[ -s "$data/ternd.ready" ] && break
	sleep 0.05
done
port=$(awk '{ print $3; exit }' "$data/ternd.ready" 2>/dev/null)
[ -n "$port" ] || { echo "restart.sh: ternd did not start" >&2;
	cat "$work/ternd.log" >&2; exit 1; }
# The fill may take its time: 60 s, or a second per 20,000 messages.
fill_drain=$((sessions * per / 20000))
[ "$fill_drain" -ge 60 ] || fill_drain=60
fill=$(taskset -c "$LOAD_CPU" "$BENCH" reconnect -K "$sessions" -n "$per" \
    -P "$pubs" -q 1 -w 250 -c 200 --queue-only --id-prefix rs -p "$port" \
    --pid "$pid" --quiet --drain "$fill_drain" </dev/null 2>"$work/fill.err" |
    grep '^RESULT')
[ -n "$fill" ] || { echo "restart.sh: fill failed" >&2;
	cat "$work/fill.err" >&2; exit 1; }
echo "FILL $fill"
kv() { printf '%s\n' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
echo "restart.sh: filled $(kv acked "$fill") messages in $(kv queue_s "$fill") s" \
    "($(kv queue_rate "$fill") msg/s), ternd RSS" \
    "$(awk '/VmRSS/ { print $2 }' /proc/$pid/status) kB" >&2

# --- restarts
results=$work/results.txt
: >"$results"
n=0
status=0
for how in term kill9; do
	for r in $(seq 1 "$rounds"); do
		t_stop=$(date +%s%N)
		if [ "$how" = term ]; then
			kill -TERM "$pid"
		else
			kill -KILL "$pid"
		fi
		wait_gone "$pid"
		stop_ms=$(( ($(date +%s%N) - t_stop) / 1000000 ))
		pid=
		rm -f "$data/ternd.ready"	# left behind by kill -9
		db_kb=$(du -k "$data/tern.db" | cut -f1)
		wal_kb=$(du -k "$data/tern.db-wal" 2>/dev/null | cut -f1)
		cid=rs-r$n
		n=$((n + 1))
		sync	# the stop's writes out of the way of the restart
		line=$(taskset -c "$LOAD_CPU" python3 "$work/restart.py" "$TERND" \
		    "$work/ternd.conf" "$data" "$cid" "$per" "$BROKER_CPU" \
		    "$work/ternd.log" "$work/pid" 2>"$work/restart.err")
		pid=$(cat "$work/pid" 2>/dev/null)
		if [ -z "$line" ]; then
			echo "restart.sh: $how round $r failed:" >&2
			cat "$work/restart.err" >&2
			status=1
			break 2
		fi
		line="$line how=$how round=$r stop_ms=$stop_ms db_kb=$db_kb wal_kb=${wal_kb:-0}"
		echo "$line"
		echo "$line" >>"$results"
	done
done

# --- the backlog is still all there
kill -TERM "$pid" 2>/dev/null
wait_gone "$pid"
pid=
left=$(sqlite3 "$data/tern.db" \
    'SELECT (SELECT count(*) FROM queue) + (SELECT count(*) FROM qlog)')
want=$(( sessions * per - n * per ))
echo "restart.sh: $left messages left in the queue table (expected $want)" >&2
[ "$left" = "$want" ] || status=1

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
	else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v h="$1" -v k="$2" '$0 ~ "how=" h " " { for (i = 1; i <= NF; i++)
	{ split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$results" | median; }
echo
echo "| stop | rounds | stop ms | ready ms | CONNACK ms | first message ms | all $per ms | RSS kB at ready | RSS kB after | peak RSS kB | tern.db + WAL MB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for how in term kill9; do
	echo "| $how | $rounds | $(col $how stop_ms) | $(col $how ready_ms) | $(col $how connack_ms) | $(col $how first_ms) | $(col $how all_ms) | $(col $how rss_ready_kb) | $(col $how rss_kb) | $(col $how hwm_kb) | $(awk -v a="$(col $how db_kb)" -v b="$(col $how wal_kb)" 'BEGIN { printf "%.0f", (a + b) / 1024 }') |"
done
echo
echo "Medians; times from the exec of ternd. Fill: $(kv acked "$fill") messages," \
    "$(kv queue_rate "$fill") msg/s. $left left in the store at the end" \
    "(expected $want). $(( $(date +%s) - t_start )) s in all."
exit $status
