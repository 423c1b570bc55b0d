# SPDX-License-Identifier: MIT
# Shared by the filesystem benchmarks (fs-*.sh): sourced, not run.
#
# Sets root, build (from $1, default build-bench: set up as a release
# build and built when missing), work (a temporary directory under
# $BENCH_DIR, default /var/tmp, removed at exit with anything mounted in it
# unmounted first). Environment:
#   BENCH_DIR         where configs are written (a real disk filesystem)
#   BENCH_NO_BUILD    set: do not run ninja
#   FS_BENCH_SUMMARY  a file each benchmark appends its verdict lines to
#                     (fs-all.sh sets it): name|figure|target|ok-or-MISSED

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$root" --buildtype=release >/dev/null
fi
if [ -z "${BENCH_NO_BUILD:-}" ]; then
	ninja -C "$build" runnerfs tests/bench/fs-walk tests/bench/fs-edit-latency tests/bench/fs-fuse-floor >/dev/null
fi
runnerfs=$build/runnerfs
walk=$build/tests/bench/fs-walk
edit=$build/tests/bench/fs-edit-latency
floor=$build/tests/bench/fs-fuse-floor

work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/runnerfs-fsbench.XXXXXX")
mounts=""
daemon_pid=""
shm="" # a tmpfs directory to remove at exit

cleanup() {
	for m in $mounts; do
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
	done
	if [ -n "$daemon_pid" ]; then
		wait "$daemon_pid" 2>/dev/null || true
	fi
	if [ -n "$shm" ]; then
		rm -rf "$shm"
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

loadavg() {
	cut -d' ' -f1-3 /proc/loadavg
}

# fstype DIR: the type of the filesystem DIR is on.
fstype() {
	df -T "$1" | awk 'NR == 2 { print $2 }'
}

buildtype() {
	meson introspect --buildoptions "$build" 2>/dev/null |
		python3 -c 'import json,sys; print(next((o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"), "?"))' 2>/dev/null ||
		echo '?'
}

# gen N DIR: DIR/config.toml with N runners.
gen() {
	mkdir -p "$2"
	python3 "$root/tests/fixtures/gen_runners.py" "$1" >"$2/config.toml"
}

# mount_fs CONFIG MNT [OPTIONS...]: start the daemon in the foreground
# (its pid in daemon_pid, its log in MNT.log) and wait for the mount.
mount_fs() {
	mkdir -p "$2"
	cfg=$1
	mnt=$2
	shift 2
	"$runnerfs" -f "$@" "$cfg" "$mnt" 2>"$mnt.log" &
	daemon_pid=$!
	mounts="$mnt $mounts"
	i=0
	while ! mountpoint -q "$mnt"; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
			echo "runnerfs did not mount $mnt:" >&2
			cat "$mnt.log" >&2
			exit 2
		fi
		sleep 0.05
	done
}

# umount_fs MNT: unmount and wait for the daemon to exit.
umount_fs() {
	fusermount3 -u "$1"
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=""
	mounts=$(echo "$mounts" | sed "s#$1 ##")
}

# summary NAME FIGURE TARGET OK
summary() {
	if [ -n "${FS_BENCH_SUMMARY:-}" ]; then
		echo "$1|$2|$3|$4" >>"$FS_BENCH_SUMMARY"
	fi
}

verdict() {
	if [ "$1" = 1 ]; then echo ok; else echo MISSED; fi
}
