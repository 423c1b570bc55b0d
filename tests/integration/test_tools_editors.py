"""Issue 4: vim, nano and emacs save a value through a real mount, scripted
(vim -Es, emacs --batch) and driven like a person in tmux (send-keys).
Every save is checked as exact bytes (tools.ToolMount.edit), and every
editor edits the same file a second time: no stale swap or lock file
(E325, "locked by"), no "file changed" warning (W11, "changed on disk",
"modified since"). The tree is seen outside /tmp (tools.tmount), as a user
sees /etc/gitlab-runner: editors make backups there. How each editor saves:
reference/write-patterns.md section 3 and 4."""

import pytest

from rfs import fixture, replace_once
from tools import need, outside_tmp, tmount, tmux_session  # noqa: F401 (tmount is a fixture)

DOCS = {
    "lf": (fixture("01-register-docker.toml"), "runners/docker-shared-01/docker/image",
           "alpine:3.19", ["alpine:3.20", "registry.example.com/ci/alpine:3.21"]),
    "crlf": (fixture("02-crlf.toml"), "runners/windows-docker-01/docker/image",
             "mcr.microsoft.com/windows/servercore:ltsc2022",
             ["mcr.microsoft.com/windows/servercore:ltsc2025", "mcr.microsoft.com/windows/nanoserver:1809"]),
}
WARNINGS = ("E325", "ATTENTION", "W11", "W12", "W13", "WARNING", "changed since",
            "has been changed", "Swap file", "E667", "E212", "E514")
# emacs (supersession, stale lock), nano (file changed since it was read)
ALL_WARNINGS = WARNINGS + ("locked by", "changed on disk", "modified since", "really edit")


def image_line(v):
    return b'image = "' + v.encode() + b'"'


def steps(doc):
    """(rel, dir, base, [(old, new, expected config after), ...])"""
    data, rel, old, news = DOCS[doc]
    d, _, b = rel.rpartition("/")
    out, cur = [], data
    for v in news:
        nxt = replace_once(cur, image_line(old), image_line(v))
        out.append((old, v, nxt))
        cur, old = nxt, v
    return rel, d, b, out


# --------------------------------------------------------------------------
# vim, scripted

VIM_MODES = {
    # vim -N -u NONE: nocompatible, no vimrc; backupcopy=auto is what users get
    "auto": "vim -N -u NONE -Es -c 'set backupcopy=auto' -c '1s#.*#{v}#' -c wq {p}",
    "yes": "vim -N -u NONE -Es -c 'set backupcopy=yes' -c '1s#.*#{v}#' -c wq {p}",
    # plain ex mode: no vimrc, compatible, so backupcopy=yes; commands on stdin
    "ex": "printf '%s\\n' '1s#.*#{v}#' wq | vim -Es {p}",
}


@pytest.mark.parametrize("doc", sorted(DOCS))
@pytest.mark.parametrize("mode", list(VIM_MODES))
def test_vim_scripted(tmount, mode, doc):
    need("vim")
    t = tmount(DOCS[doc][0])
    outside_tmp(t)
    rel, d, b, edits = steps(doc)
    for old, v, expected in edits:
        r = t.edit(VIM_MODES[mode].format(v=v, p=t.q(rel)), rel, v.encode() + b"\n", expected)
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert out.strip() == "", "vim printed something (a warning?):\n" + out


# --------------------------------------------------------------------------
# vim, nano, emacs in tmux

def interactive(t, tmp_path, rel, edits, launch, ready, change, save_and_quit, during=None):
    """Open `rel` in an editor in tmux, change the value, save, quit; twice.
    launch: shell command; ready(screen): the file is shown; change(tm, new);
    save_and_quit(tm); during(listing): a problem (str) or None, checked on
    the directory while the editor has the changed file open; reported at
    the end, so that the saves themselves are checked first."""
    d, _, b = rel.rpartition("/")
    problems = []
    for n, (old, v, expected) in enumerate(edits, 1):
        tm = tmux_session(tmp_path, t.env)
        try:
            def run():
                tm.start(launch, t.path(d))
                # the status line can come before the text is painted
                # (seen under load): wait for both
                scr = tm.wait(lambda s: ready(s) and old in s, what="the editor to show %s" % rel)
                bad = [w for w in ALL_WARNINGS if w in scr]
                assert not bad, "edit %d: warning %s when opening %s:\n%s" % (n, bad, rel, scr)
                change(tm, v)
                scr = tm.screen()
                bad = [w for w in ALL_WARNINGS if w in scr]
                assert not bad, "edit %d: warning %s when changing %s:\n%s" % (n, bad, rel, scr)
                if during:
                    p = during(t.listdir(d))
                    if p:
                        problems.append("edit %d: %s" % (n, p))
                save_and_quit(tm)
                status = tm.exit_status()
                assert status == 0, "edit %d: the editor exited with %d:\n%s" % (n, status, tm.screen())
            t.edit(None, rel, v.encode() + b"\n", expected, run=run,
                   keep={b + "~"} if "emacs" in launch else ())
        finally:
            tm.kill()
    assert not problems, "\n".join(problems)


def test_vim_interactive(tmount, tmp_path):
    """vim as a user starts it (no vimrc of their own: defaults.vim, so
    nocompatible and backupcopy=auto), in a terminal: S, type, Esc, :wq."""
    need("vim", "tmux")
    t = tmount(DOCS["lf"][0])
    outside_tmp(t)
    rel, d, b, edits = steps("lf")

    def change(tm, v):
        tm.keys("S")
        tm.type(v)
        tm.keys("Escape", pause=0.3)

    def save_and_quit(tm):
        tm.type(":wq")
        tm.keys("Enter")

    def during(listing):
        if "." + b + ".swp" not in listing:
            return "vim keeps its swap file next to the file: %s" % sorted(listing)

    interactive(t, tmp_path, rel, edits, "vim " + b,
                lambda s: '"%s"' % b in s and "1L" in s, change, save_and_quit, during)


def test_nano_interactive(tmount, tmp_path):
    """nano (Debian's nanorc: `set locking`, a .key.swp lock): ^K, type,
    ^O Enter, ^X."""
    need("nano", "tmux")
    t = tmount(DOCS["lf"][0])
    rel, d, b, edits = steps("lf")

    def change(tm, v):
        tm.keys("C-k")
        tm.type(v)

    def save_and_quit(tm):
        tm.keys("C-o", pause=0.3)
        tm.wait_text("File Name to Write")
        tm.keys("Enter")
        scr = tm.wait(lambda s: any(x in s for x in ("Wrote", "Error", "odified", "Y/N", "Yes")),
                      what="nano to write the file")
        assert "Wrote 1 line" in scr, "nano did not write cleanly:\n" + scr
        tm.keys("C-x")

    def during(listing):
        if "." + b + ".swp" not in listing:
            return "nano keeps its lock file next to the file: %s" % sorted(listing)

    interactive(t, tmp_path, rel, edits, "nano " + b,
                lambda s: "GNU nano" in s and "Read 1 line" in s, change, save_and_quit, during)


def test_emacs_interactive(tmount, tmp_path):
    """emacs -nw -Q: C-a C-k, type, C-x C-s, C-x C-c. emacs renames the key
    to key~ (its backup) and writes a new key: revival puts it back in its
    place; its lock .#key (a symlink) exists while the buffer is modified."""
    need("emacs", "tmux")
    t = tmount(DOCS["lf"][0])
    outside_tmp(t)
    rel, d, b, edits = steps("lf")

    def change(tm, v):
        tm.keys("C-a", "C-k")
        tm.type(v, pause=0.5)

    def save_and_quit(tm):
        tm.keys("C-x", "C-s", pause=0.3)
        scr = tm.wait(lambda s: any(x in s for x in ("Wrote ", "(y", "yes or no", "locked by")),
                      what="emacs to save")
        assert "Wrote " in scr, "emacs asked something instead of saving:\n" + scr
        tm.keys("C-x", "C-c")

    def during(listing):
        if ".#" + b not in listing:
            return ("emacs locks the file it modifies with a symlink .#%s; it is not in the "
                    "mount (the symlink failed): %s" % (b, sorted(listing)))

    try:
        interactive(t, tmp_path, rel, edits, "emacs -nw -Q " + b,
                    lambda s: "(Fundamental)" in s or "(Text)" in s, change, save_and_quit, during)
    finally:
        # the backup emacs made on the second save holds the first save's value
        assert t.read(d + "/" + b + "~") == edits[0][1].encode() + b"\n"


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_emacs_batch(tmount, doc):
    """emacs --batch FILE --eval '(... (save-buffer))': the same rename save;
    the lock exists while modified and is gone after the save."""
    need("emacs")
    t = tmount(DOCS[doc][0])
    outside_tmp(t)
    rel, d, b, edits = steps(doc)
    lisp = ('(progn (goto-char (point-min)) (delete-region (point-min) (line-end-position))'
            ' (insert "{v}")'
            ' (princ (format "LOCK=%S\\n" (file-symlink-p (concat (file-name-directory buffer-file-name)'
            ' ".#" (file-name-nondirectory buffer-file-name)))))'
            ' (save-buffer)'
            ' (princ (format "UNLOCKED=%S\\n" (not (file-symlink-p (concat (file-name-directory'
            ' buffer-file-name) ".#" (file-name-nondirectory buffer-file-name)))))))')
    problems = []
    for n, (old, v, expected) in enumerate(edits, 1):
        r = t.edit("emacs --batch %s --eval '%s'" % (t.q(rel), lisp.format(v=v)),
                   rel, v.encode() + b"\n", expected, keep={b + "~"})
        out = r.stdout.decode(errors="replace")
        err = r.stderr.decode(errors="replace")
        assert "UNLOCKED=t" in out, out + err
        assert t.read(d + "/" + b + "~") == old.encode() + b"\n", "emacs's backup %s~" % b
        if "LOCK=\"" not in out:
            problems.append("edit %d: emacs could not lock the file (the symlink .#%s failed): %s"
                            % (n, b, out.strip()))
    assert not problems, "\n".join(problems)


def test_vim_auto_saves_by_rename(tmount, tmp_path):
    """backupcopy=auto (what users get) renames key to key~ and writes a
    new key, unless its probe file 4913 does not look like the original
    (owner, group, mode: vim fchown()s the probe, then stat()s it) - then it
    silently falls back to copying. Check, with strace, that vim really takes
    the rename path on the mount, so that the tests above cover it."""
    need("vim", "strace")
    t = tmount(DOCS["lf"][0])
    outside_tmp(t)
    rel, d, b, edits = steps("lf")
    old, v, expected = edits[0]
    trace = tmp_path / "vim.strace"
    t.edit("strace -f -qq -o %s -e trace=rename,renameat,renameat2,newfstatat,stat,lstat "
           "vim -N -u NONE -Es -c 'set backupcopy=auto' -c '1s#.*#%s#' -c wq %s"
           % (trace, v, t.q(rel)), rel, v.encode() + b"\n", expected)
    log = trace.read_text(errors="replace")
    probe = [ln for ln in log.splitlines() if "/4913" in ln and "st_mode" in ln]
    renamed = [ln for ln in log.splitlines() if "rename" in ln and b + "~" in ln and "= 0" in ln]
    assert renamed, ("vim did not save by renaming %s to %s~ (it fell back to copying); its "
                     "probe file 4913 looked like this:\n%s" % (b, b, "\n".join(probe) or "(no probe)"))


def test_scratch_file_attributes_survive_chown(tmount):
    """What vim's probe does, without vim: create a scratch file 0644,
    fchown it to its own owner, stat it: still 0644 (contract 2.3: chown
    succeeds without changing what the file means)."""
    import os
    t = tmount(DOCS["lf"][0])
    rel, d, b, edits = steps("lf")
    p = t.path(d + "/4913")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        st0 = os.fstat(fd)
        os.fchown(fd, st0.st_uid, st0.st_gid)
        st1 = os.stat(p)
    finally:
        os.close(fd)
        os.unlink(p)
    assert oct(st1.st_mode) == oct(st0.st_mode), "fchown changed the mode of a scratch file"
    assert t.read_config() == DOCS["lf"][0]
