"""The Debian package (issue 16) for the tests that build and install it:
test_deploy_package.py and the package variant of test_deploy_ansible.py
(both marked `package`: meson runs them as the test integration-package).

    from debpkg import package, host        # fixtures

    def test_x(package, host):       # package: skips (with the reason) where
                                     # it cannot be built, or built_package()
        host.install(package)        # apt-get install ./runnerfs_*.deb
        ...                          # teardown: apt-get purge, then checks
                                     # that nothing of the package is left

Building: contrib/build-deb.sh, the documented way (a copy of the tree,
dpkg-buildpackage -us -uc -b), once per tree. The .deb is kept in
CACHE_ROOT/<hash of every file build-deb.sh copies>/, so a second pytest
run over the same tree (or the other test module) does not build it again.
In a sanitizer build (contrib/test.sh's build-asan/) the package tests are
skipped: the package is built from the tree with Debian's flags, not from
the build under test, so the normal build's run has tested exactly the
same package already.

Installing on the test machine itself: the test must leave the machine as
it found it. `host` skips (never clobbers) when the package, one of its
files, or another `runnerfs` on /bin/sh's default PATH is already there, or
when installing it would pull in other packages; at teardown it purges the
package and fails the test if any file, conffile, dpkg record or systemd
link of it is left, or if anything named runnerfs appeared elsewhere in the
directories a package touches.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from rfs import REPO
from tools import RUNNERFS_BIN

CACHE_ROOT = Path(tempfile.gettempdir()) / "runnerfs-deb-cache"
BUILD_TIMEOUT = 600
APT_TIMEOUT = 300
# apt-get waits this long for the dpkg lock (another apt run on the machine)
APT_LOCK_WAIT = 120
# /bin/sh's default PATH (dash), which mount.fuse3 runs `runnerfs` with
SH_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# where a package (or its maintainer scripts) could leave something; each
# is listed before the install and after the purge (names with "runnerfs")
WATCHED = ["/etc", "/lib/systemd/system", "/usr/lib/systemd/system", "/usr/sbin", "/usr/bin",
           "/usr/share/doc", "/usr/share/man/man8", "/var/lib/dpkg/info",
           "/var/lib/systemd/deb-systemd-helper-enabled", "/var/lib/systemd/deb-systemd-user-helper-enabled",
           "/var/cache/runnerfs"]


def clean_env(**extra):
    """The environment for apt, dpkg and the build: Debian's python3 (no
    pyenv shim), C.UTF-8, no questions."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DEB_", "DH_"))}
    path = [p for p in env.get("PATH", "").split(":") if p and ".pyenv" not in p]
    for d in SH_DEFAULT_PATH.split(":"):
        if d not in path:
            path.append(d)
    env.update(PATH=":".join(path), LANG="C.UTF-8", LC_ALL="C.UTF-8", DEBIAN_FRONTEND="noninteractive")
    env.update(extra)
    return env


def run(args, timeout=120, check=True, **kw):
    r = subprocess.run(args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                       env=kw.pop("env", clean_env()), **kw)
    if check and r.returncode != 0:
        raise AssertionError("`%s` failed (exit %d):\n%s%s" % (
            " ".join(map(str, args)), r.returncode, r.stdout.decode(errors="replace")[-4000:],
            r.stderr.decode(errors="replace")[-4000:]))
    return r


# --------------------------------------------------------------------------
# versions

def meson_version():
    """project(..., version : 'X') of meson.build: the one place the version
    is written."""
    text = (REPO / "meson.build").read_text()
    m = re.search(r"project\(\s*'runnerfs'\s*,.*?version\s*:\s*'([^']+)'", text, re.S)
    assert m, "no version in meson.build's project()"
    return m.group(1)


def changelog_version():
    return run(["dpkg-parsechangelog", "-l", str(REPO / "debian" / "changelog"), "-S", "Version"]
               ).stdout.decode().strip()


def upstream_version(version):
    """Debian version -> upstream version: no epoch, no -revision."""
    v = version.split(":", 1)[1] if ":" in version else version
    return v.rsplit("-", 1)[0] if "-" in v else v


# --------------------------------------------------------------------------
# building

def sanitizer_build():
    """The sanitizers of the build under test (meson's b_sanitize), or None."""
    intro = RUNNERFS_BIN.parent / "meson-info" / "intro-buildoptions.json"
    try:
        opts = {o["name"]: o["value"] for o in json.loads(intro.read_text())}
        v = opts.get("b_sanitize", "none")
        return None if v in ("none", "", None) else v
    except (OSError, ValueError, KeyError):
        pass
    r = subprocess.run(["readelf", "-d", str(RUNNERFS_BIN)], capture_output=True, timeout=30)
    libs = re.findall(rb"\(NEEDED\).*\[(lib[atl]san|libubsan)", r.stdout)
    return b",".join(libs).decode() or None


def tree_files():
    """What build-deb.sh copies: the files git knows and new ones it does
    not ignore, as they are in the working tree."""
    r = run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    names = sorted(set(n.decode() for n in r.stdout.split(b"\0") if n))
    return [n for n in names if os.path.lexists(REPO / n)]


def tree_hash():
    h = hashlib.sha256()
    for n in tree_files():
        p = REPO / n
        st = os.lstat(p)
        h.update(n.encode() + b"\0" + oct(st.st_mode).encode() + b"\0")
        if os.path.islink(p):
            h.update(os.readlink(p).encode())
        elif os.path.isfile(p):
            h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:24]


class Package:
    def __init__(self, deb, info):
        self.deb = Path(deb)
        self.info = info                  # build.json: seconds, leftovers, log tail
        self.cached = False

    @property
    def name_version_arch(self):
        m = re.match(r"runnerfs_([^_]+)_([^_]+)\.deb$", self.deb.name)
        return ("runnerfs",) + m.groups()

    def field(self, name):
        return run(["dpkg-deb", "-f", str(self.deb), name]).stdout.decode().strip()

    def contents(self):
        """Paths in the package (no leading ./), directories ending in /."""
        out = run(["dpkg-deb", "-c", str(self.deb)]).stdout.decode()
        paths = []
        for line in out.splitlines():
            p = line.split(None, 5)[5].split(" -> ")[0]
            p = p[1:] if p.startswith("./") else p
            if p and p != "/":
                paths.append("/" + p.lstrip("/"))
        return paths

    def files(self):
        return [p for p in self.contents() if not p.endswith("/")]


_built = {}


def why_not_buildable():
    for tool in ("git", "dpkg-buildpackage", "dh", "meson", "scdoc", "dpkg-deb"):
        if not shutil.which(tool, path=clean_env()["PATH"]):
            return "%s is not installed (contrib/install-deps.sh --deb installs the build tools)" % tool
    if not (REPO / ".git").exists():
        return "%s is not a git checkout (build-deb.sh copies the files git knows)" % REPO
    return None


def built_package():
    """The package of this tree: built now, or the one built before from the
    same files. Skips in a sanitizer build and where it cannot be built."""
    san = sanitizer_build()
    if san:
        pytest.skip("sanitizer build (b_sanitize=%s): the Debian package is built from the tree with "
                    "Debian's flags, not from this build; the normal build's run (build/) builds, "
                    "installs and checks it, once per CI run" % san)
    if not shutil.which("git") or not (REPO / ".git").exists():
        pytest.skip("%s is not a git checkout, or git is missing: build-deb.sh copies the files git "
                    "knows" % REPO)
    key = tree_hash()
    if key in _built:
        return _built[key]
    d = CACHE_ROOT / key
    info_file = d / "build.json"
    if info_file.exists():
        info = json.loads(info_file.read_text())
        pkg = Package(d / info["deb"], info)
        if pkg.deb.exists():
            pkg.cached = True
            _built[key] = pkg
            return pkg
    why = why_not_buildable()
    if why:
        pytest.skip(why)
    CACHE_ROOT.mkdir(mode=0o755, exist_ok=True)
    os.chmod(CACHE_ROOT, 0o755)   # apt's _apt user reads the .deb from here
    # an entry for another tree is stale: a newer build replaces it
    for old in CACHE_ROOT.iterdir():
        if old.name != key:
            shutil.rmtree(old, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="new-", dir=CACHE_ROOT))
    os.chmod(work, 0o755)
    t0 = time.monotonic()
    r = subprocess.run(["bash", str(REPO / "contrib" / "build-deb.sh"), str(work)],
                       capture_output=True, timeout=BUILD_TIMEOUT, stdin=subprocess.DEVNULL,
                       env=clean_env(KEEP="1", DEB_BUILD_OPTIONS="parallel=2"))
    seconds = time.monotonic() - t0
    log = (r.stdout + r.stderr).decode(errors="replace")
    m = re.search(r"^build-deb: keeping (\S+)$", log, re.M)
    kept = Path(m.group(1)) if m else None
    try:
        assert r.returncode == 0, "contrib/build-deb.sh failed (exit %d):\n%s" % (r.returncode, log[-8000:])
        debs = sorted(work.glob("runnerfs_*.deb"))
        assert len(debs) == 1, "build-deb.sh left %s in %s\n%s" % (debs, work, log[-3000:])
        assert kept and (kept / "runnerfs").is_dir(), "build-deb.sh with KEEP=1 did not say where it built"
        # what the build wrote into the copy of the tree (for the .gitignore check)
        copied = set(tree_files())
        left = []
        for dirpath, dirnames, filenames in os.walk(kept / "runnerfs"):
            rel = os.path.relpath(dirpath, kept / "runnerfs")
            for n in filenames + [x for x in dirnames if os.path.islink(os.path.join(dirpath, x))]:
                p = os.path.normpath(os.path.join(rel, n))
                if p not in copied:
                    left.append(p)
        info = {"deb": debs[0].name, "seconds": round(seconds, 1), "leftovers": sorted(left),
                "beside": sorted(p.name for p in kept.iterdir() if p.name != "runnerfs"),
                "log": log[-20000:]}
        (work / "build.json").write_text(json.dumps(info, indent=1))
        os.rename(work, d)
    finally:
        if kept:
            shutil.rmtree(kept, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    pkg = Package(d / info["deb"], info)
    _built[key] = pkg
    return pkg


# --------------------------------------------------------------------------
# installing on this machine, and leaving it as it was

def dpkg_status(name="runnerfs"):
    """dpkg's status abbreviation ('ii', 'rc', ...) or None when dpkg does
    not know the package."""
    r = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", name], capture_output=True,
                       timeout=60)
    s = r.stdout.decode().strip()
    return s if r.returncode == 0 and s and not s.startswith("un") else None


def watched_names():
    """Every path under WATCHED whose name holds 'runnerfs'."""
    found = set()
    for top in WATCHED:
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            for n in dirnames + filenames:
                if "runnerfs" in n:
                    found.add(os.path.join(dirpath, n))
    return found


def is_systemd_pid1():
    try:
        comm = Path("/proc/1/comm").read_text().strip()
    except OSError:
        comm = "?"
    return os.path.isdir("/run/systemd/system") and comm == "systemd", comm


def apt_lines(out, header):
    """The package names apt lists after `header` (e.g. 'The following NEW
    packages will be installed:')."""
    lines = out.splitlines()
    names = []
    for i, ln in enumerate(lines):
        if ln.startswith(header):
            for cont in lines[i + 1:]:
                if not cont.startswith(" "):
                    break
                names += cont.split()
    return [n.rstrip("*") for n in names]


class Host:
    """The test machine, with the package installed for one test at most."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.pkg = None
        self.installed = False
        self.listed = []           # dpkg -L runnerfs while installed
        self.conffiles = []
        self.before = None         # watched_names() before the install
        self.dirs_before = set()   # the package's directories that existed before
        self.notes = []

    # -- before ------------------------------------------------------------
    def check_clean(self, pkg):
        """Skip the test unless installing pkg here clobbers nothing and
        pulls in nothing else."""
        if os.geteuid() != 0:
            pytest.skip("installing a package needs root")
        for tool in ("apt-get", "dpkg", "dpkg-query"):
            if not shutil.which(tool):
                pytest.skip("%s is missing: not a Debian system" % tool)
        st = dpkg_status()
        if st:
            pytest.skip("dpkg knows a runnerfs package here already (status %s): installing and purging "
                        "this build's package would replace it and its conffiles" % st)
        there = [p for p in pkg.files() if os.path.lexists(p)]
        if there:
            pytest.skip("files of the package exist already (installed another way?): %s" % ", ".join(there))
        other = shutil.which("runnerfs", path=SH_DEFAULT_PATH)
        if other:
            pytest.skip("%s is on /bin/sh's default PATH before /usr/sbin or instead of it: "
                        "mount -t fuse.runnerfs would run it, not the package's" % other)
        r = run(["apt-get", "install", "-s", "-o", "Debug::NoLocking=1", str(pkg.deb)], check=False)
        out = r.stdout.decode(errors="replace")
        if r.returncode != 0:
            pytest.skip("apt-get cannot install the package here:\n%s%s"
                        % (out[-2000:], r.stderr.decode(errors="replace")[-2000:]))
        inst = re.findall(r"^Inst (\S+)", out, re.M)
        if inst != ["runnerfs"]:
            pytest.skip("installing the package would also install %s, which the purge would leave "
                        "behind (contrib/install-deps.sh --run installs its dependencies)"
                        % ", ".join(n for n in inst if n != "runnerfs"))
        self.before = watched_names()
        self.dirs_before = {p.rstrip("/") for p in pkg.contents() if p.endswith("/") and os.path.isdir(p)}

    # -- install -------------------------------------------------------------
    def install(self, pkg, by=None):
        """apt-get install ./runnerfs_*.deb (or `by`, a function that
        installs it some other way: the Ansible role)."""
        self.check_clean(pkg)
        self.pkg = pkg
        self.installed = True   # from here on, the teardown purges
        if by is None:
            r = run(["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=%d" % APT_LOCK_WAIT,
                     str(pkg.deb)], timeout=APT_TIMEOUT)
            out = r.stdout.decode(errors="replace")
            new = apt_lines(out, "The following NEW packages will be installed:")
            assert new == ["runnerfs"], "apt-get installed %s:\n%s" % (new, out)
        else:
            by()
        self.after_install()

    def after_install(self):
        assert dpkg_status() == "ii", "runnerfs is not installed: dpkg status %s" % dpkg_status()
        self.listed = run(["dpkg", "-L", "runnerfs"]).stdout.decode().split("\n")
        self.listed = [p for p in self.listed if p and p != "/."]
        cf = Path("/var/lib/dpkg/info/runnerfs.conffiles")
        self.conffiles = cf.read_text().split() if cf.exists() else []

    # -- purge and what is left ------------------------------------------------
    def purge(self):
        """apt-get purge runnerfs; returns the problems found afterwards."""
        problems = []
        if dpkg_status() is None:   # the install failed before dpkg unpacked it
            self.installed = False
            left = sorted(watched_names() - (self.before or set()))
            if left:
                self.restore()
                return ["new paths named runnerfs: %s" % ", ".join(left)] + self.notes
            return []
        if not self.listed:         # the test failed between the install and its checks
            self.listed = [p for p in run(["dpkg", "-L", "runnerfs"], check=False).stdout.decode().split("\n")
                           if p and p != "/."]
        r = run(["apt-get", "purge", "-y", "-o", "DPkg::Lock::Timeout=%d" % APT_LOCK_WAIT, "runnerfs"],
                timeout=APT_TIMEOUT, check=False)
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        if r.returncode != 0:
            problems.append("apt-get purge runnerfs failed (exit %d):\n%s" % (r.returncode, out[-4000:]))
            # leave the machine clean all the same
            run(["dpkg", "--purge", "--force-all", "runnerfs"], check=False)
        else:
            gone = apt_lines(out, "The following packages will be REMOVED:")
            if gone != ["runnerfs"]:
                problems.append("apt-get purge removed %s, not only runnerfs:\n%s" % (gone, out[-4000:]))
        self.installed = False
        st = dpkg_status()
        if st:
            problems.append("after the purge dpkg still knows runnerfs (status %s)" % st)
        for p in self.listed:
            if p.rstrip("/") in self.dirs_before:
                continue   # /usr, /etc/default, ...: there before, stay
            if os.path.lexists(p):
                problems.append("left after the purge: %s" % p)
        for p in self.conffiles:
            if os.path.lexists(p):
                problems.append("conffile left after the purge: %s" % p)
        left = sorted(p for p in watched_names() - (self.before or set()))
        if left:
            problems.append("new paths named runnerfs after the purge: %s" % ", ".join(left))
        if problems:
            self.restore()
        return problems + self.notes

    def restore(self):
        """After a purge that left something: take it away, so that a
        failed test still leaves the machine as it was."""
        new = watched_names() - (self.before or set())
        for p in [p for p in self.listed if p.rstrip("/") not in self.dirs_before] + sorted(new):
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                elif os.path.lexists(p):
                    os.unlink(p)
            except OSError as e:
                self.notes.append("could not remove %s: %s" % (p, e))


@pytest.fixture
def package():
    """built_package() as a fixture: ask for it before fixtures that mount
    (conftest's watchdog gives a test 90 s from its first mount; the build
    must not count)."""
    return built_package()


@pytest.fixture
def host(tmp_path):
    """A Host; whatever the test did, the package is purged at the end and
    the test fails if anything of it is left."""
    h = Host(tmp_path)
    yield h
    if h.installed:
        problems = h.purge()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)
