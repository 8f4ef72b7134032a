#!/bin/sh
# build.sh - the two commands of the README's quick start.
#
#   ./build.sh run [ternd options]   install what is missing, build, and run
#                                    ternd on 127.0.0.1:1883 with data in ./var
#   ./build.sh check                 install what is missing, build with
#                                    ASan/UBSan and run every test; the last
#                                    line is "N passed, N failed"
#
# Builds happen out of tree: build/run (optimised) and build/check
# (sanitizers), so the source tree stays clean and both can coexist.
set -eu

top=$(cd "$(dirname "$0")" && pwd)
cd "$top"

# What building and running ternd needs (./build.sh run) ...
RUN_PACKAGES="autoconf automake make gcc pkgconf libevent-dev libsqlite3-dev \
libmbedtls-dev libpaho-mqtt-dev mosquitto-clients python3"
# ... and what the tests need besides (./build.sh check).
TEST_PACKAGES="python3-paho-mqtt openssl tmux node-mqtt chromium \
chromium-driver build-essential dpkg-dev debhelper adduser"
# (chromium and chromium-driver: the dashboard's test drives headless
# Chromium through chromedriver, test/integration/60-ops-dashboard.py.)
# build-essential, dpkg-dev and debhelper build the Debian package of
# debian/ in a test (70-ops-package.py), which installs it: its postinst
# needs adduser.
# Commands whose Debian package is installed only when the command is
# missing (command:package): Node.js for the MQTT.js test (whose MQTT.js
# is node-mqtt above: no test fetches anything from npm). A machine may
# have node from elsewhere (NodeSource's nodejs).
COMMANDS="node:nodejs"

jobs=$(nproc 2>/dev/null || echo 2)

# need_packages PACKAGE...: install those missing (and COMMANDS')
need_packages() {
	missing=""
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	for c in $COMMANDS; do
		command -v "${c%%:*}" >/dev/null 2>&1 ||
		    missing="$missing ${c#*:}"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "build.sh: missing packages; as root run:" >&2
		echo "  apt-get install -y$missing" >&2
		exit 1
	fi
	echo "build.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
}

# build DIR [configure flags...]
build() {
	dir=$1
	shift
	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
		autoreconf -fi
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		(cd "$dir" && "$top/configure" --quiet "$@")
	fi
	make -C "$dir" -j"$jobs" >/dev/null
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
run)
	COMMANDS="" # the tests' only
	# shellcheck disable=SC2086
	need_packages $RUN_PACKAGES
	build "$top/build/run"
	mkdir -p "$top/var"
	echo "build.sh: starting ternd on 127.0.0.1:1883 (data in ./var, Ctrl-C stops)"
	exec "$top/build/run/broker/ternd" -d "$top/var" "$@"
	;;
check)
	# shellcheck disable=SC2086
	need_packages $RUN_PACKAGES $TEST_PACKAGES
	build "$top/build/check" --enable-sanitizers
	status=0
	make -C "$top/build/check" -j"$jobs" check >"$top/build/check/check.out" 2>&1 || status=$?
	log="$top/build/check/test-suite.log"
	grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' \
	    "$top/build/check/check.out" || true
	if [ ! -f "$log" ]; then
		cat "$top/build/check/check.out"
		echo "0 passed, 1 failed"
		exit 1
	fi
	count() { sed -n "s/^# $1: *\([0-9][0-9]*\)$/\1/p" "$log" | head -n 1; }
	pass=$(count PASS); fail=$(count FAIL); err=$(count ERROR)
	xpass=$(count XPASS); skip=$(count SKIP)
	failed=$(( ${fail:-0} + ${err:-0} + ${xpass:-0} ))
	if [ "$failed" -ne 0 ] || [ "$status" -ne 0 ]; then
		# Show what failed, with its log.
		grep -E '^(FAIL|ERROR|XPASS):' "$top/build/check/check.out" || true
		cat "$log"
		[ "$failed" -eq 0 ] && failed=1
	fi
	[ "${skip:-0}" -ne 0 ] && echo "(${skip} skipped, not counted as passed)"
	echo "${pass:-0} passed, ${failed} failed"
	[ "$failed" -eq 0 ]
	;;
*)
	echo "usage: ./build.sh run [ternd options] | ./build.sh check" >&2
	exit 2
	;;
esac
