#!/usr/bin/env bash
# Quick start, command 2 (and what CI runs): install the Debian packages,
# build, and run every test.
#
#   sudo contrib/test.sh          (from the root of a clone, Debian 12)
#
# Stages:
#   1. build/       normal build; `meson test`: every registered suite
#                   (unit, toml-test compliance, round trip, edits, the
#                   BurntSushi judge, integration)
#   2. build-asan/  -Db_sanitize=address,undefined; `meson test` again
#   3. build-tsan/  -Db_sanitize=thread: the quick unit tests, the
#                   concurrency suite and the 60 s token-rotation soak
#   4. build/ again under valgrind: the C unit tests
#   5. build-fuzz/  clang, -Dfuzz=true; `meson test --suite fuzz`
#                   (bounded libFuzzer runs); skipped when clang is missing
#
# The last line of output is always `N passed, N failed` (plus `, N skipped`
# when tests were skipped), counted from each stage's meson-logs/testlog.json;
# a stage that fails to configure or build counts as one failure.
# The exit status is non-zero when anything failed.
#
# Environment:
#   RUNNERFS_SKIP_DEPS=1   don't run contrib/install-deps.sh
#   RUNNERFS_NO_FUZZ=1     skip stage 5
#   RUNNERFS_NO_ASAN=1     skip stage 2
#   RUNNERFS_NO_TSAN=1     skip stage 3
#   RUNNERFS_NO_DEPLOY=1   skip the deployment tests that build Debian images
#                          and run containers (the compose sidecar, systemd
#                          as PID 1; counted as skipped). They run in stage 1
#                          only: in sanitizer builds they skip themselves
#                          (meson passes b_sanitize as RUNNERFS_SANITIZE)
#   RUNNERFS_JOBS=N        parallel compile/test jobs (default 2)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=${RUNNERFS_JOBS:-2}
passed=0 failed=0 skipped=0
report=()         # one line per stage, printed before the summary
summary_done=0
t_start=$SECONDS

say() { printf '\n==> %s\n' "$*"; }

summary() {
  ((summary_done)) && return 0
  summary_done=1
  say "Summary ($((SECONDS - t_start))s in total)"
  local l
  for l in "${report[@]}"; do printf '  %s\n' "$l"; done
  local line="$passed passed, $failed failed"
  ((skipped)) && line+=", $skipped skipped"
  printf '%s\n' "$line"
}

# If anything unexpected kills the script, still end with the summary line.
on_exit() {
  local rc=$?
  if ((!summary_done)); then
    ((rc != 0)) && { failed=$((failed + 1)); report+=("test.sh: aborted (exit $rc)"); }
    summary
  fi
  exit "$rc"
}
trap on_exit EXIT

# count_results BUILDDIR -> prints "passed failed skipped" from testlog.json
count_results() {
  # meson names the log after a --wrapper (testlog-WRAPPER.json)
  local log=$1/meson-logs/testlog.json
  [[ -s $log ]] || log=$(ls -t "$1"/meson-logs/testlog*.json 2>/dev/null | head -n 1)
  [[ -n $log && -s $log ]] || { echo "0 0 0"; return 0; }
  python3 - "$log" <<'PY'
import json, re, sys
ok = bad = skip = 0
# A TAP test (the C unit tests, protocol 'tap': a "1..N" plan line) adds
# one per "ok N" / "not ok N" line ("# SKIP": skipped; "not ok # TODO", a
# known failure, counts as passed as meson's EXPECTEDFAIL does); a suite that counts its own cases
# (pytest's "N passed, N failed, N skipped in Ts", the Python checkers' "N
# passed, N failed") adds those; any other meson test counts as one. A
# suite that failed without saying how many still counts as at least one
# failure.
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?)\b")
TAP = re.compile(r"(not )?ok \d+\b(.*)")
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        rec = json.loads(line)
        r = rec.get("result")
        good = r in ("OK", "EXPECTEDFAIL")
        counts = None
        lines = (rec.get("stdout") or "").splitlines()
        tap = [m for m in map(TAP.match, lines) if m]
        if any(re.match(r"1\.\.\d+$", l) for l in lines):  # a TAP plan
            counts = {"passed": 0, "failed": 0, "skipped": 0}
            for m in tap:  # "not ok # TODO": a known failure (meson: EXPECTEDFAIL)
                k = "skipped" if re.search(r"#\s*SKIP", m.group(2), re.I) else \
                    "passed" if re.search(r"#\s*TODO", m.group(2), re.I) else \
                    "failed" if m.group(1) else "passed"
                counts[k] += 1
        for out in ([] if counts else reversed((rec.get("stdout") or rec.get("stdo") or "").splitlines())):
            found = dict((k.rstrip("s") if k.startswith("error") else k, int(n))
                         for n, k in COUNT.findall(out))
            # (a pytest run where every test was skipped says only
            # "N skipped, N deselected in Ts")
            if ("passed" in found or "skipped" in found) and ("failed" in found or " in " in out):
                counts = found
                break
        if r == "SKIP":
            skip += 1
        elif counts:
            p = counts.get("passed", 0)
            b = counts.get("failed", 0) + counts.get("error", 0)
            ok += p
            skip += counts.get("skipped", 0)
            bad += b if (b or good) else 1
        elif good:
            ok += 1
        else:  # FAIL, UNEXPECTEDPASS, TIMEOUT, ERROR, anything new
            bad += 1
print(ok, bad, skip)
PY
}

# configure BUILDDIR [meson setup args...]: set up or reconfigure.
configure() {
  local dir=$1
  shift
  if [[ -f $dir/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "$dir" "$@" && return 0
    echo "test.sh: reconfiguring $dir failed; wiping it" >&2
    meson setup --wipe "$dir" "$@"
  else
    rm -rf "$dir"
    meson setup "$dir" "$@"
  fi
}

# stage NAME BUILDDIR "SETUP ARGS" "TEST ARGS" [VAR=VALUE...]
# Configures, builds and tests one build directory and adds its counts.
# SETUP/TEST ARGS are word-split; the VAR=VALUE pairs apply to every command.
stage() {
  local name=$1 dir=$2 setup_args=$3 test_args=$4
  shift 4
  local envs=("$@") t0=$SECONDS rc=0 ok bad skip
  say "[$name] configure + build $dir"
  # shellcheck disable=SC2086
  if ! ( ((${#envs[@]} == 0)) || export "${envs[@]}"; configure "$dir" $setup_args ); then
    failed=$((failed + 1))
    report+=("$(printf '%-6s FAILED to configure (%ds)' "$name" $((SECONDS - t0)))")
    return 0
  fi
  if ! env "${envs[@]}" ninja -C "$dir" -j "$jobs"; then
    failed=$((failed + 1))
    report+=("$(printf '%-6s FAILED to build (%ds)' "$name" $((SECONDS - t0)))")
    return 0
  fi
  local t1=$SECONDS
  say "[$name] meson test -C $dir $test_args"
  rm -f "$dir"/meson-logs/testlog*.json
  # shellcheck disable=SC2086
  env "${envs[@]}" meson test -C "$dir" --print-errorlogs --num-processes "$jobs" $test_args || rc=$?
  read -r ok bad skip < <(count_results "$dir" || echo "0 1 0")
  : "${ok:=0}" "${bad:=1}" "${skip:=0}"
  if ((rc != 0 && bad == 0)); then
    bad=1   # meson test itself failed (e.g. could not start): count it
  fi
  passed=$((passed + ok)) failed=$((failed + bad)) skipped=$((skipped + skip))
  report+=("$(printf '%-6s %3d passed, %d failed, %d skipped  (build %ds, tests %ds)' \
    "$name" "$ok" "$bad" "$skip" $((t1 - t0)) $((SECONDS - t1)))")
}

if [[ ${RUNNERFS_SKIP_DEPS:-0} != 1 ]]; then
  say "Installing Debian packages (contrib/install-deps.sh)"
  if ! bash contrib/install-deps.sh; then
    failed=$((failed + 1))
    report+=("deps   FAILED: contrib/install-deps.sh")
    exit 1
  fi
fi

if [[ ! -d ../shared/toml-test ]]; then
  echo "test.sh: note: ../shared/toml-test not found next to the repository:" \
       "the toml-test cases come from Debian's golang-github-burntsushi-toml-dev" \
       "(an older, smaller set), or are skipped without it (meson -Dtoml_test=DIR)" >&2
fi

# Sanitizer settings. abort_on_error matters: without it a sanitizer error
# exits with status 1, which a TOML decoder test would read as "invalid TOML".
san_env=(
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1"
  "UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1"
)

# build: every suite once (the concurrency suite's tests are in the
# integration suite already)
stage build build "-Db_sanitize=none -Dfuzz=false" "--no-suite concurrency"

if [[ ${RUNNERFS_NO_ASAN:-0} != 1 ]]; then
  stage asan build-asan \
    "-Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=false" \
    "--timeout-multiplier 4 --no-suite concurrency --no-suite soak" \
    "${san_env[@]}"
else
  report+=("asan   not run (RUNNERFS_NO_ASAN=1)")
fi

# ThreadSanitizer: the unit tests that are quick under it, and the tests
# where threads meet (concurrent, outside and mount writers, reload, the
# token-rotation soak); a report fails the test (the daemon's log is
# scanned, a unit test exits non-zero).
if [[ ${RUNNERFS_NO_TSAN:-0} != 1 ]]; then
  stage tsan build-tsan \
    "-Db_sanitize=thread -Db_lundef=false -Dfuzz=false" \
    "--timeout-multiplier 4 edit history names commit schema pid check-cli integration-concurrency soak-token-rotation" \
    "TSAN_OPTIONS=second_deadlock_stack=1"
else
  report+=("tsan   not run (RUNNERFS_NO_TSAN=1)")
fi

# The C unit tests again under valgrind: no memory error, no leak.
if [[ ${RUNNERFS_NO_VALGRIND:-0} == 1 ]]; then
  report+=("vgrind not run (RUNNERFS_NO_VALGRIND=1)")
elif ! command -v valgrind >/dev/null; then
  report+=("vgrind not run (valgrind not installed)")
else
  stage valgrind build "-Db_sanitize=none -Dfuzz=false" \
    "--wrapper $PWD/tests/valgrind-wrapper.sh --timeout-multiplier 10 edit roundtrip limits schema commit history inplace"
fi

if [[ ${RUNNERFS_NO_FUZZ:-0} == 1 ]]; then
  report+=("fuzz   not run (RUNNERFS_NO_FUZZ=1)")
elif ! command -v clang >/dev/null; then
  report+=("fuzz   not run (clang not installed)")
else
  stage fuzz build-fuzz \
    "-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false" \
    "--suite fuzz --timeout-multiplier 2" \
    CC=clang "${san_env[@]}"
fi

summary
((failed == 0))
