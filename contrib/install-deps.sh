#!/usr/bin/env bash
# Install the Debian 12 packages runnerfs needs to build and test.
#
#   sudo contrib/install-deps.sh          everything: build, run, all tests
#   sudo contrib/install-deps.sh --run    only what building and running
#                                         runnerfs needs (contrib/demo.sh)
#   sudo contrib/install-deps.sh --deb    that and what building the Debian
#                                         package needs (contrib/build-deb.sh)
#
# Idempotent: when every package is already installed it does nothing (and
# needs no root); otherwise it must run as root and uses apt-get.
set -euo pipefail

RUN_PACKAGES=(
  build-essential      # gcc, make, libc headers
  meson
  ninja-build
  pkg-config
  libfuse3-dev         # the filesystem (libfuse3)
  fuse3                # fusermount3, /dev/fuse helpers
  attr                 # getfattr: the keys' documentation (docs/guide.md)
  libcurl4-openssl-dev # reload=docker (libcurl is loaded only then)
  libcjson-dev         # JSON (toml-test decoder, API)
  python3              # meson's test targets; toml-test runner, test tools
)

# contrib/build-deb.sh: dpkg-buildpackage with debian/ (debhelper compat
# 13, dh with meson), and what it checks the package with
DEB_PACKAGES=(
  debhelper            # dh, dh_auto_* (meson), debhelper-compat 13
  dpkg-dev             # dpkg-buildpackage, dpkg-parsechangelog
  scdoc                # the man page (a Build-Depends of the package)
  lintian              # LINTIAN=1 contrib/build-deb.sh; test_deploy_package.py
)

PACKAGES=(
  "${RUN_PACKAGES[@]}"
  "${DEB_PACKAGES[@]}"
  python3-pytest       # tests/integration (pytest)
  # the second judge: GitLab Runner's own TOML package (tests/tools/
  # burntsushi-decoder, built offline in GOPATH mode); it also ships the
  # older toml-test cases used when ../shared/toml-test is missing
  golang-go
  golang-github-burntsushi-toml-dev
  clang                # libFuzzer targets (-fsanitize=fuzzer)
  libclang-rt-14-dev   # clang runtimes: libclang_rt.fuzzer*.a, asan, ubsan
  valgrind
  git
  ca-certificates
  # tests/integration/test_tools_*.py: the real tools on a real mount
  vim                  # vim -Es, vim in tmux (backupcopy=auto/yes)
  nano                 # nano in tmux (Debian's nanorc: set locking)
  emacs-nox            # emacs --batch, emacs -nw in tmux
  tmux                 # drives the interactive editors (send-keys)
  strace               # test_vim_auto_saves_by_rename; diagnosing tools
  rsync
  moreutils            # sponge
  ansible-core         # copy, template, lineinfile, file (connection: local)
  python3-apt          # ansible's apt module (the role's runnerfs_install: package)
  puppet               # puppet apply: file resource
  # tests/integration/test_reload_docker.py: a private dockerd (dockerd.py)
  docker.io            # dockerd + docker client (containerd, runc)
  busybox-static       # the test image's only binary (docker import)
  # tests/integration/test_deploy_*.py (scdoc, which makes runnerfs(8) from
  # docs/runnerfs.8.scd, is in DEB_PACKAGES; without it meson builds no page)
  systemd              # systemd-analyze verify of contrib/systemd/runnerfs@.service
  docker-compose       # runs contrib/docker/docker-compose.yml (Compose v1, 1.29)
  debootstrap          # the Debian 12 images of the deployment tests (images.py)
)

case ${1:-} in
  --run) PACKAGES=("${RUN_PACKAGES[@]}") ;;
  --deb) PACKAGES=("${RUN_PACKAGES[@]}" "${DEB_PACKAGES[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--run|--deb]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if ((EUID != 0)); then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: installing them needs root; run: sudo $0" >&2
  exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: done"
