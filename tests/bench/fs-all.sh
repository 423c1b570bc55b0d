#!/bin/sh
# SPDX-License-Identifier: MIT
# All filesystem benchmarks (not tests), then a summary table.
#
#   tests/bench/fs-all.sh [--check] [BUILD_DIR]
#
# BUILD_DIR defaults to build-bench (set up as a release build if missing).
# Runs fs-edit-latency.sh (10 and 1000 runners), fs-read-all.sh (1000),
# fs-rss.sh (10 and 1000) and fs-read-latency.py (reads at rest and under
# outside writers, a slow disk, 16 writers), each printing its own report,
# then one line per
# target. With --check, exits 1 if a target is missed. The environment
# variables of each script apply (BENCH_DIR, BENCH_EDIT_ITERATIONS,
# BENCH_READ_ROUNDS, BENCH_READ_FLOOR, BENCH_RSS_EDITS, BENCH_TMPFS).
set -eu

check=0
if [ "${1:-}" = "--check" ]; then
	check=1
	shift
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-bench}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$root" --buildtype=release >/dev/null
fi
if [ -z "${BENCH_NO_BUILD:-}" ]; then
	ninja -C "$build" runnerfs tests/bench/fs-walk tests/bench/fs-edit-latency tests/bench/fs-fuse-floor \
		tests/bench/fs-fuse-ideal >/dev/null
fi

summary=$(mktemp "${TMPDIR:-/tmp}/runnerfs-fs-all.XXXXXX")
trap 'rm -f "$summary"' EXIT
export FS_BENCH_SUMMARY="$summary" BENCH_NO_BUILD=1

load0=$(cut -d' ' -f1-3 /proc/loadavg)
"$here/fs-edit-latency.sh" "$build" 10 1000
echo
"$here/fs-read-all.sh" "$build" 1000
echo
"$here/fs-rss.sh" "$build" 10 1000
echo
python3 "$here/fs-read-latency.py" "$build"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== summary ($(nproc) CPUs; load average $load0 at the start, $load1 at the end)"
awk -F'|' '
	BEGIN { printf "  %-30s %-50s %-10s %s\n", "benchmark", "measured", "target", "" }
	{ printf "  %-30s %-50s %-10s %s\n", $1, $2, $3, $4; if ($4 != "ok") missed++ }
	END { exit missed ? 1 : 0 }' "$summary" && ok=1 || ok=0
if [ "$check" = 1 ] && [ "$ok" = 0 ]; then
	exit 1
fi
exit 0
