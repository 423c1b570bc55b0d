"""Issue 4: Debian's ansible-core, run locally (connection: local) against a
real mount. On a FUSE mount every ansible write is: a `.ansible_tmpXXXXkey`
scratch file in the target directory, open O_TRUNC, utimens, chmod, rename
onto the key (reference/write-patterns.md section 5). Each write is checked
as exact bytes (tools.ToolMount.edit), and the same play run again reports
no change."""

import os

import pytest

from rfs import fixture, replace_once, single_insertion, toml_loads
from tools import RUNNERFS_BIN, ansible_env, need, playbook, recap, tmount  # noqa: F401

F01 = fixture("01-register-docker.toml")
F02 = fixture("02-crlf.toml")
D1 = "runners/docker-shared-01/"
D2 = "runners/docker-dind-02/"
IMAGE = D1 + "docker/image"
VOLUMES = D1 + "docker/volumes"


@pytest.fixture
def at(tmount, tmp_path):
    """tmount for ansible: its own ~/.ansible/tmp, no colours."""
    need("ansible-playbook")

    def make(config, **kw):
        t = tmount(config, **kw)
        t.env = ansible_env(t)
        (t.home / "ansible.cfg").write_text("[defaults]\nnocows = 1\n")
        return t
    return make


def run_play(t, tmp_path, tasks, expect_changed, name="play", vars=None, check=True):
    cmd = playbook(t, tmp_path, tasks, name, vars)
    r = t.sh(cmd, check=check)
    out = r.stdout.decode(errors="replace")
    rc = recap(out)
    if expect_changed is not None:
        assert rc.get("changed") == expect_changed and rc.get("failed") == 0, \
            "expected changed=%d failed=0, got %s:\n%s" % (expect_changed, rc, out)
    return r, rc, out


def play_edit(t, tmp_path, tasks, rel, want, expected, name="play", vars=None, keep=(), gone=(),
              again=True):
    """Run a play that changes one thing (changed=1), check it like every
    tool, then (again=True) run it again: changed=0, config.toml untouched."""
    cmd = playbook(t, tmp_path, tasks, name, vars)
    r = t.edit(cmd, rel, want, expected, keep=keep, gone=gone)
    rc = recap(r.stdout.decode(errors="replace"))
    assert rc.get("changed") == 1 and rc.get("failed") == 0, r.stdout.decode(errors="replace")
    if not again:
        return
    mtime = os.stat(t.m.config).st_mtime_ns
    r2 = t.sh(cmd)
    rc2 = recap(r2.stdout.decode(errors="replace"))
    assert rc2.get("changed") == 0 and rc2.get("failed") == 0, \
        "the same play again must change nothing:\n" + r2.stdout.decode(errors="replace")
    assert t.read_config() == expected
    assert os.stat(t.m.config).st_mtime_ns == mtime, "a play that changed nothing rewrote config.toml"


def test_copy_content(at, tmp_path):
    """copy content=: twice (a second edit of the same file), and the
    first play again changes nothing."""
    t = at(F01)
    cur, old = F01, "alpine:3.19"
    for i, v in enumerate(["alpine:3.20", "registry.example.com/ci/alpine:3.21"]):
        expected = replace_once(cur, b'image = "%s"' % old.encode(), b'image = "%s"' % v.encode())
        play_edit(t, tmp_path, [{"copy": {"content": v + "\n", "dest": str(t.path(IMAGE))}}],
                  IMAGE, v.encode() + b"\n", expected, name="copy%d" % i, again=i == 0)
        cur, old = expected, v


def test_copy_src_crlf(at, tmp_path):
    """copy src= into the CRLF config."""
    t = at(F02)
    rel = "runners/windows-docker-01/docker/image"
    src = tmp_path / "image.txt"
    src.write_text("mcr.microsoft.com/windows/servercore:ltsc2025\n")
    expected = replace_once(F02, b'image = "mcr.microsoft.com/windows/servercore:ltsc2022"',
                            b'image = "mcr.microsoft.com/windows/servercore:ltsc2025"')
    play_edit(t, tmp_path, [{"copy": {"src": str(src), "dest": str(t.path(rel))}}],
              rel, b"mcr.microsoft.com/windows/servercore:ltsc2025\n", expected)


def test_template(at, tmp_path):
    t = at(F01)
    j2 = tmp_path / "url.j2"
    j2.write_text("https://{{ gitlab_host }}/\n")
    rel = D1 + "url"
    expected = replace_once(F01, b'url = "https://gitlab.example.com"', b'url = "https://gitlab.example.org/"',
                            after=b'name = "docker-shared-01"')
    play_edit(t, tmp_path, [{"template": {"src": str(j2), "dest": str(t.path(rel))}}],
              rel, b"https://gitlab.example.org/\n", expected, vars={"gitlab_host": "gitlab.example.org"})


def test_lineinfile_whole_config(at, tmp_path):
    """lineinfile on config.toml itself (contract 6: the whole document)."""
    t = at(F01)
    line = "concurrent = 6 # jobs across all runners"
    expected = replace_once(F01, b"concurrent = 4 # jobs across all runners", line.encode())
    play_edit(t, tmp_path, [{"lineinfile": {"path": str(t.path("config.toml")),
                                            "regexp": "^concurrent = ", "line": line}}],
              "config.toml", expected, expected)
    assert t.read("concurrent") == b"6\n"


def test_lineinfile_value(at, tmp_path):
    """lineinfile on an array value: one element per line."""
    t = at(F01)
    expected = replace_once(F01, b'volumes = ["/cache"]', b'volumes = ["/cache", "/data"]')
    play_edit(t, tmp_path, [{"lineinfile": {"path": str(t.path(VOLUMES)), "line": "/data"}}],
              VOLUMES, b"/cache\n/data\n", expected)


def test_file_touch(at, tmp_path):
    """state=touch: utimens; the node's mtime moves, the config does not."""
    t = at(F01, mtime_ns=1_600_000_000 * 10**9)
    rel = D1 + "limit"
    assert os.stat(t.path(rel)).st_mtime == 1_600_000_000
    r, rc, out = run_play(t, tmp_path, [{"file": {"path": str(t.path(rel)), "state": "touch"}}], 1)
    assert t.read_config() == F01
    assert t.read(rel) == b"2\n"
    assert os.stat(t.path(rel)).st_mtime > 1_600_000_000 + 3600
    assert os.stat(t.path(D1 + "url")).st_mtime == 1_600_000_000, "touching one key changed another's mtime"


def test_file_absent_removes_a_key(at, tmp_path):
    t = at(F01)
    rel = D2 + "clone_url"
    expected = replace_once(F01, b'  clone_url = "http://gitlab.internal"\n', b"")
    play_edit(t, tmp_path, [{"file": {"path": str(t.path(rel)), "state": "absent"}}],
              rel, None, expected, gone={"clone_url"})
    assert b"# 'clone_url' goes through the internal load balancer" in t.read_config()


def test_file_directory_adds_a_runner(at, tmp_path):
    t = at(F01)
    task = [{"file": {"path": str(t.path("runners/ansible-01")), "state": "directory"}}]
    r, rc, out = run_play(t, tmp_path, task, 1)
    after = t.read_config()
    chunk = single_insertion(F01, after)
    assert b"[[runners]]" in chunk and b'name = "ansible-01"' in chunk, chunk
    assert t.listdir("runners") == {"docker-shared-01", "docker-dind-02", "shell-03", "ansible-01"}
    assert t.read("runners/ansible-01/name") == b"ansible-01\n"
    run_play(t, tmp_path, task, 0)
    assert t.read_config() == after


def test_copy_whole_config_with_validate(at, tmp_path):
    """copy of the whole config.toml with validate: runnerfs --check %s:
    a valid document replaces config.toml exactly; an invalid one is
    refused by the validator and nothing changes."""
    t = at(F01)
    assert RUNNERFS_BIN.exists(), RUNNERFS_BIN
    new = replace_once(F01, b'  limit = 2\n', b'  limit = 3\n')
    new = replace_once(new, b'log_level = "info"', b'log_level = "debug"')
    validate = "%s --check %%s" % RUNNERFS_BIN
    task = [{"copy": {"content": new.decode(), "dest": str(t.path("config.toml")), "validate": validate}}]
    play_edit(t, tmp_path, task, "config.toml", new, new, name="valid", again=False)
    assert t.read("log_level") == b"debug\n"
    bad = replace_once(new, b"concurrent = 4 #", b"concurrent = 0 #")
    task = [{"copy": {"content": bad.decode(), "dest": str(t.path("config.toml")), "validate": validate}}]
    r, rc, out = run_play(t, tmp_path, task, None, name="invalid", check=False)
    assert r.returncode != 0 and rc.get("failed") == 1, out
    assert "failed to validate" in out, out
    assert t.read_config() == new
    assert not any(n.startswith(".ansible_tmp") for n in t.listdir())


def test_same_play_twice_changes_nothing(at, tmp_path):
    """A realistic play (copy, template, lineinfile on a value and on
    config.toml, a new runner, a removed key) run twice: changed=0."""
    t = at(F01)
    j2 = tmp_path / "url.j2"
    j2.write_text("{{ url }}\n")
    tasks = [
        {"name": "image", "copy": {"content": "alpine:3.20\n", "dest": str(t.path(IMAGE))}},
        {"name": "url", "template": {"src": str(j2), "dest": str(t.path(D2 + "url"))}},
        {"name": "volume", "lineinfile": {"path": str(t.path(VOLUMES)), "line": "/data"}},
        {"name": "concurrent", "lineinfile": {"path": str(t.path("config.toml")), "regexp": "^concurrent = ",
                                              "line": "concurrent = 10"}},
        {"name": "runner", "file": {"path": str(t.path("runners/ansible-02")), "state": "directory"}},
        {"name": "no clone_url", "file": {"path": str(t.path(D2 + "clone_url")), "state": "absent"}},
    ]
    r, rc, out = run_play(t, tmp_path, tasks, 6, vars={"url": "https://gitlab.example.net"})
    after = t.read_config()
    doc = toml_loads(after)
    assert doc["concurrent"] == 10
    assert doc["runners"][0]["docker"]["image"] == "alpine:3.20"
    assert doc["runners"][0]["docker"]["volumes"] == ["/cache", "/data"]
    assert doc["runners"][1]["url"] == "https://gitlab.example.net"
    assert "clone_url" not in doc["runners"][1]
    assert doc["runners"][3] == {"name": "ansible-02"}
    mtime = os.stat(t.m.config).st_mtime_ns
    r, rc, out = run_play(t, tmp_path, tasks, 0, vars={"url": "https://gitlab.example.net"})
    assert t.read_config() == after
    assert os.stat(t.m.config).st_mtime_ns == mtime
    assert not [n for n in t.listdir() | t.listdir(D1 + "docker") | t.listdir(D2) if ".ansible_tmp" in n]


def test_refused_values_and_names_fail_the_task(at, tmp_path):
    """Issue 14: copy and lineinfile of a value the key does not allow,
    and copy to a misspelled key, fail the task; nothing changes."""
    t = at(F01)
    for task in ([{"copy": {"content": "bogus\n", "dest": str(t.path(D1 + "executor"))}}],
                 [{"lineinfile": {"path": str(t.path(D1 + "limit")), "regexp": ".*", "line": "many"}}],
                 [{"copy": {"content": "900\n", "dest": str(t.path("connection_max_age"))}}],
                 [{"copy": {"content": "5\n", "dest": str(t.path(D1 + "limt"))}}]):
        r, rc, out = run_play(t, tmp_path, task, None, name="refused", check=False)
        assert r.returncode != 0 and rc.get("failed") == 1, out
        assert t.read_config() == F01
    assert not any(n.startswith(".ansible_tmp") or n == "limt" for n in t.listdir(D1))
