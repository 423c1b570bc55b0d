"""Contract 3.4 (changes from outside) and 3.3 (compare-and-swap before
every write-back): the runner rewriting config.toml in place, a writer
renaming a new file in, `gitlab-runner register` appending, and an outside
writer racing writes through the mount. Issue 4, "Outside writers"."""

import os
import threading
import time

from outside import (CarefulRewriter, FileSampler, Looker, append, listdir_or_errno,
                     read_or_errno, replace_in, split_lines, write_in_place)
from rfs import (assert_bytes, describe, fixture, replace_once, toml_loads, try_write, wait_for)

F01 = fixture("01-register-docker.toml")
OLD_RUNNERS = frozenset({"docker-shared-01", "docker-dind-02", "shell-03"})


def _new_config():
    """What the runner writes instead of F01: other globals, five other
    runners. The last value is `limit = 1234` so that a prefix cut inside
    it (`limit = 12`) still parses, as does every prefix cut at a line end."""
    out = [b"# rewritten by the runner\n", b"concurrent = 8\n", b"check_interval = 3\n",
           b'log_level = "warn"\n', b"\n", b"[session_server]\n", b"  session_timeout = 900\n"]
    for i in range(1, 6):
        out += [b"\n", b"[[runners]]\n",
                b'  name = "new-%02d"\n' % i,
                b'  url = "https://gitlab.example.com"\n',
                b"  id = %d\n" % (2000 + i),
                b'  token = "glrt-n%d_AbCdEfGhIjKlMnOpQrSt"\n' % i,
                b'  executor = "shell"\n']
        if i < 5:
            out += [b"  [runners.cache]\n", b"    MaxUploadedArchiveSize = 0\n"]
    out += [b"  limit = 1234\n"]
    return b"".join(out)


NEW = _new_config()
NEW_RUNNERS = frozenset("new-%02d" % i for i in range(1, 6))


def test_runner_rewrites_in_place_slowly(runnerfs):
    """A writer truncates CONFIG and writes the new content in 10 chunks,
    30 ms apart (every chunk but the last ends at a line end, so almost
    every intermediate file parses). Meanwhile readers through the mount
    see only the old or the new version, never a prefix; every look that
    starts after the close sees the new one; the new tree is there within
    a second; runnerfs does not touch config.toml."""
    m = runnerfs(F01)
    last = NEW.rindex(b"34\n")  # cut inside `limit = 1234`
    chunks = split_lines(NEW[:last], 9) + [NEW[last:]]
    assert toml_loads(b"".join(chunks[:9]))["runners"][4]["limit"] == 12  # the trap
    assert toml_loads(NEW)["runners"][4]["limit"] == 1234
    limit_path = m.path("runners/new-05/limit")

    allowed = {
        "ls runners": {OLD_RUNNERS, NEW_RUNNERS},
        "cat concurrent": {b"4\n", b"8\n"},
        "cat config.toml": {F01, NEW},
        "cat new-05/limit": {"ENOENT", b"1234\n"},
    }
    new_value = {"ls runners": NEW_RUNNERS, "cat concurrent": b"8\n", "cat config.toml": NEW,
                 "cat new-05/limit": b"1234\n"}
    probes = {
        "ls runners": lambda: listdir_or_errno(m.path("runners")),
        "cat concurrent": lambda: read_or_errno(m.path("concurrent")),
        "cat config.toml": lambda: read_or_errno(m.path("config.toml")),
        "cat new-05/limit": lambda: read_or_errno(limit_path),
    }
    right_after = {}
    with Looker(probes) as looker:
        wait_for(lambda: len(looker.records) >= 8, 5, what="the observers to start")
        t_open, t_close = write_in_place(m.config, chunks, pause=0.03)
        # a cat right after the writer's close shows the new value
        right_after["concurrent"] = read_or_errno(m.path("concurrent"))
        right_after["config.toml"] = read_or_errno(m.path("config.toml"))
        wait_for(lambda: listdir_or_errno(m.path("runners")) == NEW_RUNNERS, 1.0,
                 what="`ls runners` to show the new runners within a second of the close")
        wait_for(lambda: any(r[1] > t_close for r in looker.records if r[0] == "ls runners"), 5,
                 what="an observation after the close")
    assert right_after["concurrent"] == b"8\n", \
        "`cat concurrent` right after the writer closed: %r, expected b'8\\n'" % (right_after["concurrent"],)
    assert right_after["config.toml"] == NEW, "config.toml in the mount right after the close is not the new file"

    bad = []
    overlapped = set()  # probes with a look in progress while the writer was writing
    for name, t0, t1, v in looker.records:
        if t0 <= t_close and t1 >= t_open:
            overlapped.add(name)
        if v not in allowed[name]:
            bad.append("%s at +%.3fs (writer: open +0, close +%.3fs): %r"
                       % (name, t0 - t_open, t_close - t_open, v if not isinstance(v, bytes) or len(v) < 120
                          else v[:60] + b"..." + v[-60:]))
        elif t0 > t_close and v != new_value[name]:
            bad.append("%s started %.3fs after the close but still shows the old version"
                       % (name, t0 - t_close))
    assert not bad, "a half-written or stale tree was visible (%d of %d looks):\n%s" % (
        len(bad), len(looker.records), "\n".join(bad[:15]))
    assert overlapped == set(probes), "test too weak: no look of %s while the writer was writing" \
        % sorted(set(probes) - overlapped)
    # runnerfs only read: config.toml is exactly what the writer wrote
    assert_bytes(m.read_config(), NEW)
    assert m.read("runners/new-03/token") == b"glrt-n3_AbCdEfGhIjKlMnOpQrSt\n"


def test_writer_renames_a_new_file_in(runnerfs):
    """mkstemp + os.replace over CONFIG (vi with backupcopy=no, Ansible,
    a config-management tool): the new tree within a second, a cat right
    after shows the new value, and a write through the mount afterwards
    lands on the new file."""
    m = runnerfs(F01)
    assert m.read("concurrent") == b"4\n"
    new = replace_once(F01, b'name = "shell-03"', b'name = "shell-renamed"')
    new = replace_once(new, b"concurrent = 4 ", b"concurrent = 6 ")
    replace_in(m.config, new)
    got = m.read("concurrent")
    assert got == b"6\n", "`cat concurrent` right after the rename: %r, expected b'6\\n'" % (got,)
    want = {"docker-shared-01", "docker-dind-02", "shell-renamed"}
    wait_for(lambda: m.listdir("runners") == want, 1.0,
             what="`ls runners` to show the renamed-in runner within a second")
    assert m.read("runners/shell-renamed/builds_dir") == b"/srv/builds\n"
    assert not os.path.exists(m.path("runners/shell-03"))
    assert_bytes(m.read_config(), new)
    # the next change through the mount goes on top of the new file
    res = try_write(m.path("runners/shell-renamed/builds_dir"), b"/srv/b2\n")
    assert res is None, describe(res)
    assert_bytes(m.read_config(), replace_once(new, b'builds_dir = "/srv/builds"', b'builds_dir = "/srv/b2"'))
    assert sorted(os.listdir(m.config_dir)) == ["config.toml"]


REGISTER = (b'\n[[runners]]\n  name = "registered-04"\n  url = "https://gitlab.example.com"\n',
            b'  id = 1237\n  token = "glrt-t4_NewNewNewNewNewNewNe"\n  executor = "shell"\n'
            b"  [runners.cache]\n    MaxUploadedArchiveSize = 0\n")


def test_register_appends_a_runner(runnerfs):
    """`gitlab-runner register` appends a [[runners]] block (two writes,
    30 ms apart): `ls runners` shows it within a second and never shows
    the half-appended runner; a change through the mount afterwards is
    applied on top of the appended file."""
    m = runnerfs(F01)
    all4 = OLD_RUNNERS | {"registered-04"}
    probes = {"ls runners": lambda: listdir_or_errno(m.path("runners")),
              "cat config.toml": lambda: read_or_errno(m.path("config.toml"))}
    new = F01 + b"".join(REGISTER)
    with Looker(probes) as looker:
        wait_for(lambda: len(looker.records) >= 4, 5, what="the observers to start")
        t_close = append(m.config, REGISTER, pause=0.03)
        wait_for(lambda: m.listdir("runners") == all4, 1.0,
                 what="`ls runners` to show the appended runner within a second")
        right_after = m.read("runners/registered-04/token")
    bad = [(n, round(t0 - t_close, 3), v if n == "ls runners" else len(v))
           for n, t0, _t1, v in looker.records
           if (n == "ls runners" and v not in (OLD_RUNNERS, all4)) or
           (n == "cat config.toml" and v not in (F01, new))]
    assert not bad, "the half-appended file was visible: %s" % bad[:10]
    assert right_after == b"glrt-t4_NewNewNewNewNewNewNe\n"
    assert_bytes(m.read_config(), new)
    res = try_write(m.path("runners/registered-04/url"), b"https://gitlab.example.org\n")
    assert res is None, describe(res)
    assert_bytes(m.read_config(), new.replace(
        b'name = "registered-04"\n  url = "https://gitlab.example.com"',
        b'name = "registered-04"\n  url = "https://gitlab.example.org"'))


ROTATED = replace_once(F01, b'token = "glrt-t2_ZyXwVuTsRqPoNmLkJiHg"', b'token = "glrt-t2_Rotated0000000000000"')


def test_change_through_mount_goes_on_top_of_an_outside_change(runnerfs):
    """Compare-and-swap: the runner rotates a token (in place, O_TRUNC);
    a write through the mount right after (no waiting) is applied on top
    of the rotated file: both changes are in config.toml."""
    m = runnerfs(F01)
    assert m.read("concurrent") == b"4\n"
    write_in_place(m.config, [ROTATED])
    m.sh("echo 7 > concurrent")
    assert_bytes(m.read_config(), replace_once(ROTATED, b"concurrent = 4 ", b"concurrent = 7 "))
    assert m.read("runners/docker-dind-02/token") == b"glrt-t2_Rotated0000000000000\n"


def test_open_handle_commits_on_top_of_an_outside_change(runnerfs):
    """A key opened for writing before the runner rewrote the file, closed
    after: the close commits on top of the runner's version (the handle
    was opened against the old tree)."""
    m = runnerfs(F01)
    fd = os.open(m.path("runners/docker-shared-01/limit"), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"9\n")
        write_in_place(m.config, [ROTATED], pause=0)
        # a second outside change while the handle is still open: a runner appended
        append(m.config, REGISTER)
    finally:
        os.close(fd)
    want = replace_once(ROTATED + b"".join(REGISTER), b"limit = 2\n", b"limit = 9\n")
    assert_bytes(m.read_config(), want)
    assert "registered-04" in m.listdir("runners")


def test_outside_writer_races_writes_through_the_mount(runnerfs):
    """An outside writer sets check_interval = 1..50, each a truncate-and-
    rewrite in place (odd values in two writes 4 ms apart, the first half a
    file that parses; even values in one quick write);
    meanwhile two threads write runners/docker-shared-01/limit = 101..150
    and concurrent = 11..60 through the mount. Every value only grows, so
    the file on disk must never show a smaller one than it showed before
    (a lost change), and at the end the last value of each side is in the
    file, which is F01 with exactly those three values changed."""
    m = runnerfs(F01)
    assert m.read("concurrent") == b"4\n"
    LIMIT = "runners/docker-shared-01/limit"
    outside = CarefulRewriter(m.config, b"check_interval", range(1, 51), pause=0.01)
    results = {"limit": [], "concurrent": []}

    def through_mount(rel, key, values):
        for v in values:
            res = try_write(m.path(rel), b"%d\n" % v)
            results[key].append((v, res))
            time.sleep(0.008)  # pacing: spread the writes over the outside writer's run

    def extract(data):
        d = toml_loads(data)
        return {"check_interval": d.get("check_interval"), "concurrent": d.get("concurrent"),
                "limit": d["runners"][0].get("limit") if d.get("runners") else None}

    threads = [threading.Thread(target=through_mount, args=(LIMIT, "limit", range(101, 151)), daemon=True),
               threading.Thread(target=through_mount, args=("concurrent", "concurrent", range(11, 61)),
                                daemon=True)]
    with FileSampler(m.config, extract, b"# end of file\n") as sampler:
        outside.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
            assert not t.is_alive(), "writes through the mount did not finish within 40 s"
        outside_error = outside.join(40)
    failed = ["%s=%d: %s" % (k, v, describe(r)) for k, rs in results.items() for v, r in rs if r is not None]
    ok = {k: [v for v, r in rs if r is None] for k, rs in results.items()}
    final = m.read_config()
    problems = []
    if outside_error:
        problems.append("the outside writer stopped: %s" % (outside_error,))
    if failed:
        problems.append("writes through the mount failed although the file always parsed when "
                        "complete: %s" % failed[:10])
    problems += sampler.problems
    try:
        d = toml_loads(final)
    except Exception as e:  # noqa: BLE001
        raise AssertionError("the final config.toml does not parse: %s\n%r" % (e, final[:400]))
    if outside.done and d.get("check_interval") != outside.done[-1]:
        problems.append("check_interval = %r in the final file; the outside writer's last write "
                        "(landed in the live file) was %d" % (d.get("check_interval"), outside.done[-1]))
    if ok["concurrent"] and d.get("concurrent") != ok["concurrent"][-1]:
        problems.append("concurrent = %r in the final file; the last successful write through the "
                        "mount was %d" % (d.get("concurrent"), ok["concurrent"][-1]))
    runner0 = (d.get("runners") or [{}])[0]
    if ok["limit"] and runner0.get("limit") != ok["limit"][-1]:
        problems.append("limit = %r in the final file; the last successful write through the mount "
                        "was %d" % (runner0.get("limit"), ok["limit"][-1]))
    assert not problems, "lost changes (sampler looked at %d whole files; the outside writer's "\
        "writes to a replaced inode, retried: %d; successful mount writes: limit %d/50, "\
        "concurrent %d/50):\n%s\nfinal config.toml (%d bytes): %r\nlog:\n%s" % (
            sampler.samples, outside.orphaned, len(ok["limit"]), len(ok["concurrent"]),
            "\n".join(problems), len(final), final[:300], "\n".join(m.log().splitlines()[-25:]))
    want = replace_once(F01, b"concurrent = 4 ", b"concurrent = %d " % ok["concurrent"][-1])
    want = replace_once(want, b"check_interval = 0\n", b"check_interval = 50\n")
    want = replace_once(want, b"limit = 2\n", b"limit = %d\n" % ok["limit"][-1])
    assert_bytes(final, want)
    assert m.read("check_interval") == b"50\n"
    assert m.read("concurrent") == b"60\n" and m.read(LIMIT) == b"150\n"
    assert sampler.samples >= 20, "test too weak: only %d whole files sampled" % sampler.samples


def test_every_reader_after_an_outside_close_sees_the_new_value(runnerfs):
    """Six readers cat the same value over and over while the runner
    rewrites CONFIG in place 100 times, each time with another value. The
    first reader after each close takes the change in; the others, opening
    a moment later, must not be handed the kernel's old pages while that
    reader is still dropping them (CI once saw `cat concurrent` show the
    old value 1 ms after the close). Any cat that starts after a close
    shows that version's value."""
    m = runnerfs(F01)
    path = m.path("concurrent")
    assert m.read("concurrent") == b"4\n"
    probes = {"r%d" % i: (lambda: read_or_errno(path)) for i in range(6)}
    closes = []  # (t_open, t_close, value)
    with Looker(probes) as looker:
        wait_for(lambda: len(looker.records) >= 12, 5, what="the readers to start")
        for k in range(100):
            v = 10 + k
            data = replace_once(F01, b"concurrent = 4 ", b"concurrent = %d " % v)
            t_open, t_close = write_in_place(m.config, [data])
            closes.append((t_open, t_close, b"%d\n" % v))
            # the next round starts once some reader has looked after this close
            wait_for(lambda: any(r[1] > t_close for r in looker.records[-12:]), 5,
                     what="a look after close %d" % k)
    bad, after = [], 0
    for name, t0, t1, v in looker.records:
        # the last close before this look started, if the next open is later
        for i, (t_open, t_close, want) in enumerate(closes):
            nxt = closes[i + 1][0] if i + 1 < len(closes) else float("inf")
            if t_close < t0 and t1 < nxt:
                after += 1
                if v != want:
                    bad.append("%s started %.4fs after close %d: %r, expected %r"
                               % (name, t0 - t_close, i, v, want))
                break
    assert after >= 100, "test too weak: %d looks fell between a close and the next write" % after
    assert not bad, "%d of %d looks after a close showed an old value:\n%s" % (
        len(bad), after, "\n".join(bad[:10]))


AB = b'[[runners]]\n  name = "a"\n  token = "t1"\n\n[[runners]]\n  name = "b"\n  token = "t2"\n'
A_NAMELESS = b'[[runners]]\n  name = "a"\n  token = "t1"\n\n[[runners]]\n  token = "t2"\n'
NAMELESS_A = b'[[runners]]\n  token = "t1"\n\n[[runners]]\n  name = "a"\n  token = "t2"\n'


def _write_outside(path, data):
    with open(path, "wb") as f:  # as the runner does: in place, O_TRUNC
        f.write(data)


def test_a_name_lost_outside_gives_fresh_names(runnerfs):
    """A runner whose `name` is removed from outside (the count unchanged)
    is listed as #N, not under its old name; when another runner then
    takes that name, its directory is that runner's: `rm -r runners/a`
    removes the runner named a, never the nameless one."""
    m = runnerfs(AB)
    assert m.listdir("runners") == {"a", "b"}
    _write_outside(m.config, A_NAMELESS)
    wait_for(lambda: m.listdir("runners") == {"a", "#2"}, 5,
             what="`ls runners` to show the nameless runner as #2")
    _write_outside(m.config, NAMELESS_A)
    wait_for(lambda: m.listdir("runners") == {"#1", "a"}, 5,
             what="`ls runners` to show #1 and a")
    assert m.read("runners/a/token") == b"t2\n"
    m.sh("rm -r runners/a")
    assert toml_loads(m.read_config()) == {"runners": [{"token": "t1"}]}


def test_undo_after_rm_r_shows_the_restored_runners_under_their_names(runnerfs):
    """`rm -r` of one runner, then the whole config.toml written back
    without another one (a history version, `cp` of a saved file): the
    names are those of the new document, so a directory never shows a
    runner other than the one its name says."""
    runner = '[[runners]]\n  %s  token = "%s"\n\n'
    doc = lambda *rs: "".join(runner % (('name = "%s"\n' % n) if n else "", t) for n, t in rs).encode()
    m = runnerfs(doc(("dup", "a1"), (None, "n2"), ("dup", "a3"), (None, "n4"), ("last", "l5")))
    assert m.listdir("runners") == {"dup", "#2", "dup#3", "#4", "last"}
    m.sh("rm -r 'runners/#2'")
    assert m.listdir("runners") == {"dup", "dup#3", "#4", "last"}
    # the third runner gone instead, the second back: a nameless one where
    # dup#3 was
    new = doc(("dup", "a1"), (None, "n2"), (None, "n4"), ("last", "l5"))
    with open(m.path("config.toml"), "wb") as f:
        f.write(new)
    assert m.listdir("runners") == {"dup", "#2", "#3", "last"}
    assert m.read("runners/#2/token") == b"n2\n" and m.read("runners/#3/token") == b"n4\n"
    assert_bytes(m.read_config(), new)


def test_rm_r_halfway_keeps_its_runner_across_an_outside_change(runnerfs):
    """rm -r removes a runner's `name` first; if the runner rotates a
    token then, the directory rm is walking still shows the same runner
    (not the other runner of that name), and removing it removes that
    one."""
    m = runnerfs(b'[[runners]]\n  name = "ci"\n  token = "t1"\n\n[[runners]]\n  name = "ci"\n  token = "t2"\n')
    assert m.listdir("runners") == {"ci", "ci#2"}
    os.unlink(m.path("runners/ci/name"))
    rotated = b'[[runners]]\n  token = "t1x"\n\n[[runners]]\n  name = "ci"\n  token = "t2"\n'
    _write_outside(m.config, rotated)
    wait_for(lambda: m.read("runners/ci/token") == b"t1x\n", 5, what="the rotated token to show")
    assert m.listdir("runners") == {"ci", "ci#2"}
    m.sh("rm -r runners/ci")
    assert toml_loads(m.read_config()) == {"runners": [{"name": "ci", "token": "t2"}]}


# ---- directory commands across the runner's own save ----------------------
# A change that finds config.toml open for writing waits for the writer, then
# is made on top of what it wrote (docs/filesystem.md, "Changes from
# outside"). These found: the last rmdir of `rm -r` removing every runner,
# and `rm -r` losing the runner it was walking (its `name` already gone).

def _save_while(m, cmd, change=(b"concurrent = 4", b"concurrent = 5")):
    """The runner's in-place save (truncate, write) held open for 0.5 s
    while `cmd` runs in the mount; returns cmd's result."""
    data = m.read_config().replace(*change)
    opened = threading.Event()
    t = threading.Thread(target=write_in_place, args=(m.config, [data]),
                         kwargs={"on_open": lambda: (opened.set(), time.sleep(0.5))})
    t.start()
    try:
        assert opened.wait(5), "the writer did not open config.toml"
        return m.sh(cmd, check=False)
    finally:
        t.join(10)


def test_rmdir_of_an_emptied_runner_across_a_save(runnerfs):
    m = runnerfs(F01)
    m.sh("mkdir runners/c && rm runners/c/name")  # what rm -r does first
    r = _save_while(m, "rmdir runners/c")
    assert r.returncode == 0, r.stderr
    got = toml_loads(m.read_config())
    assert [x["name"] for x in got["runners"]] == ["docker-shared-01", "docker-dind-02", "shell-03"]
    assert got["concurrent"] == 5  # the writer's change is kept
    assert m.listdir("runners") == OLD_RUNNERS


def test_rm_r_of_a_runner_across_a_save(runnerfs):
    m = runnerfs(F01)
    r = _save_while(m, "rm -r runners/shell-03")
    assert r.returncode == 0, r.stderr
    got = toml_loads(m.read_config())
    assert [x["name"] for x in got["runners"]] == ["docker-shared-01", "docker-dind-02"]
    assert got["concurrent"] == 5
    assert m.listdir("runners") == OLD_RUNNERS - {"shell-03"}


def test_mkdir_and_rm_r_while_register_appends(runnerfs):
    """An outside process appends to config.toml every few milliseconds
    (as `register` does, once) while runners are made and removed."""
    m = runnerfs(F01)
    stop = threading.Event()

    def appender():
        while not stop.is_set():
            append(m.config, [b"# tick\n"])
            time.sleep(0.01)  # pacing the appender, not synchronisation

    t = threading.Thread(target=appender)
    t.start()
    try:
        for i in range(25):
            r = m.sh("mkdir runners/c%d && rm -r runners/c%d" % (i, i), check=False)
            assert r.returncode == 0, (i, r.stderr)
            got = toml_loads(m.read_config())
            assert [x.get("name") for x in got["runners"]] == \
                ["docker-shared-01", "docker-dind-02", "shell-03"], i
    finally:
        stop.set()
        t.join(10)
    assert m.listdir("runners") == OLD_RUNNERS
