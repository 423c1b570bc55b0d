#!/bin/sh
# SPDX-License-Identifier: MIT
# Reading every file of the tree through the mount vs the same tree on
# tmpfs (not a test).
#
#   tests/bench/fs-read-all.sh [BUILD_DIR] [RUNNERS]
#
# Mounts a generated config.toml with RUNNERS runners (default 1000), copies
# the tree out of the mount into a tmpfs directory (/dev/shm, or
# $BENCH_TMPFS) with fs-walk --copy, checks that both have the same files
# and bytes, then times fs-walk (one process: getdents, d_type or fstatat,
# openat + read to EOF + close of every regular file) over both,
# alternating, BENCH_READ_ROUNDS times (default 5). Prints the median time,
# files/s, and the ratio (target <= 3x).
#
# For scale, it also mounts fs-fuse-floor (a do-nothing FUSE passthrough,
# built like runnerfs on libfuse's high-level API) over the tmpfs copy, once
# with runnerfs's first settings (attr_timeout=0, entry_timeout=1, direct_io,
# no d_type from readdir) and once tuned (attr_timeout=1, d_type, page cache;
# runnerfs now has READDIRPLUS, noflush, direct_io, attr_timeout=0),
# and walks them in the same rounds: what any FUSE filesystem costs here.
# BENCH_READ_FLOOR=0 leaves them out.
set -eu
# shellcheck source=tests/bench/fs-lib.sh
. "$(dirname "$0")/fs-lib.sh"
shift 2>/dev/null || true
n=${1:-1000}
rounds=${BENCH_READ_ROUNDS:-5}
tmpfs=${BENCH_TMPFS:-/dev/shm}

if [ "$(fstype "$tmpfs")" != tmpfs ]; then
	echo "fs-read-all: $tmpfs is not a tmpfs (set BENCH_TMPFS)" >&2
	exit 2
fi
shm=$(mktemp -d "$tmpfs/runnerfs-fsbench.XXXXXX")
dir=$work/r$n
gen "$n" "$dir/cfg"
mount_fs "$dir/cfg/config.toml" "$dir/mnt"
"$walk" --copy "$dir/mnt" "$shm" >"$dir/copy"
targets="mount:$dir/mnt tmpfs:$shm"
floor_pids=""
if [ "${BENCH_READ_FLOOR:-1}" != 0 ]; then
	mkdir -p "$dir/floor1" "$dir/floor2"
	"$floor" "$shm" "$dir/floor1" -f 2>"$dir/floor1.log" &
	floor_pids="$!"
	mounts="$dir/floor1 $mounts"
	FLOOR_ATTR_TIMEOUT=1 FLOOR_DTYPE=1 FLOOR_DIRECT_IO=0 "$floor" "$shm" "$dir/floor2" -f 2>"$dir/floor2.log" &
	floor_pids="$floor_pids $!"
	mounts="$dir/floor2 $mounts"
	for m in "$dir/floor1" "$dir/floor2"; do
		i=0
		while ! mountpoint -q "$m"; do
			i=$((i + 1))
			if [ $i -gt 200 ]; then
				echo "fs-fuse-floor did not mount $m" >&2
				exit 2
			fi
			sleep 0.05
		done
	done
	targets="$targets floor1:$dir/floor1 floor2:$dir/floor2"
fi
load0=$(loadavg)
i=0
while [ $i -lt "$rounds" ]; do
	# each round starts with the next target: every one goes first as often
	order=$(echo $targets | tr ' ' '\n' | awk -v i=$i '{ a[NR - 1] = $0 } END { for (k = 0; k < NR; k++) print a[(k + i) % NR] }')
	for t in $order; do
		"$walk" "${t#*:}" >>"$dir/t-${t%%:*}"
	done
	i=$((i + 1))
done
load1=$(loadavg)
umount_fs "$dir/mnt"
for m in "$dir/floor1" "$dir/floor2"; do
	if mountpoint -q "$m"; then
		fusermount3 -u "$m"
	fi
done
for p in $floor_pids; do
	wait "$p" 2>/dev/null || true
done

python3 - "$dir" "$n" "$load0" "$load1" "$(buildtype)" "$(fstype "$dir")" <<'PY' >"$dir/report"
import statistics, sys
d, n, load0, load1, bt, fst = sys.argv[1:]
def runs(name):
    out = []
    for line in open(f"{d}/t-{name}" if name != "copy" else f"{d}/copy"):
        out.append({k: float(v) for k, v in (f.split("=") for f in line.split())})
    return out
copy = runs("copy")[0]
m, t = runs("mount"), runs("tmpfs")
if m[0]["files"] != t[0]["files"] or m[0]["bytes"] != t[0]["bytes"]:
    sys.exit(f"fs-read-all: the copy differs: {m[0]} vs {t[0]}")
mm = statistics.median(r["seconds"] for r in m)
tm = statistics.median(r["seconds"] for r in t)
files, dirs, b = int(m[0]["files"]), int(m[0]["dirs"]), int(m[0]["bytes"])
ratio = mm / tm
ok = ratio <= 3
print(f"== read every file, {n} runners: {files:,} files in {dirs:,} directories, {b:,} bytes "
      f"(build: {bt}; config on {fst}; {len(m)} rounds each, alternating)")
print(f"  load average {load0} -> {load1}; fstatat calls per round: mount {int(m[0]['stats']):,}, "
      f"tmpfs {int(t[0]['stats']):,} (DT_UNKNOWN from readdir)")
print(f"  {'':9} {'median':>9} {'min':>9} {'max':>9} {'files/s':>10}")
for name, rs, med in (("runnerfs", m, mm), ("tmpfs", t, tm)):
    s = [r["seconds"] for r in rs]
    print(f"  {name:9} {med*1e3:7.1f}ms {min(s)*1e3:7.1f}ms {max(s)*1e3:7.1f}ms {files/med:10,.0f}")
import os
for name, label in (("floor1", "FUSE passthrough with runnerfs's first settings"),
                    ("floor2", "FUSE passthrough tuned (attr_timeout=1, d_type, page cache)")):
    if os.path.exists(f"{d}/t-{name}"):
        s = [r["seconds"] for r in runs(name)]
        med = statistics.median(s)
        print(f"  {label}: median {med*1e3:.1f} ms, {files/med:,.0f} files/s, "
              f"{med/tm:.2f}x tmpfs; runnerfs is {mm/med:.2f}x this")
print(f"  copy out of the mount (first walk after mounting): {copy['seconds']*1e3:.1f} ms")
print(f"  ratio {ratio:.2f}x   target <= 3x   {'ok' if ok else 'MISSED'}")
print(f"SUMMARY|read all files, {n} runners|{ratio:.2f}x ({mm*1e3:.0f} vs {tm*1e3:.0f} ms; "
      f"{files/mm:,.0f} vs {files/tm:,.0f} files/s)|<= 3x|{'ok' if ok else 'MISSED'}")
PY
grep -v '^SUMMARY|' "$dir/report"
grep '^SUMMARY|' "$dir/report" | while IFS='|' read -r _ a b c d; do summary "$a" "$b" "$c" "$d"; done
