"""Contract 3.4: config.toml changed outside into something runnerfs
cannot use — a file that does not parse, a deleted file, a directory or a
FIFO in its place. The mount keeps the last good tree, every change fails
with EIO and leaves CONFIG alone, .runnerfs/status says why, and it
recovers by itself when the file is back. A file that is bad only for a
moment (a writer between two writes) is not "broken". Issue 4."""

import errno
import os
import re
import stat
import threading
import time

import pytest

from outside import wait_status, write_in_place
from rfs import assert_bytes, describe, fixture, replace_once, try_write, wait_for

F01 = fixture("01-register-docker.toml")
RUNNERS = {"docker-shared-01", "docker-dind-02", "shell-03"}
# line 6 of F01 is `connection_max_age = "15m0s"`
assert F01.splitlines()[5] == b'connection_max_age = "15m0s"'
GARBAGE = replace_once(F01, b'connection_max_age = "15m0s"\n', b"this is not toml\n")
FIXED = replace_once(F01, b"check_interval = 0\n", b"check_interval = 3\n")


def _write_fails(m, before_bytes, exists=True):
    """Every kind of change fails with EIO and CONFIG is untouched."""
    r = m.sh("echo 5 > concurrent", check=False)
    assert r.returncode != 0, "`echo 5 > concurrent` succeeded while CONFIG cannot be used"
    assert b"Input/output error" in r.stderr, "`echo 5 > concurrent`: %r, expected EIO" % (r.stderr,)
    res = try_write(m.path("runners/shell-03/builds_dir"), b"/x\n")
    assert res is not None and res[1] == errno.EIO, \
        "writing runners/shell-03/builds_dir: %s, expected EIO" % describe(res)
    for what, fn in (("mkdir runners/new", lambda: os.mkdir(m.path("runners/new"))),
                     ("rm log_level", lambda: os.unlink(m.path("log_level")))):
        with pytest.raises(OSError) as ei:
            fn()
        assert ei.value.errno == errno.EIO, "%s: %s, expected EIO" % (what, ei.value)
    if exists:
        assert_bytes(m.read_config(), before_bytes, "config.toml (must be untouched)")
    else:
        assert not os.path.lexists(m.config), "runnerfs created CONFIG while it was missing"


def _last_good_shown(m):
    assert m.read("concurrent") == b"4\n"
    assert m.read("check_interval") == b"0\n"
    assert m.listdir("runners") == RUNNERS
    assert m.read("runners/docker-dind-02/docker/image") == b"docker:24.0\n"


def _recovers(m, good, t_fixed):
    """After `good` was put in place: parses again within ~3 s, shows the
    new version, and a write goes on top of it."""
    wait_status(m, r"^parses: yes$", 3.5, what="`parses: yes` within ~3 s of the fix")
    assert time.monotonic() - t_fixed < 3.5
    st = m.status()
    assert "parse error" not in st, "the old reason is still in the status:\n" + st
    assert m.read("check_interval") == b"3\n", "the tree does not show the fixed file"
    m.sh("echo 5 > concurrent")
    assert_bytes(m.read_config(), replace_once(good, b"concurrent = 4 ", b"concurrent = 5 "))


def test_garbage_in_place_then_fixed(runnerfs):
    m = runnerfs(F01)
    _last_good_shown(m)
    errors_before = m.errors()
    t0 = time.monotonic()
    write_in_place(m.config, [GARBAGE])
    wait_status(m, r"^parses: no$", 3.5, what="`parses: no` within ~3 s of the bad write")
    assert time.monotonic() - t0 < 3.5
    st = m.status()
    mo = re.search(r"config\.toml:(\d+):(\d+)", st)
    assert mo, "the status does not name a line and column:\n" + st
    assert int(mo.group(1)) == 6 and int(mo.group(2)) >= 1, \
        "the status names %s:%s; the bad line is 6:\n%s" % (mo.group(1), mo.group(2), st)
    _last_good_shown(m)
    assert m.read("config.toml") == F01, "MOUNT/config.toml must be the last good version"
    _write_fails(m, GARBAGE)
    new = [line for line in m.errors() if line not in errors_before]
    assert new, ".runnerfs/errors says nothing about the refused changes"
    assert all(re.search(r"config\.toml:6:\d+", line) for line in new), \
        "an errors line does not say why:\n" + "\n".join(new)
    later = []  # checked at the end, after the recovery has been tested too
    if not any(" concurrent:" in line for line in new) or \
            not any(" runners/shell-03/builds_dir:" in line for line in new):
        later.append("the refused `echo 5 > concurrent` and write of runners/shell-03/builds_dir "
                     "are not reported under their paths in .runnerfs/errors (contract 7: each "
                     "line names the path in the mount):\n" + "\n".join(new))
    assert m.proc.poll() is None
    t1 = time.monotonic()
    write_in_place(m.config, [FIXED])
    _recovers(m, FIXED, t1)
    assert not later, "\n".join(later)


def test_bad_for_a_moment_is_not_broken(runnerfs):
    """A writer that leaves CONFIG unparsable and fixes it 300 ms later
    (the runner between two writes): status never says `parses: no`, and
    a write through the mount made meanwhile waits and lands on top of
    the fixed file."""
    m = runnerfs(F01)
    _last_good_shown(m)
    errors_before = m.errors()
    seen = []
    stop = threading.Event()

    def watch_status():
        while not stop.is_set():
            s = m.status()
            if "parses: no" in s:
                seen.append(s)
            time.sleep(0.01)

    result = {}

    def writer():
        result["res"] = try_write(m.path("concurrent"), b"9\n")

    write_in_place(m.config, [GARBAGE])
    ws = threading.Thread(target=watch_status, daemon=True)
    wt = threading.Thread(target=writer, daemon=True)
    ws.start()
    wt.start()
    time.sleep(0.3)  # the outside writer's pace: it fixes the file 300 ms later
    write_in_place(m.config, [FIXED])
    wt.join(10)
    stop.set()
    ws.join(10)
    assert not wt.is_alive(), "the write through the mount did not return within 10 s"
    assert not seen, "status said `parses: no` for a file bad for only 300 ms:\n" + seen[0]
    assert result["res"] is None, "a write during the 300 ms failed: %s" % describe(result["res"])
    assert_bytes(m.read_config(), replace_once(FIXED, b"concurrent = 4 ", b"concurrent = 9 "))
    assert m.read("check_interval") == b"3\n"
    assert [line for line in m.errors() if line not in errors_before] == []


def test_config_deleted_then_back(runnerfs):
    m = runnerfs(F01)
    _last_good_shown(m)
    t0 = time.monotonic()
    os.unlink(m.config)
    wait_status(m, r"^parses: no$", 3.5, what="`parses: no` within ~3 s of the delete")
    assert time.monotonic() - t0 < 3.5
    st = m.status()
    assert re.search(r"(?i)deleted|missing|no such file|does not exist", st), \
        "the status does not say CONFIG is gone:\n" + st
    _last_good_shown(m)
    _write_fails(m, None, exists=False)
    assert os.listdir(m.config_dir) == [], "files left in CONFIG's directory: %s" % os.listdir(m.config_dir)
    # it comes back (written in place, as `cat > config.toml` would)
    t1 = time.monotonic()
    fd = os.open(m.config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, FIXED)
    os.close(fd)
    _recovers(m, FIXED, t1)


def _sh_status(m):
    """The status read by a child with a timeout: a daemon that blocks on
    what is at CONFIG's name fails the test instead of hanging it."""
    r = m.sh("cat .runnerfs/status", timeout=15)
    return r.stdout.decode()


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_config_replaced_by_non_regular_file(runnerfs, kind):
    m = runnerfs(F01)
    _last_good_shown(m)
    t0 = time.monotonic()
    os.unlink(m.config)
    if kind == "directory":
        os.mkdir(m.config)
        reason = r"(?i)directory"
    else:
        os.mkfifo(m.config, 0o600)
        reason = r"(?i)regular file|fifo|pipe"
    st = wait_for(lambda: re.search(r"(?m)^parses: no$", _sh_status(m)) and _sh_status(m), 3.5,
                  interval=0.05, what="`parses: no` within ~3 s")
    assert time.monotonic() - t0 < 4
    later = []  # checked at the end, after the recovery has been tested too
    if not re.search(reason, st):
        later.append("the status does not say clearly what is wrong with a %s in CONFIG's "
                     "place:\n%s" % (kind, st))
    r = m.sh("cat concurrent; ls runners", timeout=15)
    assert r.stdout.decode().split() == ["4"] + sorted(RUNNERS)
    r = m.sh("echo 5 > concurrent", check=False, timeout=15)
    assert r.returncode != 0 and b"Input/output error" in r.stderr, \
        "`echo 5 > concurrent` with a %s at CONFIG: exit %d %r" % (kind, r.returncode, r.stderr)
    mode = os.lstat(m.config).st_mode
    assert (stat.S_ISDIR(mode) if kind == "directory" else stat.S_ISFIFO(mode)), "CONFIG was replaced"
    assert os.listdir(m.config_dir) == ["config.toml"]
    assert m.proc.poll() is None, "runnerfs died"
    if kind == "directory":
        os.rmdir(m.config)
    else:
        os.unlink(m.config)
    t1 = time.monotonic()
    fd = os.open(m.config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, FIXED)
    os.close(fd)
    _recovers(m, FIXED, t1)
    assert not later, "\n".join(later)
