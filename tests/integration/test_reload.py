"""Contract 8 (reload) without a Docker engine: reload=pid:/signal: against a
local process that counts SIGHUPs, and docker: against engines that are not
there or never answer (a write never waits for the reload)."""

import os
import re
import subprocess
import sys
import time

import pytest

from dockerd import fake_engine  # noqa: F401 (fixture)
from rfs import fixture, replace_once, try_write, wait_for

F01 = fixture("01-register-docker.toml")
DELAY = 0.3
MAX_WAIT = 10 * DELAY
MARGIN = 1.0

# Counts SIGHUPs into a file (replaced atomically); 0 once the handler is in.
COUNTER_PY = r"""
import os, signal, sys, time
out = sys.argv[1]
n = 0
def put(v):
    with open(out + ".tmp", "w") as f:
        f.write("%d\n" % v)
    os.replace(out + ".tmp", out)
def on_hup(sig, frame):
    global n
    n += 1
    put(n)
signal.signal(signal.SIGHUP, on_hup)
put(0)
while True:
    time.sleep(1)
"""


class LocalCounter:
    def __init__(self, path):
        self.path = path
        self.proc = subprocess.Popen([sys.executable, "-c", COUNTER_PY, str(path)],
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        wait_for(lambda: self.value() is not None, 10, what="the SIGHUP counter to start")

    def value(self):
        try:
            t = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(t) if t else None

    def wait_change(self, old, timeout):
        deadline = time.monotonic() + timeout
        while True:
            v = self.value()
            if v != old or time.monotonic() > deadline:
                return v
            time.sleep(0.02)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def counter(tmp_path):
    made = []

    def make(name="count"):
        c = LocalCounter(tmp_path / name)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


def reload_lines(m):
    return "\n".join(line for line in m.status().splitlines()
                     if re.match(r"\s*(last )?reload", line, re.I))


def wait_status(m, pattern, timeout, what):
    def look():
        try:
            return re.search(pattern, reload_lines(m), re.I | re.S)
        except OSError:
            return None
    try:
        return wait_for(look, timeout, interval=0.05)
    except AssertionError:
        raise AssertionError("timed out after %.1fs waiting for %s in .runnerfs/status; its reload "
                             "lines:\n%s" % (timeout, what, reload_lines(m))) from None


def _write(m, rel, data):
    res = try_write(m.path(rel), data)
    assert res is None, "writing %r to %s failed: %r" % (data, rel, res)


def _dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


# --------------------------------------------------------------------------
# pid: and signal:

def test_pidfile_reload(runnerfs, counter, tmp_path):
    c = counter()
    pidfile = tmp_path / "runner.pid"
    pidfile.write_text("%d\n" % c.pid)
    m = runnerfs(F01, options=["reload=pid:%s" % pidfile, "reload_delay=300"])
    m.sh("for i in 1 2 3 4 5; do echo $i > concurrent; done")
    assert c.wait_change(0, MAX_WAIT + 2 * MARGIN) == 1, "no SIGHUP to the pid in %s" % pidfile
    time.sleep(DELAY + MARGIN)
    assert c.value() == 1, "a burst of 5 changes gave %d SIGHUPs" % c.value()
    assert c.alive()
    # the pidfile is read again for every reload (the runner restarted)
    c2 = counter("count2")
    pidfile.write_text("%d\n" % c2.pid)
    _write(m, "concurrent", b"6\n")
    assert c2.wait_change(0, MAX_WAIT + 2 * MARGIN) == 1, \
        "the new pid in the pidfile got no SIGHUP (the old one got %d)" % c.value()
    assert c.value() == 1
    wait_status(m, r"last reload", MARGIN, "a 'last reload' line")


def test_signal_pid_reload(runnerfs, counter):
    c = counter()
    m = runnerfs(F01, options=["reload=signal:%d" % c.pid, "reload_delay=300"])
    _write(m, "concurrent", b"8\n")
    assert c.wait_change(0, MAX_WAIT + 2 * MARGIN) == 1
    m.sh("echo > .runnerfs/reload")
    assert c.wait_change(1, 1.5) == 2, "writing .runnerfs/reload sent no SIGHUP now"
    # a rejected change: nothing
    r = m.sh("echo abc > concurrent", check=False)
    assert r.returncode != 0
    time.sleep(DELAY + MARGIN)
    assert c.value() == 2
    assert c.alive()


def test_missing_pidfile_is_reported(runnerfs, tmp_path):
    pidfile = tmp_path / "nope" / "runner.pid"
    m = runnerfs(F01, options=["reload=pid:%s" % pidfile, "reload_delay=300"])
    _write(m, "concurrent", b"9\n")
    assert m.read_config() == replace_once(F01, b"concurrent = 4", b"concurrent = 9")
    wait_status(m, re.escape(str(pidfile)) + r".*(No such file|missing|not found|cannot|can't|fail)",
                DELAY + 3 * MARGIN, "the missing pidfile")
    # not fatal: the mount goes on, the next change is taken too
    _write(m, "concurrent", b"10\n")
    assert b"concurrent = 10" in m.read_config()


def test_pidfile_with_a_number_beyond_pid_t_signals_nobody(runnerfs, counter, tmp_path):
    """A pid file holding 2^32+PID used to signal PID (truncated to
    pid_t), and 4294967295 would have been kill(-1, SIGHUP): every
    process. Both are refused with a sentence; nothing is signalled."""
    c = counter()
    pidfile = tmp_path / "runner.pid"
    pidfile.write_text("%d\n" % ((1 << 32) + c.pid))
    m = runnerfs(F01, options=["reload=pid:%s" % pidfile, "reload_delay=300"])
    _write(m, "concurrent", b"9\n")
    wait_status(m, r"does not hold a process id", DELAY + 3 * MARGIN, "the refused pid file")
    pidfile.write_text("4294967295\n")
    _write(m, "concurrent", b"10\n")
    m.sh("echo > .runnerfs/reload")
    time.sleep(DELAY + MARGIN)  # the time a reload would take: nothing may arrive
    assert c.value() == 0, "the stand-in got %d SIGHUPs" % c.value()
    assert c.alive()
    assert b"concurrent = 10" in m.read_config()
    # and at mount time: signal:N beyond pid_t is refused
    with pytest.raises(Exception):
        runnerfs(F01, options=["reload=signal:%d" % ((1 << 32) + c.pid)])


def test_dead_pid_is_reported(runnerfs, tmp_path):
    dead = _dead_pid()
    m = runnerfs(F01, options=["reload=signal:%d" % dead, "reload_delay=300"])
    _write(m, "concurrent", b"9\n")
    wait_status(m, r"\b%d\b.*(No such process|dead|not running|ESRCH|gone|exited)" % dead,
                DELAY + 3 * MARGIN, "the dead pid %d" % dead)
    # the same through a pidfile that names a dead process
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text("%d\n" % dead)
    m2 = runnerfs(F01, options=["reload=pid:%s" % pidfile, "reload_delay=300"])
    _write(m2, "concurrent", b"9\n")
    wait_status(m2, r"\b%d\b.*(No such process|dead|not running|ESRCH|gone|exited)" % dead,
                DELAY + 3 * MARGIN, "the dead pid %d from %s" % (dead, pidfile))
    _write(m2, "concurrent", b"12\n")
    assert b"concurrent = 12" in m2.read_config()


# --------------------------------------------------------------------------
# engines that are not there or never answer: writes do not wait

def _timed_write(m, value):
    t = time.monotonic()
    _write(m, "concurrent", b"%d\n" % value)
    return time.monotonic() - t


def test_hung_engine_does_not_slow_writes(runnerfs, fake_engine):  # noqa: F811
    """docker_host is a socket that accepts and reads but never answers.
    While runnerfs's reload waits on it, writes (open/write/close), reading
    status and asking for a reload take as long as with reload=none; the
    failure shows in status afterwards."""
    eng = fake_engine("hang")
    base = runnerfs(F01)                                # reload=none
    t_none = max(_timed_write(base, 20 + i) for i in range(5))
    m = runnerfs(F01, options=["reload=docker:rfs-hung", "docker_host=unix://%s" % eng.path,
                               "reload_delay=100"])
    t_first = _timed_write(m, 30)
    wait_for(lambda: eng.seen(r"/containers/rfs-hung/"), 0.1 + 3 * MARGIN,
             what="runnerfs to send its request to the (hung) engine")
    times = [_timed_write(m, 31 + i) for i in range(5)]
    t = time.monotonic()
    st = m.status()
    t_status = time.monotonic() - t
    t = time.monotonic()
    m.sh("echo > .runnerfs/reload")
    t_reload = time.monotonic() - t
    worst = max([t_first] + times)
    assert worst < 1.0, "a write took %.2fs while the engine hung (reload=none: %.3fs)" % (worst, t_none)
    assert worst - t_none < 0.5, \
        "writes are slower with a hung engine: %.3fs vs %.3fs with reload=none" % (worst, t_none)
    assert t_status < 1.0, "reading status took %.2fs while the engine hung" % t_status
    assert t_reload < 1.0, "writing .runnerfs/reload took %.2fs while the engine hung" % t_reload
    assert b"concurrent = 35" in m.read_config()
    assert st
    # every request has a timeout: the failure is reported
    wait_status(m, r"time|fail|error|answer|unreach|hung", 30,
                "a reload failure (the engine never answered)")


def test_absent_engine_is_reported(runnerfs, tmp_path):
    """docker_host names a socket that does not exist: the write succeeds,
    status says the engine could not be reached."""
    sock = tmp_path / "no-such-docker.sock"
    m = runnerfs(F01, options=["reload=docker:rfs-x", "docker_host=unix://%s" % sock,
                               "reload_delay=100"])
    t = time.monotonic()
    r = m.sh("echo 13 > concurrent")
    assert r.returncode == 0 and time.monotonic() - t < 1.0
    assert m.read_config() == replace_once(F01, b"concurrent = 4", b"concurrent = 13")
    wait_status(m, r"connect|unreach|No such file|not (be )?reach|fail", 0.1 + 3 * MARGIN,
                "the unreachable engine")


def test_unreachable_tcp_engine_is_reported(runnerfs):
    """tcp://127.0.0.1:PORT where nothing listens: refused, reported."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                       # now nothing listens there
    m = runnerfs(F01, options=["reload=docker:rfs-x", "docker_host=tcp://127.0.0.1:%d" % port,
                               "reload_delay=100"])
    _write(m, "concurrent", b"14\n")
    wait_status(m, r"connect|refused|unreach|not (be )?reach|fail", 0.1 + 3 * MARGIN,
                "the refused TCP engine")
    assert os.path.exists(m.path("concurrent"))


# Runs the daemon the way a user does, without -f: it forks into the
# background. As a child subreaper this script gets the daemon's exit
# status once it goes at unmount, and prints it.
BACKGROUND = r"""
import ctypes, os, signal, subprocess, sys, time
daemon, cfg, mnt, pid = sys.argv[1:5]
signal.alarm(30)  # a daemon that hangs at unmount ends this script (SIGALRM)
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
subprocess.run([daemon, "-o", "reload=signal:%s,reload_delay=100" % pid, cfg, mnt], check=True, timeout=20)
try:
    with open(os.path.join(mnt, "concurrent"), "w") as f:
        f.write("8\n")
    time.sleep(float(sys.argv[5]))  # the reload comes from the daemon's own thread
finally:
    subprocess.run(["fusermount3", "-u", mnt], check=True, timeout=20)
_, status = os.wait()
print("signal" if os.WIFSIGNALED(status) else "exit %d" % os.WEXITSTATUS(status))
"""


def test_background_daemon_runs_its_threads_and_exits_cleanly(counter, tmp_path):
    """Without -f the watch and reload threads must start after the fork
    (before, the background daemon had none: no reload, and it crashed
    joining them at unmount)."""
    from conftest import RUNNERFS
    c = counter()
    (tmp_path / "etc").mkdir()
    cfg = tmp_path / "etc" / "config.toml"
    cfg.write_bytes(F01)
    cfg.chmod(0o600)
    mnt = tmp_path / "mnt"  # not inside CONFIG's directory: that is refused
    mnt.mkdir()
    r = subprocess.run([sys.executable, "-c", BACKGROUND, str(RUNNERFS), str(cfg), str(mnt), str(c.pid),
                        str(MAX_WAIT + MARGIN)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stdout.decode().strip() == "exit 0", r.stdout
    assert c.value() == 1, "the background daemon sent no SIGHUP"
    assert cfg.read_bytes() == replace_once(F01, b"concurrent = 4", b"concurrent = 8")
