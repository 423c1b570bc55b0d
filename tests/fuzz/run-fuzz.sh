#!/bin/sh
# SPDX-License-Identifier: MIT
# Run one libFuzzer target for a bounded time on a copy of its seed corpus
# (the repository is never written), with the regression inputs loaded as
# well. Exit non-zero on any crash, leak, timeout or invariant violation;
# the failing input is kept in ARTIFACT_DIR and printed as hex.
#
#   run-fuzz.sh TARGET CORPUS_DIR REGRESSION_DIR DICT SECONDS ARTIFACT_DIR
set -eu

target=$1 corpus=$2 regressions=$3 dict=$4 seconds=$5 artifacts=$6

work=$(mktemp -d "${TMPDIR:-/tmp}/runnerfs-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/corpus" "$artifacts"
cp -R "$corpus/." "$work/corpus/"
set -- "$work/corpus"
if [ -d "$regressions" ]; then
	set -- "$@" "$regressions"
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

name=$(basename "$target")
status=0
"$target" \
	-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-max_len=8192 -dict="$dict" -print_final_stats=1 \
	-artifact_prefix="$artifacts/$name-" \
	"$@" >"$work/log" 2>&1 || status=$?

# Keep the log small in meson's testlog: the start, the end.
lines=$(wc -l <"$work/log")
if [ "$lines" -gt 80 ]; then
	head -n 20 "$work/log"
	echo "... ($lines lines) ..."
	tail -n 60 "$work/log"
else
	cat "$work/log"
fi

if [ "$status" -ne 0 ]; then
	echo "FAIL: $name exited with $status"
	for f in $(grep -o "Test unit written to [^ ]*" "$work/log" | sed 's/.* to //'); do
		echo "failing input: $f"
		od -A d -t x1z "$f" | head -n 40
	done
	echo "reproduce: $target FILE   (minimise: $target -minimize_crash=1 -runs=100000 FILE)"
	exit 1
fi
