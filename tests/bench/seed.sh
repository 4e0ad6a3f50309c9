#!/usr/bin/env bash
# The write-up's benchmark, side by side in one run: Tornado (the peer,
# tests/bench/tornado_seed.py) serving the leaky and the fixed handler, and
# reclaimd serving the leaky one (and the fixed one), built in and as a
# user's plugin (tests/bench/plugins/user_leaky.c: its own Runner and Task
# types, a standard bytes payload), each a fresh process:
#   ab -n N -c C /seed/leaky (or /seed/fixed): peak RSS (VmHWM) and req/s
#   wrk -t1 -c100 -d5s /: req/s
# Goals: reclaimd leaky peak RSS <= Tornado fixed's, built in and as a
# plugin; its req/s >= 1.5x Tornado fixed's built in, >= 1x as a plugin;
# on /, >= 10x Tornado's req/s.
#
#   tests/bench/seed.sh [-B BUILD] [-n N] [-c C] [-w WORKERS] [-s KEY=VALUE]...
#                       [--no-leaky-peer]
#
# -n/-c: ab's requests and concurrency (1000, 100). -w: reclaimd's
# http.workers (default 2). -s: a reclaimd setting (reclaimd -s), such as
# heap.incremental=off. --no-leaky-peer skips Tornado leaky (about 80 s:
# it is the write-up's 2 GB, 13 req/s case).
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD:-$src/build-release}
python=${BENCH_PYTHON:-/usr/bin/python3}
n=1000 c=100 workers=2 leaky_peer=true
settings=()

while [ $# -gt 0 ]; do
	case $1 in
	-B) build=$2; shift 2 ;;
	-n) n=$2; shift 2 ;;
	-c) c=$2; shift 2 ;;
	-w) workers=$2; shift 2 ;;
	-s) settings+=(-s "$2"); shift 2 ;;
	--no-leaky-peer) leaky_peer=false; shift ;;
	-h|--help) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "seed.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

for tool in ab wrk curl; do
	command -v $tool >/dev/null || { echo "seed.sh: $tool is needed" >&2; exit 2; }
done
reclaimd=$build/daemon/reclaimd
plugin=$build/tests/bench/user_leaky.so
[ -x "$reclaimd" ] || { echo "seed.sh: no $reclaimd (build it first)" >&2; exit 2; }
[ -f "$plugin" ] || { echo "seed.sh: no $plugin (build it first)" >&2; exit 2; }
"$python" -c 'import tornado' 2>/dev/null || { echo "seed.sh: $python has no tornado (python3-tornado)" >&2; exit 2; }

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# free_port: a free loopback port.
free_port() {
	"$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start tornado|reclaimd PORT: start a fresh server, wait for GET /.
start() {
	case $1 in
	tornado) "$python" "$src/tests/bench/tornado_seed.py" "$2" >/dev/null 2>&1 & ;;
	reclaimd | plugin) "$reclaimd" -s control.socket="$tmp/control" \
		-s http.listen=127.0.0.1:"$2" -s metrics.listen=off \
		-s http.workers="$workers" "${settings[@]}" \
		-s tasks.modules="$([ "$1" = plugin ] && echo "$plugin")" \
		2>"$tmp/reclaimd.log" & ;;
	esac
	pid=$!
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$2/" && return 0
		sleep 0.1
	done
	echo "seed.sh: $1 did not answer on port $2" >&2
	exit 1
}

# stop: the server's peak RSS in kB on stdout, then stop it.
stop() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

# ab_run SERVER PATH: "req/s peak_kB failed" for N requests, C at a time.
ab_run() {
	local port out rps failed hwm
	port=$(free_port)
	start "$1" "$port"
	out=$(ab -q -s 120 -n "$n" -c "$c" "http://127.0.0.1:$port$2" 2>&1) || true
	rps=$(echo "$out" | awk '/^Requests per second:/ { print $4 }')
	failed=$(echo "$out" | awk '/^Failed requests:/ { print $3 }')
	hwm=$(stop)
	echo "${rps:-0} ${hwm:-0} ${failed:-?}"
}

# wrk_run SERVER: req/s of wrk -t1 -c100 -d5s on /.
wrk_run() {
	local port rps
	port=$(free_port)
	start "$1" "$port"
	rps=$(wrk -t1 -c100 -d5s "http://127.0.0.1:$port/" | awk '/^Requests\/sec:/ { print $2 }')
	stop >/dev/null
	echo "${rps:-0}"
}

echo "ab -n $n -c $c; reclaimd with http.workers=$workers; $(nproc) CPUs"
tl="- - -"
$leaky_peer && tl=$(ab_run tornado /seed/leaky)
tf=$(ab_run tornado /seed/fixed)
rl=$(ab_run reclaimd /seed/leaky)
rf=$(ab_run reclaimd /seed/fixed)
ul=$(ab_run plugin /user/leaky)
uf=$(ab_run plugin /user/fixed)
tw=$(wrk_run tornado)
rw=$(wrk_run reclaimd)

awk -v tl="$tl" -v tf="$tf" -v rl="$rl" -v rf="$rf" -v ul="$ul" -v uf="$uf" \
	-v tw="$tw" -v rw="$rw" '
function row(name, s,   f) {
	split(s, f, " ")
	if (f[1] == "-")
		printf("%-26s %12s %14s %8s\n", name, "skipped", "", "")
	else
		printf("%-26s %12.1f %11.1f MB %8s\n", name, f[1], f[2] / 1024, f[3])
}
BEGIN {
	printf("%-26s %12s %14s %8s\n", "ab on", "req/s", "peak RSS", "failed")
	row("tornado /seed/leaky", tl)
	row("tornado /seed/fixed", tf)
	row("reclaimd /seed/leaky", rl)
	row("reclaimd /seed/fixed", rf)
	row("plugin /user/leaky", ul)
	row("plugin /user/fixed", uf)
	printf("\n%-26s %12s\n", "wrk -t1 -c100 -d5s on /", "req/s")
	printf("%-26s %12.1f\n%-26s %12.1f\n", "tornado", tw, "reclaimd", rw)
	split(tf, t, " "); split(rl, r, " ")
	printf("\ngoal: reclaimd leaky peak RSS <= tornado fixed: %s (%.1f MB vs %.1f MB)\n",
	       (r[2] <= t[2]) ? "met" : "MISSED", r[2] / 1024, t[2] / 1024)
	x = (t[1] > 0) ? r[1] / t[1] : 0
	printf("goal: reclaimd leaky req/s >= 1.5x tornado fixed: %s (%.2fx)\n",
	       (x >= 1.5) ? "met" : "MISSED", x)
	split(ul, u, " ")
	printf("goal: user plugin leaky peak RSS <= tornado fixed: %s (%.1f MB vs %.1f MB)\n",
	       (u[2] <= t[2]) ? "met" : "MISSED", u[2] / 1024, t[2] / 1024)
	z = (t[1] > 0) ? u[1] / t[1] : 0
	printf("goal: user plugin leaky req/s >= tornado fixed: %s (%.2fx)\n",
	       (z >= 1) ? "met" : "MISSED", z)
	y = (tw > 0) ? rw / tw : 0
	printf("goal: reclaimd / req/s >= 10x tornado: %s (%.1fx)\n",
	       (y >= 10) ? "met" : "MISSED", y)
	if (r[3] != "0") { print "reclaimd failed requests: " r[3]; exit 1 }
	if (u[3] != "0") { print "plugin failed requests: " u[3]; exit 1 }
}'
