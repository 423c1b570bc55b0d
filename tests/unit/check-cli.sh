#!/bin/sh
# check-cli: what `runnerfs --check FILE` prints and how it exits.
#   check-cli.sh RUNNERFS
# Valid file: nothing, 0. Syntax error: FILE:LINE:COL: msg, 1. Schema
# error: FILE:LINE: error: path: msg, 1. Warnings only: FILE:LINE: warning:
# ..., 0. Unreadable file: 2.
set -u
rfs=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/check-cli.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
fail=0

# expect NAME STATUS EXPECTED-STDERR (exact; empty for none) -- FILE CONTENT
expect() {
	name=$1 want_rc=$2 want_err=$3 content=$4
	printf '%s' "$content" >"$dir/$name.toml"
	"$rfs" --check "$dir/$name.toml" >"$dir/out" 2>"$dir/err"
	rc=$?
	want=$(printf '%s' "$want_err" | sed "s#@#$dir/$name.toml#g")
	got=$(cat "$dir/err")
	if [ "$rc" != "$want_rc" ] || [ "$got" != "$want" ] || [ -s "$dir/out" ]; then
		echo "FAIL $name: exit $rc (want $want_rc)"
		echo "  stderr: $got"
		echo "  want:   $want"
		[ -s "$dir/out" ] && echo "  stdout: $(cat "$dir/out")"
		fail=1
	else
		echo "ok   $name"
	fi
}

expect valid 0 '' 'concurrent = 2
[[runners]]
name = "a"
url = "https://gitlab.example.com"
token = "glrt-x"
executor = "docker"
[runners.docker]
image = "alpine"
'
expect empty 0 '' ''
expect syntax 1 '@:2:9: expected a value' 'concurrent = 2
limit = 
'
expect type 1 '@:3: error: runners[0].limit: "4" is a string; limit takes an integer' 'concurrent = 2
[[runners]]
limit = "4"
'
expect concurrent 1 '@:1: error: concurrent: concurrent must be at least 1 (0 makes the runner exit)' 'concurrent = 0
'
expect warning 0 '@:3: warning: runners[0].docker.imagee: unknown key; did you mean "image"?' '[[runners]]
[runners.docker]
imagee = "alpine"
'
expect both 1 '@:1: warning: concurent: unknown key; did you mean "concurrent"?
@:4: error: runners[0].docker.pull_policy: "fast" is not one of: always, never, if-not-present' 'concurent = 1
[[runners]]
[runners.docker]
pull_policy = "fast"
'
expect secret 1 '@:2: error: runners[0].token: the value is an integer; token takes a string' '[[runners]]
token = 123456789
'

# A file that cannot be read: exit 2.
"$rfs" --check "$dir/missing.toml" >/dev/null 2>&1
rc=$?
if [ "$rc" != 2 ]; then echo "FAIL missing: exit $rc (want 2)"; fail=1; else echo "ok   missing"; fi

# --schema prints Markdown and exits 0.
if "$rfs" --schema >"$dir/keys.md" && grep -q '^| `concurrent` | integer |' "$dir/keys.md"; then
	echo "ok   schema"
else
	echo "FAIL schema"
	fail=1
fi
exit $fail
