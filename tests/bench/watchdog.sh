#!/usr/bin/env bash
# The watchdog's benchmark: reaction time (crossing soft -> end of the forced
# collection, p50/p99, with kernel notification and with polling only) and
# its idle CPU. Goals: <= 10 ms at p99 with notification, < 1% CPU idle.
# Figures, not a test: it exits non-zero only when the benchmark itself broke.
#
#   tests/bench/watchdog.sh [BENCH_WATCHDOG] [ROUNDS] [IDLE_SECONDS]
#
# As root it runs in a 512 MiB memory cgroup of its own (v1 or v2), so the
# kernel's thresholds apply; otherwise on a configured 512 MiB limit, which
# the watchdog can only poll.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
bench=${1:-${BENCH_BUILD:-$src/build-release}/tests/bench/bench-watchdog}
rounds=${2:-200}
seconds=${3:-10}
limit=$((512 << 20))
dir=

# Print "FSTYPE ROOT MOUNTPOINT SUPEROPTIONS" for each mount.
mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break
		print $(i + 1), $4, $5, $(i + 3) }' /proc/self/mountinfo
}

# Make a memory cgroup for the benchmark; print its directory.
make_cgroup() {
	local fs root mnt opts rel parent=
	while read -r fs root mnt opts; do
		if [ "$fs" = cgroup ] && [[ ",$opts," == *,memory,* ]]; then
			rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' \
				/proc/self/cgroup)
			[ "$root" != / ] && rel=${rel#"$root"}
			parent=$mnt$rel
			break
		fi
	done < <(mounts)
	if [ -z "$parent" ]; then
		while read -r fs root mnt opts; do
			[ "$fs" = cgroup2 ] && parent=$mnt && break
		done < <(mounts)
		[ -n "$parent" ] || return 1
		echo +memory >"$parent/cgroup.subtree_control" 2>/dev/null
	fi
	mkdir "$parent/reclaim-bench-$$" 2>/dev/null || return 1
	echo "$parent/reclaim-bench-$$"
}

# Set the limit on $dir (v1 or v2).
set_limit() {
	if [ -e "$dir/memory.limit_in_bytes" ]; then
		echo "$limit" >"$dir/memory.limit_in_bytes"
	else
		echo "$limit" >"$dir/memory.max"
	fi
}

cleanup() {
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	for _ in $(seq 50); do
		rmdir "$dir" 2>/dev/null && return 0
		sleep 0.1
	done
}
trap cleanup EXIT

[ -x "$bench" ] || { echo "watchdog.sh: no $bench (build it first)" >&2; exit 2; }
echo "== watchdog benchmark (goals: reaction p99 <= 10 ms with notification, idle CPU < 1%)"
if [ "$(id -u)" = 0 ] && dir=$(make_cgroup) && set_limit; then
	echo "   in memory cgroup $dir, limit 512 MiB"
	inside() { bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' run "$dir" "$@"; }
	extra=()
else
	echo "   not root or no memory cgroup: a configured 512 MiB limit, polling"
	dir=
	inside() { "$@"; }
	extra=(512M)
fi
rc=0
inside "$bench" react "$rounds" events "${extra[@]}" || rc=1
inside "$bench" react "$rounds" poll "${extra[@]}" || rc=1
inside "$bench" idle "$seconds" events "${extra[@]}" || rc=1
inside "$bench" idle "$seconds" poll "${extra[@]}" || rc=1
exit $rc
