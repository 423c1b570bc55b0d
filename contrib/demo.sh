#!/usr/bin/env bash
# Quick start, command 1: install the Debian packages, build runnerfs, and
# run it on the demo GitLab Runner config.
#
#   sudo contrib/demo.sh          (from the root of a clone, Debian 12)
#
# The filesystem itself (mounting config.toml as directories and files) comes
# in a later issue; today the binary checks files: `runnerfs --check FILE`.
# Set RUNNERFS_SKIP_DEPS=1 to skip the package installation.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '\n==> %s\n' "$*"; }

if [[ ${RUNNERFS_SKIP_DEPS:-0} != 1 ]]; then
  say "Installing Debian packages (contrib/install-deps.sh)"
  bash contrib/install-deps.sh
fi

say "Building into build/"
if [[ -f build/meson-private/coredata.dat ]]; then
  ninja -C build runnerfs
else
  meson setup build
  ninja -C build runnerfs
fi

good=contrib/demo/config.toml
bad=contrib/demo/broken.toml
status=0

say "Checking $good: $(grep -c '^\[\[runners\]\]' "$good") runners, $(wc -l <"$good") lines"
echo "\$ build/runnerfs --check $good"
if build/runnerfs --check "$good"; then
  echo "OK: $good is valid TOML (exit 0, no output)."
else
  echo "UNEXPECTED: runnerfs rejected $good (see the error above)." >&2
  status=1
fi

say "Checking $bad: the same file with 'privileged' set twice in one table"
echo "\$ build/runnerfs --check $bad"
set +e
err=$(build/runnerfs --check "$bad" 2>&1 >/dev/null)
rc=$?
set -e
printf '%s\n' "$err"
if [[ $rc == 1 && -n $err ]]; then
  echo "REJECTED as expected (exit 1)."
  loc=$(printf '%s\n' "$err" | head -n1 | cut -d: -f2)
  col=$(printf '%s\n' "$err" | head -n1 | cut -d: -f3)
  if [[ $loc =~ ^[0-9]+$ ]]; then
    echo "The error names FILE:LINE:COL; line $loc of $bad is:"
    sed -n "${loc}p" "$bad" | sed 's/^/    /'
    [[ $col =~ ^[0-9]+$ ]] && printf '    %*s^\n' $((col - 1)) ''
  fi
else
  echo "UNEXPECTED: runnerfs --check exited $rc on $bad (expected 1 and an error message)." >&2
  status=1
fi

cat <<'MSG'

==> What this shows
runnerfs parses GitLab Runner's config.toml losslessly (comments, layout and
spelling are kept byte for byte) and reports the first error as FILE:LINE:COL.
Use it as a validator, e.g. Ansible's `validate: runnerfs --check %s`.

Mounting config.toml as directories and files arrives with the filesystem
issue; for now the binary only checks files. Next: contrib/test.sh runs the
whole test suite.
MSG
exit $status
