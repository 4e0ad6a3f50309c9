#!/usr/bin/env bash
# Soak: the churn task through a real reclaimd for a long time, with RSS
# sampled every second; after the warm-up, RSS must stay flat.
#
#   tests/bench/soak.sh [-d SECONDS] [-w WARMUP] [-t PERCENT] [-s KEY=VALUE]...
#                       [-B BUILD_DIR]
#
# Defaults: 600 s, 120 s of warm-up, 5 %. Runs two churn loops at once (one
# per worker) of 10-second RunTask calls through reclaimctl, each making
# 2000 graphs a second of 10 nodes, half of them cycles (so only the
# collector frees them), 1 KiB of payload a node, the last 200 graphs kept.
# Every second a full collection (reclaimctl collect) is run and, after it,
# the heaps' live bytes (the library's own heap.bytes) and RSS are sampled.
# Judged after the warm-up, first third of those samples against the last:
# - live bytes, the least of each third: after a full collection only what
#   is retained is live, plus whatever a churn slice holds at that moment
#   (the least is the floor: 4.57 MiB in every run, to the byte); a leaked
#   object raises it. Within PERCENT. A call's kept graphs go with it, and
#   the next call's take 0.1 s to fill its ring again: a full collection in
#   that window found one ring part-empty (a first third's least 1.00 MiB
#   below the floor, read as 28% growth), so the samples taken from just
#   before a call starts to a second after are not judged for live bytes
#   (they are counted and printed).
# - RSS, the median of the last third against the highest of everything
#   judged before it (the first two thirds): RSS after a full collection
#   still holds pool pages part-filled by survivors and malloc's caches,
#   whose level wanders with timing (measured: waves of 27 to 30 MiB over
#   tens of seconds, medians of thirds 5-8% apart with the floor exact), so
#   a mean or median of RSS against another failed runs that leaked
#   nothing, and against the first third's highest alone one run came
#   within 0.4% of failing (the first third had seen no crest); memory that
#   grows goes past its earlier highs and stays there. Within PERCENT.
# RSS every second is printed too, not judged.
# Exits 1 if memory grew, a churn call failed or reclaimd did not exit 0 on
# SIGTERM; 77 (skip) if reclaimd has no churn task.
# -s passes a configuration key to reclaimd (as its own -s). RECLAIMD and
# RECLAIMCTL override the binaries of BUILD_DIR.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build-release
duration=600
warmup=120
tolerance=5
sets=()

while getopts "d:w:t:s:B:h" opt; do
	case $opt in
	d) duration=$OPTARG ;;
	w) warmup=$OPTARG ;;
	t) tolerance=$OPTARG ;;
	s) sets+=(-s "$OPTARG") ;;
	B) build=$OPTARG ;;
	h) sed -n '2,32s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
[ "$warmup" -lt "$duration" ] || { echo "soak: the warm-up must be shorter than the run" >&2; exit 2; }
reclaimd=${RECLAIMD:-$build/daemon/reclaimd}
reclaimctl=${RECLAIMCTL:-$build/ctl/reclaimctl}
for b in "$reclaimd" "$reclaimctl"; do
	[ -x "$b" ] || { echo "soak: no $b (tools/dev bench builds build-release)" >&2; exit 2; }
done

tmp=$(mktemp -d)
pid=
# Stop the daemon (if still running) and the loops; remove the directory
# (SOAK_KEEP=1 keeps it: the RSS samples, churn's answers, the daemon's log).
cleanup() {
	set +e # loops that already ended make kill fail: not an error
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	if [ -n "${SOAK_KEEP:-}" ]; then
		echo "soak: kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

cat >"$tmp/reclaimd.conf" <<CONF
[control]
socket = $tmp/control
[http]
listen = 127.0.0.1:0
workers = 2
[metrics]
listen = off
CONF
ctl() { "$reclaimctl" -S "$tmp/control" "$@"; }

"$reclaimd" -c "$tmp/reclaimd.conf" "${sets[@]}" 2>"$tmp/reclaimd.log" &
pid=$!
for _ in $(seq 100); do
	ctl stats >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/reclaimd.log" >&2; exit 1; }
	sleep 0.1
done
ctl tasks | grep -qw churn || { echo "soak: skipped: reclaimd has no churn task" >&2; exit 77; }

start=$(date +%s)
end=$((start + duration))
# churn_loop N: RunTask churn in 10-second calls until the end; a failed call
# is written to $tmp/failed.
churn_loop() {
	local now left
	while now=$(date +%s) && [ "$now" -lt "$end" ]; do
		left=$(((end - now) * 1000))
		[ "$left" -gt 10000 ] && left=10000
		date +%s.%N >>"$tmp/starts"
		ctl --json run churn duration_ms=$left rate=2000 size=10 \
			cycles=0.5 payload=1024 keep=200 >>"$tmp/churn-$1.json" 2>>"$tmp/failed" ||
			echo "churn loop $1: reclaimctl exited $?" >>"$tmp/failed"
	done
}
churn_loop 1 &
churn_loop 2 &

# Sample RSS (KiB) once a second: seconds since the start, RSS. Then a
# full collection, and: seconds, heap.bytes, RSS (bytes), heap.block_bytes,
# and when the collection began and the stats were read (epoch seconds).
while now=$(date +%s) && [ "$now" -lt "$end" ]; do
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
	[ -n "$rss" ] && echo "$((now - start)) $rss" >>"$tmp/rss"
	t0=$(date +%s.%N)
	if ctl collect >/dev/null 2>>"$tmp/failed"; then
		ctl --json stats | python3 -c 'import json, sys, time
s = json.load(sys.stdin)
print(sys.argv[1], s["heap"]["bytes"], s["process"]["rss_bytes"],
      s["heap"]["block_bytes"], sys.argv[2], time.time())' \
			"$((now - start))" "$t0" >>"$tmp/full"
	fi
	sleep 1
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=

echo "soak: ${duration}s of churn, two loops, warm-up ${warmup}s, tolerance ${tolerance}%"
rc=0
[ "$status" -eq 0 ] || { echo "soak: reclaimd exited $status on SIGTERM" >&2; tail "$tmp/reclaimd.log" >&2; rc=1; }
if [ -s "$tmp/failed" ]; then
	echo "soak: churn failed:" >&2
	cat "$tmp/failed" >&2
	rc=1
fi
calls=$(cat "$tmp"/churn-*.json 2>/dev/null | grep -c '"graphs"' || true)
graphs=$(cat "$tmp"/churn-*.json 2>/dev/null | grep -o '"graphs":[[:space:]]*[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
echo "soak: $calls churn calls, $graphs graphs made"
awk -v warm="$warmup" '
	$1 >= warm { r[n++] = $2 }
	END {
		if (n == 0) exit
		min = max = r[0]
		for (i = 0; i < n; i++) { if (r[i] < min) min = r[i]; if (r[i] > max) max = r[i] }
		printf "soak: RSS every second after warm-up (not judged): %d samples, min %.1f, max %.1f MiB\n",
			n, min / 1024, max / 1024
	}' "$tmp/rss"
touch "$tmp/starts"
awk -v warm="$warmup" -v tol="$tolerance" '
	# The median, least or most of column col over rows lo..hi-1 (col 2,
	# live bytes: only the rows taken while every ring was full).
	function stat(how, col, lo, hi,    m, i, j, x, s) {
		m = 0
		for (i = lo; i < hi; i++) if (col != 2 || !refill[i]) s[m++] = v[i, col]
		for (i = 1; i < m; i++) {
			x = s[i]
			for (j = i - 1; j >= 0 && s[j] > x; j--) s[j + 1] = s[j]
			s[j + 1] = x
		}
		if (m == 0) return 0
		if (how == "least") return s[0]
		if (how == "most") return s[m - 1]
		return m % 2 ? s[int(m / 2)] : (s[m / 2 - 1] + s[m / 2]) / 2
	}
	function judge(what, a, b, how_a, how_b,    growth) {
		if (a <= 0 || b <= 0) { printf "soak: %s: no sample to judge in a third\n", what; bad = 1; return }
		growth = (b - a) * 100 / a
		printf "soak: %s after full collections: %s %.2f MiB, %s %.2f MiB (%+.2f%%)\n",
			what, how_a, a / 1048576, how_b, b / 1048576, growth
		if (growth > tol) { printf "soak: %s grew by %.2f%% (> %s%%)\n", what, growth, tol; bad = 1 }
	}
	# Whether a call started between 0.5 s before the collection began and
	# 1 s after the stats were read: a ring was being refilled.
	function refilling(t0, t1,    i) {
		for (i = 0; i < ns; i++) if (starts[i] > t0 - 0.5 && starts[i] < t1 + 1) return 1
		return 0
	}
	BEGIN { n = 0; ns = 0 }
	FILENAME == ARGV[1] { starts[ns++] = $1; next }
	$1 >= warm { for (c = 1; c <= 4; c++) v[n, c] = $c; refill[n] = refilling($5, $6); skipped += refill[n]; n++ }
	END {
		if (n < 6) { print "soak: too few samples after the warm-up"; exit 1 }
		k = int(n / 3)
		printf "soak: %d of %d samples taken while a call refilled its ring: not judged for live bytes\n", skipped, n
		judge("live heap bytes", stat("least", 2, 0, k), stat("least", 2, n - k, n),
			"least of the first third", "least of the last third")
		judge("RSS", stat("most", 3, 0, n - k), stat("median", 3, n - k, n),
			"highest of the first two thirds", "median of the last third")
		if (bad) exit 1
		print "soak: memory flat"
	}' "$tmp/starts" "$tmp/full" || rc=1
exit $rc
