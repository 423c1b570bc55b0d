"""Liveness (issue 13): the mount never freezes. Reads, stat and readdir
answer from the last consistent document whatever outside writers, slow
disks and other writers through the mount do; only changes wait, for a
bounded time, and then fail with EBUSY (docs/filesystem.md, "Other
writers").

Every test here runs a prober: a thread that stats and reads files through
the mount every 50 ms and times each call. A call that blocks for good is
caught by the mount's watchdog (conftest.py: the daemon is killed, the
call returns ENOTCONN and the test fails); the bound checked is 1 s per
call."""

import errno
import os
import re
import subprocess
import threading
import time

import pytest

from rfs import toml_loads

BOUND = 1.0          # seconds any read or stat may take
BUSY_BOUND = 3.0     # txn.h RFS_BUSY_WAIT_MS
SLACK = 2.0          # a loaded CI machine


def config_of(n):
    out = ["concurrent = %d\n" % n]
    for i in range(n):
        out.append('\n[[runners]]\n  name = "r%d"\n  url = "https://gitlab.example.com"\n'
                   '  token = "glrt-%04d"\n  executor = "shell"\n  limit = 1\n' % (i, i))
    return "".join(out).encode()


class Prober:
    """Stats and reads through the mount every 50 ms, timing every call."""

    def __init__(self, m, paths):
        self.m = m
        self.paths = paths
        self.worst = (0.0, None)
        self.calls = 0
        self.errors = []
        self._stop = threading.Event()
        self._busy_since = None
        self._t = threading.Thread(target=self._run, daemon=True)

    def _timed(self, what, fn):
        t0 = time.monotonic()
        self._busy_since = t0
        try:
            fn()
        except OSError as e:
            self.errors.append("%s: %s" % (what, e))
        finally:
            self._busy_since = None
        d = time.monotonic() - t0
        self.calls += 1
        if d > self.worst[0]:
            self.worst = (d, what)

    def _run(self):
        while not self._stop.is_set():
            for p in self.paths:
                full = self.m.path(p)
                self._timed("stat " + p, lambda: os.stat(full))
                if not p.endswith("/") and os.path.isfile(full):
                    self._timed("read " + p, lambda: full.read_bytes())
            self._timed("listdir runners", lambda: os.listdir(self.m.path("runners")))
            self._stop.wait(0.05)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=30)
        assert not self._t.is_alive(), "a call through the mount never returned"

    def stuck_for(self):
        """How long the call in flight has been waiting (0: none)."""
        s = self._busy_since
        return time.monotonic() - s if s else 0.0

    def check(self):
        assert self.calls > 20, "the prober made only %d calls" % self.calls
        assert self.worst[0] <= BOUND, "%s took %.2f s (bound %.1f s)" % (self.worst[1], self.worst[0], BOUND)
        assert not self.errors, self.errors[:5]


def edit(m, rel, value):
    """echo VALUE > rel through the mount, as a shell does: open with
    O_TRUNC, write, close. Returns (errno or 0, seconds taken)."""
    t0 = time.monotonic()
    try:
        fd = os.open(m.path(rel), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"%s\n" % str(value).encode())
        finally:
            os.close(fd)
        return 0, time.monotonic() - t0
    except OSError as e:
        return e.errno, time.monotonic() - t0


def runner(cfg, name):
    return [r for r in toml_loads(cfg)["runners"] if r["name"] == name][0]


def test_a_appending_outside_writer_freezes_nothing(runnerfs):
    """An outside process holds config.toml open and appends a line every
    300 ms (20 s): reads stay fast, an edit fails with EBUSY within the
    bound, and succeeds once the writer has closed; no appended line is
    lost."""
    m = runnerfs(config_of(2))
    stop = threading.Event()
    appended = []

    def appender():
        fd = os.open(m.config, os.O_WRONLY | os.O_APPEND)
        try:
            i = 0
            while not stop.is_set():
                line = b"# appended %d\n" % i
                os.write(fd, line)
                appended.append(line)
                i += 1
                stop.wait(0.3)  # the writer's own pace
        finally:
            os.close(fd)

    w = threading.Thread(target=appender, daemon=True)
    with Prober(m, ["config.toml", "runners/r0/limit", "runners/r1/token", ".runnerfs/status"]) as p:
        w.start()
        t_end = time.monotonic() + 20
        e, took = edit(m, "runners/r0/limit", 5)
        assert e == errno.EBUSY, "edit during an outside writer: %s" % (os.strerror(e) if e else "accepted")
        assert took <= BUSY_BOUND + SLACK, "the refusal took %.1f s" % took
        assert "kept writing" in m.read(".runnerfs/errors").decode()
        while time.monotonic() < t_end:
            assert p.stuck_for() <= BOUND + SLACK, "a read has been waiting %.1f s" % p.stuck_for()
            time.sleep(0.2)  # pacing the observation, the prober measures
        stop.set()
        w.join()
        e, took = edit(m, "runners/r0/limit", 6)
        assert e == 0, "edit after the writer closed: %s" % os.strerror(e)
    p.check()
    cfg = m.read_config()
    assert runner(cfg, "r0")["limit"] == 6
    assert cfg.count(b"# appended ") == len(appended), "appended lines lost"


def test_b_writer_that_never_closes_freezes_nothing(runnerfs):
    """An outside process opens config.toml for writing and keeps it open
    without writing: reads stay fast; an edit fails with EBUSY within the
    bound; once it closes, the edit goes through."""
    m = runnerfs(config_of(2))
    with Prober(m, ["config.toml", "runners/r0/limit"]) as p:
        fd = os.open(m.config, os.O_WRONLY)
        try:
            time.sleep(0.5)  # the writer holding the file, not a wait for a condition
            e, took = edit(m, "runners/r0/limit", 5)
            assert e == errno.EBUSY, "edit while CONFIG is open for writing: %s" % (
                os.strerror(e) if e else "accepted")
            assert took <= BUSY_BOUND + SLACK, "the refusal took %.1f s" % took
        finally:
            os.close(fd)
        e, _ = edit(m, "runners/r0/limit", 7)
        assert e == 0, os.strerror(e)
    p.check()
    assert runner(m.read_config(), "r0")["limit"] == 7


def test_c_slow_fsync_does_not_hold_readers(runnerfs, monkeypatch):
    """Every fsync of a commit takes 2 s (a delay injected in the daemon's
    commit operations): reads during the commit do not wait for it, and
    see either version; the edit itself succeeds."""
    monkeypatch.setenv("RUNNERFS_TEST_FSYNC_DELAY_MS", "2000")
    m = runnerfs(config_of(2))
    with Prober(m, ["config.toml", "runners/r0/limit", "runners/r1/url", "runners/"]) as p:
        results = []
        t = threading.Thread(target=lambda: results.append(edit(m, "runners/r0/limit", 9)))
        t.start()
        t.join(timeout=60)
        assert results and results[0][0] == 0, results
        assert results[0][1] >= 2.0, "the injected fsync delay did not happen"
    p.check()
    assert runner(m.read_config(), "r0")["limit"] == 9


def test_d_sixteen_writers_through_the_mount(runnerfs):
    """16 writers edit 16 runners at once: reads stay within the bound and
    every write lands."""
    m = runnerfs(config_of(16))
    rounds = 8
    errs = []
    last = {}
    until = time.monotonic() + 4  # long enough for the prober to see it

    def writer(i):
        k = 0
        while k < rounds or time.monotonic() < until:
            e, _ = edit(m, "runners/r%d/limit" % i, 1000 * i + k)
            if e:
                errs.append((i, k, os.strerror(e)))
            else:
                last[i] = 1000 * i + k
            k += 1

    with Prober(m, ["config.toml", "runners/r0/limit", "runners/r15/token"]) as p:
        ws = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
        for w in ws:
            w.start()
        for w in ws:
            w.join(timeout=120)
    assert not errs, errs[:5]
    p.check()
    cfg = m.read_config()
    for i in range(16):
        assert runner(cfg, "r%d" % i)["limit"] == last[i]


@pytest.mark.parametrize("what", ["reads"])
def test_reads_see_an_outside_change_once_its_writer_closes(runnerfs, what):
    """Not waiting is not the same as not seeing: once an outside writer
    has closed config.toml, the next read shows what it wrote."""
    m = runnerfs(config_of(1))
    data = m.read_config().replace(b"limit = 1", b"limit = 42")
    with open(m.config, "wb") as f:  # in place, as the runner saves
        f.write(data)
    assert m.read("runners/r0/limit") == b"42\n"


def test_runner_save_in_the_moment_of_our_rename_is_not_lost(runnerfs, monkeypatch):
    """The runner saves its new token in place (open O_TRUNC, write,
    close) in the moment between runnerfs's last check of config.toml and
    its rename (widened to 2 s by a delay injected in the daemon): the
    runner's bytes went to the file the rename replaced. runnerfs takes
    them and makes its change again on top: both are in config.toml."""
    monkeypatch.setenv("RUNNERFS_TEST_RENAME_DELAY_MS", "2000")
    m = runnerfs(config_of(2))
    results = []
    t = threading.Thread(target=lambda: results.append(edit(m, "runners/r1/limit", 8)))
    t.start()
    deadline = time.monotonic() + 10
    while not [n for n in os.listdir(m.config_dir) if ".runnerfs-" in n]:
        assert time.monotonic() < deadline, "no commit started"
        time.sleep(0.01)
    time.sleep(0.5)  # into the injected 2 s between the last check and the rename
    data = m.read_config().replace(b'token = "glrt-0000"', b'token = "glrt-9999"')
    fd = os.open(m.config, os.O_WRONLY | os.O_TRUNC)  # the runner's own save
    os.write(fd, data)
    os.close(fd)
    t.join(timeout=60)
    assert results and results[0][0] == 0, results
    cfg = m.read_config()
    assert runner(cfg, "r0")["token"] == "glrt-9999", cfg.decode()
    assert runner(cfg, "r1")["limit"] == 8, cfg.decode()
    assert "at the moment of our rename" in m.log(), "the race was not hit (timing): " + m.log()[-2000:]


@pytest.mark.parametrize("layout", ["over-its-directory", "inside-its-directory", "holding-it"])
def test_mount_point_and_config_must_not_overlap(tmp_path, layout):
    """Mounted over CONFIG's own directory, the first write worked and the
    next `ls` hung for good (unkillable). Every overlap is refused at
    start, with the reason, and nothing is mounted."""
    from tools import RUNNERFS_BIN
    if layout == "holding-it":
        mnt = tmp_path / "m"
        cdir = mnt / "etc"
    else:
        cdir = tmp_path / "etc"
        mnt = cdir if layout == "over-its-directory" else cdir / "mnt"
    cdir.mkdir(parents=True)
    mnt.mkdir(exist_ok=True)
    (cdir / "config.toml").write_bytes(config_of(1))
    r = subprocess.run([str(RUNNERFS_BIN), "-f", "-o", "reload=none", str(cdir / "config.toml"), str(mnt)],
                       capture_output=True, timeout=20)
    mounted = str(mnt) in open("/proc/self/mounts").read()
    if mounted:
        subprocess.run(["fusermount3", "-uz", str(mnt)])
    assert r.returncode != 0 and not mounted, "mounted: %s" % r.stderr.decode()
    assert b"mount it somewhere else" in r.stderr, r.stderr.decode()


def test_scratch_files_are_capped(runnerfs):
    """Files that are not keys live in memory: one holds at most 32 MiB
    (EFBIG) and all of them 128 MiB (ENOSPC), each refusal with a
    sentence; the daemon's memory stays bounded."""
    m = runnerfs(config_of(1))
    r = m.sh("dd if=/dev/zero of=.config.toml.swp bs=1M count=40 status=none", check=False)
    assert r.returncode != 0 and b"File too large" in r.stderr, r.stderr
    assert os.path.getsize(m.path(".config.toml.swp")) <= 32 << 20
    assert "in memory only, and at most 32 MiB" in m.read(".runnerfs/errors").decode()
    m.sh("rm .config.toml.swp")
    results = [m.sh("dd if=/dev/zero of=.f%d.swp bs=1M count=30 status=none" % i, check=False)
               for i in range(5)]
    assert [x.returncode for x in results[:4]] == [0, 0, 0, 0], [x.stderr for x in results]
    assert results[4].returncode != 0 and b"No space left" in results[4].stderr, results[4].stderr
    assert "128 MiB in all" in m.read(".runnerfs/errors").decode()
    with open("/proc/%d/maps" % m.proc.pid) as f:
        sanitized = re.search(r"lib[at]san", f.read())
    with open("/proc/%d/status" % m.proc.pid) as f:
        rss = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) // 1024
    assert sanitized or rss < 200, "daemon peak RSS %d MB" % rss
    m.sh("rm .f*.swp")
    m.sh("dd if=/dev/zero of=.again.swp bs=1M count=8 status=none")  # room again


@pytest.mark.parametrize("how", ["truncated", "runners-dropped"])
def test_outside_change_that_loses_everything_keeps_the_last_good_config(runnerfs, how):
    """Another writer truncates config.toml to 0 bytes (or leaves only
    `concurrent`): the tree follows it (it parses), but the version it
    replaced is .runnerfs/history/1, and status and errors say what
    happened; an edit afterwards does not take the good config away."""
    good = config_of(2)
    m = runnerfs(good)
    m.sh("cat runners/r0/token")
    with open(m.config, "wb") as f:  # in place, as a truncating writer does
        f.write(b"" if how == "truncated" else b"concurrent = 2\n")
    wait_for_empty = time.monotonic() + 10
    while os.listdir(m.path("runners")) if os.path.isdir(m.path("runners")) else False:
        assert time.monotonic() < wait_for_empty, "the mount never showed the outside change"
        time.sleep(0.05)
    assert m.read(".runnerfs/history/1") == good
    status = m.read(".runnerfs/status").decode()
    assert "the version before is .runnerfs/history/1" in status, status
    assert ("emptied config.toml" if how == "truncated" else "removed every runner") in \
        m.read(".runnerfs/errors").decode()
    e, _ = edit(m, "concurrent", 3)
    assert e == 0
    assert m.read(".runnerfs/history/2") == good, "the good config went out of the history"


def test_the_shell_sees_the_refusal_while_someone_writes(runnerfs):
    """The wait for an outside writer comes at open(): `echo 12 >
    concurrent` exits 1 with "Device or resource busy" (a refusal at
    close() would leave it at 0, shells ignore close's error); once the
    writer has closed, the same command works."""
    m = runnerfs(config_of(1))
    fd = os.open(m.config, os.O_WRONLY)  # the runner, in the middle of its save
    try:
        r = m.sh("echo 12 > concurrent", check=False)
        assert r.returncode != 0 and b"busy" in r.stderr.lower(), (r.returncode, r.stderr)
    finally:
        os.close(fd)
    m.sh("echo 12 > concurrent")
    assert b"concurrent = 12" in m.read_config()
