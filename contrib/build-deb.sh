#!/usr/bin/env bash
# Build the Debian package runnerfs_VERSION_ARCH.deb from this tree.
#
#   contrib/install-deps.sh --deb       # once: what the build needs (root)
#   contrib/build-deb.sh [OUTDIR]       # -> OUTDIR/runnerfs_0.1.0_amd64.deb
#   apt install ./runnerfs_0.1.0_amd64.deb
#
# OUTDIR defaults to the current directory. The package is built with
# `dpkg-buildpackage -us -uc -b` in a copy of the tree in a temporary
# directory (the files git knows, as they are in the working tree, or the
# whole tree without build directories when it is not a git checkout), so
# that nothing the build writes (debian/.debhelper, obj-*, ../*.deb) lands in
# the source tree. Only the .deb is copied out; with LINTIAN=1 lintian then
# checks it (and fails the script when it reports an error or a warning).
#
# Environment: DEB_BUILD_OPTIONS as dpkg-buildpackage reads it (nocheck:
# no unit tests, parallel=N), KEEP=1 keeps the temporary directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)

for p in dpkg-buildpackage dh meson scdoc; do
  command -v "$p" >/dev/null || {
    echo "build-deb: $p is missing; install the build tools: contrib/install-deps.sh --deb" >&2
    exit 1
  }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/runnerfs-deb.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then
  echo "build-deb: keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi
src=$tmp/runnerfs

mkdir "$src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # tracked files (as they are now, edits included) and new files that are
  # not ignored; a file deleted from the working tree is left out
  (cd "$root" &&
   git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do
       if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi
     done |
     tar --null --no-recursion --files-from=- -cf -) |
    tar -C "$src" -xf -
else
  tar -C "$root" --exclude='./build*' --exclude='./obj-*' --exclude=./.git -cf - . |
    tar -C "$src" -xf -
fi

version=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=runnerfs_${version}_${arch}.deb

echo "build-deb: dpkg-buildpackage -us -uc -b in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b)

[[ -f $tmp/$deb ]] || { echo "build-deb: dpkg-buildpackage made no $deb" >&2; ls -l "$tmp" >&2; exit 1; }
cp "$tmp/$deb" "$out/$deb"
echo "build-deb: $out/$deb"

if [[ ${LINTIAN:-0} == 1 ]]; then
  # --fail-on error,warning: a warning must be fixed or overridden
  # (debian/runnerfs.lintian-overrides, each with its reason)
  lintian --fail-on error,warning --info "$tmp"/runnerfs_"${version}"_"${arch}".changes
fi
