#!/usr/bin/env bash
# Quick start, command 1: install the Debian packages, build runnerfs, and
# run it on the demo GitLab Runner config: check it, mount it, change a few
# things the way a person would, and leave it mounted to play with.
#
#   sudo bash contrib/demo.sh          (from the root of a clone, Debian 12)
#
# Set RUNNERFS_SKIP_DEPS=1 to skip the package installation and
# RUNNERFS_DEMO_DIR to choose where the demo lives (/tmp/runnerfs-demo).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '\n==> %s\n' "$*"; }

if [[ ${RUNNERFS_SKIP_DEPS:-0} != 1 ]]; then
  say "Installing the Debian packages runnerfs needs (contrib/install-deps.sh --run)"
  bash contrib/install-deps.sh --run
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

# ---- the filesystem ----
demo=${RUNNERFS_DEMO_DIR:-/tmp/runnerfs-demo}
mnt=$demo/mnt
if mountpoint -q "$mnt" 2>/dev/null; then
  fusermount3 -u "$mnt" || umount -l "$mnt"
fi
mkdir -p "$demo/etc" "$mnt"
cp "$good" "$demo/etc/config.toml"
cp "$good" "$demo/original.toml"

say "Mounting $demo/etc/config.toml at $mnt"
echo "\$ build/runnerfs $demo/etc/config.toml $mnt"
build/runnerfs "$demo/etc/config.toml" "$mnt"
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.05; done
if ! mountpoint -q "$mnt"; then
  echo "UNEXPECTED: the mount did not appear (is /dev/fuse there?)." >&2
  exit 1
fi

run() { printf '$ %s\n' "$*"; (cd "$mnt" && eval "$*") 2>&1 | sed 's/^/    /'; }
say "The configuration as files"
run ls
run ls runners
first=$(ls "$mnt/runners" | head -n1)
run "ls -l runners/$first | head -n 12"
run "cat concurrent runners/$first/executor runners/$first/docker/image"
say "Changing things"
run "echo 4 > concurrent"
run "echo /srv/cache:/cache >> runners/$first/docker/volumes"
run "sed -i 's/bookworm/trixie/' runners/$first/docker/image || true"
run "echo abc > concurrent || echo 'rejected: concurrent is an integer'"
run "tail -n 1 .runnerfs/errors"
say "config.toml changed only where you changed it"
(diff -u "$demo/original.toml" "$demo/etc/config.toml" || true) | sed 's/^/    /'

cat <<MSG

==> What this shows
runnerfs shows GitLab Runner's config.toml as directories and files. Every
change is checked against the runner's schema and written back atomically,
touching only the bytes of what changed: comments and layout stay.

The mount is still there for you:   cd $mnt
Undo the last change:               cp $mnt/.runnerfs/history/1 $mnt/config.toml
What the daemon knows:              cat $mnt/.runnerfs/status
Unmount:                            fusermount3 -u $mnt

Next: bash contrib/test.sh runs the whole test suite.
MSG
exit $status
