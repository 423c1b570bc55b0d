#!/bin/sh
# SPDX-License-Identifier: MIT
# Peak RSS of the daemon (not a test).
#
#   tests/bench/fs-rss.sh [BUILD_DIR] [RUNNERS...]
#
# For each RUNNERS (default: 10 1000; the last one is held to the target),
# mounts a generated config.toml and reads VmHWM (peak RSS) and VmRSS from
# /proc/PID/status of the daemon: after mounting, after reading every file
# of the tree once (fs-walk), and after 100 one-key edits (printf > limit,
# alternating values, each one a commit). Target: VmHWM <= 12 MB at 1000
# runners.
set -eu
# shellcheck source=tests/bench/fs-lib.sh
. "$(dirname "$0")/fs-lib.sh"
shift 2>/dev/null || true
sizes=${*:-10 1000}
edits=${BENCH_RSS_EDITS:-100}
target_kb=12288 # issue 12 (was 20 MB)

kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

mb() {
	awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

echo "== daemon peak RSS (VmHWM; VmRSS in brackets) (build: $(buildtype); $(nproc) CPUs)"
printf '  %-8s %10s %-16s %-16s %-16s %s\n' runners config "after mount" "after read-all" "after $edits edits" "load average"
last=""
for n in $sizes; do
	last=$n
	dir=$work/r$n
	gen "$n" "$dir/cfg"
	size=$(stat -c %s "$dir/cfg/config.toml")
	mount_fs "$dir/cfg/config.toml" "$dir/mnt"
	pid=$daemon_pid
	sleep 0.2
	h0=$(kb "$pid" VmHWM)
	r0=$(kb "$pid" VmRSS)
	"$walk" "$dir/mnt" >/dev/null
	h1=$(kb "$pid" VmHWM)
	r1=$(kb "$pid" VmRSS)
	runner=$(ls "$dir/mnt/runners" | sed -n "$(( (n + 1) / 2 ))p")
	i=0
	while [ $i -lt "$edits" ]; do
		printf '%s\n' $((7 + i % 2)) >"$dir/mnt/runners/$runner/limit"
		i=$((i + 1))
	done
	h2=$(kb "$pid" VmHWM)
	r2=$(kb "$pid" VmRSS)
	umount_fs "$dir/mnt"
	printf '  %-8s %9sk %-16s %-16s %-16s %s\n' "$n" $((size / 1024)) \
		"$(mb "$h0") [$(mb "$r0")] MB" "$(mb "$h1") [$(mb "$r1")] MB" "$(mb "$h2") [$(mb "$r2")] MB" "$(loadavg)"
	eval "hwm_$n=$h2"
done
eval "peak=\$hwm_$last"
ok=0
[ "$peak" -le $target_kb ] && ok=1
echo "  peak at $last runners: $(mb "$peak") MB   target <= 12 MB   $(verdict $ok)"
summary "peak RSS, $last runners" "$(mb "$peak") MB" "<= 12 MB" "$(verdict $ok)"
