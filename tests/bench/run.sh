#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark the TOML engine against Python's tomllib on the same bytes.
#
#   tests/bench/run.sh [--check] [BUILD_DIR] [RUNNERS]
#
# BUILD_DIR defaults to build-bench (set up as a release build if missing);
# RUNNERS (default 1000, about 1.3 MB) is passed to
# tests/fixtures/gen_runners.py. Prints MB/s for both parsers and the
# ratios the issue sets targets for. With --check, exits 1 if a target is
# missed.
set -eu

check=0
if [ "${1:-}" = "--check" ]; then
	check=1
	shift
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
runners=${2:-1000}
iters=${BENCH_ITERATIONS:-40}

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$root" --buildtype=release >/dev/null
fi
if [ -z "${BENCH_NO_BUILD:-}" ]; then
	ninja -C "$build" tests/bench/bench-parse >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/runnerfs-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
python3 "$root/tests/fixtures/gen_runners.py" "$runners" >"$work/config.toml"

"$build/tests/bench/bench-parse" "$work/config.toml" "$iters" >"$work/c.out"

buildtype=$(meson introspect --buildoptions "$build" 2>/dev/null |
	python3 -c 'import json,sys; print(next((o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"), "?"))' ||
	echo '?')

python3 - "$work/config.toml" "$work/c.out" "$check" "$buildtype" <<'PY'
import sys, timeit, tomllib

path, cout, check, buildtype = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
data = open(path, "rb").read()
text = data.decode("utf-8")
c = {}
for line in open(cout):
    k, _, v = line.strip().partition("=")
    c[k] = float(v)

tomllib.loads(text)  # warm up
number, repeat = 3, 7
py_best = min(timeit.repeat(lambda: tomllib.loads(text), number=number, repeat=repeat)) / number

mb = len(data) / 1e6
c_parse = mb / c["parse_best_s"]
c_pf = mb / c["parse_free_best_s"]
c_ser = mb / c["serialize_best_s"]
py_parse = mb / py_best
ratio = c_parse / py_parse
ser_ratio = c_ser / c_parse
peak = c["peak_heap_bytes"] or c["peak_rss_bytes"]
mem_ratio = peak / len(data)

def verdict(ok):
    return "ok" if ok else "MISSED"

print(f"input:      {len(data):,} bytes, {int(c['nodes']):,} nodes "
      f"({path.rsplit('/', 1)[-1]}; C build: {buildtype}; best of "
      f"{int(c['iterations'])} C runs, of {repeat}x{number} Python runs)")
print(f"C parse:    {c_parse:10.1f} MB/s  ({c['parse_best_s']*1e3:.3f} ms; "
      f"median {c['parse_median_s']*1e3:.3f} ms; with toml_free {c_pf:.1f} MB/s)")
print(f"tomllib:    {py_parse:10.1f} MB/s  ({py_best*1e3:.3f} ms, "
      f"Python {sys.version.split()[0]})")
print(f"C serialize:{c_ser:10.1f} MB/s  ({c['serialize_best_s']*1e6:.1f} us: "
      f"toml_text + copying the bytes out)")
if c["edit_best_s"] >= 0:
    print(f"C edit:     {c['edit_best_s']*1e3:10.3f} ms    (one toml_set in "
          f"the middle + toml_text)")
print(f"memory:     peak heap during parse {c['peak_heap_bytes']/1e6:.2f} MB, "
      f"heap kept by the document {c['doc_heap_bytes']/1e6:.2f} MB, "
      f"peak RSS growth {c['peak_rss_bytes']/1e6:.2f} MB")
print()
ok1, ok2, ok3 = ratio >= 25, ser_ratio >= 1, mem_ratio < 8
print(f"parse vs tomllib:     {ratio:8.1f}x   (target >= 25x)   {verdict(ok1)}")
print(f"serialize vs parse:   {ser_ratio:8.1f}x   (target >= 1x)    {verdict(ok2)}")
print(f"peak memory / file:   {mem_ratio:8.2f}x   (target < 8x)     {verdict(ok3)}")
if buildtype not in ("release", "?"):
    print(f"note: the C side is a '{buildtype}' build; targets are for release")
sys.exit(1 if check and not (ok1 and ok2 and ok3) else 0)
PY
