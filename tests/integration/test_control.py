"""Contract 7: .runnerfs/ status, errors, history (reload is a later issue)."""

import errno
import os
import re
import stat

from rfs import assert_unchanged, fixture, replace_once, try_write, wait_for

F01 = fixture("01-register-docker.toml")
D1 = "runners/docker-shared-01/"


def _generation(status):
    m = re.search(r"generation\D{0,20}?(\d+)", status, re.I)
    assert m, "no generation number in .runnerfs/status:\n" + status
    return int(m.group(1))


def test_status(runnerfs):
    """status: the config path, the generation, when it was last written,
    whether the disk file parses. Checked loosely: the format is free."""
    m = runnerfs(F01)
    s = m.status()
    assert str(m.config) in s, s
    g0 = _generation(s)
    assert re.search(r"pars", s, re.I), "status should say whether the file parses:\n" + s
    assert re.search(r"writ|wrote", s, re.I), "status should say when it was last written:\n" + s
    assert stat.S_ISREG(os.stat(m.path(".runnerfs/status")).st_mode)
    m.sh("echo 5 > concurrent")
    s1 = wait_for(lambda: (lambda t: t if _generation(t) > g0 else None)(m.status()),
                  what="the generation to grow after a write")
    g1 = _generation(s1)
    # a rejected write is not a new generation
    try_write(m.path("concurrent"), b"abc\n")
    assert _generation(m.status()) == g1
    m.sh("echo 6 > concurrent")
    wait_for(lambda: _generation(m.status()) > g1, what="the generation to grow again")


def test_errors_file(runnerfs):
    """errors: one line per rejected change, newest last, each with a time,
    the path in the mount and a sentence (runners/x/limit: "abc" is not an
    integer)."""
    m = runnerfs(F01)
    assert m.errors() == [] or all(line.strip() for line in m.errors())
    before = m.errors()
    res = try_write(m.path(D1 + "limit"), b"abc\n")
    assert res is not None and res[1] == errno.EINVAL
    l1 = m.wait_error(before, D1 + "limit", "abc")
    assert re.search(r"\d\d:\d\d(:\d\d)?|\d{4}-\d\d-\d\d|\b\d{9,}\b", l1), "no time in %r" % l1
    assert re.search(r"integer|number", l1, re.I), "the sentence should say what was wrong: %r" % l1
    res = try_write(m.path(D1 + "docker/privileged"), b"maybe\n")
    assert res is not None
    l2 = m.wait_error(before + [l1], D1 + "docker/privileged", "maybe")
    lines = m.errors()
    assert lines.index(l1) < lines.index(l2), "newest last"
    assert_unchanged(F01, m.read_config())
    # the errors file has an exact size too (2.3)
    assert os.stat(m.path(".runnerfs/errors")).st_size == len(m.read(".runnerfs/errors"))


def test_no_secret_in_log_or_errors(runnerfs):
    """Contract 1 / issue 3: no secret value ever appears in a log line or
    an error message."""
    m = runnerfs(F01)
    m.sh("echo glrt-NEWSECRETVALUE0001 > " + D1 + "token")
    # a rejected secret: not valid UTF-8
    before = m.errors()
    res = try_write(m.path(D1 + "token"), b"glrt-REJECTEDSECRET0002\xff\xfe\n")
    assert res is not None, "bytes that are not UTF-8 cannot be a TOML string"
    m.wait_error(before, D1 + "token")
    assert_unchanged(replace_once(F01, b"glrt-t1_AbCdEfGhIjKlMnOpQrSt", b"glrt-NEWSECRETVALUE0001"),
                     m.read_config())
    text = m.log() + "\n".join(m.errors()) + m.status()
    for secret in ("NEWSECRETVALUE0001", "REJECTEDSECRET0002", "AbCdEfGhIjKlMnOpQrSt", "minio-secret-key"):
        assert secret not in text, "secret %r appears in the log, errors or status" % secret


def test_history_and_undo(runnerfs):
    m = runnerfs(F01)
    m.sh("echo 6 > concurrent")
    v1 = m.read_config()
    assert m.listdir(".runnerfs/history") == {"1"}
    h = m.path(".runnerfs/history/1")
    assert m.read(".runnerfs/history/1") == F01
    st = os.stat(h)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_size == len(F01)
    # undo
    m.sh("cp .runnerfs/history/1 config.toml")
    assert m.read_config() == F01
    wait_for(lambda: m.read("concurrent") == b"4\n", what="concurrent to read 4 after the undo")
    assert m.read(".runnerfs/history/1") == v1
    assert m.read(".runnerfs/history/2") == F01


def _versions(m, n):
    out = [m.read_config()]
    for i in range(n):
        m.sh("echo %d > concurrent" % (10 + i))
        out.append(m.read_config())
    return out  # out[0] = original ... out[n] = current


def test_backups_option(runnerfs):
    m = runnerfs(F01, options=["backups=2", "burst=0"])  # each write a version
    v = _versions(m, 4)
    assert m.listdir(".runnerfs/history") == {"1", "2"}
    assert m.read(".runnerfs/history/1") == v[3]
    assert m.read(".runnerfs/history/2") == v[2]


def test_backups_default_is_5(runnerfs):
    m = runnerfs(F01, options=["burst=0"])  # each write a version
    v = _versions(m, 7)
    assert m.listdir(".runnerfs/history") == {"1", "2", "3", "4", "5"}
    for i in range(1, 6):
        assert m.read(".runnerfs/history/%d" % i) == v[7 - i], i


def test_rejected_change_adds_no_history(runnerfs):
    m = runnerfs(F01)
    try_write(m.path("concurrent"), b"abc\n")
    try_write(m.path("concurrent"), b"0\n")
    assert m.listdir(".runnerfs/history") == set()
