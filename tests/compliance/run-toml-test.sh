#!/bin/sh
# Run our decoder over the TOML 1.0.0 cases of the toml-test suite.
#   run-toml-test.sh LIST DECODER
# LIST comes from toml-test-list.py (its first line says which set). A suite
# with its own runner (run.py) runs with it, --strict; one without (Debian's
# copy) runs with run-cases.py. No suite: skipped (exit 77).
list=$1 decoder=$2
here=$(dirname "$0")
head -n 1 "$list"
dir=$(sed -n 's/^# dir: //p' "$list")
if [ -z "$dir" ]; then
	echo "no toml-test suite: skipped (meson -Dtoml_test=DIR sets where it is)"
	exit 77
fi
if [ -f "$dir/../run.py" ] && [ -f "$dir/files-toml-1.0.0" ]; then
	# run.py splits --decoder like a shell: quote the path.
	q=$(printf '%s' "$decoder" | sed "s/'/'\\\\''/g")
	exec python3 "$dir/../run.py" --decoder "'$q'" --strict
fi
exec python3 "$here/run-cases.py" "$list" "$decoder"
