"""The harness: mount runnerfs on a config, hand the test a Mount, and always
unmount and stop the daemon afterwards, failing the test if the daemon
crashed, hung or printed a sanitizer report.

    def test_x(runnerfs):
        m = runnerfs(fixture("01-register-docker.toml"), options=["backups=2"])
        m.sh("echo 5 > concurrent")
        assert m.read_config() == ...

Environment:
    RUNNERFS                 the daemon (default: <repo>/build/runnerfs)
    RUNNERFS_TEST_DEADLINE   seconds a test may run before the watchdog
                             kills its daemon (default 90); blocked file
                             operations then fail instead of hanging
    RUNNERFS_TEST_OPTIONS    extra -o options for every mount (comma list)
    RUNNERFS_BURNTSUSHI      the second judge, tests/tools/burntsushi-decoder
                             (default: beside RUNNERFS in the build tree;
                             none: the judge is off, the header says so)
    RUNNERFS_TOML_DECODER    our engine's toml-test decoder (the same way)

The second judge: when the test is over, every CONFIG it mounted is read by
GitLab Runner's own TOML package (BurntSushi), by tomllib and by our engine;
all three must agree (tests/tools/tomljudge.py), or the test fails with the
file and the first differing key.
"""

import os
import shutil
import signal
import stat
import sys
import subprocess
import threading
import time
from pathlib import Path

import pytest

import rfs

sys.path.insert(0, str(rfs.REPO / "tests" / "tools"))
import tomljudge  # noqa: E402

RUNNERFS = Path(os.environ.get("RUNNERFS") or rfs.REPO / "build" / "runnerfs")
BURNTSUSHI = Path(os.environ.get("RUNNERFS_BURNTSUSHI") or
                  RUNNERFS.parent / "tests" / "tools" / "burntsushi-decoder")
TOML_DECODER = Path(os.environ.get("RUNNERFS_TOML_DECODER") or
                    RUNNERFS.parent / "tests" / "compliance" / "toml-decoder")
JUDGE_MAX_BYTES = 4 << 20  # bigger configs (the load tests') are not judged
judged = {"configs": 0, "bad": 0, "same": 0, "big": 0, "notes": {}}
MOUNT_DEADLINE = 10.0
STOP_DEADLINE = 10.0
TEST_DEADLINE = float(os.environ.get("RUNNERFS_TEST_DEADLINE") or 90)
# Always passed: no reload target (contract 1; section 8 is a later issue).
DEFAULT_OPTIONS = ["reload=none"]
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "ThreadSanitizer", "MemorySanitizer", "runtime error:")


# --------------------------------------------------------------------------
# skip the whole suite (exit 77, meson's SKIP) when FUSE cannot work here

def fuse_unavailable():
    try:
        st = os.stat("/dev/fuse")
    except OSError as e:
        return "/dev/fuse is missing (%s): FUSE is not available here" % e.strerror
    if not stat.S_ISCHR(st.st_mode):
        return "/dev/fuse is not a character device"
    if not shutil.which("fusermount3"):
        return "fusermount3 is not installed (apt-get install fuse3)"
    if os.geteuid() != 0 and not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not accessible to uid %d" % os.geteuid()
    return None


def pytest_configure(config):
    why = fuse_unavailable()
    if why:
        print("runnerfs integration tests skipped: " + why, flush=True)
        pytest.exit("SKIP: " + why, returncode=77)
    config.addinivalue_line("markers", "root: needs root (tmpfs mounts, chown)")
    config.addinivalue_line("markers", "package: builds and installs the Debian package (debpkg.py); "
                            "meson runs these as integration-package")


def judge_off():
    for what, p in (("burntsushi-decoder", BURNTSUSHI), ("toml-decoder", TOML_DECODER)):
        if not os.access(p, os.X_OK):
            return "no %s at %s" % (what, p)
    return None


def pytest_report_header(config):
    off = judge_off()
    return ["runnerfs: %s" % RUNNERFS,
            "second judge: " + ("OFF (%s)" % off if off else
                                "BurntSushi %s, our engine %s, tomllib" % (BURNTSUSHI, TOML_DECODER))]


def pytest_terminal_summary(terminalreporter):
    images = sys.modules.get("images")   # the deployment tests' images and timings
    for line in getattr(images, "TIMINGS", ()):
        terminalreporter.write_line("deployment images: " + line)
    if judge_off():
        terminalreporter.write_line("second judge: off (%s)" % judge_off())
        return
    n = judged
    terminalreporter.write_line(
        "second judge: %d configs judged, %d read alike by BurntSushi, tomllib and our engine, "
        "%d not (%d left as the fixture was; %d over %d bytes not judged)"
        % (n["configs"], n["configs"] - n["bad"], n["bad"], n["same"], n["big"], JUDGE_MAX_BYTES))
    for k, v in sorted(n["notes"].items()):
        terminalreporter.write_line("second judge: allowed known BurntSushi deviation %s in %d "
                                    "configs: %s" % (k, v, tomljudge.KNOWN_DEVIATIONS[k]))


def second_judge(m):
    """The CONFIG a test leaves behind, judged three ways. -> problems"""
    if judge_off():
        return []
    try:
        data = m.config.read_bytes()
    except OSError:
        return []  # no CONFIG (removed, or never made)
    if len(data) > JUDGE_MAX_BYTES:
        judged["big"] += 1
        return []
    if data == getattr(m, "initial_config", None):
        judged["same"] += 1
    problems, notes = tomljudge.judge(data, str(BURNTSUSHI), ours=str(TOML_DECODER))
    judged["configs"] += 1
    judged["bad"] += bool(problems)
    for k in notes:
        judged["notes"][k] = judged["notes"].get(k, 0) + 1
    return ["second judge: %s: %s" % (m.config, p) for p in problems]


def pytest_runtest_setup(item):
    if item.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root")


# --------------------------------------------------------------------------
# mounts

def _unescape_mountinfo(s):
    # mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 4 <= len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def is_mounted(real_path):
    """Is there a FUSE mount at real_path? Reads /proc/self/mountinfo only,
    so it never touches the (possibly hung) filesystem itself."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5 or _unescape_mountinfo(fields[4]) != real_path:
                continue
            try:
                fstype = fields[fields.index("-") + 1]
            except (ValueError, IndexError):
                fstype = ""
            if fstype.startswith("fuse"):
                return True
    return False


class Mount:
    """One running daemon and its mount point."""

    def __init__(self, workdir, config, mnt, options, args):
        self.workdir = workdir
        self.config = config            # Path of CONFIG
        self.config_dir = config.parent
        self.mnt = mnt                  # Path of the mount point
        self._mnt_real = os.path.realpath(mnt)
        self.options = options
        self.logpath = workdir / ("runnerfs-%s.log" % mnt.name)
        self.args = args
        self.proc = None
        self.killed_by_watchdog = False
        self.killed_by_us = False
        self.exited_before_stop = None
        self.start_failed = False  # already reported by start()
        self._timer = None

    # -- life cycle -------------------------------------------------------
    def start(self):
        self._log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + MOUNT_DEADLINE
        while not is_mounted(self._mnt_real):
            rc = self.proc.poll()
            if rc is not None:
                self.exited_before_stop = rc
                self.start_failed = True
                raise MountError("runnerfs exited with status %s before the mount was live\n"
                                 "command: %s\nlog:\n%s" % (rc, " ".join(map(str, self.args)), self.log()))
            if time.monotonic() > deadline:
                self.start_failed = True
                raise MountError("runnerfs did not mount %s within %.0fs\ncommand: %s\nlog:\n%s"
                                 % (self.mnt, MOUNT_DEADLINE, " ".join(map(str, self.args)), self.log()))
            time.sleep(0.01)
        self._timer = threading.Timer(TEST_DEADLINE, self._watchdog)
        self._timer.daemon = True
        self._timer.start()

    def _watchdog(self):
        # The test ran too long: most likely a file operation is blocked in
        # the daemon. Killing it aborts the FUSE connection, so the blocked
        # call returns an error (ENOTCONN) and the test ends.
        if self.proc and self.proc.poll() is None:
            self.killed_by_watchdog = True
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass

    def mounted(self):
        return is_mounted(self._mnt_real)

    def unmount(self):
        """fusermount3 -u (lazy -uz if busy). Returns a note or None."""
        note = None
        if self.mounted():
            r = subprocess.run(["fusermount3", "-u", str(self.mnt)], capture_output=True, timeout=20)
            if r.returncode != 0 and self.mounted():
                note = "fusermount3 -u failed (%s); used -uz" % r.stderr.decode(errors="replace").strip()
                subprocess.run(["fusermount3", "-uz", str(self.mnt)], capture_output=True, timeout=20)
        return note

    def stop(self):
        """Unmount and stop the daemon. Returns a list of problems (each one
        fails the test): crash, hang, sanitizer output, bad exit status."""
        problems = []
        if self._timer:
            self._timer.cancel()
        if self.proc is None:
            return problems
        if self.proc.poll() is not None and self.exited_before_stop is None:
            self.exited_before_stop = self.proc.returncode
        try:
            self.unmount()
        except subprocess.TimeoutExpired:
            problems.append("fusermount3 hung")
            subprocess.run(["fusermount3", "-uz", str(self.mnt)], capture_output=True, timeout=20)
        try:
            self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            problems.append("runnerfs did not exit within %.0fs of the unmount; sent SIGTERM" % STOP_DEADLINE)
            self.killed_by_us = True
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                problems.append("runnerfs ignored SIGTERM; sent SIGKILL")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        rc = self.proc.returncode
        if self.killed_by_watchdog:
            problems.append("test exceeded %.0fs: the watchdog killed runnerfs (a blocked file "
                            "operation?)" % TEST_DEADLINE)
        elif self.start_failed:
            pass
        elif rc is not None and rc < 0 and not self.killed_by_us:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = str(-rc)
            when = " during the test" if self.exited_before_stop is not None else ""
            problems.append("runnerfs died from signal %s%s" % (name, when))
        elif rc not in (0, None) and not self.killed_by_us:
            when = "during the test" if self.exited_before_stop is not None else "after the unmount"
            problems.append("runnerfs exited with status %d %s" % (rc, when))
        log = self.log()
        for mark in SANITIZER_MARKS:
            if mark in log:
                problems.append("sanitizer report in the runnerfs log (%r)" % mark)
                break
        if problems:
            problems.append("runnerfs log (%s):\n%s" % (self.logpath, _tail(log)))
        return problems

    # -- looking at it ----------------------------------------------------
    def log(self):
        try:
            return self.logpath.read_text(errors="replace")
        except OSError:
            return ""

    def read_config(self):
        """The bytes of CONFIG on disk (not through the mount)."""
        return self.config.read_bytes()

    def path(self, rel=""):
        return self.mnt / rel if rel else self.mnt

    def read(self, rel):
        return (self.mnt / rel).read_bytes()

    def listdir(self, rel=""):
        return set(os.listdir(self.mnt / rel if rel else self.mnt))

    def errors(self):
        """Lines of .runnerfs/errors (contract 7)."""
        return self.read(".runnerfs/errors").decode("utf-8", "replace").splitlines()

    def status(self):
        return self.read(".runnerfs/status").decode("utf-8", "replace")

    def wait_error(self, before, *needles, timeout=5.0):
        """Wait for a new line in .runnerfs/errors (one not in `before`)
        that contains every needle; return it."""
        def new_line():
            for line in self.errors():
                if line not in before and all(n in line for n in needles):
                    return line
            return None
        return rfs.wait_for(new_line, timeout, what="a new line in .runnerfs/errors containing %r"
                            % (needles,))

    def sh(self, cmd, check=True, timeout=30):
        """Run `cmd` with bash in the mount's root directory."""
        r = subprocess.run(["bash", "-c", cmd], cwd=self.mnt, capture_output=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("`%s` failed (exit %d): %s" % (cmd, r.returncode,
                                                               r.stderr.decode(errors="replace").strip()))
        return r


class MountError(AssertionError):
    pass


def _tail(text, lines=60):
    t = text.splitlines()
    if len(t) > lines:
        t = ["... (%d lines before)" % (len(t) - lines)] + t[-lines:]
    return "\n".join(t)


@pytest.fixture
def runnerfs(tmp_path):
    """Factory: runnerfs(config_bytes, options=[...], ...) -> Mount.

    config      bytes written to CONFIG, or None: CONFIG does not exist
    options     -o options (list), besides DEFAULT_OPTIONS
    config_dir  directory for CONFIG (default: a fresh one under tmp_path)
    mode        CONFIG's mode (0600, as gitlab-runner writes it)
    owner       (uid, gid) to chown CONFIG to before mounting
    mtime_ns    CONFIG's mtime before mounting
    args        extra command-line arguments (before CONFIG)
    Every mount is unmounted and its daemon stopped at the end of the test,
    whatever happened; problems found then fail the test."""
    mounts = []
    counter = [0]

    def start(config=b"", options=(), *, config_dir=None, name="config.toml", mode=0o600,
              owner=None, mtime_ns=None, args=()):
        counter[0] += 1
        k = counter[0]
        cdir = Path(config_dir) if config_dir else tmp_path / ("etc%d" % k)
        cdir.mkdir(parents=True, exist_ok=True)
        cfg = cdir / name
        if config is not None:
            cfg.write_bytes(config)
            os.chmod(cfg, mode)
            if owner is not None:
                os.chown(cfg, *owner)
            if mtime_ns is not None:
                os.utime(cfg, ns=(mtime_ns, mtime_ns))
        mnt = tmp_path / ("mnt%d" % k)
        mnt.mkdir()
        opts = list(DEFAULT_OPTIONS) + list(options)
        extra = os.environ.get("RUNNERFS_TEST_OPTIONS")
        if extra:
            opts += [o for o in extra.split(",") if o]
        argv = [str(RUNNERFS), "-f"] + (["-o", ",".join(opts)] if opts else []) + list(args) + \
            [str(cfg), str(mnt)]
        m = Mount(tmp_path, cfg, mnt, opts, argv)
        m.initial_config = config
        mounts.append(m)
        if not RUNNERFS.exists():
            raise MountError("the runnerfs binary %s does not exist (build it, or set RUNNERFS)" % RUNNERFS)
        m.start()
        return m

    yield start

    problems = []
    for m in reversed(mounts):
        try:
            problems += m.stop()
        except Exception as e:  # keep going: the other mounts must go too
            problems.append("stopping runnerfs failed: %r" % (e,))
        try:
            problems += second_judge(m)
        except Exception as e:
            problems.append("second judge failed: %r" % (e,))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------
# small tmpfs mounts (full disk, read-only directory)

@pytest.fixture
def tmpfs(tmp_path):
    """Factory: tmpfs(size="64k") -> Path of a fresh tmpfs, unmounted (lazily
    if busy) at the end of the test. Needs root. Request it before
    `runnerfs` in the test's arguments so that it is torn down after it."""
    if os.geteuid() != 0:
        pytest.skip("tmpfs mounts need root")
    made = []

    def make(size="64k", name=None):
        d = tmp_path / (name or "tmpfs%d" % len(made))
        d.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", str(d)],
                       check=True, capture_output=True, timeout=20)
        made.append(d)
        return d

    yield make
    for d in reversed(made):
        r = subprocess.run(["umount", str(d)], capture_output=True, timeout=20)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=20)
