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
# runnerfs now has READDIRPLUS, noflush, attr_timeout=1 and the page
# cache with keep_cache for small values),
# and walks them in the same rounds: what any FUSE filesystem costs here.
# It also mounts fs-fuse-ideal (a passthrough on libfuse's low-level API
# that lets the kernel serve a warm walk by itself: no OPEN/OPENDIR, long
# entry and attribute timeouts, READDIRPLUS, page and readdir caches) over
# the same copy, once so and once with OPEN/OPENDIR kept (a handle per open,
# as runnerfs needs for its writes): the best any FUSE filesystem can do
# here. After the rounds, one more walk of each fs-fuse-ideal mount is
# bracketed with SIGUSR1 to count the FUSE requests of a warm walk.
# BENCH_READ_FLOOR=0 leaves all of them out. Then, as many rounds, a warm
# `find` of every target (fs-walk --list: every directory listed, no file
# opened; target <= 2x tmpfs, issue 12).
set -eu
# shellcheck source=tests/bench/fs-lib.sh
. "$(dirname "$0")/fs-lib.sh"
shift 2>/dev/null || true
ideal=$build/tests/bench/fs-fuse-ideal
if [ -z "${BENCH_NO_BUILD:-}" ]; then
	ninja -C "$build" tests/bench/fs-fuse-ideal >/dev/null
fi
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
ideal_pids=""
# mount_floor NAME OPTIONS COMMAND...: run COMMAND SRC MNT -f OPTIONS (a
# floor filesystem over the tmpfs copy) in the background, log in
# $dir/NAME.log, mounted on $dir/NAME (tracked in mounts, so the exit trap
# unmounts it), and wait for the mount. The pid is left in floor_pid.
mount_floor() {
	name=$1
	opts=$2
	shift 2
	mkdir -p "$dir/$name"
	# shellcheck disable=SC2086 # OPTIONS are words
	"$@" "$shm" "$dir/$name" -f $opts 2>"$dir/$name.log" &
	floor_pid=$!
	floor_pids="$floor_pids $floor_pid"
	mounts="$dir/$name $mounts"
	i=0
	while ! mountpoint -q "$dir/$name"; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$floor_pid" 2>/dev/null; then
			echo "$(basename "$1") did not mount $dir/$name:" >&2
			cat "$dir/$name.log" >&2
			exit 2
		fi
		sleep 0.05
	done
	targets="$targets $name:$dir/$name"
}
if [ "${BENCH_READ_FLOOR:-1}" != 0 ]; then
	mount_floor floor1 "" "$floor"
	mount_floor floor2 "" env FLOOR_ATTR_TIMEOUT=1 FLOOR_DTYPE=1 FLOOR_DIRECT_IO=0 "$floor"
	# ro: without it the kernel drops each directory's atime after a
	# READDIRPLUS and asks for its attributes again on the next walk
	mount_floor ideal "-o ro" env IDEAL_NO_OPEN=1 "$ideal"
	ideal_pids="$ideal_pids ideal:$floor_pid"
	mount_floor idealopen "-o ro" env IDEAL_NO_OPEN=0 "$ideal"
	ideal_pids="$ideal_pids idealopen:$floor_pid"
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
# a warm `find` (no file opened): the same targets, after the reads above
# (every entry known to the kernel), alternating
i=0
while [ $i -lt "$rounds" ]; do
	order=$(echo $targets | tr ' ' '\n' | awk -v i=$i '{ a[NR - 1] = $0 } END { for (k = 0; k < NR; k++) print a[(k + i) % NR] }')
	for t in $order; do
		"$walk" --list "${t#*:}" >>"$dir/l-${t%%:*}"
	done
	i=$((i + 1))
done
load1=$(loadavg)
# the requests of one more (warm) walk of each fs-fuse-ideal mount: SIGUSR1
# prints the counts since the last one and starts again from zero
for np in $ideal_pids; do
	name=${np%%:*}
	pid=${np#*:}
	for step in reset count; do
		before=$(grep -c 'requests:' "$dir/$name.log" || true)
		kill -USR1 "$pid"
		i=0
		while [ "$(grep -c 'requests:' "$dir/$name.log" || true)" -le "$before" ] && [ $i -lt 100 ]; do
			i=$((i + 1))
			sleep 0.02
		done
		if [ $step = reset ]; then
			"$walk" "$dir/$name" >/dev/null
		fi
	done
	grep 'requests:' "$dir/$name.log" | tail -n 1 | sed 's/.*requests: //' >"$dir/req-$name"
done
umount_fs "$dir/mnt"
for m in "$dir/floor1" "$dir/floor2" "$dir/ideal" "$dir/idealopen"; do
	if mountpoint -q "$m"; then
		fusermount3 -u "$m"
	fi
	mounts=$(echo "$mounts" | sed "s#$m ##")
done
for p in $floor_pids; do
	wait "$p" 2>/dev/null || true
done

python3 - "$dir" "$n" "$load0" "$load1" "$(buildtype)" "$(fstype "$dir")" <<'PY' >"$dir/report"
import os, statistics, sys
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
for name, label in (("floor1", "FUSE passthrough with runnerfs's first settings"),
                    ("floor2", "FUSE passthrough tuned (attr_timeout=1, d_type, page cache)"),
                    ("ideal", "ideal FUSE (low-level, no OPEN, kernel caches)"),
                    ("idealopen", "ideal FUSE with OPEN kept (handle per open, keep_cache, cache_readdir)")):
    if os.path.exists(f"{d}/t-{name}"):
        s = [r["seconds"] for r in runs(name)]
        med = statistics.median(s)
        print(f"  {label}: median {med*1e3:.1f} ms, {files/med:,.0f} files/s, "
              f"{med/tm:.2f}x tmpfs; runnerfs is {mm/med:.2f}x this")
        if os.path.exists(f"{d}/req-{name}"):
            req = open(f"{d}/req-{name}").read().split()
            total = int(req[0].split("=")[1]) if req else 0
            print(f"    first walk (cold) {s[0]*1e3:.1f} ms; requests of one more warm walk: "
                  f"{total:,} ({total/files:.2f} per file): {' '.join(req[1:]) or 'none'}")
def lruns(name):
    p = f"{d}/l-{name}"
    return [float(dict(f.split("=") for f in line.split())["seconds"]) for line in open(p)] if os.path.exists(p) else []
lm, lt = statistics.median(lruns("mount")), statistics.median(lruns("tmpfs"))
lratio = lm / lt
print(f"== warm find (every directory listed, no file opened), {len(lruns('mount'))} rounds each, alternating")
print(f"  runnerfs median {lm*1e3:.1f} ms, tmpfs {lt*1e3:.1f} ms: {lratio:.2f}x tmpfs (target <= 2x)")
for name, label in (("floor2", "FUSE passthrough tuned"), ("ideal", "ideal FUSE (no OPEN)"),
                    ("idealopen", "ideal FUSE with OPEN kept")):
    s = lruns(name)
    if s:
        med = statistics.median(s)
        print(f"  {label}: median {med*1e3:.1f} ms, {med/lt:.2f}x tmpfs; runnerfs is {lm/med:.2f}x this")
print(f"  copy out of the mount (first walk after mounting): {copy['seconds']*1e3:.1f} ms")
print(f"  ratio {ratio:.2f}x   target <= 3x   {'ok' if ok else 'MISSED'}")
print(f"SUMMARY|read all files, {n} runners|{ratio:.2f}x ({mm*1e3:.0f} vs {tm*1e3:.0f} ms; "
      f"{files/mm:,.0f} vs {files/tm:,.0f} files/s)|<= 3x|{'ok' if ok else 'MISSED'}")
print(f"SUMMARY|warm find, {n} runners|{lratio:.2f}x ({lm*1e3:.0f} vs {lt*1e3:.0f} ms)|<= 2x|"
      f"{'ok' if lratio <= 2 else 'MISSED'}")
PY
grep -v '^SUMMARY|' "$dir/report"
grep '^SUMMARY|' "$dir/report" | while IFS='|' read -r _ a b c d; do summary "$a" "$b" "$c" "$d"; done
