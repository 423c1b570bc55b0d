"""Debian 12 images for the deployment tests (test_deploy_docker.py,
test_deploy_systemd.py), made without pulling anything. Standard library
only; no pytest fixtures here.

    from images import deploy_skip_reason, base_image, systemd_image

Nothing can be pulled from Docker Hub where the tests run, so:

base_image(engine)      runnerfs-test/debian:bookworm: `debootstrap
                        --variant=minbase bookworm` from the Debian archive,
                        tarred (without apt's lists and .debs, without /dev's
                        nodes) and `docker import`ed into the test's private
                        engine (dockerd.py). Also tagged debian:bookworm and
                        debian:bookworm-slim, the FROMs of contrib/docker/
                        Dockerfile.
systemd_image(engine)   runnerfs-test/debian-systemd:bookworm: the base with
                        systemd, systemd-sysv, fuse3, libfuse3-3, libcjson1
                        installed by apt-get in a container (--network host)
                        and exported flat; booted with /sbin/init.

Both are cached as tarballs in CACHE_DIR (default /var/cache/runnerfs-test),
named after what they hold (a hash of suite, variant, mirror, packages), and
made again when older than MAX_AGE_DAYS (default 7) or, for the systemd
one, older than the base it was made from. Whoever makes one holds
CACHE_DIR/.lock (flock): a second test run on the machine waits and then
uses it. A tarball is written under a temporary name and renamed into place,
so an interrupted build never leaves a half one; leftovers of an interrupted
build are removed by the next builder. So a machine makes each image once,
the first time (about 2 minutes for the base), and a CI run at most once.

Environment:
    RUNNERFS_NO_DEPLOY=1                 skip the deployment tests that build
                                         images and run containers (skipped,
                                         with this reason)
    RUNNERFS_SANITIZE                    meson's b_sanitize, set by
                                         tests/integration/meson.build; not
                                         "none": a sanitizer build, where
                                         those tests are skipped (stage 1 of
                                         contrib/test.sh runs them)
    RUNNERFS_TEST_IMAGE_CACHE=DIR        the cache (default /var/cache/runnerfs-test)
    RUNNERFS_TEST_IMAGE_MAX_AGE_DAYS=N   refresh after N days (default 7)
    RUNNERFS_TEST_MIRROR=URL             Debian mirror (default http://deb.debian.org/debian)
"""

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

CACHE_DIR = Path(os.environ.get("RUNNERFS_TEST_IMAGE_CACHE") or "/var/cache/runnerfs-test")
MAX_AGE_DAYS = float(os.environ.get("RUNNERFS_TEST_IMAGE_MAX_AGE_DAYS") or 7)
MIRROR = os.environ.get("RUNNERFS_TEST_MIRROR") or "http://deb.debian.org/debian"
SUITE = "bookworm"
LOCK_DEADLINE = 1800.0      # waiting for another run's build
DEBOOTSTRAP_DEADLINE = 900.0
APT_DEADLINE = 900.0

BASE = "runnerfs-test/debian:bookworm"
SYSTEMD = "runnerfs-test/debian-systemd:bookworm"
# the FROMs of contrib/docker/Dockerfile (the slim one is the same minbase)
BASE_ALIASES = ("debian:bookworm", "debian:bookworm-slim")
# what the PID-1 container needs besides minbase: systemd as init, FUSE,
# the libraries of the host-built binary (readelf -d build/runnerfs)
SYSTEMD_PACKAGES = ("systemd", "systemd-sysv", "fuse3", "libfuse3-3", "libcjson1")
# left out of the base tarball: apt's lists and downloaded packages (an
# image runs apt-get update first, as Debian's own images need), /dev's
# nodes (the engine makes /dev)
BASE_EXCLUDES = ("./var/cache/apt/archives/*.deb", "./var/lib/apt/lists/*", "./dev/*")
FORMAT = 1                  # bump when the way a tarball is made changes

# what this process has done: shown at the end of the run (conftest.py)
TIMINGS = []
_memo = {}                  # key -> tarball Path, or the exception it failed with


# --------------------------------------------------------------------------
# when not to run

def sanitizer_build():
    """'address,undefined' etc. when the binary under test is a sanitizer
    build, else None."""
    v = os.environ.get("RUNNERFS_SANITIZE")
    if v is not None:
        return None if v in ("", "none") else v
    from tools import RUNNERFS_BIN
    try:
        r = subprocess.run(["readelf", "-d", str(RUNNERFS_BIN)], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    found = sorted(set(re.findall(rb"\[lib(asan|tsan|ubsan|lsan|msan)\.so", r.stdout)))
    return ",".join(f.decode() for f in found) or None


def deploy_skip_reason():
    """Why the deployment tests that build images and run containers are
    skipped here, or None."""
    if os.environ.get("RUNNERFS_NO_DEPLOY") == "1":
        return "RUNNERFS_NO_DEPLOY=1: the deployment tests in Docker and under systemd are not run"
    san = sanitizer_build()
    if san:
        return ("sanitizer build (b_sanitize=%s): the deployment tests build Debian images and run "
                "the installed binary, where no sanitizer runtime is; they run once per CI run, in "
                "contrib/test.sh's stage 1 (build/)" % san)
    if os.geteuid() != 0:
        return "needs root (dockerd, debootstrap, mounts)"
    if not shutil.which("debootstrap"):
        return "debootstrap is not installed (apt-get install debootstrap; contrib/install-deps.sh)"
    return None


# --------------------------------------------------------------------------
# the cache

def _key_name(prefix, key):
    h = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return "%s-%s.tar" % (prefix, h)


def _fresh(path, not_older_than=None):
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    if time.time() - st.st_mtime > MAX_AGE_DAYS * 86400:
        return False
    if not_older_than is not None and st.st_mtime < not_older_than.stat().st_mtime:
        return False
    return st.st_size > 0


@contextlib.contextmanager
def _lock():
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(CACHE_DIR / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + LOCK_DEADLINE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() > deadline:
                raise AssertionError("another run has held %s for %.0fs (building an image?)"
                                     % (CACHE_DIR / ".lock", LOCK_DEADLINE))
            time.sleep(0.5)
        yield
    finally:
        os.close(fd)   # releases the lock


def _mounts_under(path):
    root = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if mp == root or mp.startswith(root + "/"):
                out.append(mp)
    return out


def remove_tree(path):
    """rm -r of a build directory that a killed debootstrap may have left
    with /proc or /sys mounted in it: unmount those first, and never
    descend into a mount."""
    for _ in range(3):
        mps = sorted(set(_mounts_under(path)), key=len, reverse=True)
        if not mps:
            break
        for mp in mps:
            if subprocess.run(["umount", mp], capture_output=True, timeout=30).returncode != 0:
                subprocess.run(["umount", "-l", mp], capture_output=True, timeout=30)
    left = _mounts_under(path)
    if left:
        raise AssertionError("cannot remove %s: still mounted: %s" % (path, ", ".join(left)))
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _clean_leftovers(prefix, keep):
    """Under the lock: temporary files of interrupted builds, and older
    tarballs of the same kind (another key)."""
    for p in CACHE_DIR.iterdir():
        if p.name.startswith(".tmp-") or (p.name.startswith(prefix + "-") and p.name != keep):
            remove_tree(p)


def _cached(prefix, key, make, depends_on=None):
    """CACHE_DIR/<prefix>-<hash of key>.tar, made by make(tmp_dir) -> a
    tarball in tmp_dir when missing or stale. Returns its Path."""
    name = _key_name(prefix, key)
    final = CACHE_DIR / name
    if name in _memo:
        if isinstance(_memo[name], BaseException):
            raise _memo[name]
        return _memo[name]
    try:
        if _fresh(final, depends_on):
            TIMINGS.append("%s: cached (%s, %d MB, %.1f days old)" % (
                prefix, final, final.stat().st_size >> 20, (time.time() - final.stat().st_mtime) / 86400))
        else:
            t0 = time.monotonic()
            with _lock():
                if _fresh(final, depends_on):
                    TIMINGS.append("%s: made by another run meanwhile (%s)" % (prefix, final))
                else:
                    _clean_leftovers(prefix, keep=name)
                    tmp = CACHE_DIR / (".tmp-%d-%s" % (os.getpid(), prefix))
                    tmp.mkdir()
                    try:
                        tar = make(tmp)
                        os.chmod(tar, 0o644)
                        with open(tar, "rb") as f:
                            os.fsync(f.fileno())
                        os.replace(tar, final)
                        dfd = os.open(CACHE_DIR, os.O_RDONLY)
                        try:
                            os.fsync(dfd)
                        finally:
                            os.close(dfd)
                    finally:
                        remove_tree(tmp)
                    TIMINGS.append("%s: made in %.0fs (%s, %d MB)" % (
                        prefix, time.monotonic() - t0, final, final.stat().st_size >> 20))
        _memo[name] = final
        return final
    except BaseException as e:
        _memo[name] = e
        raise


def _mirror_unreachable():
    """None, or why MIRROR cannot be reached (then a failed build is an
    environment without the archive, a skip, not a failure)."""
    url = MIRROR.rstrip("/") + "/dists/%s/Release" % SUITE
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=20):
            return None
    except (urllib.error.URLError, OSError) as e:
        return "the Debian archive %s cannot be reached (%s)" % (url, e)


class ImageUnavailable(Exception):
    """The image cannot be made here for a reason outside the project (no
    archive): the tests that need it are skipped with this reason."""


def _tail(b, n=3000):
    return (b.decode(errors="replace") if isinstance(b, bytes) else b)[-n:]


# --------------------------------------------------------------------------
# the images

def base_tarball():
    key = {"suite": SUITE, "variant": "minbase", "mirror": MIRROR, "exclude": BASE_EXCLUDES,
           "format": FORMAT}

    def make(tmp):
        rootfs = tmp / "rootfs"
        r = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(rootfs), MIRROR],
                           capture_output=True, timeout=DEBOOTSTRAP_DEADLINE, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            why = _mirror_unreachable()
            log = rootfs / "debootstrap" / "debootstrap.log"
            detail = _tail(r.stdout + r.stderr) + (_tail(log.read_bytes()) if log.exists() else "")
            if why:
                raise ImageUnavailable("debootstrap failed: %s" % why)
            raise AssertionError("debootstrap --variant=minbase %s failed (exit %d):\n%s"
                                 % (SUITE, r.returncode, detail))
        tar = tmp / "base.tar"
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner"] +
                       ["--exclude=%s" % x for x in BASE_EXCLUDES] + ["-cf", str(tar), "."],
                       check=True, capture_output=True, timeout=600)
        return tar

    return _cached("debian-%s-minbase" % SUITE, key, make)


def _imported(engine, tag):
    return engine.docker("image", "inspect", tag, check=False, timeout=30).returncode == 0


def base_image(engine):
    """runnerfs-test/debian:bookworm (and its aliases) in `engine`."""
    tar = base_tarball()
    if not _imported(engine, BASE):
        t0 = time.monotonic()
        engine.docker("import", "--change", 'CMD ["bash"]', tar, BASE, timeout=600)
        TIMINGS.append("docker import %s: %.0fs" % (BASE, time.monotonic() - t0))
        for alias in BASE_ALIASES:
            engine.docker("tag", BASE, alias)
    return BASE


def systemd_tarball(engine):
    base = base_tarball()
    key = {"base": base.name, "packages": SYSTEMD_PACKAGES, "mirror": MIRROR, "format": FORMAT}

    def make(tmp):
        base_image(engine)
        name = "rfs-mk-systemd-%d" % os.getpid()
        engine.docker("rm", "-f", name, check=False)
        script = ("set -e; apt-get update -qq; "
                  "apt-get install -y -qq --no-install-recommends %s >/dev/null; "
                  "apt-get clean; rm -rf /var/lib/apt/lists/*; test -x /sbin/init"
                  % " ".join(SYSTEMD_PACKAGES))
        try:
            r = engine.docker("run", "--name", name, "--network", "host",
                              "-e", "DEBIAN_FRONTEND=noninteractive", BASE, "sh", "-c", script,
                              check=False, timeout=APT_DEADLINE)
            if r.returncode != 0:
                why = _mirror_unreachable()
                if why:
                    raise ImageUnavailable("apt-get in the base image failed: %s" % why)
                raise AssertionError("installing %s in %s failed (exit %d):\n%s"
                                     % (" ".join(SYSTEMD_PACKAGES), BASE, r.returncode,
                                        _tail(r.stdout + r.stderr)))
            tar = tmp / "systemd.tar"
            engine.docker("export", "-o", tar, name, timeout=600)
            return tar
        finally:
            engine.docker("rm", "-f", name, check=False)

    return _cached("debian-%s-systemd" % SUITE, key, make, depends_on=base)


def systemd_image(engine):
    """runnerfs-test/debian-systemd:bookworm in `engine` (CMD /sbin/init)."""
    tar = systemd_tarball(engine)
    if not _imported(engine, SYSTEMD):
        t0 = time.monotonic()
        engine.docker("import", "--change", 'CMD ["/sbin/init"]', tar, SYSTEMD, timeout=600)
        TIMINGS.append("docker import %s: %.0fs" % (SYSTEMD, time.monotonic() - t0))
    return SYSTEMD


def timed(what, t0):
    TIMINGS.append("%s: %.0fs" % (what, time.monotonic() - t0))


def disk_use(engine, when):
    """How much the engine's --data-root holds (vfs: a full copy per layer)."""
    r = subprocess.run(["du", "-sm", str(engine.data)], capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        TIMINGS.append("engine data-root %s: %s MB" % (when, r.stdout.split()[0]))

