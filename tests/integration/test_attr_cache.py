"""What the kernel is given to keep (docs/performance.md, "Why: reading every
file"): readdir entries carry their type and inode number (READDIRPLUS: all
the attributes), and no attribute the kernel is given outlives a change
(attributes are kept for a second and dropped at every change, "Kernel
caching (issue 12)"; test_kernel_cache.py has the page cache's tests)."""

import os
import stat
import time

from rfs import fixture, gen_runners, runner_dir_names, toml_loads, try_write, wait_for

F01 = fixture("01-register-docker.toml")
D1 = "runners/docker-shared-01/"


def test_readdir_types_and_inodes_match_stat(runnerfs):
    """A directory larger than one READDIR reply (1000 runners): every
    name once, and each entry's d_type and d_ino are those stat gives."""
    big = gen_runners(1000)
    m = runnerfs(big)
    want = set(runner_dir_names(toml_loads(big)["runners"]))
    seen = []
    with os.scandir(m.path("runners")) as it:
        for e in it:
            st = os.lstat(e.path)
            assert e.inode() == st.st_ino, e.name
            assert e.is_dir(follow_symlinks=False) == stat.S_ISDIR(st.st_mode), e.name
            seen.append(e.name)
    assert len(seen) == len(set(seen)), "a name listed twice"
    assert set(seen) == want
    # inside a runner: files and directories, each with its own inode
    name = sorted(want)[0]
    inodes = set()
    with os.scandir(m.path("runners/" + name)) as it:
        for e in it:
            st = os.lstat(e.path)
            assert e.inode() == st.st_ino, e.name
            assert e.is_file(follow_symlinks=False) == stat.S_ISREG(st.st_mode), e.name
            inodes.add(st.st_ino)
    assert len(inodes) > 10


def test_readdirplus_attributes_are_getattr(runnerfs):
    """After a listing (READDIRPLUS), stat answers from what readdir gave:
    the exact size of the content, the mode of a secret."""
    m = runnerfs(F01)
    names = os.listdir(m.path(D1))
    assert "limit" in names and "token" in names
    for n in names:
        p = m.path(D1 + n)
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode):
            assert st.st_size == len(m.read(D1 + n)), n
    assert stat.S_IMODE(os.lstat(m.path(D1 + "token")).st_mode) == 0o600


def test_stat_after_a_write_sees_the_change(runnerfs):
    """stat right after close(): the written file, config.toml and the
    parent's other files are not answered from stale cached attributes."""
    m = runnerfs(F01)
    p = m.path(D1 + "limit")
    cfg = m.path("config.toml")
    assert os.stat(p).st_size == 2  # "2\n", now kept by the kernel
    size0 = os.stat(cfg).st_size
    m.sh("echo 12345 > %s" % (D1 + "limit"))
    assert os.stat(p).st_size == 6
    assert m.read(D1 + "limit") == b"12345\n"
    assert os.stat(cfg).st_size == size0 + 4
    assert os.stat(cfg).st_size == len(m.read("config.toml"))


def test_stat_after_a_rejected_write_sees_the_error(runnerfs):
    m = runnerfs(F01)
    e = m.path(".runnerfs/errors")
    before = os.stat(e).st_size
    try_write(m.path("concurrent"), b"abc\n")
    assert os.stat(e).st_size > before
    assert os.stat(e).st_size == len(m.read(".runnerfs/errors"))


def test_stat_after_an_outside_change(runnerfs):
    """CONFIG rewritten behind the mount: the size kept by the kernel is
    forgotten; reading is right at once."""
    m = runnerfs(F01)
    p = m.path("concurrent")
    assert os.stat(p).st_size == 2  # "4\n"
    data = m.read_config().replace(b"concurrent = 4 ", b"concurrent = 1234 ", 1)
    tmp = str(m.config) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, m.config)
    assert m.read("concurrent") == b"1234\n"
    assert os.stat(p).st_size == 5
    # and again, without a read first
    assert os.stat(p).st_size == 5
    data = data.replace(b"concurrent = 1234 ", b"concurrent = 7 ", 1)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, m.config)
    wait_for(lambda: os.stat(p).st_size == 2, timeout=2, what="the new size after an outside change")
    assert m.read("concurrent") == b"7\n"


def test_open_fd_after_a_commit(runnerfs):
    """An fd opened for reading a small value reads it through the page
    cache every open shares: after a commit, the new value, whole; fstat
    gives the node's size, before and after."""
    m = runnerfs(F01)
    p = m.path(D1 + "limit")
    fd = os.open(p, os.O_RDONLY)
    try:
        assert os.fstat(fd).st_size == 2
        m.sh("echo 100 > %s" % (D1 + "limit"))
        assert os.stat(p).st_size == 4
        assert os.fstat(fd).st_size == 4
        assert os.pread(fd, 100, 0) == b"100\n"
        assert os.lseek(fd, 0, os.SEEK_END) == 4
        assert os.stat(p).st_size == 4
        assert os.fstat(fd).st_size == 4
    finally:
        os.close(fd)


def test_stat_while_another_open_writes(runnerfs):
    """While a write is buffered, stat shows the committed value; after
    close, the new one."""
    m = runnerfs(F01)
    p = m.path(D1 + "limit")
    assert os.stat(p).st_size == 2
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"123456789\n")
        assert m.read(D1 + "limit") == b"2\n"
    finally:
        os.close(fd)
    assert os.stat(p).st_size == 10
    assert m.read(D1 + "limit") == b"123456789\n"


def test_read_only_close_reports_nothing(runnerfs):
    """Read-only opens send no FLUSH; reading and closing many files
    leaves no error and changes nothing."""
    m = runnerfs(F01)
    before = m.read_config()
    t0 = time.monotonic()
    for _ in range(3):
        for n in os.listdir(m.path(D1)):
            if os.path.isfile(m.path(D1 + n)):
                with open(m.path(D1 + n), "rb") as f:
                    f.read()
    assert time.monotonic() - t0 < 30
    assert m.read_config() == before
    assert m.read(".runnerfs/errors") == b""
