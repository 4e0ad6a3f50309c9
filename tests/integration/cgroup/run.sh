#!/usr/bin/env bash
# The real cgroup test: run cgroup-garbage in a child memory cgroup of
# 256 MiB (cgroup v1 or v2, whichever holds the memory controller) and read
# the cgroup's oom_kill counter afterwards.
#   on  (watchdog + byte pacing)     must finish, oom_kill 0
#   wd  (watchdog, count-only pacing) must finish, oom_kill 0
#   off (both off, 700,10,10 and 0)   must be OOM-killed
# Skips (exit 77) when not root or when no memory cgroup can be created.
set -u
helper=${1:?usage: run.sh CGROUP_GARBAGE [ITERATIONS]}
iterations=${2:-100}
limit=$((256 << 20))
dir=

skip() {
	echo "SKIP: $*"
	exit 77
}

# Print "FSTYPE ROOT MOUNTPOINT SUPEROPTIONS" for each mount.
mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break
		print $(i + 1), $4, $5, $(i + 3) }' /proc/self/mountinfo
}

# Print the memory hierarchy's version and the parent for our test cgroup.
find_parent() {
	local fs root mnt opts rel
	while read -r fs root mnt opts; do
		[ "$fs" = cgroup ] && [[ ",$opts," == *,memory,* ]] || continue
		rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' \
			/proc/self/cgroup)
		[ "$root" != / ] && rel=${rel#"$root"}
		echo "1 $mnt$rel"
		return
	done < <(mounts)
	while read -r fs root mnt opts; do
		[ "$fs" = cgroup2 ] || continue
		grep -qw memory "$mnt/cgroup.controllers" 2>/dev/null &&
			echo "2 $mnt"
		return
	done < <(mounts)
}

# Make the cgroup $dir with the limit and no swap.
make_cgroup() {
	mkdir "$dir" 2>/dev/null || return 1
	if [ "$version" = 1 ]; then
		echo "$limit" >"$dir/memory.limit_in_bytes" || return 1
		[ -e "$dir/memory.memsw.limit_in_bytes" ] &&
			echo "$limit" >"$dir/memory.memsw.limit_in_bytes"
		echo 0 >"$dir/memory.swappiness" 2>/dev/null
	else
		echo "$limit" >"$dir/memory.max" || return 1
		echo 0 >"$dir/memory.swap.max" 2>/dev/null
	fi
	return 0
}

# The cgroup's OOM kills (v1: memory.oom_control; v2: memory.events).
oom_kills() {
	local f=$dir/memory.events
	[ "$version" = 1 ] && f=$dir/memory.oom_control
	awk '$1 == "oom_kill" { print $2; found = 1 } END { if (!found) print "?" }' "$f"
}

# Remove the cgroup once its processes are gone.
cleanup() {
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	for _ in $(seq 50); do
		rmdir "$dir" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "warning: could not remove $dir" >&2
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip "creating a memory cgroup needs root"
read -r version parent < <(find_parent) ||
	skip "no memory cgroup hierarchy (v1 or v2) is mounted"
[ -w "$parent" ] || skip "cannot write to $parent"
if [ "$version" = 2 ]; then
	echo +memory >"$parent/cgroup.subtree_control" 2>/dev/null
fi

failed=0
# run MODE EXPECT: EXPECT is "survive" or "oom".
run() {
	local mode=$1 expect=$2 rc kills
	dir=$parent/reclaim-test-$$-$mode
	make_cgroup || skip "cannot create a memory cgroup under $parent"
	echo "== $mode: cgroup v$version $dir, limit 256 MiB, $iterations cycles"
	bash -c 'echo $$ >"$1/cgroup.procs" && exec "$2" "$3" "$4"' \
		run "$dir" "$helper" "$mode" "$iterations"
	rc=$?
	kills=$(oom_kills)
	echo "== $mode: exit status $rc, oom_kill $kills"
	cleanup
	dir=
	if [ "$expect" = survive ] && { [ "$rc" != 0 ] || [ "$kills" != 0 ]; }; then
		echo "FAIL: $mode should finish with oom_kill 0"
		failed=1
	elif [ "$expect" = oom ] && { [ "$rc" = 0 ] || [ "$kills" = 0 ]; }; then
		echo "FAIL: $mode should be OOM-killed"
		failed=1
	fi
}

run on survive
run wd survive
run off oom
exit $failed
