"""Hostile input through every write path (issue 8, "TOML injection").

Values with quotes, backslashes, newlines, NUL bytes, `]`, `[[runners]]`,
`\"\"\"`, `'''`, invalid UTF-8, control bytes and 1 MB lines are written to
every kind of key and through every write path: string value files (basic,
literal, multi-line basic and multi-line literal strings, a secret, a new
key, a key of an open map), integer, boolean and datetime files, array
files (whole write and `>>`), a scratch file renamed onto a key (sed -i),
a runner's and the shared registries' username/password/auth, names via
`mkdir` and `mv` (runners and registries), and config.toml whole.

Each write either round-trips exactly (a read gives back what was written,
minus one trailing newline plus one for strings; the parsed document holds
that value) or fails with EINVAL and leaves config.toml byte-identical.
Either way config.toml parses (tomllib) and its structure does not change:
the parsed document is the old one with only that value different.
For whole-file writes the verdict is compared with tomllib's: a document
tomllib rejects must be rejected, one it accepts is stored byte for byte.
"""

import base64
import copy
import errno
import json
import os
import time

import pytest

import rfs

F01 = rfs.fixture("01-register-docker.toml")
F06 = rfs.fixture("06-scripts-quoted-keys.toml")
MB = 1 << 20

VALUES = [
    ("quote", b'say "hi"'),
    ("backslash", b"C:\\path\\"),
    ("escape-text", b'\\n\\t\\u0000\\"'),
    ("newline", b"two\nlines"),
    ("nul", b"nul\x00byte"),
    ("bracket", b"]"),
    ("injection", b'x"\n[[runners]]\nname = "evil"\ntoken = "'),
    ("header", b"[[runners]]"),
    ("triple-dq", b'"""'),
    ("triple-sq", b"'''"),
    ("mixed-triples", b"a\"\"\"b'''c\""),
    ("bad-utf8", b"\xff\xfe"),
    ("bad-utf8-cut", b"bad \xc3("),
    ("surrogate", b"\xed\xa0\x80"),
    ("overlong", b"\xc0\xaf"),
    ("tab", b"tab\there"),
    ("cr", b"cr\rhere"),
    ("crlf", b"crlf\r\n"),
    ("esc", b"\x1b[31mred"),
    ("del", b"x\x7f"),
    ("comment", b"# not a comment"),
    ("assignment", b'k = "v"'),
    ("lone-backslash", b"\\"),
    ("lone-quote", b'"'),
    ("lone-apostrophe", b"'"),
    ("empty", b""),
    ("just-newline", b"\n"),
    ("two-newlines", b"end\n\n"),
    ("spaces", b"  padded  "),
    ("u2028", "a\u2028b".encode()),
    ("bom", b"\xef\xbb\xbfbom"),
    ("emoji", "\U0001F600 \u00e9".encode()),
    ("1MB-line", b"A" * MB),
    ("1MB-quotes", b'"\\' * (MB // 2)),
]
VALUE_IDS = [v[0] for v in VALUES]


def chomp(b):
    """One final line break is not part of a value: "\n", or a Windows
    editor's "\r\n" (docs/filesystem.md, Values)."""
    b = b[:-1] if b.endswith(b"\n") else b
    return b[:-1] if b.endswith(b"\r") else b


def utf8(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def lines_of(text):
    """A list: blank lines at its end are not elements, and a line may end
    in CR LF."""
    c = text
    while chomp(c) != c:
        c = chomp(c)
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in c.split(b"\n")] if c else []


def get(d, path):
    for p in path:
        d = d[p]
    return d


def setv(d, path, v):
    for p in path[:-1]:
        d = d[p]
    d[path[-1]] = v


def short(b):
    return repr(b if len(b) < 60 else b[:30] + b"..." + b[-20:])


class Checker:
    """Runs writes and records what was wrong, what was accepted."""

    def __init__(self, m, base=None):
        self.m = m
        self.base = base
        self.problems = []
        self.accepted = []
        self.rejected = []

    def fail(self, what, msg):
        self.problems.append("%s: %s" % (what, msg))

    def run(self, what, do, expect):
        """do() -> None or (step, errno). expect(before_doc) -> (doc, reads)
        where reads is {rel: bytes} to read back, or raises Reject if the
        write can only be rejected."""
        m = self.m
        self.reset()
        before = m.read_config()
        bdoc = rfs.toml_loads(before)
        res = do()
        after = m.read_config()
        try:
            adoc = rfs.toml_loads(after)
        except Exception as e:
            self.fail(what, "config.toml no longer parses: %s" % e)
            return
        if res is not None:
            self.rejected.append(what)
            if res[1] != errno.EINVAL:
                self.fail(what, "rejected with %s at %s(), not EINVAL" % (rfs.errname(res[1]), res[0]))
            if after != before:
                self.fail(what, "rejected, but config.toml changed")
            return
        self.accepted.append(what)
        try:
            want_doc, reads = expect(copy.deepcopy(bdoc))
        except Reject as e:
            self.fail(what, "accepted, but it cannot be stored (%s)" % e)
            return
        if not rfs.same(adoc, want_doc):
            self.fail(what, "the document changed otherwise:\n" + rfs._dict_diff(want_doc, adoc))
        for rel, want in reads.items():
            try:
                got = m.read(rel)
            except OSError as e:
                self.fail(what, "reading %s back: %s" % (rel, e))
                continue
            if got != want:
                self.fail(what, "%s reads back %s, expected %s" % (rel, short(got), short(want)))

    def reset(self):
        """Each case starts from the same document (a whole-file write),
        so that one case's outcome cannot mask or cause another's."""
        if self.base is not None and self.m.read_config() != self.base:
            res = rfs.try_write(self.m.path("config.toml"), self.base)
            assert res is None, "resetting config.toml: " + rfs.describe(res)
            assert self.m.read_config() == self.base

    def check(self):
        assert not self.problems, "%d problems:\n%s" % (len(self.problems), "\n".join(self.problems[:40]))


class Reject(Exception):
    pass


def write(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    # An open(O_TRUNC) + close without a write commits at RELEASE, which
    # comes after close() returns; fsync commits it at once.
    return lambda: rfs.try_write(path, data, flags=flags, fsync=not data)


# --------------------------------------------------------------------------
# value files

# (id, fixture, file, document path, kind)
VALUE_TARGETS = [
    ("string", F01, "runners/docker-shared-01/url", ("runners", 0, "url"), "string"),
    ("secret", F01, "runners/docker-shared-01/token", ("runners", 0, "token"), "string"),
    ("new-key", F01, "runners/shell-03/pre_get_sources_script", ("runners", 2, "pre_get_sources_script"), "string"),
    ("literal", F06, 'runners/literal "name" with quotes/url', ("runners", 1, "url"), "string"),
    ("ml-basic", F06, "runners/scripts-01/pre_build_script", ("runners", 0, "pre_build_script"), "string"),
    ("ml-literal", F06, "runners/scripts-01/post_build_script", ("runners", 0, "post_build_script"), "string"),
    ("open-map", F06, "runners/scripts-01/docker/sysctls/net.core.somaxconn",
     ("runners", 0, "docker", "sysctls", "net.core.somaxconn"), "string"),
    ("integer", F01, "runners/docker-shared-01/limit", ("runners", 0, "limit"), "scalar"),
    ("boolean", F01, "runners/docker-shared-01/docker/privileged", ("runners", 0, "docker", "privileged"),
     "scalar"),
    ("datetime", F01, "runners/docker-shared-01/token_obtained_at", ("runners", 0, "token_obtained_at"),
     "scalar"),
    ("array", F01, "runners/docker-shared-01/docker/volumes", ("runners", 0, "docker", "volumes"), "lines"),
    ("array-append", F01, "runners/docker-dind-02/docker/volumes", ("runners", 1, "docker", "volumes"),
     "append"),
    ("array-literal", F06, 'runners/literal "name" with quotes/custom/prepare_args',
     ("runners", 1, "custom", "prepare_args"), "lines"),
    ("array-secret", F01, "runners/docker-shared-01/environment", ("runners", 0, "environment"), "lines"),
    ("rename-onto-key", F01, "runners/docker-shared-01/docker/image", ("runners", 0, "docker", "image"),
     "rename"),
]


def expect_value(m, rel, path, kind, v):
    def expect(doc):
        if kind in ("string", "rename"):
            s = utf8(chomp(v))
            if s is None:
                raise Reject("not UTF-8")
            setv(doc, path, s)
            return doc, {rel: chomp(v) + b"\n"}
        if kind == "scalar":
            raise Reject("not a number, boolean or date")
        if kind in ("lines", "append"):
            text = v
            if kind == "append":
                text = expect.old + v
            elems = lines_of(text)
            strs = [utf8(e) for e in elems]
            if None in strs:
                raise Reject("not UTF-8")
            setv(doc, path, strs)
            return doc, {rel: b"".join(e + b"\n" for e in elems)}
        raise AssertionError(kind)
    return expect


@pytest.mark.parametrize("target", VALUE_TARGETS, ids=[t[0] for t in VALUE_TARGETS])
def test_hostile_values(runnerfs, target):
    tid, fx, rel, path, kind = target
    m = runnerfs(fx)
    c = Checker(m, fx)
    p = m.path(rel)
    for vid, v in VALUES:
        c.reset()
        expect = expect_value(m, rel, path, kind, v)
        if kind == "append":
            expect.old = m.read(rel)
            do = write(p, v, os.O_WRONLY | os.O_APPEND)
        elif kind == "rename":
            tmp = p.parent / (".%s.hostile" % p.name)

            def do(tmp=tmp, v=v):
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    os.write(fd, v)
                finally:
                    os.close(fd)
                try:
                    os.rename(tmp, p)
                except OSError as e:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
                    return ("rename", e.errno)
                return None
        else:
            do = write(p, v)
        c.run("%s <- %s" % (tid, vid), do, expect)
    print("\n%s (%s): %d accepted, %d rejected with EINVAL: %s" % (
        tid, rel, len(c.accepted), len(c.rejected), ", ".join(r.split(" <- ")[1] for r in c.rejected)))
    c.check()
    if kind in ("string", "rename", "lines"):
        # plain values must get through: the test is not vacuous
        for must in ("quote", "backslash", "bracket", "header", "triple-dq", "triple-sq", "1MB-line"):
            assert "%s <- %s" % (tid, must) in c.accepted, "%s was rejected" % must


# Regressions (found by test_hostile_values, fixed in fs/tree.c): an array
# of strings is read one element per line unless an element holds a real
# line break. This used to be decided on the element's TOML text, so that
# a literal backslash followed by n or r (`C:\new`, `C:\runner`,
# `--sep=\n`) was taken for an escape, and an element holding a carriage
# return was accepted but then read back as TOML text.


def _array_round_trip(runnerfs, data):
    m = runnerfs(F01)
    rel = "runners/docker-shared-01/docker/volumes"
    res = rfs.try_write(m.path(rel), data)
    if res is not None:
        assert res[1] == errno.EINVAL, rfs.describe(res)
        assert m.read_config() == F01
        return
    want = [e.decode() for e in lines_of(data)]
    rfs.assert_toml_change(F01, m.read_config(), rfs.setp(["runners", 0, "docker", "volumes"], want))
    assert m.read(rel) == data, "reads back %r" % m.read(rel)


def test_array_element_with_backslash_n_round_trips(runnerfs):
    _array_round_trip(runnerfs, b"C:\\new\n--sep=\\n\n")


def test_array_element_with_carriage_return_round_trips(runnerfs):
    _array_round_trip(runnerfs, b"cr\rhere\n")


# --------------------------------------------------------------------------
# registries: a runner's (F06) and the shared ones (F01)

REG = "runners/scripts-01/registries/registry.example.com:5000/"
AUTH_PREFIX = "DOCKER_AUTH_CONFIG="


def auth_entries(doc):
    """{runner index: auths dict} from every runner's DOCKER_AUTH_CONFIG."""
    out = {}
    for i, r in enumerate(doc.get("runners", [])):
        for e in r.get("environment", []):
            if isinstance(e, str) and e.startswith(AUTH_PREFIX):
                out[i] = json.loads(e[len(AUTH_PREFIX):])["auths"]
    return out


def strip_auth(doc):
    d = copy.deepcopy(doc)
    for r in d.get("runners", []):
        if "environment" in r:
            r["environment"] = [e for e in r["environment"] if not e.startswith(AUTH_PREFIX)]
            if not r["environment"]:
                del r["environment"]
    return d


def reg_check(c, what, m, base, host, runners, before_doc):
    """After a registry edit: every element's JSON parses; auth decodes to
    username:password as the mount shows them; nothing else changed."""
    doc = rfs.toml_loads(m.read_config())
    try:
        auths = auth_entries(doc)
    except Exception as e:
        c.fail(what, "DOCKER_AUTH_CONFIG does not parse as JSON: %s" % e)
        return
    if not rfs.same(strip_auth(doc), strip_auth(before_doc)):
        c.fail(what, "more than DOCKER_AUTH_CONFIG changed")
    user = chomp(m.read(base + "username"))
    pw = chomp(m.read(base + "password"))
    for i in runners:
        e = auths.get(i, {}).get(host)
        if e is None:
            c.fail(what, "runner %d lost registry %s" % (i, host))
            continue
        dec = base64.b64decode(e["auth"])
        if dec != user + b":" + pw:
            c.fail(what, "runner %d: auth decodes to %s, the mount shows %s:%s"
                   % (i, short(dec), short(user), short(pw)))


@pytest.mark.parametrize("shared", [False, True], ids=["runner", "shared"])
def test_hostile_registry_fields(runnerfs, shared):
    if shared:
        m = runnerfs(F01)
        m.sh("mkdir registries/reg.example.com")
        base, host, runners = "registries/reg.example.com/", "reg.example.com", [0, 1, 2]
        assert write(m.path(base + "username"), b"ci\n")() is None
        assert write(m.path(base + "password"), b"pw\n")() is None
    else:
        m = runnerfs(F06)
        base, host, runners = REG, "registry.example.com:5000", [0]
    c = Checker(m, m.read_config())
    for field in ("username", "password", "auth"):
        rel = base + field
        for vid, v in VALUES:
            what = "%s/%s <- %s" % ("shared" if shared else "runner", field, vid)
            c.reset()
            before_doc = rfs.toml_loads(m.read_config())
            before_read = {f: m.read(base + f) for f in ("username", "password", "auth")}

            def expect(doc, rel=rel, v=v, field=field, before_read=before_read):
                # the JSON element changes; reg_check looks at it
                doc = rfs.toml_loads(m.read_config())
                reads = {rel: chomp(v) + b"\n"}
                if field == "auth":
                    try:
                        dec = base64.b64decode(chomp(v), validate=True)
                    except Exception:
                        raise Reject("auth that is not base64")
                    u, _, pw = dec.partition(b":")
                    if not u or b":" not in dec:
                        raise Reject("auth without user:")
                    reads[base + "username"] = u + b"\n"
                    reads[base + "password"] = pw + b"\n"
                elif field == "username":
                    if b":" in v or not chomp(v):
                        raise Reject("a user name with ':' or empty")
                    reads[base + "password"] = before_read["password"]
                else:
                    reads[base + "username"] = before_read["username"]
                if b"\0" in v:
                    raise Reject("NUL in a credential")
                return doc, reads
            c.run(what, write(m.path(rel), v), expect)
            if what in c.accepted:
                reg_check(c, what, m, base, host, runners, before_doc)
    print("\nregistry fields (%s): %d accepted, %d rejected with EINVAL"
          % ("shared" if shared else "runner", len(c.accepted), len(c.rejected)))
    c.check()
    for must in ("password <- quote", "password <- injection", "password <- 1MB-quotes"):
        assert any(a.endswith(must) for a in c.accepted), "%s was rejected" % must


# --------------------------------------------------------------------------
# names: mkdir and mv of runners and registries

NAMES = [
    ("quote", b'say "hi"'), ("backslash", b"back\\slash"), ("newline", b"two\nlines"),
    ("bracket", b"]"), ("header", b"[[runners]]"), ("triple-dq", b'"""'), ("triple-sq", b"'''"),
    ("tab", b"tab\there"), ("cr", b"cr\rhere"), ("esc", b"\x1b[31m"), ("del", b"x\x7f"),
    ("hash", b"# hash"), ("percent", b"100%"), ("slash", b"a/b"), ("dot", b"."), ("dotdot", b".."),
    ("encoded-literal", b"%2F literal"), ("assignment", b'name = "x"'), ("escape-text", b"\\u0000"),
    ("space", b" "), ("emoji", "\U0001F600".encode()), ("255", b"x" * 255),
    ("255-encoded", b"/" * 85), ("bad-utf8", b"\xff\xfe"), ("bad-utf8-cut", b"\xc3("),
    ("surrogate", b"\xed\xa0\x80"),
]


def encode(n):
    """Contract 2.2, on bytes."""
    if n == b".":
        return b"%2E"
    if n == b"..":
        return b"%2E%2E"
    return n.replace(b"%", b"%25").replace(b"/", b"%2F").replace(b"#", b"%23")


def test_hostile_runner_names(runnerfs):
    m = runnerfs(F01)
    c = Checker(m)
    runners = os.fsencode(m.path("runners"))
    current = b"shell-03"
    for nid, n in NAMES:
        enc = encode(n)
        assert len(enc) <= 255, nid
        s = utf8(n)

        def expect_mkdir(doc, s=s, enc=enc):
            if s is None:
                raise Reject("not UTF-8")
            doc["runners"].append({"name": s})
            return doc, {"runners/%s/name" % os.fsdecode(enc): n + b"\n"}

        def do_mkdir(enc=enc):
            try:
                os.mkdir(runners + b"/" + enc)
            except OSError as e:
                return ("mkdir", e.errno)
            return None
        c.run("mkdir <- " + nid, do_mkdir, expect_mkdir)
        if "mkdir <- " + nid in c.accepted and enc not in os.listdir(runners):
            c.fail("mkdir <- " + nid, "not listed as %r" % enc)

        # mv the third runner to the same name with a suffix (the mkdir'd one holds the name)
        n2 = n[:250] + b" (mv)" if nid != "255-encoded" else b"/" * 84
        enc2 = encode(n2)
        s2 = utf8(n2)

        def expect_mv(doc, s2=s2, n2=n2, enc2=enc2):
            if s2 is None:
                raise Reject("not UTF-8")
            doc["runners"][2]["name"] = s2
            return doc, {"runners/%s/name" % os.fsdecode(enc2): n2 + b"\n"}

        def do_mv(enc2=enc2, cur=current):
            try:
                os.rename(runners + b"/" + cur, runners + b"/" + enc2)
            except OSError as e:
                return ("rename", e.errno)
            return None
        c.run("mv <- " + nid, do_mv, expect_mv)
        if "mv <- " + nid in c.accepted:
            current = enc2
            if enc2 not in os.listdir(runners):
                c.fail("mv <- " + nid, "not listed as %r" % enc2)
    print("\nrunner names: %d accepted, %d rejected with EINVAL: %s" % (
        len(c.accepted), len(c.rejected), ", ".join(c.rejected)))
    c.check()
    assert len(c.rejected) == 6, c.rejected  # the three invalid UTF-8 names, by mkdir and by mv


def test_hostile_registry_names(runnerfs):
    m = runnerfs(F06)
    c = Checker(m)
    regs = os.fsencode(m.path("runners/scripts-01/registries"))
    current = b"registry.example.com:5000"
    for nid, n in NAMES:
        if n in (b".", b".."):
            continue
        enc = encode(n)
        s = utf8(n)

        def expect_mkdir(doc, s=s):
            if s is None:
                raise Reject("not UTF-8")
            if b"\0" in n:
                raise Reject("NUL")
            return rfs.toml_loads(m.read_config()), {}

        def do_mkdir(enc=enc):
            try:
                os.mkdir(regs + b"/" + enc)
            except OSError as e:
                return ("mkdir", e.errno)
            return None
        before_doc = rfs.toml_loads(m.read_config())
        c.run("mkdir <- " + nid, do_mkdir, expect_mkdir)
        if "mkdir <- " + nid in c.accepted:
            doc = rfs.toml_loads(m.read_config())
            if not rfs.same(strip_auth(doc), strip_auth(before_doc)):
                c.fail("mkdir <- " + nid, "more than DOCKER_AUTH_CONFIG changed")
            try:
                auths = auth_entries(doc)[0]
                if s not in auths:
                    c.fail("mkdir <- " + nid, "the JSON has no key %r: %s" % (s, sorted(auths)))
            except Exception as e:
                c.fail("mkdir <- " + nid, "the JSON does not parse: %s" % e)
            if enc not in os.listdir(regs):
                c.fail("mkdir <- " + nid, "not listed as %r" % enc)
        n2 = n[:250] + b" (mv)" if nid != "255-encoded" else b"/" * 84
        enc2 = encode(n2)
        s2 = utf8(n2)

        def expect_mv(doc, s2=s2):
            if s2 is None:
                raise Reject("not UTF-8")
            return rfs.toml_loads(m.read_config()), {}

        def do_mv(enc2=enc2, cur=current):
            try:
                os.rename(regs + b"/" + cur, regs + b"/" + enc2)
            except OSError as e:
                return ("rename", e.errno)
            return None
        c.run("mv <- " + nid, do_mv, expect_mv)
        if "mv <- " + nid in c.accepted:
            current = enc2
            auths = auth_entries(rfs.toml_loads(m.read_config()))[0]
            if s2 not in auths or auths[s2].get("auth") != "dXNlcjpwYXNzd29yZA==":
                c.fail("mv <- " + nid, "the moved registry is not %r with its auth" % s2)
            if chomp(m.read("runners/scripts-01/registries/%s/password" % os.fsdecode(enc2))) != b"password":
                c.fail("mv <- " + nid, "password not readable under the new name")
    print("\nregistry names: %d accepted, %d rejected with EINVAL: %s" % (
        len(c.accepted), len(c.rejected), ", ".join(c.rejected)))
    c.check()


# --------------------------------------------------------------------------
# config.toml whole: differential against tomllib

URL_LINE = b'  url = "https://gitlab.example.com"\n  id = 1234\n'


def toml_basic(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7f:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out).encode("utf-8")


def test_hostile_whole_file(runnerfs):
    m = runnerfs(F01)
    assert F01.count(URL_LINE) == 1
    c = Checker(m)
    stats = {"accepted": 0, "rejected": 0}
    valid_rejected = []
    for vid, v in VALUES:
        docs = [("basic-raw", b'"' + v + b'"'), ("literal-raw", b"'" + v + b"'"),
                ("multiline-raw", b'"""' + v + b'"""')]
        s = utf8(v)
        if s is not None:
            docs.append(("escaped", toml_basic(s)))
        for did, val in docs:
            text = F01.replace(URL_LINE, b"  url = " + val + b"\n  id = 1234\n")
            try:
                rfs.toml_loads(text)
                valid = True
            except Exception:
                valid = False
            before = m.read_config()
            res = rfs.try_write(m.path("config.toml"), text)
            after = m.read_config()
            what = "config.toml <- %s/%s" % (vid, did)
            try:
                rfs.toml_loads(after)
            except Exception as e:
                c.fail(what, "config.toml no longer parses: %s" % e)
            if res is None:
                stats["accepted"] += 1
                if not valid:
                    c.fail(what, "accepted a document tomllib rejects")
                if after != text:
                    c.fail(what, "stored bytes differ from what was written")
                elif m.read("config.toml") != text:
                    c.fail(what, "the mount's config.toml differs from the disk")
            else:
                stats["rejected"] += 1
                if res[1] != errno.EINVAL:
                    c.fail(what, "rejected with %s" % rfs.errname(res[1]))
                if after != before:
                    c.fail(what, "rejected, but config.toml changed")
                if valid:
                    valid_rejected.append(what)
            # back to the fixture for the next one
            if m.read_config() != F01:
                assert rfs.try_write(m.path("config.toml"), F01) is None
    print("\nconfig.toml whole: %d documents accepted, %d rejected; valid per tomllib but rejected: %s"
          % (stats["accepted"], stats["rejected"], valid_rejected or "none"))
    c.check()
    assert not valid_rejected, "documents tomllib accepts were rejected: %s" % valid_rejected


# --------------------------------------------------------------------------
# a CONFIG broken from outside


def test_broken_config_is_logged_once_not_per_request(runnerfs):
    m = runnerfs(F01)
    with open(m.config, "ab") as f:
        f.write(b"broken = \n")
    rfs.wait_for(lambda: "parses: no" in m.status(), 10, what="status to say the file does not parse")
    time.sleep(0.2)
    n0 = m.log().count("\n")
    for _ in range(20):
        assert m.read("concurrent") == b"4\n"  # the last good version
    n1 = m.log().count("\n")
    print("\nbroken CONFIG: 20 reads added %d log lines" % (n1 - n0))
    assert n1 - n0 <= 2, "20 reads of an unchanged broken file logged %d lines:\n%s" % (
        n1 - n0, "\n".join(m.log().splitlines()[-3:]))


# --------------------------------------------------------------------------
# DOCKER_AUTH_CONFIG the runner itself would refuse or read differently

BAD_JSON = b"""\
concurrent = 1
[[runners]]
  name = "escape"
  url = "https://gitlab.example.com"
  environment = ['DOCKER_AUTH_CONFIG={"auths":{"reg.example.com\\u00zz":{"auth":"dTpw"}}}']
[[runners]]
  name = "dup"
  url = "https://gitlab.example.com"
  environment = ['DOCKER_AUTH_CONFIG={"auths":{"h.example.com":{"auth":"YTpi"},"h.example.com":{"auth":"Yzpk"}}}']
[[runners]]
  name = "ctl"
  url = "https://gitlab.example.com"
  environment = ["DOCKER_AUTH_CONFIG={\\"auths\\":{\\"a\\u000eb.example.com\\":{\\"auth\\":\\"dTpw\\"}}}"]
[[runners]]
  name = "zero"
  url = "https://gitlab.example.com"
  environment = ['DOCKER_AUTH_CONFIG={"auths":{"z.example.com":{"auth":"dTpw"}},"n":01}']
[[runners]]
  name = "frac"
  url = "https://gitlab.example.com"
  environment = ['DOCKER_AUTH_CONFIG={"auths":{"f.example.com":{"auth":"dTpw"}},"n":1.}']
[[runners]]
  name = "bom"
  url = "https://gitlab.example.com"
  environment = ["DOCKER_AUTH_CONFIG=\\ufeff{\\"auths\\":{\\"b.example.com\\":{\\"auth\\":\\"dTpw\\"}}}"]
[[runners]]
  name = "formfeed"
  url = "https://gitlab.example.com"
  environment = ["DOCKER_AUTH_CONFIG={\\f\\"auths\\":{\\"ff.example.com\\":{\\"auth\\":\\"dTpw\\"}}}"]
[[runners]]
  name = "fine"
  url = "https://gitlab.example.com"
  environment = ['DOCKER_AUTH_CONFIG= {"auths":{"ok.example.com":{"auth":"dTpw"}},"n":[-0,0.5E-3,1e+5,true,false,null,{}],"s":"\\/\\u00e9\\t"}\t']
"""


def test_registry_json_with_invalid_escape_is_not_shown(runnerfs):
    """json.Unmarshal (the runner) refuses `\\u00zz`: the directory must be
    empty, as for any DOCKER_AUTH_CONFIG that is not valid JSON."""
    m = runnerfs(BAD_JSON)
    assert rfs.toml_loads(BAD_JSON)  # valid TOML; the JSON inside is not
    listed = m.listdir("runners/escape/registries")
    assert listed == set(), "registries shown for JSON the runner refuses: %s" % listed


def test_registry_json_with_duplicate_host(runnerfs):
    m = runnerfs(BAD_JSON)
    names = os.listdir(m.path("runners/dup/registries"))
    assert len(names) == len(set(names)), "readdir lists a name twice: %s" % names
    if names:
        assert m.read("runners/dup/registries/h.example.com/username") == b"c\n", \
            "the runner uses the last entry (c:d)"


@pytest.mark.parametrize("runner", ["ctl", "zero", "frac", "bom", "formfeed"])
def test_registry_json_the_runner_refuses_is_not_shown(runnerfs, runner):
    """cJSON takes a raw control character in a string, 01, 1., a BOM and
    a form feed as white space; the runner's json.Unmarshal refuses them."""
    m = runnerfs(BAD_JSON)
    listed = m.listdir("runners/%s/registries" % runner)
    assert listed == set(), "registries shown for JSON the runner refuses: %s" % listed


def test_registry_json_the_runner_accepts_is_shown(runnerfs):
    """The strict check refuses no valid JSON: -0, exponents, literals,
    escapes, white space around the object."""
    m = runnerfs(BAD_JSON)
    assert m.listdir("runners/fine/registries") == {"ok.example.com"}
    assert m.read("runners/fine/registries/ok.example.com/username") == b"u\n"
