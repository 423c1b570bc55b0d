"""Issue 4: the shell, coreutils, sed/perl/sponge, rsync and Python change a
value through a real mount; each is checked as exact bytes of config.toml
(tools.ToolMount.edit: the value, config.toml, no scratch name in any
version of config.toml, no scratch file left), and a second edit of the same
file with the same tool works too. Each case runs on a commented LF config
and on the CRLF one. How each tool writes: reference/write-patterns.md."""

import os
import shlex
import time

import pytest

from rfs import fixture, replace_once, toml_loads
from tools import need, tmount  # noqa: F401 (tmount is a fixture)

# config, the value file, the key as written in the file, its value before,
# two new values (first, second edit)
DOCS = {
    "lf": (fixture("01-register-docker.toml"), "runners/docker-shared-01/docker/image", b"image",
           "alpine:3.19", ["alpine:3.20", "registry.example.com/ci/alpine:3.21"]),
    "crlf": (fixture("02-crlf.toml"), "runners/windows-docker-01/docker/image", b"image",
             "mcr.microsoft.com/windows/servercore:ltsc2022",
             ["mcr.microsoft.com/windows/servercore:ltsc2025", "mcr.microsoft.com/windows/nanoserver:1809"]),
    # a quoted key, in a file full of scripts, escapes and comments
    "quoted-key": (fixture("06-scripts-quoted-keys.toml"), "runners/scripts-01/tls-ca-file", b'"tls-ca-file"',
                   "/etc/gitlab-runner/certs/gitlab.example.com.crt",
                   ["/etc/gitlab-runner/certs/ca-2025.crt", "/etc/ssl/certs/ca-certificates.crt"]),
}


def value_line(key, v):
    return key + b' = "' + v.encode() + b'"'


# Each tool: (programs it needs, command template, scratch names it keeps).
# {p}: the value file (absolute, quoted), {d}: its directory, {b}: its base
# name, {v}: the new value, {old}: the current value, {src}: a file on /tmp
# holding "{v}\n", {n}: 1 or 2 (which edit).
TOOLS = {
    "bash >": ((), "echo {v} > {p}", ()),
    "tee": (("tee",), "echo {v} | tee {p} > /dev/null", ()),
    "printf": ((), "printf %s {v} > {p}", ()),
    "cat src >": (("cat",), "cat {src} > {p}", ()),
    "cp": (("cp",), "cp {src} {p}", ()),
    "cp -p": (("cp",), "cp -p {src} {p}", ()),
    "install -m 600": (("install",), "install -m 600 {src} {p}", ()),
    "mv from /tmp": (("mv",), "mv {src} {p}", ()),
    "mv within mount": (("mv",), "printf '%s\\n' {v} > {d}/.{b}.new && mv {d}/.{b}.new {p}", ()),
    "rsync": (("rsync",), "rsync {src} {p}", ()),
    "rsync -a": (("rsync",), "rsync -a {src} {p}", ()),
    "rsync --inplace": (("rsync",), "rsync --inplace {src} {p}", ()),
    "sed -i": (("sed",), "sed -i 's|^.*$|{v}|' {p}", ()),
    "sed -i.bak": (("sed",), "sed -i.bak 's|^.*$|{v}|' {p}", ("{b}.bak",)),
    "perl -pi": (("perl",), "perl -pi -e 's|^.*$|{v}|' {p}", ()),
    "perl -pi.bak": (("perl",), "perl -pi.bak -e 's|^.*$|{v}|' {p}", ("{b}.bak",)),
    "sponge": (("sponge", "sed"), "sed 's|^.*$|{v}|' {p} | sponge {p}", ()),
    "python open(w)": ((), "/usr/bin/python3 -c 'import sys; f = open(sys.argv[1], \"w\"); "
                           "f.write(sys.argv[2] + \"\\n\"); f.close()' {p} {v}", ()),
    "python mkstemp+replace": ((), "/usr/bin/python3 -c '"
                                   "import os, sys, tempfile\n"
                                   "path, v = sys.argv[1], sys.argv[2]\n"
                                   "d = os.path.dirname(path)\n"
                                   "fd, tmp = tempfile.mkstemp(dir=d, prefix=\".\" + os.path.basename(path) + \".\")\n"
                                   "os.write(fd, (v + \"\\n\").encode()); os.fsync(fd); os.close(fd)\n"
                                   "os.replace(tmp, path)\n"
                                   "dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY); os.fsync(dfd); os.close(dfd)\n"
                                   "' {p} {v}", ()),
}


@pytest.mark.parametrize("doc", sorted(DOCS))
@pytest.mark.parametrize("tool", list(TOOLS))
def test_tool_changes_a_value(tmount, tmp_path, tool, doc):
    progs, template, keeps = TOOLS[tool]
    need(*progs)
    data, rel, key, old, news = DOCS[doc]
    t = tmount(data)
    d, _, b = rel.rpartition("/")
    cur = data
    for n, v in enumerate(news, 1):
        src = tmp_path / ("src%d" % n)
        src.write_bytes(v.encode() + b"\n")
        # an mtime of its own: rsync skips a file of the same size and mtime
        # (the tree's nodes have CONFIG's mtime, set a moment ago)
        src_mtime = int(time.time()) - 3600 * n
        os.utime(src, (src_mtime,) * 2)
        cmd = template.format(p=t.q(rel), d=t.q(d), b=b, v=v, old=old, src=src, n=n)
        keep = {k.format(b=b) for k in keeps}
        expected = replace_once(cur, value_line(key, old), value_line(key, v))
        t.edit(cmd, rel, v.encode() + b"\n", expected, keep=keep)
        for k in keep:
            # a backup the tool made: in the mount with the old value,
            # never in config.toml (checked by edit), until removed
            assert t.read(d + "/" + k) == old.encode() + b"\n", k
        cur, old = expected, v
    for k in keep:
        t.edit("rm " + t.q(d + "/" + k), rel, old.encode() + b"\n", cur, gone={k})
    assert t.read_config() == cur


@pytest.mark.parametrize("tool", ["cp -p", "mv from /tmp", "rsync -a"])
def test_tool_keeps_source_mtime(tmount, tmp_path, tool):
    """cp -p, mv (across filesystems) and rsync -a copy the source's mtime
    onto the file with utimens (cp -p, mv: futimens on the open file before
    close; rsync -a: utimensat on its .key.XXXXXX before the rename).
    Contract 2.3: utimens sets the node's mtime. rsync -a decides what to
    copy next time from it."""
    need(*TOOLS[tool][0])
    data, rel, key, old, news = DOCS["lf"]
    t = tmount(data)
    src = tmp_path / "src"
    src.write_bytes(news[0].encode() + b"\n")
    when = int(time.time()) - 7200
    os.utime(src, (when, when))
    t.sh(TOOLS[tool][1].format(p=t.q(rel), src=src))
    assert t.read(rel) == news[0].encode() + b"\n"
    got = os.stat(t.path(rel)).st_mtime
    assert int(got) == when, "%s: the file's mtime is %s (now), expected the source's %s" % (tool, got, when)


# --------------------------------------------------------------------------
# appending, emptying

F01 = fixture("01-register-docker.toml")
VOLUMES = "runners/docker-shared-01/docker/volumes"
VOL_LINE = b'volumes = ["/cache"]'
CLONE = "runners/docker-dind-02/clone_url"
CLONE_LINE = b'clone_url = "http://gitlab.internal"'


@pytest.mark.parametrize("tool", ["bash >>", "tee -a"])
def test_append_an_element(tmount, tool):
    t = tmount(F01)
    cmd = {"bash >>": "echo {v} >> {p}", "tee -a": "echo {v} | tee -a {p} > /dev/null"}[tool]
    cur = F01
    e1 = replace_once(cur, VOL_LINE, b'volumes = ["/cache", "/data"]')
    t.edit(cmd.format(v="/data", p=t.q(VOLUMES)), VOLUMES, b"/cache\n/data\n", e1)
    e2 = replace_once(e1, b'volumes = ["/cache", "/data"]', b'volumes = ["/cache", "/data", "/srv/ci:/srv/ci:ro"]')
    t.edit(cmd.format(v="/srv/ci:/srv/ci:ro", p=t.q(VOLUMES)), VOLUMES,
           b"/cache\n/data\n/srv/ci:/srv/ci:ro\n", e2)


@pytest.mark.parametrize("tool", [": >", "truncate -s 0"])
def test_empty_a_value(tmount, tool):
    """`: > key` and `truncate -s 0 key`: an empty string, an empty array
    (contract 3.1); doing it again changes nothing; writing after works."""
    cmd = {": >": ": > {p}", "truncate -s 0": "truncate -s 0 {p}"}[tool]
    t = tmount(F01)
    e1 = replace_once(F01, CLONE_LINE, b'clone_url = ""')
    t.edit(cmd.format(p=t.q(CLONE)), CLONE, b"\n", e1)
    t.edit(cmd.format(p=t.q(CLONE)), CLONE, b"\n", e1)
    e2 = replace_once(e1, VOL_LINE, b"volumes = []")
    t.edit(cmd.format(p=t.q(VOLUMES)), VOLUMES, b"", e2)
    t.edit(cmd.format(p=t.q(VOLUMES)), VOLUMES, b"", e2)
    e3 = replace_once(e2, b'clone_url = ""', b'clone_url = "http://gitlab.internal:8080"')
    t.edit("echo http://gitlab.internal:8080 > " + t.q(CLONE), CLONE, b"http://gitlab.internal:8080\n", e3)


# --------------------------------------------------------------------------
# the whole document: MOUNT/config.toml (contract 6)

WHOLE = {
    "cat src >": (("cat",), "cat {src} > {p}"),
    "cp": (("cp",), "cp {src} {p}"),
    "sed -i": (("sed",), "sed -i 's/^concurrent = {old} #/concurrent = {v} #/' {p}"),
    "perl -pi": (("perl",), "perl -pi -e 's/^concurrent = {old} #/concurrent = {v} #/' {p}"),
    "rsync": (("rsync",), "rsync {src} {p}"),
    "python open(w)": ((), "/usr/bin/python3 -c 'import sys; f = open(sys.argv[1], \"w\"); "
                           "f.write(open(sys.argv[2]).read()); f.close()' {p} {src}"),
    "python mkstemp+replace": ((), "/usr/bin/python3 -c '"
                                   "import os, sys, tempfile\n"
                                   "path, src = sys.argv[1], sys.argv[2]\n"
                                   "d = os.path.dirname(path)\n"
                                   "fd, tmp = tempfile.mkstemp(dir=d, prefix=\".config.toml.\")\n"
                                   "os.write(fd, open(src, \"rb\").read()); os.fsync(fd); os.close(fd)\n"
                                   "os.replace(tmp, path)\n"
                                   "dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY); os.fsync(dfd); os.close(dfd)\n"
                                   "' {p} {src}"),
    "vim -Es auto": (("vim",), "vim -N -u NONE -Es -c 'set backupcopy=auto' "
                              "-c '%s/^concurrent = {old} #/concurrent = {v} #/' -c wq {p}"),
    "emacs --batch": (("emacs",), "emacs --batch {p} --eval '(progn (goto-char (point-min)) "
                                  "(re-search-forward \"^concurrent = {old} #\") "
                                  "(replace-match \"concurrent = {v} #\") (save-buffer))'"),
}


@pytest.mark.parametrize("tool", list(WHOLE))
def test_tool_changes_whole_config(tmount, tmp_path, tool):
    """Editing MOUNT/config.toml itself replaces the document (contract 6):
    afterwards config.toml on disk is exactly what the tool wrote."""
    progs, template = WHOLE[tool]
    need(*progs)
    t = tmount(F01)
    cur, old = F01, "4"
    # emacs backs up by renaming config.toml to config.toml~; a mount may
    # refuse that rename (emacs then backs up to ~/.emacs.d and writes in
    # place): either way is fine, as long as the document is right
    maybe = {"config.toml~"} if tool.startswith("emacs") else set()
    for n, v in enumerate(["6", "7"], 1):
        expected = replace_once(cur, b"concurrent = %s #" % old.encode(), b"concurrent = %s #" % v.encode())
        src = tmp_path / ("src%d" % n)
        src.write_bytes(expected)
        os.utime(src, (time.time() - 3600 * n,) * 2)
        t.edit(template.format(p=t.q("config.toml"), src=src, v=v, old=old), "config.toml",
               expected, expected, maybe=maybe)
        assert t.read("concurrent") == v.encode() + b"\n"
        cur, old = expected, v


def test_an_emptied_value_is_in_config_when_the_command_returns(tmount):
    """`truncate -s 0 key` and `: > key` are done when they return: the
    next command (here: the runner's side, the config file on disk) reads
    the empty value (RELEASE, which the kernel sends after close() has
    returned, must not be what commits)."""
    t = tmount(F01)
    vol, clone, cfg = t.q(VOLUMES), t.q(CLONE), shlex.quote(str(t.m.config))
    script = ("for i in $(seq 40); do "
              "echo /c$i > %(v)s; truncate -s 0 %(v)s; "
              "grep -q '^  *volumes = \\[\\]$' %(f)s || { echo truncate $i; exit 1; }; "
              "echo http://h$i > %(c)s; : > %(c)s; "
              "grep -q '^  clone_url = \"\"$' %(f)s || { echo colon $i; exit 1; }; "
              "done") % {"v": vol, "c": clone, "f": cfg}
    res = t.sh(script, check=False)
    assert res.returncode == 0, "config.toml still held the old value after %s" % res.stdout.decode().strip()
    doc = toml_loads(t.read_config())
    shared = [r for r in doc["runners"] if r["name"] == "docker-shared-01"][0]
    assert shared["docker"]["volumes"] == []
