"""Contract 3.1 (operations), 3.3 (only the edited bytes change), 4 (schema
checks) and 6 (the whole file). Every successful operation is checked
through the mount and as the exact bytes of config.toml afterwards, plus
tomllib: old document + exactly that change. Every failed operation: the
errno, and config.toml byte-identical."""

import errno
import os
import subprocess
import time

import pytest

from rfs import (DirWatch, IN_MOVED_TO, appendp, assert_only_changed,
                 assert_toml_change, assert_unchanged, chain, check_rendering, delp, describe,
                 expected_tree, fixture, gen_runners, insert_after, renamep, renderable,
                 replace_once, setp, single_deletion, single_insertion, toml_loads, try_write,
                 wait_for)

F01 = fixture("01-register-docker.toml")
R1 = b'name = "docker-shared-01"'
R2 = b'name = "docker-dind-02"'
R3 = b'name = "shell-03"'
D1, D2, D3 = "runners/docker-shared-01/", "runners/docker-dind-02/", "runners/shell-03/"


def edit(m, cmd, expected, change):
    """Run a shell command that must succeed, then check config.toml is
    exactly `expected` and tomllib sees exactly `change`."""
    before = m.read_config()
    m.sh(cmd)
    after = m.read_config()
    assert_only_changed(before, after, expected)
    assert_toml_change(before, after, change)
    return after


def rejected(m, res, errnos, before, what):
    """A failed operation: one of `errnos`, config.toml byte-identical."""
    assert res is not None, "%s succeeded; it must fail with %s" % (what, errnos)
    assert res[1] in errnos, "%s: %s, expected %s" % (what, describe(res), [errno.errorcode[e] for e in errnos])
    assert_unchanged(before, m.read_config())


# --------------------------------------------------------------------------
# echo, printf, tee, cp, python: values of each type

def test_echo_integer(runnerfs):
    m = runnerfs(F01)
    edit(m, "echo 8 > concurrent",
         replace_once(F01, b"concurrent = 4 #", b"concurrent = 8 #"), setp(["concurrent"], 8))
    assert m.read("concurrent") == b"8\n"


def test_integer_surrounding_whitespace_ignored(runnerfs):
    """Contract 2.1: surrounding white space is ignored for numbers."""
    m = runnerfs(F01)
    edit(m, "printf '  16 \\n' > concurrent",
         replace_once(F01, b"concurrent = 4 #", b"concurrent = 16 #"), setp(["concurrent"], 16))


def test_echo_string(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(F01, b'url = "https://gitlab.example.com"', b'url = "https://gitlab.example.org"', after=R3)
    edit(m, "echo https://gitlab.example.org > " + D3 + "url", exp,
         setp(["runners", 2, "url"], "https://gitlab.example.org"))
    assert m.read(D3 + "url") == b"https://gitlab.example.org\n"
    assert m.read(D1 + "url") == b"https://gitlab.example.com\n"


def test_echo_bool(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(F01, b"privileged = false", b"privileged = true", after=R1)
    edit(m, "echo true > " + D1 + "docker/privileged", exp,
         setp(["runners", 0, "docker", "privileged"], True))
    assert m.read(D1 + "docker/privileged") == b"true\n"


def test_echo_float(runnerfs):
    data = fixture("08-autoscaler-machine.toml")
    m = runnerfs(data)
    exp = replace_once(data, b"IdleScaleFactor = 0.0", b"IdleScaleFactor = 2.5")
    edit(m, "echo 2.5 > runners/docker-machine-legacy/machine/IdleScaleFactor", exp,
         setp(["runners", 1, "machine", "IdleScaleFactor"], 2.5))
    assert m.read("runners/docker-machine-legacy/machine/IdleScaleFactor") == b"2.5\n"


def test_printf_without_newline(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(F01, b'image = "alpine:3.19"', b'image = "alpine:3.20"')
    edit(m, "printf alpine:3.20 > " + D1 + "docker/image", exp,
         setp(["runners", 0, "docker", "image"], "alpine:3.20"))
    assert m.read(D1 + "docker/image") == b"alpine:3.20\n"
    assert os.stat(m.path(D1 + "docker/image")).st_size == 12


def test_only_one_trailing_newline_removed(runnerfs):
    """Contract 2.1: exactly one trailing newline is removed."""
    m = runnerfs(F01)
    exp = replace_once(F01, b'builds_dir = "/srv/builds"', b'builds_dir = "/x\\n"')
    edit(m, "printf '/x\\n\\n' > " + D3 + "builds_dir", exp, setp(["runners", 2, "builds_dir"], "/x\n"))
    assert m.read(D3 + "builds_dir") == b"/x\n\n"


def test_string_needing_escapes(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(F01, b'cache_dir = "/srv/cache"', b'cache_dir = "say \\"hi\\" C:\\\\x"')
    edit(m, "printf '%s\\n' 'say \"hi\" C:\\x' > " + D3 + "cache_dir", exp,
         setp(["runners", 2, "cache_dir"], 'say "hi" C:\\x'))
    assert m.read(D3 + "cache_dir") == b'say "hi" C:\\x\n'


def test_tee(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(F01, b'log_level = "info"   #', b'log_level = "debug"   #')
    edit(m, "printf 'debug\\n' | tee log_level > /dev/null", exp, setp(["log_level"], "debug"))


def test_cp(runnerfs, tmp_path):
    m = runnerfs(F01)
    src = tmp_path / "src"
    src.write_bytes(b"/srv/builds2\n")
    exp = replace_once(F01, b'builds_dir = "/srv/builds"', b'builds_dir = "/srv/builds2"')
    edit(m, "cp %s %sbuilds_dir" % (src, D3), exp, setp(["runners", 2, "builds_dir"], "/srv/builds2"))


def test_python_open_write_close(runnerfs):
    m = runnerfs(F01)
    before = m.read_config()
    assert try_write(m.path(D1 + "limit"), b"3\n") is None
    exp = replace_once(F01, b"  limit = 2\n", b"  limit = 3\n")
    assert_only_changed(before, m.read_config(), exp)


def test_value_in_several_writes(runnerfs):
    """A value written in pieces is judged whole: "1" then "2\\n" is 12."""
    m = runnerfs(F01)
    res = try_write(m.path("concurrent"), None, chunks=[b"1", b"2\n"])
    assert res is None, describe(res)
    assert_only_changed(F01, m.read_config(), replace_once(F01, b"concurrent = 4 #", b"concurrent = 12 #"))


def test_fsync_commits_before_close(runnerfs):
    """Contract 3.1: committed at flush or fsync."""
    m = runnerfs(F01)
    fd = os.open(m.path("concurrent"), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"6\n")
        os.fsync(fd)
        assert_only_changed(F01, m.read_config(), replace_once(F01, b"concurrent = 4 #", b"concurrent = 6 #"))
    finally:
        os.close(fd)
    assert_only_changed(F01, m.read_config(), replace_once(F01, b"concurrent = 4 #", b"concurrent = 6 #"))


def test_multiline_value_as_new_key(runnerfs):
    m = runnerfs(F01)
    exp = insert_after(F01, b'  cache_dir = "/srv/cache"\n', b'  pre_build_script = "echo one\\necho two"\n')
    edit(m, "printf 'echo one\\necho two\\n' > " + D3 + "pre_build_script", exp,
         setp(["runners", 2, "pre_build_script"], "echo one\necho two"))
    assert m.read(D3 + "pre_build_script") == b"echo one\necho two\n"


# --------------------------------------------------------------------------
# no intermediate state (write-patterns 1, 11.4: bash flushes before writing)

def _settle():
    # RELEASE is asynchronous (write-patterns 8): give a late, wrong commit
    # a moment to show up. This is an observation window, not a sync point.
    time.sleep(0.5)


@pytest.mark.parametrize("cmd,old,new", [
    ("echo 5 > concurrent", b"concurrent = 4 #", b"concurrent = 5 #"),
    ("echo /srv/b2 > " + D3 + "builds_dir", b'builds_dir = "/srv/builds"', b'builds_dir = "/srv/b2"'),
    ("echo /srv/x >> " + D1 + "docker/volumes", b'volumes = ["/cache"]', b'volumes = ["/cache", "/srv/x"]'),
], ids=["integer", "string", "append"])
def test_no_intermediate_commit(runnerfs, cmd, old, new):
    """`echo v > key`: bash opens with O_TRUNC and flushes once before the
    write. Exactly one new version of config.toml may appear (one rename),
    it is the final one, and no error is recorded for the empty moment."""
    m = runnerfs(F01)
    errs = m.errors()
    with DirWatch(m.config_dir) as w:
        m.sh(cmd)
        assert_only_changed(F01, m.read_config(), replace_once(F01, old, new))
        _settle()
        n = w.count(IN_MOVED_TO, "config.toml")
    assert n == 1, "config.toml was replaced %d times for one `%s`" % (n, cmd)
    assert m.errors() == errs, "an error was recorded for a good write: %s" % (m.errors()[len(errs):],)
    assert m.read(".runnerfs/history/1") == F01


# --------------------------------------------------------------------------
# empty values: `: > key`, truncate

def test_truncate_empties_string(runnerfs):
    """Contract 3.1. `: >` does open(O_TRUNC) and two flushes, no write; the
    commit may come as late as RELEASE, which is asynchronous
    (write-patterns 1, 8), hence wait_for."""
    m = runnerfs(F01)
    m.sh(": > " + D3 + "cache_dir", check=False)
    exp = replace_once(F01, b'cache_dir = "/srv/cache"', b'cache_dir = ""')
    wait_for(lambda: m.read_config() == exp, what="cache_dir to become empty in config.toml")
    assert_toml_change(F01, m.read_config(), setp(["runners", 2, "cache_dir"], ""))
    assert m.read(D3 + "cache_dir") == b"\n"
    # truncate(1): SETATTR size=0 then flush
    before = m.read_config()
    m.sh("truncate -s 0 " + D3 + "builds_dir")
    exp2 = replace_once(before, b'builds_dir = "/srv/builds"', b'builds_dir = ""')
    wait_for(lambda: m.read_config() == exp2, what="builds_dir to become empty in config.toml")


def test_truncate_empties_array(runnerfs):
    m = runnerfs(F01)
    m.sh(": > " + D1 + "environment", check=False)
    exp = replace_once(F01, b'environment = ["GIT_DEPTH=10", "FF_USE_FASTZIP=true"]', b"environment = []")
    wait_for(lambda: m.read_config() == exp, what="environment to become [] in config.toml")
    assert_toml_change(F01, m.read_config(), setp(["runners", 0, "environment"], []))
    assert m.read(D1 + "environment") == b""


@pytest.mark.parametrize("rel,needle", [("concurrent", "concurrent"),
                                        (D1 + "docker/privileged", "privileged"),
                                        (D1 + "limit", "limit")])
def test_truncate_number_or_bool_is_an_error(runnerfs, rel, needle):
    """Contract 3.1: `: > key` is an error for numbers and booleans. Bash
    ignores close() errors (write-patterns 9), so the error shows in
    .runnerfs/errors and config.toml stays byte-identical."""
    m = runnerfs(F01)
    errs = m.errors()
    m.sh(": > " + rel, check=False)
    line = m.wait_error(errs, needle)
    assert rel in line, "the error line should name the path in the mount: %r" % line
    _settle()
    assert_unchanged(F01, m.read_config())
    assert m.read(rel) != b"", "the mount shows an empty value that was never committed"


# --------------------------------------------------------------------------
# arrays

def test_append_element(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(F01, b'volumes = ["/cache"]', b'volumes = ["/cache", "/data"]')
    edit(m, "echo /data >> " + D1 + "docker/volumes", exp,
         setp(["runners", 0, "docker", "volumes"], ["/cache", "/data"]))
    assert m.read(D1 + "docker/volumes") == b"/cache\n/data\n"


def test_append_element_multiline_array(runnerfs):
    data = gen_runners(3)
    m = runnerfs(data)
    name = "ci-host-01-dkr-0001"
    old = b'      "/var/run/docker.sock:/var/run/docker.sock", # for docker builds\n    ]'
    new = b'      "/var/run/docker.sock:/var/run/docker.sock", # for docker builds\n      "/builds",\n    ]'
    exp = replace_once(data, old, new, after=b'name = "%s"' % name.encode())
    edit(m, "echo /builds >> runners/%s/docker/volumes" % name, exp,
         appendp(["runners", 0, "docker", "volumes"], "/builds"))


def test_write_whole_array(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(F01, b'volumes = ["/certs/client", "/cache"]', b'volumes = ["/a", "/b"]')
    edit(m, "printf '/a\\n/b\\n' > " + D2 + "docker/volumes", exp,
         setp(["runners", 1, "docker", "volumes"], ["/a", "/b"]))
    exp2 = replace_once(exp, b'volumes = ["/a", "/b"]', b'volumes = ["/a", "/b", "/c"]')
    edit(m, "printf '/a\\n/b\\n/c\\n' > " + D2 + "docker/volumes", exp2,
         setp(["runners", 1, "docker", "volumes"], ["/a", "/b", "/c"]))


def test_windows_line_ends_and_trailing_blank_lines(runnerfs):
    """A file written by a Windows editor ends its lines with CR LF, and an
    editor may leave a blank line at the end: neither is part of a value,
    and a trailing blank line is not one more (empty) element."""
    m = runnerfs(F01)
    exp = replace_once(F01, b'volumes = ["/certs/client", "/cache"]', b'volumes = ["/a", "/b"]')
    edit(m, "printf '/a\\r\\n/b\\r\\n\\r\\n\\n' > " + D2 + "docker/volumes", exp,
         setp(["runners", 1, "docker", "volumes"], ["/a", "/b"]))
    exp2 = replace_once(exp, b'url = "https://gitlab.example.com"', b'url = "https://gitlab.example.org"',
                        after=R3)
    edit(m, "printf 'https://gitlab.example.org\\r\\n' > " + D3 + "url", exp2,
         setp(["runners", 2, "url"], "https://gitlab.example.org"))
    exp3 = replace_once(exp2, b"concurrent = 4 #", b"concurrent = 6 #")
    edit(m, "printf '6\\r\\n' > concurrent", exp3, setp(["concurrent"], 6))
    # executor is checked against its allowed values line by line
    m.sh("printf 'shell\\r\\n' > " + D3 + "executor")
    assert m.read(D3 + "executor") == b"shell\n"


@pytest.mark.parametrize("how", ["cp /dev/null {p}", "tee {p} < /dev/null", "python"])
def test_emptied_with_one_close_is_in_config_at_close(runnerfs, how):
    """An open with O_TRUNC closed once with nothing written (cp /dev/null,
    tee with no input, Python's open('w').close()) empties the value before
    close() returns, like any other write: a reader right after finds it.
    (bash's `: > key` closes twice; the first close is not the last.)"""
    m = runnerfs(F01)
    p = D3 + "builds_dir"
    exp = replace_once(F01, b'builds_dir = "/srv/builds"', b'builds_dir = ""')
    # the command, then config.toml read at once by the process that waited
    # for it (Python: by the process that closed it)
    check = ("import subprocess, sys; subprocess.run(sys.argv[1], shell=True, check=True); "
             "sys.stdout.buffer.write(open(sys.argv[2], 'rb').read())")
    if how == "python":
        check = ("import sys; open(sys.argv[3], 'w').close(); "
                 "sys.stdout.buffer.write(open(sys.argv[2], 'rb').read())")
    r = subprocess.run(["python3", "-c", check, how.format(p=p), str(m.config), p], cwd=m.mnt,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == exp, "config.toml right after the close: %r" % r.stdout[-300:]
    assert m.read(p) == b"\n"
    assert_toml_change(F01, m.read_config(), setp(["runners", 2, "builds_dir"], ""))


# --------------------------------------------------------------------------
# rejected values (contract 3.1 last paragraph, 4)

def test_invalid_integer_fails_at_write(runnerfs):
    m = runnerfs(F01)
    errs = m.errors()
    fd = os.open(m.path("concurrent"), os.O_WRONLY | os.O_TRUNC)
    try:
        with pytest.raises(OSError) as ei:
            os.write(fd, b"abc\n")
        assert ei.value.errno == errno.EINVAL
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert_unchanged(F01, m.read_config())
    assert m.read("concurrent") == b"4\n"
    line = m.wait_error(errs, "concurrent", "abc")
    assert "concurrent" in line


def test_invalid_integer_echo_reports_error(runnerfs):
    """The shell sees the error (write() fails, echo reports it)."""
    m = runnerfs(F01)
    r = m.sh("echo abc > concurrent", check=False)
    assert r.returncode != 0
    assert b"Invalid argument" in r.stderr, r.stderr
    assert_unchanged(F01, m.read_config())


def test_invalid_bool_fails_at_write(runnerfs):
    m = runnerfs(F01)
    fd = os.open(m.path(D1 + "docker/privileged"), os.O_WRONLY | os.O_TRUNC)
    try:
        with pytest.raises(OSError) as ei:
            os.write(fd, b"maybe\n")
        assert ei.value.errno == errno.EINVAL
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert_unchanged(F01, m.read_config())


def test_concurrent_zero_rejected(runnerfs):
    """Contract 4: concurrent >= 1 (0 makes the runner exit)."""
    m = runnerfs(F01)
    errs = m.errors()
    res = try_write(m.path("concurrent"), b"0\n")
    rejected(m, res, (errno.EINVAL,), F01, "writing 0 to concurrent")
    m.wait_error(errs, "concurrent")
    assert m.read("concurrent") == b"4\n"


@pytest.mark.parametrize("rel,value", [(D3 + "executor", b"dockr\n"),
                                       (D2 + "docker/pull_policy", b"if-not-present\nfast\n"),
                                       ("log_level", b"loud\n")])
def test_value_not_allowed_rejected(runnerfs, rel, value):
    """Contract 4: allowed values (executor, pull_policy, log_level)."""
    m = runnerfs(F01)
    errs = m.errors()
    res = try_write(m.path(rel), value)
    rejected(m, res, (errno.EINVAL,), F01, "writing %r to %s" % (value, rel))
    m.wait_error(errs, rel)


# --------------------------------------------------------------------------
# new keys, unknown keys, removing keys

def test_new_known_key(runnerfs):
    """Contract 3.1/3.3: a known key goes after the last key of its table."""
    m = runnerfs(F01)
    assert "limit" not in m.listdir(D2)
    exp = insert_after(F01, b'  clone_url = "http://gitlab.internal"\n', b"  limit = 10\n")
    after = edit(m, "echo 10 > " + D2 + "limit", exp, setp(["runners", 1, "limit"], 10))
    assert "limit" in m.listdir(D2)
    assert m.read(D2 + "limit") == b"10\n"
    exp = insert_after(after, b"    network_mtu = 0\n", b'    runtime = "runc"\n')
    after = edit(m, "echo runc > " + D1 + "docker/runtime", exp,
                 setp(["runners", 0, "docker", "runtime"], "runc"))
    exp = insert_after(after, b'listen_address = ":9252"\n', b'log_format = "json"\n')
    edit(m, "echo json > log_format", exp, setp(["log_format"], "json"))


def test_new_key_in_open_map(runnerfs):
    """Contract 3.1: feature_flags is an open map."""
    m = runnerfs(F01)
    exp = insert_after(F01, b"    FF_USE_FASTZIP = true\n", b"    FF_SCRIPT_SECTIONS = false\n", after=R2)
    edit(m, "echo false > " + D2 + "feature_flags/FF_SCRIPT_SECTIONS", exp,
         setp(["runners", 1, "feature_flags", "FF_SCRIPT_SECTIONS"], False))


def test_new_key_crlf_document(runnerfs):
    data = fixture("02-crlf.toml")
    m = runnerfs(data)
    exp = insert_after(data, b'shell = "powershell"\r\n', b"limit = 3\r\n")
    edit(m, "echo 3 > runners/windows-shell-02/limit", exp, setp(["runners", 1, "limit"], 3))
    exp2 = replace_once(exp, b"concurrent = 8\r\n", b"concurrent = 16\r\n")
    edit(m, "echo 16 > concurrent", exp2, setp(["concurrent"], 16))


@pytest.mark.parametrize("rel", [D3 + "no_such_key", "concurrnet"])
def test_unknown_key_never_reaches_config(runnerfs, rel):
    """Issue 3: an unknown key name is refused (errno + a line in errors).
    Contract 3.2 (a later issue) will make such names scratch files that live
    in memory only. Either way nothing reaches config.toml."""
    m = runnerfs(F01)
    res = try_write(m.path(rel), b"x\n", flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    _settle()
    assert_unchanged(F01, m.read_config())
    if res is None:
        assert m.read(rel) == b"x\n", "a scratch file must behave like a file (3.2)"


def test_rm_key(runnerfs):
    m = runnerfs(F01)
    after = edit(m, "rm " + D1 + "limit", replace_once(F01, b"  limit = 2\n", b""),
                 delp(["runners", 0, "limit"]))
    assert "limit" not in m.listdir(D1)
    # a trailing comment goes with its line; the comment line above a key stays
    after = edit(m, "rm " + D1 + "output_limit", replace_once(after, b"  output_limit = 16384  # KB\n", b""),
                 delp(["runners", 0, "output_limit"]))
    edit(m, "rm " + D2 + "clone_url", replace_once(after, b'  clone_url = "http://gitlab.internal"\n', b""),
         delp(["runners", 1, "clone_url"]))
    assert b"# 'clone_url' goes through the internal load balancer\n" in m.read_config()


# --------------------------------------------------------------------------
# tables and runners: mkdir, rm -r, mv

def test_mkdir_runner(runnerfs):
    m = runnerfs(F01)
    m.sh("mkdir runners/new-runner")
    after = m.read_config()
    chunk = single_insertion(F01, after)
    assert b"[[runners]]" in chunk and b'name = "new-runner"' in chunk, chunk
    assert after.index(chunk) > F01.index(R3), "the new runner must come after the last one"
    assert_toml_change(F01, after, appendp(["runners"], {"name": "new-runner"}))
    assert "new-runner" in m.listdir("runners")
    assert m.read("runners/new-runner/name") == b"new-runner\n"
    # and it can be filled in
    m.sh("echo https://gitlab.example.com > runners/new-runner/url")
    after2 = m.read_config()
    assert single_insertion(after, after2).strip() == b'url = "https://gitlab.example.com"'
    assert_toml_change(after, after2, setp(["runners", 3, "url"], "https://gitlab.example.com"))


def test_mkdir_existing_is_eexist(runnerfs):
    m = runnerfs(F01)
    for rel in ("runners/shell-03", D1 + "docker", D1 + "cache/s3"):
        with pytest.raises(OSError) as ei:
            os.mkdir(m.path(rel))
        assert ei.value.errno == errno.EEXIST, rel
    assert_unchanged(F01, m.read_config())


def test_mkdir_subtable(runnerfs):
    m = runnerfs(F01)
    m.sh("mkdir " + D3 + "docker")
    after = m.read_config()
    chunk = single_insertion(F01, after)
    assert chunk.strip() == b"[runners.docker]", chunk
    assert_toml_change(F01, after, setp(["runners", 2, "docker"], {}))
    assert m.listdir(D3 + "docker") == set()
    m.sh("echo alpine > " + D3 + "docker/image")
    after2 = m.read_config()
    assert single_insertion(after, after2).strip() == b'image = "alpine"'
    assert_toml_change(after, after2, setp(["runners", 2, "docker", "image"], "alpine"))
    m.sh("mkdir " + D2 + "cache/gcs")
    after3 = m.read_config()
    assert single_insertion(after2, after3).strip() == b"[runners.cache.gcs]"
    assert_toml_change(after2, after3, setp(["runners", 1, "cache", "gcs"], {}))


def test_mkdir_service_entry(runnerfs):
    data = gen_runners(5)
    m = runnerfs(data)
    base = "runners/ci-host-05-dkr-0005/docker/services/"
    assert m.listdir(base) == {"0"}
    m.sh("mkdir " + base + "1")
    after = m.read_config()
    assert single_insertion(data, after).strip() == b"[[runners.docker.services]]"
    assert_toml_change(data, after, appendp(["runners", 4, "docker", "services"], {}))
    assert m.listdir(base) == {"0", "1"}
    # N must be the count (contract 3.1)
    with pytest.raises(OSError):
        os.mkdir(m.path(base + "5"))
    assert_unchanged(after, m.read_config())


def test_rm_r_table(runnerfs):
    m = runnerfs(F01)
    block = b"  [runners.feature_flags]\n    FF_NETWORK_PER_BUILD = true\n    FF_USE_FASTZIP = true\n"
    edit(m, "rm -r " + D2 + "feature_flags", replace_once(F01, block, b""),
         delp(["runners", 1, "feature_flags"]))
    assert "feature_flags" not in m.listdir(D2)


def test_rm_r_runner(runnerfs):
    m = runnerfs(F01)
    m.sh("rm -r " + D2)
    after = m.read_config()
    gone = single_deletion(F01, after)
    assert R2 in gone and b"[runners.docker]" in gone and b"minio-secret-key" in gone
    assert R1 not in gone and R3 not in gone
    assert_toml_change(F01, after, delp(["runners", 1]))
    assert m.listdir("runners") == {"docker-shared-01", "shell-03"}
    assert m.read(D3 + "url") == b"https://gitlab.example.com\n"


def test_mv_runner_renames(runnerfs):
    m = runnerfs(F01)
    ino = os.stat(m.path(D2)).st_ino
    before_children = m.listdir(D2)
    edit(m, "mv " + D2.rstrip("/") + " runners/dind-renamed",
         replace_once(F01, R2, b'name = "dind-renamed"'), setp(["runners", 1, "name"], "dind-renamed"))
    assert m.listdir("runners") == {"docker-shared-01", "dind-renamed", "shell-03"}
    assert m.listdir("runners/dind-renamed") == before_children
    assert m.read("runners/dind-renamed/name") == b"dind-renamed\n"
    assert os.stat(m.path("runners/dind-renamed")).st_ino == ino, "a rename keeps the inode (2.3)"


def test_mv_runner_onto_existing_fails(runnerfs):
    m = runnerfs(F01)
    with pytest.raises(OSError) as ei:
        os.rename(m.path(D2), m.path(D3))
    assert ei.value.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.EINVAL, errno.EPERM), ei.value
    assert_unchanged(F01, m.read_config())


# --------------------------------------------------------------------------
# syntax kept on write (2.1: inline tables, dotted keys)

def test_dotted_and_inline_syntax_kept(runnerfs):
    data = fixture("07-services-inline-dotted.toml")
    m = runnerfs(data)
    b = "runners/services-01/"
    after = edit(m, "echo node:22 > " + b + "docker/image",
                 replace_once(data, b'\tdocker.image = "node:20"', b'\tdocker.image = "node:22"'),
                 setp(["runners", 0, "docker", "image"], "node:22"))
    after = edit(m, "echo minio:9000 > " + b + "cache/s3/ServerAddress",
                 replace_once(after, b'ServerAddress = "s3.amazonaws.com"', b'ServerAddress = "minio:9000"'),
                 setp(["runners", 0, "cache", "s3", "ServerAddress"], "minio:9000"))
    after = edit(m, "echo 2g > " + b + "docker/memory",
                 insert_after(after, b'\tdocker.allowed_pull_policies = [ "always", "if-not-present", ]\n',
                              b'\tdocker.memory = "2g"\n'),
                 setp(["runners", 0, "docker", "memory"], "2g"))
    edit(m, "echo eu > " + b + "cache/Path",
         replace_once(after, b"MaxUploadedArchiveSize = 1_000_000_000 }",
                      b'MaxUploadedArchiveSize = 1_000_000_000, Path = "eu" }'),
         setp(["runners", 0, "cache", "Path"], "eu"))


# --------------------------------------------------------------------------
# reading and writing back the same bytes changes nothing (2.1)

STRING_FIXTURES = ["01-register-docker.toml", "02-crlf.toml", "03-mixed-eol.toml",
                   "05-bom-trailing-spaces.toml", "06-scripts-quoted-keys.toml",
                   "12-crlf-bom-no-eol.toml"]


def _rewrite_all(m, data, want):
    nodes, _ = expected_tree(toml_loads(data))
    changed = []
    for n in nodes:
        if n.is_dir or not want(n.value) or not renderable(n.value):
            continue
        content = m.read(n.rel)
        if check_rendering(n.value, content):
            continue  # a rendering problem; test_tree reports it
        res = try_write(m.path(n.rel), content)
        now = m.read_config()
        if res is not None or now != data:
            changed.append("%s: %s%s" % (n.rel, describe(res), "" if now == data else ", config.toml changed"))
            data = now  # judge the next file on its own
    return changed


@pytest.mark.parametrize("name", STRING_FIXTURES)
def test_rewrite_same_string_changes_nothing(runnerfs, name):
    """Contract 2.1: reading a (string) file and writing the same bytes back
    changes nothing."""
    data = fixture(name)
    m = runnerfs(data)
    changed = _rewrite_all(m, data, lambda v: isinstance(v, str))
    assert not changed, "\n".join(changed)
    assert_unchanged(data, m.read_config())


@pytest.mark.parametrize("name", ["01-register-docker.toml", "07-services-inline-dotted.toml",
                                  "08-autoscaler-machine.toml", "09-comments-no-eol.toml"])
def test_rewrite_same_value_changes_nothing(runnerfs, name):
    """Numbers, booleans, dates, arrays: writing back what was read leaves
    config.toml byte-identical. The contract states this for strings (2.1);
    for other types it is the 'what a user expects' rule of the preamble
    (tools such as Ansible and editors write unchanged content back)."""
    data = fixture(name)
    m = runnerfs(data)
    changed = _rewrite_all(m, data, lambda v: not isinstance(v, str))
    assert not changed, "\n".join(changed)
    assert_unchanged(data, m.read_config())


# --------------------------------------------------------------------------
# metadata operations succeed without changing the meaning (2.3)

def test_chmod_chown_utimens(runnerfs):
    m = runnerfs(F01)
    p = m.path(D1 + "url")
    os.chmod(p, 0o600)
    st = os.stat(p)
    os.chown(p, st.st_uid, st.st_gid)
    os.utime(p, ns=(1_500_000_000 * 10**9, 1_500_000_000 * 10**9))
    assert os.stat(p).st_mtime_ns == 1_500_000_000 * 10**9, "utimens sets the node's mtime (2.3)"
    m.sh("touch " + D1 + "limit")
    assert_unchanged(F01, m.read_config())
    assert m.read(D1 + "url") == b"https://gitlab.example.com\n"


# --------------------------------------------------------------------------
# read-only mount

def test_ro_mount(runnerfs):
    m = runnerfs(F01, options=["ro"])
    assert m.read("concurrent") == b"4\n"
    ops = {
        "open for write": lambda: os.open(m.path("concurrent"), os.O_WRONLY | os.O_TRUNC),
        "create": lambda: os.open(m.path(D1 + "runtime"), os.O_WRONLY | os.O_CREAT, 0o644),
        "mkdir": lambda: os.mkdir(m.path("runners/new")),
        "unlink": lambda: os.unlink(m.path(D1 + "limit")),
        "rmdir": lambda: os.rmdir(m.path(D1 + "custom_build_dir")),
        "rename": lambda: os.rename(m.path(D2), m.path("runners/x")),
        "config.toml": lambda: os.open(m.path("config.toml"), os.O_WRONLY | os.O_TRUNC),
        "truncate": lambda: os.truncate(m.path("log_level"), 0),
    }
    for what, op in ops.items():
        with pytest.raises(OSError) as ei:
            fd = op()
            if isinstance(fd, int):
                os.close(fd)
        assert ei.value.errno == errno.EROFS, "%s: %s" % (what, ei.value)
    assert_unchanged(F01, m.read_config())


# --------------------------------------------------------------------------
# the whole file (section 6)

NEW_DOC = (replace_once(F01, b"concurrent = 4 #", b"concurrent = 6 #")
           .replace(b"# end of file\n", b'[[runners]]\n  name = "pasted"\n  url = "https://x.example.com"\n'
                    b'  token = "glrt-pasted"\n  executor = "shell"\n'))


def test_whole_file_write(runnerfs, tmp_path):
    m = runnerfs(F01)
    src = tmp_path / "new.toml"
    src.write_bytes(NEW_DOC)
    with DirWatch(m.config_dir) as w:
        m.sh("cat %s > config.toml" % src)
        assert m.read_config() == NEW_DOC
        _settle()
        n = w.count(IN_MOVED_TO, "config.toml")
    assert n == 1, "config.toml was replaced %d times (an empty document must never be committed)" % n
    wait_for(lambda: m.read("concurrent") == b"6\n", what="concurrent to read 6")
    wait_for(lambda: "pasted" in m.listdir("runners"), what="the pasted runner to appear")
    assert m.read("config.toml") == NEW_DOC


def test_whole_file_cp(runnerfs, tmp_path):
    m = runnerfs(F01)
    src = tmp_path / "new.toml"
    src.write_bytes(NEW_DOC)
    m.sh("cp %s config.toml" % src)
    assert m.read_config() == NEW_DOC


@pytest.mark.parametrize("text", [b"concurrent = \n", b"[[runners]]\nname = 'a'\n[runners\n",
                                  b"concurrent = 0\n", b"concurrent = \"four\"\n"],
                         ids=["no-value", "bad-header", "concurrent-0", "wrong-type"])
def test_whole_file_invalid(runnerfs, text):
    m = runnerfs(F01)
    errs = m.errors()
    res = try_write(m.path("config.toml"), text)
    rejected(m, res, (errno.EINVAL,), F01, "writing an invalid config.toml")
    m.wait_error(errs, "config.toml")
    assert m.read("config.toml") == F01
    assert m.read("concurrent") == b"4\n"


def test_whole_file_same_bytes(runnerfs):
    m = runnerfs(F01)
    res = try_write(m.path("config.toml"), m.read("config.toml"))
    assert res is None, describe(res)
    assert_unchanged(F01, m.read_config())


# --------------------------------------------------------------------------
# runners addressed by encoded names (2.2)

def test_edit_runner_by_encoded_name(runnerfs):
    from rfs import ENCODING_CONFIG as C
    m = runnerfs(C)
    after = C
    for d, i in (("team%2Fa", 1), ("#6", 6), ("dup#8", 8), ("%2E%2E", 5), ("100%25", 2)):
        old = b'url = "https://gitlab.example.com/r%d"\n' % i
        exp = replace_once(after, old, b'url = "https://new.example.com/r%d"\n' % i)
        res = try_write(m.path("runners/%s/url" % d), b"https://new.example.com/r%d\n" % i)
        assert res is None, "%s: %s" % (d, describe(res))
        assert_only_changed(after, m.read_config(), exp)
        after = exp


# --------------------------------------------------------------------------
# the runner's hard rules (contract 4)

RULES_CONFIG = b"""\
concurrent = 1

[labels]
  team = "platform"

[[runners]]
  name = "r1"
  url = "https://gitlab.example.com"
  token = "glrt-rules"
  executor = "docker+machine"
  [runners.machine]
    MachineName = "m-%s"
    MachineOptionsWithName = ["name=%s"]
"""


def test_hard_rules(runnerfs):
    m = runnerfs(RULES_CONFIG)
    after = edit(m, "echo ok-1 > labels/zone",
                 insert_after(RULES_CONFIG, b'  team = "platform"\n', b'  zone = "ok-1"\n'),
                 setp(["labels", "zone"], "ok-1"))
    # label values match ^[a-zA-Z0-9._-]{1,256}$
    res = try_write(m.path("labels/team"), b"bad value!\n")
    rejected(m, res, (errno.EINVAL,), after, "a label value with a space and '!'")
    # label keys match ^[a-zA-Z0-9_][a-zA-Z0-9._-]{2,64}$ ("ab" is too short)
    res = try_write(m.path("labels/ab"), b"x\n", flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    _settle()
    assert_unchanged(after, m.read_config())
    # every MachineOptionsWithName entry contains %s
    opts = "runners/r1/machine/MachineOptionsWithName"
    res = try_write(m.path(opts), b"name=%s\nzone=eu\n")
    rejected(m, res, (errno.EINVAL,), after, "a MachineOptionsWithName entry without %s")
    edit(m, "printf 'name=%%s\\nzone=eu-%%s\\n' > " + opts,
         replace_once(after, b'["name=%s"]', b'["name=%s", "zone=eu-%s"]'),
         setp(["runners", 0, "machine", "MachineOptionsWithName"], ["name=%s", "zone=eu-%s"]))


# --------------------------------------------------------------------------
# mv key otherkey (3.1)

def test_mv_key_onto_key(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(replace_once(F01, b"  limit = 2\n", b""),
                       b"  request_concurrency = 1\n", b"  request_concurrency = 2\n")
    edit(m, "mv %slimit %srequest_concurrency" % (D1, D1), exp,
         chain(delp(["runners", 0, "limit"]), setp(["runners", 0, "request_concurrency"], 2)))
    assert "limit" not in m.listdir(D1)
    assert m.read(D1 + "request_concurrency") == b"2\n"


def test_mv_key_to_new_name(runnerfs):
    m = runnerfs(F01)
    exp = replace_once(F01, b'  cache_dir = "/srv/cache"\n', b'  clone_url = "/srv/cache"\n')
    edit(m, "mv %scache_dir %sclone_url" % (D3, D3), exp, renamep(["runners", 2, "cache_dir"], "clone_url"))


def test_mv_key_type_mismatch_fails(runnerfs):
    m = runnerfs(F01)
    with pytest.raises(OSError):
        os.rename(m.path(D1 + "limit"), m.path(D1 + "executor"))
    assert_unchanged(F01, m.read_config())
    assert m.read(D1 + "limit") == b"2\n"


def test_mkdir_unknown_table_never_reaches_config(runnerfs):
    """Issue 3: unknown names are refused; 3.2 (later) may keep such a
    directory in memory (puppet's lock directory). Never in config.toml."""
    m = runnerfs(F01)
    try:
        os.mkdir(m.path(D3 + "no_such_table"))
    except OSError:
        pass
    _settle()
    assert_unchanged(F01, m.read_config())


# --------------------------------------------------------------------------
# the other write shapes of write-patterns 7 / 11.1, 11.7, 11.13

def test_open_ftruncate_write(runnerfs):
    """vim in copy mode: open(O_WRONLY) without O_TRUNC, ftruncate(0),
    write, fsync, close."""
    m = runnerfs(F01)
    fd = os.open(m.path(D1 + "docker/image"), os.O_WRONLY)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, b"alpine:3.21\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    assert_only_changed(F01, m.read_config(), replace_once(F01, b'image = "alpine:3.19"', b'image = "alpine:3.21"'))


def test_inplace_write_then_ftruncate(runnerfs):
    """rsync --inplace: write at offset 0, then ftruncate(new length)."""
    m = runnerfs(F01)
    fd = os.open(m.path(D1 + "docker/image"), os.O_WRONLY)
    try:
        os.write(fd, b"busybox\n")
        os.ftruncate(fd, 8)
    finally:
        os.close(fd)
    assert_only_changed(F01, m.read_config(), replace_once(F01, b'image = "alpine:3.19"', b'image = "busybox"'))
    assert m.read(D1 + "docker/image") == b"busybox\n"


def test_acl_and_capability_probes_not_eperm(runnerfs):
    """write-patterns 11.13: getxattr of system.posix_acl_access and
    security.capability must answer ENODATA/EOPNOTSUPP (EPERM breaks emacs)."""
    m = runnerfs(F01)
    for rel in ("concurrent", D1 + "token", D1 + "docker", "config.toml"):
        for name in ("system.posix_acl_access", "security.capability"):
            with pytest.raises(OSError) as ei:
                os.getxattr(m.path(rel), name)
            assert ei.value.errno in (errno.ENODATA, errno.EOPNOTSUPP), (rel, name, ei.value)


@pytest.mark.parametrize("key,value", [(D1 + "docker/image", "ruby:3.3"), ("concurrent", "5")])
def test_an_emptying_open_closed_after_a_later_write_keeps_the_write(runnerfs, key, value):
    """`exec 3> key` empties the file when it opens; a value written after
    it through another open is the file's content on any filesystem, also
    once fd 3 is closed with nothing written (it emptied the value, then
    the write came). A new user found the value emptied (or, for a
    number, a refusal in .runnerfs/errors) at that close."""
    m = runnerfs(F01)
    errs = m.errors()
    m.sh("exec 3> %s; echo %s > %s; exec 3>&-" % (key, value, key))
    assert m.read(key) == value.encode() + b"\n"
    assert m.read_config().count(value.encode()) >= 1
    # and from Python: two O_TRUNC opens, the second writes and closes first
    p = str(m.path(key))
    a = os.open(p, os.O_WRONLY | os.O_TRUNC)
    with open(p, "w") as f:
        f.write("7\n" if key == "concurrent" else "ruby:3.4\n")
    os.close(a)
    assert m.read(key) == (b"7\n" if key == "concurrent" else b"ruby:3.4\n")
    assert [e for e in m.errors() if e not in errs] == []
