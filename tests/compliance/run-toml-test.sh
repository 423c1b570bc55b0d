#!/bin/sh
# Run the toml-test checker over the TOML 1.0.0 cases with our decoder.
#   run-toml-test.sh SUITE_DIR DECODER
# A missing suite fails the test, unless RUNNERFS_ALLOW_NO_TOMLTEST=1, in
# which case it is skipped (exit 77).
suite=$1 decoder=$2
if [ ! -f "$suite/run.py" ] || [ ! -f "$suite/tests/files-toml-1.0.0" ]; then
	if [ "${RUNNERFS_ALLOW_NO_TOMLTEST:-}" = 1 ]; then
		echo "toml-test suite not found at $suite: skipped (RUNNERFS_ALLOW_NO_TOMLTEST=1)"
		exit 77
	fi
	echo "toml-test suite not found at $suite" >&2
	echo "(put a copy of shared/ beside the repository, or set RUNNERFS_ALLOW_NO_TOMLTEST=1 to skip)" >&2
	exit 1
fi
# run.py splits --decoder like a shell: quote the path.
q=$(printf '%s' "$decoder" | sed "s/'/'\\\\''/g")
exec python3 "$suite/run.py" --decoder "'$q'" --strict
