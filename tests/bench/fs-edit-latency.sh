#!/bin/sh
# SPDX-License-Identifier: MIT
# One-key edit latency through the mount vs the floor (not a test).
#
#   tests/bench/fs-edit-latency.sh [BUILD_DIR] [RUNNERS...]
#
# For each RUNNERS (default: 10 1000), mounts a generated config.toml (under
# $BENCH_DIR, default /var/tmp) and times, side by side in one loop,
#   runnerfs: open/write/close of runners/<middle runner>/limit, which
#             returns once config.toml is renamed into place and its
#             directory fsynced;
#   floor:    the same whole config bytes written to a temp file in a sibling
#             directory on the same filesystem, fsync, rename, fsync of the
#             directory.
# Prints median and p90 of both and the ratio of the medians (target
# <= 1.5x). BENCH_EDIT_ITERATIONS (default 200) sets the iterations.
set -eu
# shellcheck source=tests/bench/fs-lib.sh
. "$(dirname "$0")/fs-lib.sh"
shift 2>/dev/null || true
sizes=${*:-10 1000}
iters=${BENCH_EDIT_ITERATIONS:-200}

echo "== one-key edit latency (build: $(buildtype); configs on $(fstype "$work") at ${BENCH_DIR:-/var/tmp}; $(nproc) CPUs)"
for n in $sizes; do
	dir=$work/r$n
	gen "$n" "$dir/cfg"
	mkdir -p "$dir/floor"
	mount_fs "$dir/cfg/config.toml" "$dir/mnt"
	runner=$(ls "$dir/mnt/runners" | sed -n "$(( (n + 1) / 2 ))p")
	file=$dir/mnt/runners/$runner/limit
	load0=$(loadavg)
	"$edit" "$file" "$dir/cfg/config.toml" "$dir/floor" "$iters" "7
" "8
" >"$dir/out"
	load1=$(loadavg)
	umount_fs "$dir/mnt"
	python3 - "$dir/out" "$n" "$runner" "$load0" "$load1" <<'PY' >"$dir/report"
import sys
out, n, runner, load0, load1 = sys.argv[1:]
v = {}
for line in open(out):
    k, _, x = line.strip().partition("=")
    v[k] = float(x)
ms = lambda k: v[k] / 1000
ratio = v["ratio_median"]
ok = ratio <= 1.5
print(f"{n} runners ({int(v['config_bytes']):,} bytes), {int(v['iterations'])} iterations, "
      f"editing runners/{runner}/limit; load average {load0} -> {load1}")
print(f"  {'':10} {'median':>9} {'p90':>9} {'min':>9}")
print(f"  {'runnerfs':10} {ms('mount_median_us'):7.2f}ms {ms('mount_p90_us'):7.2f}ms "
      f"{ms('mount_min_us'):7.2f}ms   (medians: open {ms('mount_open_median_us'):.2f}, "
      f"write {ms('mount_write_median_us'):.2f}, close {ms('mount_close_median_us'):.2f} ms)")
print(f"  {'floor':10} {ms('floor_median_us'):7.2f}ms {ms('floor_p90_us'):7.2f}ms "
      f"{ms('floor_min_us'):7.2f}ms")
print(f"  ratio median/median {ratio:.2f}x (median of per-iteration ratios "
      f"{v['ratio_paired_median']:.2f}x)   target <= 1.5x   {'ok' if ok else 'MISSED'}")
print(f"SUMMARY|edit latency, {n} runners|{ratio:.2f}x ({ms('mount_median_us'):.1f} vs "
      f"{ms('floor_median_us'):.1f} ms)|<= 1.5x|{'ok' if ok else 'MISSED'}")
PY
	grep -v '^SUMMARY|' "$dir/report"
	grep '^SUMMARY|' "$dir/report" | while IFS='|' read -r _ a b c d; do summary "$a" "$b" "$c" "$d"; done
done
