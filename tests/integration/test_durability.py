"""Contract 3.3: atomic write-back, errors from the disk, mtimes."""

import errno
import os
import stat
import threading

import pytest

from rfs import (assert_only_changed, assert_unchanged, describe, fixture, remount, replace_once,
                 toml_loads, try_write, wait_for)

F01 = fixture("01-register-docker.toml")
D1 = "runners/docker-shared-01/"


def _no_leftovers(m, allowed=("config.toml",)):
    """Contract 3.3: no temp file is left in CONFIG's directory."""
    extra = sorted(set(os.listdir(m.config_dir)) - set(allowed))
    assert not extra, "files left in CONFIG's directory: %s" % extra


def test_every_write_leaves_a_complete_file(runnerfs):
    """After each write the file on disk parses and holds the new value; a
    reader polling the file meanwhile never sees it missing or torn."""
    m = runnerfs(F01)
    stop = threading.Event()
    bad = []
    reads = [0]

    def reader():
        while not stop.is_set():
            try:
                data = m.config.read_bytes()
            except FileNotFoundError:
                bad.append("CONFIG was missing")
                continue
            try:
                toml_loads(data)
            except Exception as e:  # torn file
                bad.append("torn read (%d bytes): %s" % (len(data), e))
            reads[0] += 1

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        for i in range(1, 31):
            if i % 2:
                res = try_write(m.path("concurrent"), b"%d\n" % i)
            else:
                res = try_write(m.path(D1 + "docker/image"), b"alpine:3.%d\n" % i)
            assert res is None, describe(res)
            d = toml_loads(m.read_config())
            if i % 2:
                assert d["concurrent"] == i
            else:
                assert d["runners"][0]["docker"]["image"] == "alpine:3.%d" % i
    finally:
        stop.set()
        t.join(10)
    assert not bad, "%d bad reads of %d, first: %s" % (len(bad), reads[0], bad[:3])
    assert reads[0] > 0
    _no_leftovers(m)


def test_mode_and_owner_kept(runnerfs):
    """Contract 3.3: the temp file has CONFIG's mode and owner, so the new
    CONFIG does too."""
    m = runnerfs(F01, mode=0o640, owner=(1000, 1001))
    m.sh("echo 5 > concurrent")
    st = os.stat(m.config)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1000, 1001)
    _no_leftovers(m)


def test_missing_config_created_0600(runnerfs):
    """Contract 1: a missing CONFIG is created (mode 0600) by the first change."""
    m = runnerfs(None)
    m.sh("echo 3 > concurrent")
    assert m.read_config() == b"concurrent = 3\n"
    assert stat.S_IMODE(os.stat(m.config).st_mode) == 0o600
    assert m.read("concurrent") == b"3\n"
    _no_leftovers(m)


def test_mtime_strictly_increases(runnerfs):
    """Contract 3.3: the runner reloads only on a newer mtime, so every write
    must give CONFIG a strictly greater mtime, however quick."""
    m = runnerfs(F01)
    mtimes = [os.stat(m.config).st_mtime_ns]
    for i in range(1, 21):
        res = try_write(m.path("concurrent"), b"%d\n" % i)
        assert res is None, describe(res)
        mtimes.append(os.stat(m.config).st_mtime_ns)
    flat = [(i, mtimes[i], mtimes[i + 1]) for i in range(len(mtimes) - 1) if mtimes[i + 1] <= mtimes[i]]
    assert not flat, "mtime did not increase: %s" % flat[:5]


def test_failed_write_leaves_nothing(runnerfs):
    m = runnerfs(F01)
    try_write(m.path("concurrent"), b"abc\n")
    try_write(m.path("config.toml"), b"[broken\n")
    assert_unchanged(F01, m.read_config())
    _no_leftovers(m)


@pytest.mark.root
def test_read_only_config_directory(tmpfs, runnerfs):
    """Contract 3.3: a read-only disk: the operation fails with EROFS,
    CONFIG is unchanged, a line goes to errors; it works again afterwards."""
    d = tmpfs("1m")
    m = runnerfs(F01, config_dir=d)
    remount(d, "ro")
    errs = m.errors()
    res = try_write(m.path("concurrent"), b"5\n")
    assert res is not None and res[1] == errno.EROFS, describe(res)
    m.wait_error(errs, "concurrent")
    assert_unchanged(F01, m.read_config())
    assert m.read("concurrent") == b"4\n", "the mount must keep showing what is on disk"
    with pytest.raises(OSError) as ei:
        os.mkdir(m.path("runners/new"))
    assert ei.value.errno == errno.EROFS
    assert_unchanged(F01, m.read_config())
    remount(d, "rw")
    _no_leftovers(m)
    res = try_write(m.path("concurrent"), b"5\n")
    assert res is None, describe(res)
    assert_only_changed(F01, m.read_config(), replace_once(F01, b"concurrent = 4 #", b"concurrent = 5 #"))


@pytest.mark.root
def test_full_disk(tmpfs, runnerfs):
    """Contract 3.3: disk full: ENOSPC, CONFIG unchanged, no temp file."""
    d = tmpfs("64k")
    m = runnerfs(F01, config_dir=d)
    filler = d / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    errs = m.errors()
    res = try_write(m.path(D1 + "docker/image"), b"alpine:3.20\n")
    assert res is not None and res[1] == errno.ENOSPC, describe(res)
    m.wait_error(errs, "image")
    assert_unchanged(F01, m.read_config())
    assert m.read(D1 + "docker/image") == b"alpine:3.19\n"
    _no_leftovers(m, allowed=("config.toml", "filler"))
    filler.unlink()
    res = try_write(m.path(D1 + "docker/image"), b"alpine:3.20\n")
    assert res is None, describe(res)
    assert_only_changed(F01, m.read_config(),
                        replace_once(F01, b'image = "alpine:3.19"', b'image = "alpine:3.20"'))
    _no_leftovers(m)


def test_mount_shows_disk_after_failure(runnerfs):
    """After a rejected write the mount still shows the old value, and the
    next good write works (no stuck state)."""
    m = runnerfs(F01)
    try_write(m.path("concurrent"), b"abc\n")
    wait_for(lambda: m.read("concurrent") == b"4\n", what="concurrent to read 4")
    assert os.stat(m.path("concurrent")).st_size == 2
    assert try_write(m.path("concurrent"), b"7\n") is None
    assert m.read("concurrent") == b"7\n"


def test_concurrent_writers(runnerfs):
    """Issue 3: one change is one transaction. Four writers on four keys at
    once: every write lands, none is lost, the file is the exact sum."""
    m = runnerfs(F01)
    jobs = {
        "concurrent": [b"%d\n" % i for i in range(1, 11)],
        D1 + "limit": [b"%d\n" % i for i in range(1, 11)],
        D1 + "docker/image": [b"img:%d\n" % i for i in range(1, 11)],
        "runners/shell-03/builds_dir": [b"/b/%d\n" % i for i in range(1, 11)],
    }
    errs = []

    def run(rel, values):
        for v in values:
            r = try_write(m.path(rel), v)
            if r is not None:
                errs.append((rel, v, describe(r)))

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errs, errs
    exp = replace_once(F01, b"concurrent = 4 #", b"concurrent = 10 #")
    exp = replace_once(exp, b"  limit = 2\n", b"  limit = 10\n")
    exp = replace_once(exp, b'image = "alpine:3.19"', b'image = "img:10"')
    exp = replace_once(exp, b'builds_dir = "/srv/builds"', b'builds_dir = "/b/10"')
    assert_only_changed(F01, m.read_config(), exp)
    _no_leftovers(m)


def test_mkdir_runner_on_missing_config(runnerfs):
    """Contract 1 + 3.1: a fresh install: no CONFIG yet, `mkdir runners/NAME`
    creates it (0600) with the runner."""
    m = runnerfs(None)
    if "runners" not in m.listdir():
        os.mkdir(m.path("runners"))
    os.mkdir(m.path("runners/first"))
    assert toml_loads(m.read_config()) == {"runners": [{"name": "first"}]}
    assert stat.S_IMODE(os.stat(m.config).st_mode) == 0o600
    assert m.read("runners/first/name") == b"first\n"
