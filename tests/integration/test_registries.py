"""Issue 5 / contract 5: private-registry credentials as directories, kept in
the DOCKER_AUTH_CONFIG element of a runner's `environment` (docs/filesystem.md,
"Registries"; the JSON shape: reference/gitlab-runner-config.md section 5).

Every change is checked three ways: the JSON inside each changed element
decodes (json) to exactly what is expected; tomllib reads the rest of the
file unchanged; and config.toml is byte-exact: only the element's bytes
changed, written as the daemon writes it (cJSON's unformatted print inside a
TOML string of the element's own quoting). Every failed operation: its errno,
at the step (write(), close(), mkdir, ...) where it must come, and
config.toml byte-identical. At the end of every test no credential used in
it appears in .runnerfs/status, .runnerfs/errors or the daemon's log."""

import base64
import copy
import errno
import json
import os
import stat

import pytest

from rfs import (DirWatch, IN_MOVED_TO, assert_bytes, assert_unchanged, describe,
                 insert_after, replace_once, same, toml_loads, try_write)
from tools import need, tmount  # noqa: F401 (tmount is a fixture)

PREFIX = "DOCKER_AUTH_CONFIG="
HUB = "https://index.docker.io/v1/"
HUB_DIR = "https:%2F%2Findex.docker.io%2Fv1%2F"
FIELDS = {"username", "password", "auth"}
WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


# --------------------------------------------------------------------------
# encodings, as the daemon writes them

def b64(user, pw):
    return base64.b64encode((user + ":" + pw).encode()).decode()


def unb64(s):
    u, colon, p = base64.b64decode(s, validate=True).decode().partition(":")
    assert colon, "auth %r has no ':'" % s
    return u, p


def toml_basic(s):
    """fs/toml/value.c write_basic."""
    esc = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
    out = []
    for ch in s:
        c = ord(ch)
        if ch in esc:
            out.append(esc[ch])
        elif c < 0x20 or c == 0x7F:
            out.append("\\u%04X" % c)
        else:
            out.append(ch)
    return ('"' + "".join(out) + '"').encode()


def toml_literal(s):
    """A literal string when it can be one, a basic one otherwise
    (fs/toml/value.c fits_literal)."""
    if "'" in s or any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in s):
        return toml_basic(s)
    return ("'" + s + "'").encode()


def cjson(obj):
    """cJSON_PrintUnformatted: no spaces, UTF-8 as it is, key order kept."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def element(obj, form="basic"):
    """The element the daemon writes for obj, in the element's quoting."""
    return (toml_literal if form == "literal" else toml_basic)(PREFIX + cjson(obj))


def human(obj, form="basic"):
    """An element as a person writes it: JSON with spaces."""
    s = PREFIX + json.dumps(obj, ensure_ascii=False)
    if form == "literal":
        assert "'" not in s
        return ("'" + s + "'").encode()
    return toml_basic(s)


def string_end(buf, i):
    """End (exclusive) of the TOML basic or literal string starting at i."""
    q = buf[i:i + 1]
    assert q in (b'"', b"'"), "no string at %d: %r" % (i, buf[i:i + 40])
    j = i + 1
    while j < len(buf):
        c = buf[j:j + 1]
        if q == b'"' and c == b"\\":
            j += 2
            continue
        if c == q:
            return j + 1
        assert c != b"\n", "string at %d does not end on its line" % i
        j += 1
    raise AssertionError("string at %d does not end" % i)


def decode_element(text):
    s = toml_loads(b"x = " + text + b"\n")["x"]
    assert s.startswith(PREFIX), s
    return json.loads(s[len(PREFIX):])


def runner_json(doc, i):
    """The JSON of runner i's DOCKER_AUTH_CONFIG (the last one), or None."""
    env = doc["runners"][i].get("environment", [])
    els = [e for e in env if isinstance(e, str) and e.startswith(PREFIX)]
    return json.loads(els[-1][len(PREFIX):]) if els else None


def strip(doc):
    """The document without DOCKER_AUTH_CONFIG elements (and without an
    environment that held nothing else)."""
    d = copy.deepcopy(doc)
    for r in d.get("runners", []):
        if "environment" in r:
            r["environment"] = [e for e in r["environment"] if not e.startswith(PREFIX)]
            if not r["environment"]:
                del r["environment"]
    return d


def ordered(obj):
    """obj with key order made visible (lists of pairs), for comparing it."""
    if isinstance(obj, dict):
        return [(k, ordered(v)) for k, v in obj.items()]
    if isinstance(obj, list):
        return [ordered(v) for v in obj]
    return obj


# --------------------------------------------------------------------------
# following config.toml through a test

class Track:
    """config.toml as the test expects it: its bytes, and for each runner
    (by position) the element text in the file, its JSON, its quoting."""

    def __init__(self, m, elems):
        self.m = m
        self.data = m.read_config()
        self.el = {}
        for i, (text, obj, form) in elems.items():
            assert self.data.count(text, self.start(self.data, i)) >= 1, "test bug: runner %d" % i
            assert decode_element(text) == obj, "test bug: element of runner %d" % i
            self.el[i] = [text, obj, form]

    @staticmethod
    def start(data, i):
        """Where runner i's table starts."""
        at = -1
        for _ in range(i + 1):
            at = data.index(b"[[runners]]", at + 1)
        return at

    def obj(self, i):
        return copy.deepcopy(self.el[i][1])

    def ok(self, objs, exact=True):
        """After an operation: runner i's element was rewritten in place to
        hold objs[i]; nothing else in the file changed. exact: its bytes
        are what the daemon writes (cJSON, the element's quoting)."""
        before, after = self.data, self.m.read_config()
        spans = sorted((before.index(self.el[i][0], self.start(before, i)), i) for i in objs)
        cb = ca = 0
        for pos, i in spans:
            old, _, form = self.el[i]
            gap = before[cb:pos]
            if after[ca:ca + len(gap)] != gap:
                assert_bytes(after, before)  # shows where it differs
            ca += len(gap)
            end = string_end(after, ca)
            new = after[ca:end]
            got = decode_element(new)
            assert got == objs[i], "runner %d: DOCKER_AUTH_CONFIG is\n%s\nexpected\n%s" % (
                i, json.dumps(got, indent=1), json.dumps(objs[i], indent=1))
            if exact:
                assert ordered(got) == ordered(objs[i]), "runner %d: key order changed:\n%s\nexpected\n%s" % (
                    i, cjson(got), cjson(objs[i]))
                assert new == element(objs[i], form), "runner %d: element is\n%r\nexpected\n%r" % (
                    i, new, element(objs[i], form))
            # a literal string that had to become basic stays basic
            self.el[i] = [new, objs[i], "literal" if new.startswith(b"'") else "basic"]
            cb, ca = pos + len(old), end
        if after[ca:] != before[cb:]:
            assert_bytes(after, before)
        assert same(strip(toml_loads(after)), strip(toml_loads(before)))
        self.data = after
        return after

    def ok_bytes(self, expected, objs, forms=None):
        """After an operation that made or removed elements: config.toml is
        exactly `expected`; runner i's JSON is objs[i] (None: no element)."""
        before, after = self.data, self.m.read_config()
        doc = toml_loads(after)
        for i, obj in objs.items():
            got = runner_json(doc, i)
            assert got == obj, "runner %d: DOCKER_AUTH_CONFIG is %r, expected %r" % (i, got, obj)
        assert same(strip(doc), strip(toml_loads(before)))
        assert_bytes(after, expected)
        for i, obj in objs.items():
            if obj is None:
                self.el.pop(i, None)
            else:
                form = (forms or {}).get(i) or (self.el[i][2] if i in self.el else "basic")
                self.el[i] = [element(obj, form), obj, form]
        self.data = after
        return after

    def unchanged(self):
        assert_unchanged(self.data, self.m.read_config())


# --------------------------------------------------------------------------
# fixtures

HEAD = b'concurrent = 4\ncheck_interval = 0\n\n[session_server]\n  session_timeout = 1800\n'

F_ZERO = HEAD


def runner(name, env_line=b"", extra=b""):
    return (b'\n[[runners]]\n  name = "' + name.encode() + b'"\n  url = "https://gitlab.example.com"\n'
            b'  token = "glrt-' + name.encode() + b'-token"\n  executor = "docker"\n' + env_line + extra +
            b'  [runners.docker]\n    image = "alpine:3.19"\n    volumes = ["/cache"]\n')


# one runner, `docker login` style (auth only), variables before and after
LOGIN = {"auths": {"registry.example.com:5000": {"auth": b64("deploy", "s3cretDeployPw")},
                   HUB: {"auth": b64("hubuser", "dckr_pat_HubSecret1")},
                   "ghcr.io": {"auth": b64("octocat", "ghp_GhcrSecret22")}}}
LOGIN_EL = human(LOGIN)
F_LOGIN = HEAD + runner("build-01", b'  environment = ["GIT_DEPTH=10", ' + LOGIN_EL + b', "LANG=C.UTF-8"]\n')
R5000 = "runners/build-01/registries/registry.example.com:5000/"

# several runners: shared.example.com everywhere with the same credentials,
# diff.example.com everywhere with different ones, half.example.com in two
# with different ones; gamma's element is literal-quoted and has credsStore
CI = ("ci-bot", "c0mmonSharedPw")
ALPHA = {"auths": {"shared.example.com": {"auth": b64(*CI)},
                   "diff.example.com": {"auth": b64("alpha", "alphaSecretPw")}}}
BETA = {"auths": {"diff.example.com": {"auth": b64("beta", "betaSecretPw")},
                  "shared.example.com": {"auth": b64(*CI)},
                  "half.example.com": {"auth": b64("half", "halfSecretOne")}}}
GAMMA = {"credsStore": "pass",
         "auths": {"half.example.com": {"auth": b64("half", "halfSecretTwo")},
                   "shared.example.com": {"auth": b64(*CI)},
                   "diff.example.com": {"auth": b64("gamma", "gammaSecretPw")}}}
F_MANY = (HEAD + runner("alpha", b'  environment = ["A=1", ' + human(ALPHA) + b']\n')
          + runner("beta", b'  environment = [' + human(BETA) + b', "B=2"]\n')
          + runner("gamma", b"  environment = [" + human(GAMMA, "literal") + b"]\n"))
MANY_ELEMS = {0: (human(ALPHA), ALPHA, "basic"), 1: (human(BETA), BETA, "basic"),
              2: (human(GAMMA, "literal"), GAMMA, "literal")}

# username/password fields, identitytoken, credsStore, credHelpers and unknown
# fields (key order: credsStore first); literal-quoted element in a
# multi-line environment with comments
FIELDS_JSON = {
    "credsStore": "desktop",
    "auths": {"fields.example.com": {"username": "bob", "password": "hunter2Fields", "email": "bob@example.com"},
              "acr.example.io": {"auth": b64("00000000-0000-0000-0000-000000000000", ""),
                                 "identitytoken": "eyJhbGciOiJSUzI1NiJ9.IdentityTokenSecret"}},
    "credHelpers": {"gcr.io": "gcloud", "123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
    "HttpHeaders": {"User-Agent": "runnerfs-test"},
    "x-unknown": [1, 2, {"deep": True, "s": "kept"}]}
FIELDS_EL = human(FIELDS_JSON, "literal")
BASICQ = {"auths": {"r.example.com": {"auth": b64("robot", "robotSecretPw")}},
          "credHelpers": {"gcr.io": "gcloud"}}
F_FIELDS = (HEAD + runner("fields", b'  environment = [\n'
                                    b'    # proxy settings\n'
                                    b'    "HTTP_PROXY=http://proxy.example.com:3128",  # the office proxy\n'
                                    b'    ' + FIELDS_EL + b',  # registries\n'
                                    b'    "NO_PROXY=localhost,.example.com",\n'
                                    b'  ]\n')
            + runner("basicq", b'  environment = ["FIRST=1", ' + human(BASICQ) + b', "LAST=2"]\n'))
FIELDS_ELEMS = {0: (FIELDS_EL, FIELDS_JSON, "literal"), 1: (human(BASICQ), BASICQ, "basic")}
FDIR = "runners/fields/registries/"

# no DOCKER_AUTH_CONFIG anywhere: no environment; a multi-line one with
# comments; a literal-quoted one
F_NOENV = (HEAD + runner("plain")
           + runner("vars", b'  environment = [\n    # build\n    "GIT_DEPTH=10",\n'
                            b'    "LANG=C.UTF-8", # locale\n  ]\n')
           + runner("lit", b"  environment = ['A=1', 'B=2']\n"))

# invalid JSON in the second runner
GOOD = {"auths": {"r.example.com": {"auth": b64("good", "goodSecretPw")}}}
BAD_EL = b'"DOCKER_AUTH_CONFIG={\\"auths\\": {\\"r.example.com\\": {\\"auth\\": \\"YmFkOmJhZFNlY3JldFB3\\"}}"'
F_BAD = (HEAD + runner("good", b'  environment = [' + human(GOOD) + b']\n')
         + runner("bad", b'  environment = ["A=1", ' + BAD_EL + b', "B=2"]\n'))

# every credential a test uses: none may show in status, errors or the log
SECRETS = {"s3cretDeployPw", "dckr_pat_HubSecret1", "ghp_GhcrSecret22", "c0mmonSharedPw",
           "alphaSecretPw", "betaSecretPw", "halfSecretOne", "halfSecretTwo", "gammaSecretPw",
           "hunter2Fields", "IdentityTokenSecret", "robotSecretPw", "goodSecretPw", "badSecretPw",
           "YmFkOmJhZFNlY3JldFB3"}
for _j in (LOGIN, ALPHA, BETA, GAMMA, FIELDS_JSON, BASICQ, GOOD):
    for _e in _j["auths"].values():
        if "auth" in _e and len(_e["auth"]) > 12:
            SECRETS.add(_e["auth"])


def no_leak(m, secrets):
    texts = {"daemon log": m.log()}
    if m.mounted():
        texts["status"] = m.status()
        texts[".runnerfs/errors"] = "\n".join(m.errors())
    found = ["%r in %s" % (s, where) for where, t in texts.items() for s in secrets if s and s in t]
    assert not found, "credentials leaked: %s" % ", ".join(found)


@pytest.fixture
def mount(runnerfs):
    """mount(config, options=()) -> Mount with .secrets (add the ones a test
    makes up); at the end no secret is in status, errors or the log."""
    made = []

    def start(config, options=()):
        m = runnerfs(config, options=list(options))
        m.secrets = set(SECRETS)
        made.append(m)
        return m

    yield start
    for m in made:
        no_leak(m, m.secrets)


def write(m, rel, data, chunks=None):
    if isinstance(data, str):
        data = data.encode()
    return try_write(m.path(rel), data, flags=WRITE, chunks=chunks)


def ok_write(m, rel, data):
    res = write(m, rel, data)
    assert res is None, "writing %s: %s\nerrors: %s" % (rel, describe(res), m.errors()[-3:])


def rejected(res, step, code, what):
    assert res is not None, "%s succeeded; it must fail with %s" % (what, errno.errorcode[code])
    assert res == (step, code), "%s: %s, expected %s() to fail with %s" % (
        what, describe(res), step, errno.errorcode[code])


def fails(m, cmd, code):
    r = m.sh(cmd, check=False)
    assert r.returncode != 0, "`%s` succeeded; it must fail (%s)" % (cmd, errno.errorcode[code])
    assert os.strerror(code).encode() in r.stderr, "`%s`: %r, expected %s" % (
        cmd, r.stderr, os.strerror(code))


def read(m, rel):
    return m.read(rel).decode()


def mode(m, rel):
    return stat.S_IMODE(os.stat(m.path(rel)).st_mode)


# --------------------------------------------------------------------------
# reading

def test_read_login_style(mount):
    m = mount(F_LOGIN)
    d = "runners/build-01/registries"
    assert m.listdir(d) == {"registry.example.com:5000", HUB_DIR, "ghcr.io"}
    assert os.listdir(m.path(d)) == ["registry.example.com:5000", HUB_DIR, "ghcr.io"]  # JSON order
    for host, (u, p) in [("registry.example.com:5000", ("deploy", "s3cretDeployPw")),
                         (HUB_DIR, ("hubuser", "dckr_pat_HubSecret1")),
                         ("ghcr.io", ("octocat", "ghp_GhcrSecret22"))]:
        h = d + "/" + host + "/"
        assert m.listdir(h) == FIELDS
        assert read(m, h + "username") == u + "\n"
        assert read(m, h + "password") == p + "\n"
        assert read(m, h + "auth") == b64(u, p) + "\n"
        for f in FIELDS:
            assert mode(m, h + f) == 0o600, "%s%s is %o" % (h, f, mode(m, h + f))
    # one runner: every registry is common to all runners
    assert m.listdir("registries") == {"registry.example.com:5000", HUB_DIR, "ghcr.io"}
    assert read(m, "registries/ghcr.io/password") == "ghp_GhcrSecret22\n"
    for f in FIELDS:
        assert mode(m, "registries/ghcr.io/" + f) == 0o600
    assert_unchanged(F_LOGIN, m.read_config())


def test_read_fields_identitytoken_and_others(mount):
    m = mount(F_FIELDS)
    assert m.listdir(FDIR) == {"fields.example.com", "acr.example.io"}
    f = FDIR + "fields.example.com/"
    assert m.listdir(f) == {"username", "password", "email"}
    assert read(m, f + "username") == "bob\n"
    assert read(m, f + "password") == "hunter2Fields\n"
    assert read(m, f + "email") == "bob@example.com\n"
    a = FDIR + "acr.example.io/"
    assert m.listdir(a) == {"username", "password", "auth", "identitytoken"}
    assert read(m, a + "username") == "00000000-0000-0000-0000-000000000000\n"
    assert read(m, a + "password") == "\n"
    assert read(m, a + "identitytoken") == "eyJhbGciOiJSUzI1NiJ9.IdentityTokenSecret\n"
    for rel in [f + "username", f + "password", f + "email", a + "identitytoken", a + "auth"]:
        assert mode(m, rel) == 0o600, rel
    # credsStore, credHelpers, unknown fields are not registries
    assert m.listdir("runners/basicq/registries") == {"r.example.com"}
    assert m.listdir("registries") == set()
    assert_unchanged(F_FIELDS, m.read_config())


def test_zero_runners(mount):
    m = mount(F_ZERO)
    assert m.listdir("registries") == set()
    fails(m, "mkdir registries/reg.example.com", errno.ENOENT)
    assert_unchanged(F_ZERO, m.read_config())
    # a new runner starts with no registries, and no environment
    m.sh("mkdir runners/first")
    after = m.read_config()
    assert toml_loads(after)["runners"] == [{"name": "first"}]
    assert m.listdir("runners/first/registries") == set()
    # its first registry makes environment
    t = Track(m, {})
    m.sh("mkdir runners/first/registries/reg.example.com")
    obj = {"auths": {"reg.example.com": {}}}
    t.ok_bytes(insert_after(after, b'name = "first"\n', b'environment = [' + element(obj) + b']\n'),
               {0: obj})


# --------------------------------------------------------------------------
# writing username, password, auth

def test_write_password_reencodes_auth(mount):
    m = mount(F_LOGIN)
    t = Track(m, {0: (LOGIN_EL, LOGIN, "basic")})
    ok_write(m, R5000 + "password", "n3wDeployPw\n")
    m.secrets.add("n3wDeployPw")
    want = t.obj(0)
    want["auths"]["registry.example.com:5000"]["auth"] = b64("deploy", "n3wDeployPw")
    t.ok({0: want})
    assert read(m, R5000 + "password") == "n3wDeployPw\n"
    assert read(m, R5000 + "username") == "deploy\n"
    assert read(m, R5000 + "auth") == b64("deploy", "n3wDeployPw") + "\n"
    # the other view: environment shows the new element at once
    env = read(m, "runners/build-01/environment").split("\n")
    assert env[0] == "GIT_DEPTH=10" and env[2] == "LANG=C.UTF-8" and env[3:] == [""]
    assert env[1] == PREFIX + cjson(want)


def test_write_username_hub_host(mount):
    m = mount(F_LOGIN)
    t = Track(m, {0: (LOGIN_EL, LOGIN, "basic")})
    h = "runners/build-01/registries/" + HUB_DIR + "/"
    ok_write(m, h + "username", "newhubuser\n")
    want = t.obj(0)
    want["auths"][HUB]["auth"] = b64("newhubuser", "dckr_pat_HubSecret1")
    t.ok({0: want})
    assert read(m, h + "username") == "newhubuser\n"
    assert read(m, h + "password") == "dckr_pat_HubSecret1\n"


def test_write_auth_valid(mount):
    m = mount(F_LOGIN)
    t = Track(m, {0: (LOGIN_EL, LOGIN, "basic")})
    new = b64("robot$ci", "t0ken:with:colons")
    m.secrets |= {new, "t0ken:with:colons"}
    ok_write(m, R5000 + "auth", new + "\n")
    want = t.obj(0)
    want["auths"]["registry.example.com:5000"]["auth"] = new
    t.ok({0: want})
    assert read(m, R5000 + "username") == "robot$ci\n"
    assert read(m, R5000 + "password") == "t0ken:with:colons\n"  # split at the first ':'
    # an empty password is a password
    ok_write(m, R5000 + "auth", b64("robot", "") + "\n")
    want["auths"]["registry.example.com:5000"]["auth"] = b64("robot", "")
    t.ok({0: want})
    assert read(m, R5000 + "password") == "\n"


BAD_AUTH = {
    "not base64": "bm90!!QmFkU2VjcmV0MQ==",
    "no colon": base64.b64encode(b"nocolonBadSecret2").decode(),
    "empty user": b64("", "emptyUserBadSecret3"),
    "truncated base64": b64("user", "truncBadSecret4")[:-3],
}


@pytest.mark.parametrize("case", sorted(BAD_AUTH))
def test_write_auth_invalid(mount, case):
    m = mount(F_LOGIN)
    bad = BAD_AUTH[case]
    m.secrets |= {bad, "BadSecret", "emptyUserBadSecret3", "truncBadSecret4"}
    before = m.errors()
    rejected(write(m, R5000 + "auth", bad + "\n"), "write", errno.EINVAL, "writing auth (%s)" % case)
    assert_unchanged(F_LOGIN, m.read_config())
    assert read(m, R5000 + "auth") == b64("deploy", "s3cretDeployPw") + "\n"
    line = m.wait_error(before, "auth")
    assert "user:password" in line, line


def test_write_auth_in_two_writes(mount):
    """A valid auth is valid however many write() calls carry it."""
    m = mount(F_LOGIN)
    t = Track(m, {0: (LOGIN_EL, LOGIN, "basic")})
    new = b64("deploy", "twoChunkSecret")
    m.secrets |= {new, "twoChunkSecret"}
    res = write(m, R5000 + "auth", None, chunks=[new[:4].encode(), new[4:].encode() + b"\n"])
    assert res is None, "a valid auth written in two write() calls (%r, %r): %s" % (
        new[:4], new[4:], describe(res))
    want = t.obj(0)
    want["auths"]["registry.example.com:5000"]["auth"] = new
    t.ok({0: want})


@pytest.mark.parametrize("value", ["has:colon", ""])
def test_write_bad_username_fails_at_write(mount, value):
    """A user name with ':' cannot be told from the password in auth; an
    empty one is refused by the runner. Like auth, this must fail at
    write(): shells ignore errors from close()."""
    m = mount(F_LOGIN)
    res = write(m, R5000 + "username", value + "\n")
    assert_unchanged(F_LOGIN, m.read_config())
    rejected(res, "write", errno.EINVAL, "writing username %r" % value)


def test_unlink_username_password_auth(mount):
    """Unlinking username or password of an auth entry empties that half;
    unlinking auth removes it; rmdir removes the (then empty) entry."""
    m = mount(F_LOGIN)
    t = Track(m, {0: (LOGIN_EL, LOGIN, "basic")})
    want = t.obj(0)
    e = want["auths"]["registry.example.com:5000"]
    os.unlink(m.path(R5000 + "password"))
    e["auth"] = b64("deploy", "")
    t.ok({0: want})
    assert read(m, R5000 + "password") == "\n"
    os.unlink(m.path(R5000 + "username"))
    e["auth"] = b64("", "")
    t.ok({0: want})
    os.unlink(m.path(R5000 + "auth"))
    del e["auth"]
    t.ok({0: want})
    assert m.listdir(R5000) == set()
    os.rmdir(m.path(R5000))
    del want["auths"]["registry.example.com:5000"]
    t.ok({0: want})
    assert m.listdir("runners/build-01/registries") == {HUB_DIR, "ghcr.io"}


# --------------------------------------------------------------------------
# mkdir, rm -r, mv in one runner

def test_mkdir_rm_mv_in_runner(mount):
    m = mount(F_LOGIN)
    t = Track(m, {0: (LOGIN_EL, LOGIN, "basic")})
    d = "runners/build-01/registries/"
    want = t.obj(0)
    m.sh("mkdir " + d + "quay.io")
    want["auths"]["quay.io"] = {}
    t.ok({0: want})
    assert m.listdir(d + "quay.io") == set()
    m.sh("echo quayuser > %squay.io/username && echo quaySecretPw > %squay.io/password" % (d, d))
    m.secrets.add("quaySecretPw")
    want["auths"]["quay.io"] = {"auth": b64("quayuser", "quaySecretPw")}
    t.data = m.read_config()  # two writes: checked as one change
    t.el[0] = [element(want), want, "basic"]
    assert runner_json(toml_loads(t.data), 0) == want and t.data.count(element(want)) == 1
    assert read(m, d + "quay.io/auth") == b64("quayuser", "quaySecretPw") + "\n"
    # mv: the key changes, its place stays
    m.sh("mv %sregistry.example.com:5000 %sregistry.example.com:5443" % (d, d))
    want["auths"] = {("registry.example.com:5443" if k == "registry.example.com:5000" else k): v
                     for k, v in want["auths"].items()}
    t.ok({0: want})
    assert read(m, d + "registry.example.com:5443/password") == "s3cretDeployPw\n"
    assert "registry.example.com:5000" not in m.listdir(d)
    # mv to a name that needs encoding
    m.sh("mv %squay.io '%shttps:%%2F%%2Fquay.io%%2Fv1%%2F'" % (d, d))
    want["auths"] = {("https://quay.io/v1/" if k == "quay.io" else k): v for k, v in want["auths"].items()}
    t.ok({0: want})
    # mv onto an existing host: refused (rename(2) of a directory onto a
    # non-empty one: ENOTEMPTY or EEXIST; the daemon says EINVAL, which mv
    # shows as "cannot move ... to a subdirectory of itself")
    with pytest.raises(OSError) as ei:
        os.rename(m.path(d + "ghcr.io"), m.path(d + HUB_DIR))
    assert ei.value.errno in (errno.EINVAL, errno.EEXIST, errno.ENOTEMPTY), ei.value
    t.unchanged()
    # mv to another runner's registries/ that has that host already (the
    # new runner got the common ones): EEXIST, never EXDEV (mv would copy
    # and delete) nor EINVAL ("a subdirectory of itself")
    m.sh("mkdir runners/second")
    t.data = m.read_config()
    with pytest.raises(OSError) as ei:
        os.rename(m.path(d + "ghcr.io"), m.path("runners/second/registries/ghcr.io"))
    assert ei.value.errno in (errno.EEXIST, errno.EPERM), ei.value
    t.unchanged()
    # rm -r
    m.sh("rm -r %sghcr.io" % d)
    del want["auths"]["ghcr.io"]
    t.ok({0: want})
    assert m.listdir(d) == {"registry.example.com:5443", HUB_DIR, "https:%2F%2Fquay.io%2Fv1%2F"}


def test_rm_r_last_removes_element(mount):
    m = mount(F_LOGIN)
    t = Track(m, {0: (LOGIN_EL, LOGIN, "basic")})
    d = "runners/build-01/registries/"
    m.sh("rm -r %sghcr.io '%s%s'" % (d, d, HUB_DIR))
    want = {"auths": {"registry.example.com:5000": LOGIN["auths"]["registry.example.com:5000"]}}
    t.ok({0: want})
    m.sh("rm -r " + d + "registry.example.com:5000")
    t.ok_bytes(replace_once(F_LOGIN, b'"GIT_DEPTH=10", ' + LOGIN_EL + b', "LANG=C.UTF-8"',
                            b'"GIT_DEPTH=10", "LANG=C.UTF-8"'), {0: None})
    assert m.listdir(d) == set()
    assert m.listdir("registries") == set()
    assert read(m, "runners/build-01/environment") == "GIT_DEPTH=10\nLANG=C.UTF-8\n"
    # and the first one again: at the end of environment
    m.sh("mkdir " + d + "registry.example.com:5000")
    obj = {"auths": {"registry.example.com:5000": {}}}
    t.ok_bytes(replace_once(F_LOGIN, b'"GIT_DEPTH=10", ' + LOGIN_EL + b', "LANG=C.UTF-8"',
                            b'"GIT_DEPTH=10", "LANG=C.UTF-8", ' + element(obj)), {0: obj})


def test_mkdir_first_registry_makes_element(mount):
    m = mount(F_NOENV)
    t = Track(m, {})
    data = F_NOENV
    obj = {"auths": {"reg.example.com": {}}}
    # no environment: made, as a runner key, before its sub-tables
    m.sh("mkdir runners/plain/registries/reg.example.com")
    data = insert_after(data, b'executor = "docker"\n', b'  environment = [' + element(obj) + b']\n',
                        after=b'name = "plain"')
    t.ok_bytes(data, {0: obj})
    # a multi-line environment with comments: the element goes at the end
    m.sh("mkdir runners/vars/registries/reg.example.com")
    data = insert_after(data, b'"LANG=C.UTF-8", # locale\n', b"    " + element(obj) + b",\n")
    t.ok_bytes(data, {1: obj})
    # literal-quoted elements: the new one is literal too
    m.sh("mkdir runners/lit/registries/reg.example.com")
    data = replace_once(data, b"['A=1', 'B=2']", b"['A=1', 'B=2', " + element(obj, "literal") + b"]")
    t.ok_bytes(data, {2: obj}, forms={2: "literal"})
    # rm -r of the last one: the element goes, the rest of environment stays
    # (an environment made for the element goes with it: issue 14)
    m.sh("rm -r runners/*/registries/reg.example.com")
    t.ok_bytes(F_NOENV, {0: None, 1: None, 2: None})


def test_keeps_fields_store_helpers_unknown(mount):
    m = mount(F_FIELDS)
    t = Track(m, FIELDS_ELEMS)
    a = FDIR + "acr.example.io/"
    want = t.obj(0)
    # identitytoken: written as it is, in its place
    ok_write(m, a + "identitytoken", "eyJ.NewIdentityTokenSecret\n")
    m.secrets.add("NewIdentityTokenSecret")
    want["auths"]["acr.example.io"]["identitytoken"] = "eyJ.NewIdentityTokenSecret"
    t.ok({0: want})
    # username of an auth entry with an empty password
    ok_write(m, a + "username", "11111111-2222-3333-4444-555555555555\n")
    want["auths"]["acr.example.io"]["auth"] = b64("11111111-2222-3333-4444-555555555555", "")
    t.ok({0: want})
    # mkdir: at the end of auths
    m.sh("mkdir " + FDIR + "new.example.com")
    want["auths"]["new.example.com"] = {}
    t.ok({0: want})
    # mv keeps the place
    m.sh("mv %sacr.example.io %sacr2.example.io" % (FDIR, FDIR))
    want["auths"] = {("acr2.example.io" if k == "acr.example.io" else k): v for k, v in want["auths"].items()}
    t.ok({0: want})
    # rm -r of every registry: the element stays (credsStore, credHelpers, ...)
    m.sh("rm -r %s*" % FDIR)
    want["auths"] = {}
    t.ok({0: want})
    assert m.listdir(FDIR) == set()
    m.sh("rm -r runners/basicq/registries/r.example.com")
    want1 = t.obj(1)
    want1["auths"] = {}
    t.ok({1: want1})


def test_fields_entry_write_keeps_key_order(mount):
    """An entry with username/password fields: writing one changes that
    field in its place (docs: key order stays)."""
    m = mount(F_FIELDS)
    t = Track(m, FIELDS_ELEMS)
    f = FDIR + "fields.example.com/"
    ok_write(m, f + "username", "robert\n")
    want = t.obj(0)
    want["auths"]["fields.example.com"]["username"] = "robert"
    t.ok({0: want})
    assert m.listdir(f) == {"username", "password", "email"}  # no auth made
    ok_write(m, f + "password", "hunter3Fields\n")
    m.secrets.add("hunter3Fields")
    want["auths"]["fields.example.com"]["password"] = "hunter3Fields"
    t.ok({0: want})


def test_fields_entry_quote_makes_element_basic(mount):
    """A literal-quoted element whose JSON comes to hold a ' becomes a
    basic string (the value is what matters, not the quoting)."""
    m = mount(F_FIELDS)
    t = Track(m, FIELDS_ELEMS)
    f = FDIR + "fields.example.com/"
    ok_write(m, f + "password", "it's \"quoted\" \\ QuoteSecret\n")
    m.secrets.add("QuoteSecret")
    want = t.obj(0)
    want["auths"]["fields.example.com"]["password"] = "it's \"quoted\" \\ QuoteSecret"
    t.ok({0: want}, exact=False)  # exact order: test_fields_entry_write_keeps_key_order
    assert t.el[0][0].startswith(b'"DOCKER_AUTH_CONFIG={'), t.el[0][0]
    assert read(m, f + "password") == "it's \"quoted\" \\ QuoteSecret\n"


# --------------------------------------------------------------------------
# the root registries/: every runner

def test_root_registries_many(mount, tmp_path):
    m = mount(F_MANY)
    t = Track(m, MANY_ELEMS)
    # only the host every runner has with the same credentials
    assert m.listdir("registries") == {"shared.example.com"}
    assert m.listdir("runners/beta/registries") == {"diff.example.com", "shared.example.com", "half.example.com"}
    for h in ("diff.example.com", "half.example.com"):
        assert not os.path.exists(m.path("registries/" + h))
        fails(m, "echo x > registries/%s/password" % h, errno.ENOENT)
    t.unchanged()
    s = "registries/shared.example.com/"
    assert m.listdir(s) == FIELDS
    assert read(m, s + "username") == CI[0] + "\n"
    assert read(m, s + "password") == CI[1] + "\n"
    # a write there: every runner, in one write-back
    want = {i: t.obj(i) for i in range(3)}
    with DirWatch(m.config_dir) as w:
        ok_write(m, s + "password", "r0tatedSharedPw\n")
        renames = w.count(IN_MOVED_TO, "config.toml")
    m.secrets.add("r0tatedSharedPw")
    for i in range(3):
        want[i]["auths"]["shared.example.com"]["auth"] = b64(CI[0], "r0tatedSharedPw")
    t.ok(want)
    assert renames == 1, "a write to registries/ took %d write-backs" % renames
    for r in ("alpha", "beta", "gamma"):
        assert read(m, "runners/%s/registries/shared.example.com/password" % r) == "r0tatedSharedPw\n"
    # a runner's own change takes the host out of registries/
    ok_write(m, "runners/beta/registries/shared.example.com/username", "beta-bot\n")
    want[1]["auths"]["shared.example.com"]["auth"] = b64("beta-bot", "r0tatedSharedPw")
    t.ok({1: want[1]})
    assert m.listdir("registries") == set()
    ok_write(m, "runners/beta/registries/shared.example.com/username", CI[0] + "\n")
    want[1]["auths"]["shared.example.com"]["auth"] = b64(CI[0], "r0tatedSharedPw")
    t.ok({1: want[1]})
    assert m.listdir("registries") == {"shared.example.com"}
    # mkdir: every runner, in one write-back
    with DirWatch(m.config_dir) as w:
        m.sh("mkdir registries/new.example.com")
        renames = w.count(IN_MOVED_TO, "config.toml")
    for i in range(3):
        want[i]["auths"]["new.example.com"] = {}
    t.ok(want)
    assert renames == 1
    # an empty entry is the same everywhere; its first write is too
    assert m.listdir("registries") == {"shared.example.com", "new.example.com"}
    m.sh("echo newbot > registries/new.example.com/username")
    for i in range(3):
        want[i]["auths"]["new.example.com"] = {"auth": b64("newbot", "")}
    t.ok(want)
    # mv: every runner, each keeping the place
    m.sh("mv registries/shared.example.com registries/shared2.example.com")
    for i in range(3):
        want[i]["auths"] = {("shared2.example.com" if k == "shared.example.com" else k): v
                            for k, v in want[i]["auths"].items()}
    t.ok(want)
    # rm -r: every runner
    m.sh("rm -r registries/shared2.example.com registries/new.example.com")
    for i in range(3):
        del want[i]["auths"]["shared2.example.com"]
        del want[i]["auths"]["new.example.com"]
    t.ok(want)
    assert m.listdir("registries") == set()
    assert m.listdir("runners/alpha/registries") == {"diff.example.com"}


def test_root_registries_make_and_remove_elements(mount):
    m = mount(F_NOENV)
    t = Track(m, {})
    with DirWatch(m.config_dir) as w:
        m.sh("mkdir registries/reg.example.com")
        renames = w.count(IN_MOVED_TO, "config.toml")
    assert renames == 1
    obj = {"auths": {"reg.example.com": {}}}
    data = insert_after(F_NOENV, b'executor = "docker"\n', b'  environment = [' + element(obj) + b']\n',
                        after=b'name = "plain"')
    data = insert_after(data, b'"LANG=C.UTF-8", # locale\n', b"    " + element(obj) + b",\n")
    data = replace_once(data, b"['A=1', 'B=2']", b"['A=1', 'B=2', " + element(obj, "literal") + b"]")
    t.ok_bytes(data, {0: obj, 1: obj, 2: obj}, forms={2: "literal"})
    assert m.listdir("registries") == {"reg.example.com"}
    m.sh("echo rootuser > registries/reg.example.com/username; echo RootSecretPw > registries/reg.example.com/password")
    m.secrets.add("RootSecretPw")
    obj2 = {"auths": {"reg.example.com": {"auth": b64("rootuser", "RootSecretPw")}}}
    t.ok({0: obj2, 1: obj2, 2: obj2})
    for r in ("plain", "vars", "lit"):
        assert read(m, "runners/%s/registries/reg.example.com/password" % r) == "RootSecretPw\n"
    m.sh("rm -r registries/reg.example.com")
    t.ok_bytes(F_NOENV, {0: None, 1: None, 2: None})


def test_new_runner_gets_common_registries(mount):
    m = mount(F_MANY)
    before = m.read_config()
    m.sh("mkdir runners/delta")
    after = m.read_config()
    common = {"auths": {"shared.example.com": {"auth": b64(*CI)}}}
    assert_bytes(after, before + b'\n[[runners]]\n  name = "delta"\n  environment = [' + element(common) + b"]\n")
    doc = toml_loads(after)
    assert doc["runners"][:3] == toml_loads(before)["runners"]
    assert doc["runners"][3]["name"] == "delta"
    assert runner_json(doc, 3) == {"auths": {"shared.example.com": {"auth": b64(*CI)}}}
    assert doc["runners"][3]["environment"] == [PREFIX + cjson({"auths": {"shared.example.com": {"auth": b64(*CI)}}})]
    assert m.listdir("runners/delta/registries") == {"shared.example.com"}
    assert read(m, "runners/delta/registries/shared.example.com/password") == CI[1] + "\n"
    assert m.listdir("registries") == {"shared.example.com"}


# --------------------------------------------------------------------------
# invalid JSON

def test_invalid_json(mount):
    m = mount(F_BAD)
    errs = m.errors()
    data = m.read_config()
    # shown as it is in environment
    env = read(m, "runners/bad/environment")
    assert env == "A=1\n" + toml_loads(b"x = " + BAD_EL)["x"] + "\nB=2\n"
    # its registries/ is empty; the root's too (bad has none in common)
    assert m.listdir("runners/bad/registries") == set()
    line = m.wait_error(errs, "runners/bad/registries", "JSON")
    assert "not valid JSON" in line, line
    assert m.listdir("registries") == set()
    assert m.listdir("runners/good/registries") == {"r.example.com"}
    # nothing can change it
    fails(m, "mkdir runners/bad/registries/x.example.com", errno.EINVAL)
    fails(m, "mkdir registries/x.example.com", errno.EINVAL)   # would touch bad too
    fails(m, "echo pw > runners/bad/registries/r.example.com/password", errno.ENOENT)
    assert_unchanged(data, m.read_config())
    new = [x for x in m.errors() if x not in errs]
    assert any("JSON" in x and x.split(": ")[0].endswith(" registries/x.example.com") for x in new), new
    line = [x for x in new if "runners/bad/registries/x.example.com" in x]
    assert line and "JSON" in line[0], new
    runner_line = line[0]  # checked at the end
    # other changes leave the element alone, byte for byte
    t = Track(m, {0: (human(GOOD), GOOD, "basic")})
    ok_write(m, "runners/good/registries/r.example.com/password", "goodNewSecretPw\n")
    m.secrets.add("goodNewSecretPw")
    want = t.obj(0)
    want["auths"]["r.example.com"]["auth"] = b64("good", "goodNewSecretPw")
    t.ok({0: want})
    before = m.read_config()
    ok_write(m, "runners/bad/url", "https://gitlab2.example.com\n")
    assert_bytes(m.read_config(), replace_once(before, b'url = "https://gitlab.example.com"',
                                               b'url = "https://gitlab2.example.com"', after=b'name = "bad"'))
    m.sh("mkdir runners/delta")  # nothing in common: no registries, bad untouched
    after = m.read_config()
    assert BAD_EL in after and "environment" not in toml_loads(after)["runners"][2]
    # a person fixes it in environment: registries/ works again
    fixed = {"auths": {"r.example.com": {"auth": "YmFkOmJhZFNlY3JldFB3"}}}
    ok_write(m, "runners/bad/environment", "A=1\n%s%s\nB=2\n" % (PREFIX, json.dumps(fixed)))
    assert m.listdir("runners/bad/registries") == {"r.example.com"}
    assert read(m, "runners/bad/registries/r.example.com/password") == "badSecretPw\n"
    # the error named the runner (by name or 1-based number), not "runner 0"
    assert "runner 0 " not in runner_line, runner_line


def test_invalid_json_in_first_runner(mount):
    bad_first = (HEAD + runner("bad", b'  environment = [' + BAD_EL + b']\n')
                 + runner("good", b'  environment = [' + human(GOOD) + b']\n'))
    m = mount(bad_first)
    errs = m.errors()
    assert m.listdir("registries") == set()
    m.wait_error(errs, "JSON")
    fails(m, "mkdir registries/x.example.com", errno.EINVAL)
    assert_unchanged(bad_first, m.read_config())
    m.sh("mkdir runners/third")
    assert "environment" not in toml_loads(m.read_config())["runners"][2]
    assert BAD_EL in m.read_config()


# --------------------------------------------------------------------------
# two views of one value

def test_environment_edit_shows_in_registries(mount):
    m = mount(F_LOGIN)
    obj = {"auths": {"reg.example.com": {"auth": b64("envuser", "EnvSecretPw")}}, "credsStore": "pass"}
    m.secrets |= {"EnvSecretPw", b64("envuser", "EnvSecretPw")}
    ok_write(m, "runners/build-01/environment", "GIT_DEPTH=10\n%s%s\nLANG=C.UTF-8\n" % (PREFIX, json.dumps(obj)))
    assert_bytes(m.read_config(), replace_once(F_LOGIN, LOGIN_EL, human(obj)))
    assert m.listdir("runners/build-01/registries") == {"reg.example.com"}
    assert read(m, "runners/build-01/registries/reg.example.com/password") == "EnvSecretPw\n"
    assert m.listdir("registries") == {"reg.example.com"}
    # and back: a registry change shows in environment
    t = Track(m, {0: (human(obj), obj, "basic")})
    ok_write(m, "runners/build-01/registries/reg.example.com/password", "EnvSecretPw2\n")
    m.secrets.add("EnvSecretPw2")
    obj["auths"]["reg.example.com"]["auth"] = b64("envuser", "EnvSecretPw2")
    t.ok({0: obj})
    assert read(m, "runners/build-01/environment").split("\n")[1] == PREFIX + cjson(obj)
    # removing the element through environment removes the registries
    ok_write(m, "runners/build-01/environment", "GIT_DEPTH=10\nLANG=C.UTF-8\n")
    assert m.listdir("runners/build-01/registries") == set()
    assert m.listdir("registries") == set()


# --------------------------------------------------------------------------
# credentials that need escaping: TOML, JSON, base64

ODD = [
    ("colons", "deploy", "pa:ss:wordOdd1"),
    ("unicode", "jürgen", "pässwörd✓🔑Odd2"),
    ("quotes", "o\"brien's", "say \"hi\" it'sOdd3"),
    ("backslashes", "dom\\user", "C:\\path\\n\\\"xOdd4"),
    ("spaces", "first last", "  lead and trail Odd5  "),
    ("inner newline", "nl", "line1\nline2Odd6"),
    ("trailing newline", "tnl", "Odd7\n"),  # written with one more
    ("controls", "ctl", "a\tb\x01c\x7fOdd8"),
]


@pytest.mark.parametrize("form", ["basic", "literal"])
@pytest.mark.parametrize("entry", ["auth", "fields"])
def test_credentials_round_trip(mount, form, entry):
    e = ({"auth": b64("start", "StartSecret0")} if entry == "auth"
         else {"username": "start", "password": "StartSecret0"})
    obj = {"auths": {"odd.example.com": e}}
    el = human(obj, form)
    config = HEAD + runner("odd", b'  environment = ["X=1", ' + el + b', "Y=2"]\n')
    m = mount(config)
    m.secrets |= {"StartSecret0"} | {p.strip() for _, _, p in ODD}
    t = Track(m, {0: (el, obj, form)})
    d = "runners/odd/registries/odd.example.com/"
    for name, user, pw in ODD:
        for field, value in (("username", user), ("password", pw)):
            ok_write(m, d + field, value + "\n")
            got = runner_json(toml_loads(m.read_config()), 0)["auths"]["odd.example.com"]
            if entry == "auth":
                e = {"auth": b64(user, pw if field == "password" else unb64(e["auth"])[1])}
                assert unb64(got["auth"]) == unb64(e["auth"]), name
            else:
                e = dict(e)
                e[field] = value
            t.ok({0: {"auths": {"odd.example.com": e}}}, exact=(entry == "auth"))
            assert read(m, d + field) == value + "\n", "%s: %s" % (name, field)
        assert read(m, d + "username") == user + "\n", name
        assert read(m, d + "password") == pw + "\n", name
        if entry == "auth":
            assert read(m, d + "auth") == b64(user, pw) + "\n"
        m.secrets.add(b64(user, pw)) if entry == "auth" else None


# --------------------------------------------------------------------------
# editors

@pytest.mark.parametrize("tool", ["sed -i", "vim"])
def test_editor_saves_password(tmount, tool):
    need(tool.split()[0])
    t = tmount(F_LOGIN)
    rel = R5000 + "password"
    cmd = {"sed -i": "sed -i 's/.*/EditedSecretPw/' {p}",
           "vim": "vim -N -u NONE -Es -c 'set backupcopy=auto' -c '1s#.*#EditedSecretPw#' -c wq {p}"}[tool]
    want = copy.deepcopy(LOGIN)
    want["auths"]["registry.example.com:5000"]["auth"] = b64("deploy", "EditedSecretPw")
    expected = replace_once(F_LOGIN, LOGIN_EL, element(want))
    t.edit(cmd.format(p=t.q(rel)), rel, b"EditedSecretPw\n", expected)
    assert t.read(R5000 + "auth") == (b64("deploy", "EditedSecretPw") + "\n").encode()
    # a second save works the same
    want["auths"]["registry.example.com:5000"]["auth"] = b64("deploy", "EditedSecretPw2")
    t.edit(cmd.replace("EditedSecretPw", "EditedSecretPw2").format(p=t.q(rel)), rel, b"EditedSecretPw2\n",
           replace_once(F_LOGIN, LOGIN_EL, element(want)))
    no_leak(t.m, SECRETS | {"EditedSecretPw"})


# --------------------------------------------------------------------------
# no credential in a log line, an error or the status

def test_no_credential_in_errors_status_or_log(mount):
    m = mount(F_MANY, options=["debug"])
    secret = "LeakCanaryS3cret"
    m.secrets |= {secret, b64("canary", secret), base64.b64encode(secret.encode()).decode()}
    d = "runners/alpha/registries/shared.example.com/"
    # bad auth: no colon; not base64 with the secret in clear; empty user
    for bad in (base64.b64encode(secret.encode()).decode(), secret + "!!", b64("", secret)):
        assert write(m, d + "auth", bad + "\n") is not None, bad
    # user names that are refused, carrying the secret
    write(m, d + "username", secret + ":x\n")
    # good writes
    ok_write(m, d + "password", secret + "\n")
    m.sh("mkdir runners/alpha/registries/canary.example.com")
    ok_write(m, "runners/alpha/registries/canary.example.com/username", "canary\n")
    ok_write(m, "runners/alpha/registries/canary.example.com/password", secret + "\n")
    m.sh("mv runners/alpha/registries/canary.example.com runners/alpha/registries/canary2.example.com")
    m.sh("rm -r runners/alpha/registries/canary2.example.com")
    # invalid JSON holding the secret, through environment
    ok_write(m, "runners/beta/environment", '%s{"auths": {"x": {"password": "%s"}}\n' % (PREFIX, secret))
    assert m.listdir("runners/beta/registries") == set()
    assert m.errors(), "no error line at all"
    # the check sees what it looks for: the secret is in config.toml, and
    # the debug log has the operations
    assert secret in m.read_config().decode() and "canary2.example.com" in m.log()
    no_leak(m, m.secrets)
