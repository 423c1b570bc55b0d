"""Privacy and access (issue 8; contract 2.3, 1, 7).

- Secrets (token, registry username/password/auth, cache s3 AccessKey and
  SecretKey, environment, sentry_dsn, config.toml, .runnerfs/history/N)
  are 0600 and owned by CONFIG's owner; other files 0644, directories 0755.
- Without allow_other, another user (nobody, via setpriv) cannot even stat
  the mount. With allow_other (default_permissions turned on), nobody
  reads 0644 files and is refused the 0600 ones; CONFIG's owner reads and
  writes its secrets.
- No secret value given to the daemon (in the file, written through the
  mount, or in a rejected write) appears in its log (-f and -d),
  .runnerfs/status, .runnerfs/errors or an error message.
- The write-back's temp file is created O_CREAT|O_EXCL with mode 0600, in
  CONFIG's directory (strace on the daemon), and is never seen with a
  wider mode than CONFIG's (inotify + lstat racing the daemon).

The mounts here live under a fresh world-traversable directory (pytest's
own tmp directories are 0700), as nobody must be able to reach them.
"""

import base64
import errno
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import conftest
import rfs

OWNER = (4242, 4343)          # CONFIG's owner for these tests
NOBODY = 65534

REG_USER, REG_PASS = "reguser-Zq81", "RegPass-9fK2-s3cr3t"
SECRETS = {
    "token1": "glrt-t1_AbCdEfGhIjKlMnOpQrSt",
    "token2": "glrt-t2_ZyXwVuTsRqPoNmLkJiHg",
    "token3": "glrt-t3_0123456789abcdefghij",
    "AccessKey": "minioadmin-AK-77x1",
    "SecretKey": "minio-secret-key-Qp04",
    "regpass": REG_PASS,
    "regauth": base64.b64encode((REG_USER + ":" + REG_PASS).encode()).decode(),
    "sentry": "https://b7c1d2e3f4a5@sentry.example.com/42",
    "envpass": "EnvPassword-Hx73",
}
AUTH_JSON = json.dumps({"auths": {"registry.example.com:5000": {"auth": SECRETS["regauth"]}}},
                       separators=(",", ":"))


def config_bytes():
    c = rfs.fixture("01-register-docker.toml")
    c = c.replace(b'AccessKey = "minioadmin"', b'AccessKey = "%s"' % SECRETS["AccessKey"].encode())
    c = c.replace(b'SecretKey = "minio-secret-key"', b'SecretKey = "%s"' % SECRETS["SecretKey"].encode())
    env = json.dumps(["GIT_DEPTH=10", "DB_PASSWORD=" + SECRETS["envpass"], "DOCKER_AUTH_CONFIG=" + AUTH_JSON])
    c = c.replace(b'environment = ["GIT_DEPTH=10", "FF_USE_FASTZIP=true"]', b"environment = " + env.encode())
    c = c.replace(b'listen_address = ":9252"\n',
                  b'listen_address = ":9252"\nsentry_dsn = "%s"\n' % SECRETS["sentry"].encode())
    rfs.toml_loads(c)
    return c


R1 = "runners/docker-shared-01/"
R2 = "runners/docker-dind-02/"
REG = R1 + "registries/registry.example.com:5000/"
SECRET_FILES = [R1 + "token", R2 + "token", "runners/shell-03/token", R2 + "cache/s3/AccessKey",
                R2 + "cache/s3/SecretKey", R1 + "environment", REG + "username", REG + "password",
                REG + "auth", "sentry_dsn", "config.toml"]
PUBLIC_FILES = ["concurrent", "log_level", R1 + "url", R1 + "executor", R1 + "docker/image",
                R2 + "cache/s3/BucketName", "session_server/session_timeout"]
DIRS = ["runners", R1[:-1], R1 + "docker", R2 + "cache/s3", R1 + "registries", REG[:-1]]


@pytest.fixture
def pmount(tmp_path):
    """Factory: pmount(config, options=[], args=[]) -> conftest.Mount, under
    a 0755 directory in /tmp (reachable by nobody). Stopped at the end."""
    base = tempfile.mkdtemp(prefix="runnerfs-privacy-", dir="/tmp")
    os.chmod(base, 0o755)
    mounts = []

    def start(config, options=(), args=(), owner=OWNER, mode=0o600):
        k = len(mounts) + 1
        cdir = os.path.join(base, "etc%d" % k)
        mnt = os.path.join(base, "mnt%d" % k)
        os.mkdir(cdir)
        os.mkdir(mnt)
        os.chmod(cdir, 0o755)
        os.chmod(mnt, 0o755)
        cfg = os.path.join(cdir, "config.toml")
        with open(cfg, "wb") as f:
            f.write(config)
        os.chmod(cfg, mode)
        os.chown(cfg, *owner)
        opts = list(conftest.DEFAULT_OPTIONS) + list(options)
        argv = [str(conftest.RUNNERFS), "-f", "-o", ",".join(opts)] + list(args) + [cfg, mnt]
        m = conftest.Mount(tmp_path, Path(cfg), Path(mnt), opts, argv)
        m.logpath = tmp_path / ("runnerfs-privacy-%d.log" % k)
        mounts.append(m)
        m.start()
        return m

    yield start
    problems = []
    for m in reversed(mounts):
        problems += m.stop()
    shutil.rmtree(base, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


AS_USER = r"""
import json, os, sys
out = {}
for op, p in json.loads(sys.argv[1]):
    try:
        if op == "stat":
            os.stat(p)
        elif op == "read":
            open(p, "rb").read()
        elif op == "list":
            os.listdir(p)
        elif op == "write":
            fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, b"x\n")
            finally:
                os.close(fd)
        elif op == "mkdir":
            os.mkdir(p)
        elif op == "unlink":
            os.unlink(p)
        out[op + " " + p] = 0
    except OSError as e:
        out[op + " " + p] = e.errno
print(json.dumps(out))
"""


def as_user(uid, gid, ops):
    """Run file operations as uid:gid (setpriv); {"op path": errno or 0}."""
    r = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups",
                        "/usr/bin/python3", "-c", AS_USER, json.dumps(ops)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return json.loads(r.stdout)


def test_modes_and_owner_of_secrets(pmount):
    m = pmount(config_bytes(), options=["backups=3", "burst=0"])
    # a write makes a history copy
    assert rfs.try_write(m.path("concurrent"), b"5\n") is None
    assert rfs.try_write(m.path(R1 + "token"), b"glrt-new-Token-000\n") is None
    problems = []

    def want(rel, mode, is_dir=False):
        st = os.lstat(m.path(rel))
        if stat.S_IMODE(st.st_mode) != mode:
            problems.append("%s: mode %04o, expected %04o" % (rel, stat.S_IMODE(st.st_mode), mode))
        if (st.st_uid, st.st_gid) != OWNER:
            problems.append("%s: owner %d:%d, expected %d:%d" % ((rel, st.st_uid, st.st_gid) + OWNER))
        if is_dir != stat.S_ISDIR(st.st_mode):
            problems.append("%s: wrong file type" % rel)

    for f in SECRET_FILES:
        want(f, 0o600)
    hist = sorted(os.listdir(m.path(".runnerfs/history")))
    assert hist == ["1", "2"], hist
    for h in hist:
        want(".runnerfs/history/" + h, 0o600)
    for f in PUBLIC_FILES:
        want(f, 0o644)
    for d in DIRS + [""]:
        want(d, 0o755, True)
    # a new secret key, a new registry: born 0600
    m.sh("mkdir runners/shell-03/registries/new.example.com && "
         "echo u > runners/shell-03/registries/new.example.com/username && "
         "echo p > runners/shell-03/registries/new.example.com/password")
    for f in ("username", "password", "auth"):
        want("runners/shell-03/registries/new.example.com/" + f, 0o600)
    m.sh("mkdir runners/newbie && echo glrt-x > runners/newbie/token")
    want("runners/newbie/token", 0o600)
    # chmod is accepted but changes nothing (contract 2.3)
    os.chmod(m.path(R1 + "token"), 0o644)
    want(R1 + "token", 0o600)
    # CONFIG on disk: still its owner's and 0600
    st = os.stat(m.config)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600,) + OWNER
    print("\nprivacy: %d secret files + %d history copies 0600 %d:%d, %d public files 0644, %d dirs 0755"
          % (len(SECRET_FILES) + 4, len(hist), OWNER[0], OWNER[1], len(PUBLIC_FILES), len(DIRS) + 1))
    assert not problems, "\n".join(problems)


def test_other_users_kept_out_without_allow_other(pmount):
    m = pmount(config_bytes())
    ops = [("stat", str(m.mnt)), ("list", str(m.mnt)), ("stat", str(m.path("concurrent"))),
           ("read", str(m.path("concurrent"))), ("read", str(m.path(R1 + "token"))),
           ("read", str(m.path("config.toml")))]
    for who in ((NOBODY, NOBODY), OWNER):
        got = as_user(who[0], who[1], ops)
        bad = {k: v for k, v in got.items() if v != errno.EACCES}
        assert not bad, "uid %d got in without allow_other: %s" % (who[0], bad)
    # the mount point's own directory is reachable: it is FUSE that says no
    st = os.stat(m.mnt.parent)
    assert stat.S_IMODE(st.st_mode) & 0o005 == 0o005
    print("\nprivacy: without allow_other, uid %d and CONFIG's owner %d: EACCES on all %d operations"
          % (NOBODY, OWNER[0], len(ops)))


def test_allow_other_enforces_modes(pmount):
    m = pmount(config_bytes(), options=["allow_other"])
    supers = [l.split(" - ")[1] for l in open("/proc/self/mountinfo") if l.split()[4] == str(m.mnt)]
    assert supers and "default_permissions" in supers[0] and "allow_other" in supers[0], supers
    ops = ([("stat", str(m.mnt)), ("list", str(m.mnt)), ("list", str(m.path(R1[:-1])))]
           + [("read", str(m.path(f))) for f in PUBLIC_FILES]
           + [("read", str(m.path(f))) for f in SECRET_FILES]
           + [("write", str(m.path(f))) for f in PUBLIC_FILES[:3] + SECRET_FILES[:2]]
           + [("mkdir", str(m.path("runners/intruder"))), ("unlink", str(m.path(R1 + "url")))])
    before = m.read_config()
    got = as_user(NOBODY, NOBODY, ops)
    problems = []
    for k, v in got.items():
        op, p = k.split(" ", 1)
        rel = os.path.relpath(p, m.mnt)
        allowed = op in ("stat", "list") or (op == "read" and rel in PUBLIC_FILES)
        if allowed and v != 0:
            problems.append("nobody: %s failed with %s" % (k, rfs.errname(v)))
        if not allowed and v != errno.EACCES:
            problems.append("nobody: %s gave %s, expected EACCES" % (k, rfs.errname(v) if v else "success"))
    rfs.assert_unchanged(before, m.read_config(), "config.toml after nobody's attempts")
    # CONFIG's owner reads and writes its secrets
    own = as_user(OWNER[0], OWNER[1], [("read", str(m.path(f))) for f in SECRET_FILES]
                  + [("write", str(m.path(R1 + "docker/image")))])
    bad = {k: v for k, v in own.items() if v != 0}
    if bad:
        problems.append("CONFIG's owner was refused: %s" % bad)
    assert rfs.toml_loads(m.read_config())["runners"][0]["docker"]["image"] == "x"
    print("\nprivacy: allow_other (+default_permissions): nobody %d operations checked "
          "(0644 readable, 0600 EACCES, writes EACCES); owner read %d secrets and wrote"
          % (len(ops), len(SECRET_FILES)))
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------
# no secret in what the daemon writes


def leak_markers():
    """Secret values, and parts of them (a message may quote a prefix)."""
    vals = list(SECRETS.values()) + [REG_USER]
    out = set()
    for v in vals:
        out.add(v)
        core = re.sub(r"^(glrt-|https://)", "", v)
        if len(core) >= 10:
            out.add(core[:10])
            out.add(core[-10:])
    return out


def exercise(m, tmp_path):
    """Everything a person might do with secrets, good and bad. Returns the
    extra secret values it used (written or rejected)."""
    extra = []

    def put(rel, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
        return rfs.try_write(m.path(rel), data, flags=flags)

    # read every file of the tree, xattrs too
    for root, dirs, files in os.walk(m.mnt):
        for f in files:
            p = os.path.join(root, f)
            try:
                open(p, "rb").read()
                for a in os.listxattr(p):
                    os.getxattr(p, a)
            except OSError:
                pass
    # good writes of secrets
    for rel, v in ((R1 + "token", "glrt-GOOD-NewToken-a81"), (REG + "password", "GoodRegPass-77q"),
                   (REG + "username", "gooduser-z1"), (R2 + "cache/s3/SecretKey", "GoodSecretKey-3x"),
                   ("sentry_dsn", "https://GoodDsnKey91@s.example.com/1")):
        extra.append(v)
        assert put(rel, v.encode() + b"\n") is None, rel
    extra.append(base64.b64encode(b"gooduser-z1:GoodRegPass-77q").decode())
    # rejected writes of secrets
    bad = [
        (R1 + "token", b"BadToken-Utf8-\xff\xfe-k4"),
        (R2 + "token", b"BadToken-Nul\x00-k5\xc3("),
        (REG + "auth", b"NotBase64 BadAuth-k6"),
        (REG + "auth", base64.b64encode(b"NoColonBadAuth-k7")),
        (REG + "username", b"Bad:User-k8"),
        (REG + "password", b"BadPass-k9\x00"),
        ("sentry_dsn", b"BadDsn-k10\xff"),
        (R2 + "cache/s3/AccessKey", b"BadAccess-k11\xc0\xaf"),
        (R1 + "environment", b"BadEnv-k12\xff\n"),
    ]
    for rel, v in bad:
        extra.append(v.split(b"\x00")[0].decode("utf-8", "replace").split("\ufffd")[0])
        if b" " in v:
            extra.append(v.split(b" ")[1].decode())
        assert put(rel, v) is not None, "%s: %r was accepted" % (rel, v)
    # a secret moved onto a key of another type: test_secret_moved_onto_wrong_type_not_quoted
    # text in a misspelled key: refused at create, its text never seen
    assert put(R1 + "tokn", b"glrt-ScratchText-k13\n") is not None
    # text in a scratch file (a tool's temp name: not a secret), renamed onto an integer
    assert put(R1 + "token.new", b"glrt-ScratchText-k13\n") is None
    try:
        os.rename(m.path(R1 + "token.new"), m.path(R1 + "limit"))
    except OSError:
        pass
    # config.toml whole, broken right at a secret
    cfg = m.read_config()
    for broken in (cfg.replace(b'token = "glrt-t3_', b'token = glrt-BareWordSecret-k14_'),
                   cfg.replace(b'token = "glrt-t3_0123456789abcdefghij"',
                               b'token = "glrt-Unterminated-k15'),
                   cfg.replace(b'token = "glrt-t3_0123456789abcdefghij"',
                               b'token = "glrt-BadEscape-k16\\q"'),
                   cfg.replace(b'token = "glrt-t3_0123456789abcdefghij"',
                               b'token = "glrt-Dup-k17"\n  token = "glrt-Dup-k17"')):
        assert put("config.toml", broken) is not None
    extra += ["BareWordSecret-k14", "glrt-Unterminated-k15", "glrt-BadEscape-k16", "glrt-Dup-k17"]
    # CONFIG broken from outside, at a secret; then repaired
    good = m.read_config()
    with open(m.config, "wb") as f:
        f.write(good.replace(b'token = "glrt-t3_', b'token = glrt-OutsideBroken-k18_'))
    extra.append("glrt-OutsideBroken-k18")
    rfs.wait_for(lambda: "parses: no" in m.status(), 10, what="status to say the file does not parse")
    assert put("concurrent", b"3\n") is not None
    with open(m.config, "wb") as f:
        f.write(good)
    rfs.wait_for(lambda: "parses: yes" in m.status(), 10, what="status to recover")
    return extra


@pytest.mark.parametrize("level", ["-f", "-d"], ids=["log-default", "log-debug"])
def test_no_secret_in_anything_the_daemon_writes(pmount, tmp_path, level):
    m = pmount(config_bytes(), args=["-d"] if level == "-d" else [])
    extra = exercise(m, tmp_path)
    status = m.status()
    errors = "\n".join(m.errors())
    time.sleep(0.3)
    log = m.log()
    markers = leak_markers() | set(e for e in extra if len(e) >= 6)
    places = {"log": log, ".runnerfs/status": status, ".runnerfs/errors": errors}
    leaks = ["%s contains %r" % (where, s) for where, text in places.items() for s in sorted(markers)
             if s in text]
    # base64 and JSON-escaped forms too
    for where, text in places.items():
        for s in list(markers):
            for form in (base64.b64encode(s.encode()).decode(), json.dumps(s)[1:-1]):
                if len(form) >= 8 and form in text and form != s:
                    leaks.append("%s contains %r (a form of %r)" % (where, form, s))
    nerr = len(m.errors())
    print("\nprivacy %s: %d secret values and fragments looked for in %d log lines (%d bytes), "
          "status, %d error lines: %d found"
          % (level, len(markers), log.count("\n"), len(log), nerr, len(leaks)))
    assert nerr >= 10 and log.count("\n") >= 10, "test too weak: %d errors, %d log lines" % (
        nerr, log.count("\n"))
    assert not leaks, "\n".join(leaks)


def test_secret_moved_onto_wrong_type_not_quoted(pmount):
    m = pmount(config_bytes())
    before = m.read_config()
    try:
        os.rename(m.path(R1 + "token"), m.path(R1 + "limit"))
    except OSError as e:
        assert e.errno == errno.EINVAL, e
    else:
        raise AssertionError("mv token limit succeeded")
    assert m.read_config() == before
    time.sleep(0.2)
    for where, text in (("log", m.log()), (".runnerfs/errors", "\n".join(m.errors()))):
        assert SECRETS["token1"] not in text, "%s quotes the token: %s" % (
            where, [l for l in text.splitlines() if SECRETS["token1"] in l])


# --------------------------------------------------------------------------
# temp files of the write-back


def test_temp_file_created_0600_exclusive(pmount):
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    m = pmount(config_bytes(), mode=0o640)
    out = m.workdir / "strace.txt"
    st = subprocess.Popen(["strace", "-f", "-qq", "-o", str(out), "-e",
                           "trace=openat,fchmod,fchown,renameat,renameat2,rename,unlinkat,write",
                           "-e", "write=none", "-s", "0", "-p", str(m.proc.pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # attached to every thread of the daemon before the first write
        def traced():
            tasks = os.listdir("/proc/%d/task" % m.proc.pid)
            for t in tasks:
                with open("/proc/%d/task/%s/status" % (m.proc.pid, t)) as f:
                    if "TracerPid:\t0\n" in f.read():
                        return False
            return True
        rfs.wait_for(traced, 10, what="strace to attach to every thread of the daemon")
        n = 20
        for i in range(n):
            assert rfs.try_write(m.path("concurrent"), b"%d\n" % (10 + i)) is None
    finally:
        time.sleep(0.3)
        st.terminate()
        st.wait(10)
    text = out.read_text()
    dirfds = {}
    creates = re.findall(r'openat\((\d+), "(\.config\.toml\.runnerfs-[A-Za-z0-9]{6})", ([A-Z_|]+), (0\d+)\)'
                         r' = (\d+)', text)
    assert len(creates) >= n, "saw %d temp file creations for %d writes:\n%s" % (len(creates), n, text[-3000:])
    problems = []
    for dfd, name, flags, mode, fd in creates:
        fl = set(flags.split("|"))
        if not {"O_CREAT", "O_EXCL"} <= fl:
            problems.append("%s opened with %s (no O_CREAT|O_EXCL)" % (name, flags))
        if mode != "0600":
            problems.append("%s created with mode %s" % (name, mode))
        dirfds[dfd] = True
    for dfd in dirfds:
        target = os.readlink("/proc/%d/fd/%s" % (m.proc.pid, dfd))
        if target != str(m.config_dir):
            problems.append("temp files created relative to fd %s = %s, not CONFIG's directory" % (dfd, target))
    # the mode becomes CONFIG's (0640) only by fchmod on the open temp file, before the rename
    chmods = re.findall(r"fchmod\(\d+, (0\d+)\)", text)
    if set(chmods) != {"0640"}:
        problems.append("fchmod modes %s, expected only CONFIG's 0640" % sorted(set(chmods)))
    renames = re.findall(r'rename(?:at2?)?\(\d+, "(\.config\.toml\.runnerfs-[A-Za-z0-9]{6})", \d+, "config\.toml"',
                         text)
    if len(renames) < n:
        problems.append("only %d renames onto config.toml" % len(renames))
    print("\nprivacy: %d temp files created O_CREAT|O_EXCL 0600 in %s, fchmod to 0640 before %d renames"
          % (len(creates), m.config_dir, len(renames)))
    assert not problems, "\n".join(problems)
    st_ = os.stat(m.config)
    assert (stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid) == (0o640,) + OWNER


def test_temp_file_never_seen_wider_than_0600(pmount):
    """An inotify watcher lstat()s each temp file the moment it appears,
    while a writer commits in a loop (CONFIG is 0600)."""
    m = pmount(config_bytes())
    caught = {}
    with rfs.DirWatch(m.config_dir) as w:
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                for mask, name in w.poll():
                    if mask & rfs.IN_CREATE and name.startswith(".config.toml.runnerfs-"):
                        try:
                            st = os.lstat(os.path.join(m.config_dir, name))
                        except FileNotFoundError:
                            continue
                        caught[name] = (stat.S_IMODE(st.st_mode), st.st_uid)
                w.events.clear()
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        for i in range(200):
            assert rfs.try_write(m.path("concurrent"), b"%d\n" % (10 + i)) is None
        time.sleep(0.2)
        stop.set()
        t.join(5)
    modes = {v[0] for v in caught.values()}
    print("\nprivacy: 200 commits, %d temp files caught by inotify+lstat, modes seen: %s"
          % (len(caught), sorted("%04o" % x for x in modes)))
    assert caught, "no temp file was caught: the test is too slow to see them"
    assert modes <= {0o600}, "a temp file was seen with mode(s) %s" % sorted("%04o" % x for x in modes)
