"""What the kernel keeps is dropped at every change (docs/performance.md,
"Kernel caching (issue 12)"): small values are read through the page
cache, kept across opens, and attributes are kept for a second; every
commit, outside change and rejected write drops what it may have changed
before the change is answered. Each test first makes the kernel keep the
file (read it, stat it), then changes it in a way that does not go
through that file."""

import os

from rfs import fixture, wait_for

F01 = fixture("01-register-docker.toml")
R1 = "runners/docker-shared-01/"


def keep(m, rel):
    """Read rel twice and stat it: its pages and attributes are now the
    kernel's (keep_cache, attr_timeout)."""
    a = m.read(rel)
    assert m.read(rel) == a
    assert os.stat(m.path(rel)).st_size == len(a)
    return a


def test_registry_write_shows_in_a_cached_environment(runnerfs):
    """registries/ and environment are two files of one value: a write to
    one changes the other, whose old bytes the kernel kept."""
    m = runnerfs(F01)
    env0 = keep(m, R1 + "environment")
    assert b"DOCKER_AUTH_CONFIG" not in env0
    m.sh("mkdir %sregistries/reg.test && echo deploy > %sregistries/reg.test/username && "
         "echo s3cret > %sregistries/reg.test/password" % (R1, R1, R1))
    env1 = m.read(R1 + "environment")
    assert b"DOCKER_AUTH_CONFIG" in env1 and b"reg.test" in env1
    assert os.stat(m.path(R1 + "environment")).st_size == len(env1)
    # and back: the registry removed, environment as it was
    keep(m, R1 + "environment")
    m.sh("rm -r %sregistries/reg.test" % R1)
    assert m.read(R1 + "environment") == env0
    assert os.stat(m.path(R1 + "environment")).st_size == len(env0)


def test_write_shows_in_cached_config_toml_and_status(runnerfs):
    m = runnerfs(F01)
    keep(m, R1 + "limit")
    cfg0 = m.read("config.toml")
    st0 = os.stat(m.path("config.toml")).st_size
    assert st0 == len(cfg0)
    keep(m, ".runnerfs/status")
    m.sh("echo 12345 > %slimit" % R1)
    assert m.read(R1 + "limit") == b"12345\n"
    assert os.stat(m.path(R1 + "limit")).st_size == 6
    cfg1 = m.read("config.toml")
    assert b"limit = 12345" in cfg1
    assert os.stat(m.path("config.toml")).st_size == len(cfg1)
    status = m.read(".runnerfs/status")
    assert os.stat(m.path(".runnerfs/status")).st_size == len(status)


def test_each_write_of_a_cached_value_reads_back(runnerfs):
    """echo x > f; cat f, many times over, with the value kept between."""
    m = runnerfs(F01)
    p = R1 + "docker/image"
    for i in range(30):
        keep(m, p)
        v = ("img-%d" % i) * (1 + i % 7)
        with open(m.path(p), "w") as f:
            f.write(v + "\n")
        assert m.read(p) == (v + "\n").encode(), i
        assert os.stat(m.path(p)).st_size == len(v) + 1, i


def test_rejected_write_leaves_the_cached_value(runnerfs):
    """A write that is refused set the kernel's size of the file for a
    moment (the writer's own bytes): the next read has the value."""
    m = runnerfs(F01)
    keep(m, "concurrent")
    fd = os.open(m.path("concurrent"), os.O_WRONLY | os.O_TRUNC)
    try:
        try:
            os.write(fd, b"not a number at all\n")
        except OSError:
            pass
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert m.read("concurrent") == b"4\n"
    assert os.stat(m.path("concurrent")).st_size == 2


def outside_write(m, old, new, atomic):
    data = m.read_config()
    assert old in data
    data = data.replace(old, new, 1)
    if atomic:
        tmp = str(m.config) + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, m.config)
    else:
        # the runner's own way: in place, O_TRUNC then write
        with open(m.config, "r+b") as f:
            f.truncate(0)
            f.write(data)


def test_outside_change_then_cat_of_a_cached_file(runnerfs):
    """docs/filesystem.md: a cat right after an outside change shows the
    new value — also of a file the kernel kept."""
    m = runnerfs(F01)
    for i, atomic in enumerate([True, False, True, False]):
        keep(m, R1 + "url")
        keep(m, "concurrent")
        old = m.read("concurrent").strip()
        new = str(100 + i).encode()
        outside_write(m, b"concurrent = " + old, b"concurrent = " + new, atomic)
        assert m.read("concurrent") == new + b"\n", (i, atomic)
        assert os.stat(m.path("concurrent")).st_size == len(new) + 1


def test_outside_change_then_stat_of_a_cached_file(runnerfs):
    """stat is answered by the kernel while it keeps the attributes: the
    new size is there once the watch has read the file (docs/filesystem.md:
    well within a second), without any read first."""
    m = runnerfs(F01)
    p = m.path(R1 + "executor")
    keep(m, R1 + "executor")
    assert os.stat(p).st_size == len(b"docker\n")
    outside_write(m, b'executor = "docker"', b'executor = "docker-autoscaler"', atomic=False)
    wait_for(lambda: os.stat(p).st_size == len(b"docker-autoscaler\n"), timeout=2,
             what="the new size of executor after an outside change")
    assert m.read(R1 + "executor") == b"docker-autoscaler\n"


def test_long_lived_reader_across_a_commit(runnerfs):
    """An fd held open across a change of its value: a small value reads
    the new bytes (the page cache is shared by every open), in one piece;
    config.toml, read in pieces, reads the version it was opened on."""
    m = runnerfs(F01)
    p = m.path(R1 + "limit")
    fd = os.open(p, os.O_RDONLY)
    cfd = os.open(m.path("config.toml"), os.O_RDONLY)
    try:
        assert os.read(fd, 100) == b"2\n"
        head = os.read(cfd, 100)
        m.sh("echo 100 > %slimit" % R1)
        assert os.pread(fd, 100, 0) == b"100\n"
        assert os.fstat(fd).st_size == 4
        rest = b""
        while True:
            b = os.read(cfd, 65536)
            if not b:
                break
            rest += b
        old = head + rest
        assert b"limit = 2" in old and b"limit = 100" not in old
        # a new open sees the new version
        assert b"limit = 100" in m.read("config.toml")
    finally:
        os.close(fd)
        os.close(cfd)


def test_reader_open_while_another_open_writes(runnerfs):
    """While a writer holds the file (the kernel has its size from the
    writer's bytes), a reader gets the committed value whole, and after
    the writer's close the new one."""
    m = runnerfs(F01)
    p = R1 + "docker/image"
    want0 = keep(m, p)
    fd = os.open(m.path(p), os.O_WRONLY | os.O_TRUNC)
    try:
        assert m.read(p) == want0
        os.write(fd, b"x\n")
        assert m.read(p) == want0
        assert os.stat(m.path(p)).st_size == len(want0)
    finally:
        os.close(fd)
    assert m.read(p) == b"x\n"
    assert os.stat(m.path(p)).st_size == 2


def test_renamed_runner_values_are_not_stale(runnerfs):
    """A runner renamed (its name key): the files under the new directory
    name are the runner's, also those the kernel kept under other names."""
    m = runnerfs(F01)
    keep(m, R1 + "url")
    keep(m, "runners/docker-dind-02/url")
    url1 = m.read(R1 + "url")
    m.sh("echo renamed-01 > %sname" % R1)
    wait_for(lambda: "renamed-01" in m.listdir("runners"), timeout=2, what="the new name")
    assert m.read("runners/renamed-01/url") == url1


def test_environment_write_shows_in_cached_registry_files(runnerfs):
    """The other way round: environment written as a whole, the files of
    registries/ the kernel kept follow."""
    m = runnerfs(F01)
    m.sh("mkdir %sregistries/reg.test && echo deploy > %sregistries/reg.test/username && "
         "echo s3cret > %sregistries/reg.test/password" % (R1, R1, R1))
    u = R1 + "registries/reg.test/username"
    assert keep(m, u) == b"deploy\n"
    env = m.read(R1 + "environment")
    # the same credentials under another user name, written to environment
    m.sh("rm -r %sregistries/reg.test" % R1)
    m.sh("mkdir %sregistries/reg.test && echo ops > %sregistries/reg.test/username && "
         "echo s3cret > %sregistries/reg.test/password" % (R1, R1, R1))
    env_ops = m.read(R1 + "environment")
    m.sh("rm -r %sregistries/reg.test" % R1)
    with open(m.path(R1 + "environment"), "wb") as f:
        f.write(env)
    assert keep(m, u) == b"deploy\n"
    with open(m.path(R1 + "environment"), "wb") as f:
        f.write(env_ops)
    assert m.read(u) == b"ops\n"
    assert os.stat(m.path(u)).st_size == 4


def test_a_name_gone_outside_is_dropped_by_the_kernel(runnerfs):
    """The kernel keeps names for up to a minute (docs/filesystem.md,
    "Sizes and caching"): a runner renamed from outside is listed under its
    new name at once, and its old name is dropped a moment later — not a
    minute later, when stat, mkdir and cp would have met a name that is
    not there."""
    m = runnerfs(F01)
    old = "runners/docker-dind-02"
    keep(m, old + "/url")
    assert os.path.isdir(m.path(old))
    outside_write(m, b'name = "docker-dind-02"', b'name = "renamed-outside"', atomic=True)
    assert "renamed-outside" in m.listdir("runners")  # ls asks runnerfs
    wait_for(lambda: not os.path.lexists(m.path(old)), timeout=3,
             what="the kernel to drop the old name")
    assert not os.path.lexists(m.path(old + "/url"))
    assert m.read("runners/renamed-outside/url") == keep(m, "runners/renamed-outside/url")
    # the name is free again: a new runner takes it
    m.sh("mkdir %s" % old)
    assert b'name = "docker-dind-02"' in m.read_config()


def test_listing_kept_by_the_kernel_follows_a_change_elsewhere(runnerfs):
    """The kernel keeps a directory's listing across opens; a change that
    adds or removes names there without going through that directory
    (a registry written in the runner's environment) drops it."""
    m = runnerfs(F01)
    regs = R1 + "registries"
    before = m.listdir(regs)
    assert m.listdir(regs) == before  # now kept
    env = m.read(R1 + "environment").decode()
    m.sh("mkdir %s/reg.kept && echo u > %s/reg.kept/username && echo p > %s/reg.kept/password"
         % (regs, regs, regs))
    assert m.listdir(regs) == before | {"reg.kept"}
    with open(m.path(R1 + "environment"), "w") as f:
        f.write(env)
    assert m.listdir(regs) == before


def test_history_listing_follows_each_new_version(runnerfs):
    """`ls .runnerfs/history`, kept by the kernel, lists each new version
    at once, also one made by a plain value's edit (a new user found the
    listing a minute old: that edit did not drop it)."""
    m = runnerfs(F01, options=["burst=0"])
    assert m.listdir(".runnerfs/history") == set()
    assert m.listdir(".runnerfs/history") == set()  # kept now
    m.sh("echo 5 > concurrent")
    assert m.listdir(".runnerfs/history") == {"1"}
    m.sh("echo 6 > concurrent")
    assert m.listdir(".runnerfs/history") == {"1", "2"}
    m.sh("echo https://x.example > runners/docker-shared-01/url")
    assert m.listdir(".runnerfs/history") == {"1", "2", "3"}
