"""Names (issue 8, "Hostile input: names"; contract 2.2).

`.` and `..`, the encoded forms `%2F`, `%25`, `%23`, `%2E`, `%00`, names
that are not the canonical encoding of anything (`%2e`, `%41`, `%`, `a#1`,
...), 255-byte and longer names, names that collide after decoding, and
runners whose encoded name would be longer than a file name can be.
NUL cannot be in a file name (the kernel stops at it): a runner name with
a NUL byte is reachable as `%00`.

After every operation that failed, config.toml is byte-identical; after
every one that succeeded it parses and holds exactly the change.
"""

import errno
import os

import pytest

import rfs

BASE = b"""\
concurrent = 1
[[runners]]
  name = "ok"
  url = "https://gitlab.example.com"
[[runners]]
  name = "a/b"
  url = "https://gitlab.example.com"
[[runners]]
  name = "a%2Fb"
  url = "https://gitlab.example.com"
[[runners]]
  name = "dup"
  url = "https://gitlab.example.com"
[[runners]]
  name = "dup"
  url = "https://gitlab.example.com"
[[runners]]
  name = "dup#5"
  url = "https://gitlab.example.com"
[[runners]]
  url = "https://gitlab.example.com/nameless"
[[runners]]
  name = "."
  url = "https://gitlab.example.com/dot"
[[runners]]
  name = ".."
  url = "https://gitlab.example.com/dotdot"
"""
# what `ls runners` must show for BASE (contract 2.2)
BASE_DIRS = {"ok", "a%2Fb", "a%252Fb", "dup", "dup#5", "dup%235", "#7", "%2E", "%2E%2E"}

NONCANONICAL = ["%2e", "%2f", "a%2fb", "a%2Eb", "%2E.", ".%2E", "%2E%2E%2E", "%41", "%", "%2", "a%",
                "%%", "%2E%2E%2Fetc", "x#1", "#", "#1", "dup#99", "%2F%2", "a%2F%"]


def op(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def expect_fail(m, what, fn, errnos):
    before = m.read_config()
    e = op(fn)
    assert e in errnos, "%s: %s, expected %s" % (what, rfs.errname(e) if e else "success",
                                                "/".join(rfs.errname(x) for x in errnos))
    rfs.assert_unchanged(before, m.read_config(), "config.toml after " + what)
    return e


def test_listing_of_encoded_names(runnerfs):
    m = runnerfs(BASE)
    assert m.listdir("runners") == BASE_DIRS
    for d, url in (("%2E", "dot"), ("%2E%2E", "dotdot"), ("#7", "nameless")):
        assert m.read("runners/%s/url" % d) == b"https://gitlab.example.com/%s\n" % url.encode()
    assert m.read("runners/a%2Fb/name") == b"a/b\n"
    assert m.read("runners/a%252Fb/name") == b"a%2Fb\n"
    assert m.read("runners/dup#5/name") == b"dup\n"
    assert m.read("runners/dup%235/name") == b"dup#5\n"
    # `.` and `..` are the directories themselves, never a runner
    assert os.path.samefile(m.path("runners/."), m.path("runners"))
    assert os.path.samefile(m.path("runners/.."), m.path(""))


def test_noncanonical_names_name_nothing(runnerfs):
    """A name that is not the canonical encoding of a runner reaches no
    runner (not even the one it would decode to) and cannot be made."""
    m = runnerfs(BASE)
    for n in NONCANONICAL:
        assert op(lambda: os.lstat(m.path("runners/" + n))) == errno.ENOENT, n
        expect_fail(m, "mkdir runners/" + n, lambda: os.mkdir(m.path("runners/" + n)), (errno.EINVAL,))
        expect_fail(m, "mv runners/ok runners/" + n,
                    lambda: os.rename(m.path("runners/ok"), m.path("runners/" + n)), (errno.EPERM,))
    assert m.listdir("runners") == BASE_DIRS
    print("\nnames: %d non-canonical names: no lookup, mkdir or mv reached a runner" % len(NONCANONICAL))


def test_dot_and_dotdot(runnerfs):
    m = runnerfs(BASE)
    for n in (".", ".."):
        expect_fail(m, "mkdir runners/" + n, lambda: os.mkdir(m.path("runners/" + n)), (errno.EEXIST,))
        expect_fail(m, "rmdir runners/" + n, lambda: os.rmdir(m.path("runners/" + n)),
                    (errno.EINVAL, errno.ENOTEMPTY, errno.EBUSY))
        expect_fail(m, "mv runners/ok runners/" + n,
                    lambda: os.rename(m.path("runners/ok"), m.path("runners/" + n)),
                    (errno.EINVAL, errno.EBUSY, errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR))
    # the runners named . and .. by their encoded names: rename and back
    before = m.read_config()
    os.rename(m.path("runners/%2E"), m.path("runners/dot"))
    os.rename(m.path("runners/%2E%2E"), m.path("runners/%2E"))
    after = m.read_config()
    rfs.assert_toml_change(before, after, rfs.chain(rfs.setp(["runners", 7, "name"], "dot"),
                                                    rfs.setp(["runners", 8, "name"], ".")))
    assert m.read("runners/%2E/url") == b"https://gitlab.example.com/dotdot\n"
    os.mkdir(m.path("runners/%2E%2E"))
    rfs.assert_toml_change(after, m.read_config(), rfs.appendp(["runners"], {"name": ".."}))


def test_encoded_slash_percent_hash_nul(runnerfs):
    m = runnerfs(BASE)
    made = {"x%2Fy%2Fz": "x/y/z", "%25": "%", "%2541": "%41", "100%25": "100%", "c%231": "c#1",
            "%23": "#", "x%00y": "x\0y", "..%2Fetc": "../etc", "%252": "%2", "%2F": "/"}
    for enc, name in made.items():
        before = m.read_config()
        os.mkdir(m.path("runners/" + enc))
        after = m.read_config()
        rfs.assert_toml_change(before, after, rfs.appendp(["runners"], {"name": name}))
        assert enc in m.listdir("runners"), enc
        assert m.read("runners/%s/name" % enc) == name.encode() + b"\n"
    # mv to an encoded name and back
    before = m.read_config()
    os.rename(m.path("runners/ok"), m.path("runners/..%2F..%2Fok"))
    rfs.assert_toml_change(before, m.read_config(), rfs.setp(["runners", 0, "name"], "../../ok"))
    os.rename(m.path("runners/..%2F..%2Fok"), m.path("runners/ok"))
    assert m.read_config() == before
    # nothing escaped the mount
    assert not os.path.exists(m.path("etc")) and not os.path.exists(m.mnt.parent / "ok")


def test_collisions_after_decoding(runnerfs):
    """`a%2Fb` is the runner named `a/b`; `a%252Fb` the one named `a%2Fb`;
    `dup#5` the second `dup`, `dup%235` the one named `dup#5`."""
    m = runnerfs(BASE)
    for n in ("a%2Fb", "a%252Fb", "dup", "dup#5", "dup%235", "#7", "%2E", "%2E%2E"):
        expect_fail(m, "mkdir runners/" + n, lambda: os.mkdir(m.path("runners/" + n)), (errno.EEXIST,))
    # a new runner whose name is taken: mkdir of the name says EEXIST
    for n in ("a/b", "dup", "."):
        expect_fail(m, "mkdir of an existing name %r" % n,
                    lambda: os.mkdir(m.path("runners/" + rfs.encode_name(n))), (errno.EEXIST,))
    # mv onto a taken name fails and changes nothing
    for n in ("a%2Fb", "dup", "dup#5", "dup%235"):
        expect_fail(m, "mv runners/ok runners/" + n,
                    lambda: os.rename(m.path("runners/ok"), m.path("runners/" + n)),
                    (errno.EEXIST, errno.ENOTEMPTY))
    # renaming the second `dup` by its suffixed name renames that one
    before = m.read_config()
    os.rename(m.path("runners/dup#5"), m.path("runners/dup2"))
    rfs.assert_toml_change(before, m.read_config(), rfs.setp(["runners", 4, "name"], "dup2"))
    assert m.listdir("runners") == (BASE_DIRS - {"dup#5"}) | {"dup2"}
    assert m.read("runners/dup/url") == b"https://gitlab.example.com\n"


def test_long_names(runnerfs):
    m = runnerfs(BASE)
    for n, name in (("x" * 255, "x" * 255), ("%2F" * 85, "/" * 85), ("%25" * 85, "%" * 85),
                    ("\u00e9" * 127, "\u00e9" * 127)):
        before = m.read_config()
        os.mkdir(m.path("runners/" + n))
        rfs.assert_toml_change(before, m.read_config(), rfs.appendp(["runners"], {"name": name}))
        assert n in m.listdir("runners")
        assert m.read("runners/%s/name" % n) == name.encode() + b"\n"
    for n in ("y" * 256, "%2F" * 86, "y" * 4000):
        expect_fail(m, "mkdir of a %d-byte name" % len(n), lambda: os.mkdir(m.path("runners/" + n)),
                    (errno.ENAMETOOLONG,))
        expect_fail(m, "mv to a %d-byte name" % len(n),
                    lambda: os.rename(m.path("runners/ok"), m.path("runners/" + n)), (errno.ENAMETOOLONG,))


LONG = b"""\
concurrent = 1
[[runners]]
  name = "ok"
  url = "https://gitlab.example.com"
[[runners]]
  name = "%s"
  url = "https://gitlab.example.com/long"
[[runners]]
  name = "%s"
  url = "https://gitlab.example.com/slashes"
""" % (b"L" * 300, b"/" * 100)


def test_names_too_long_for_a_file_name_do_not_break_the_directory(runnerfs):
    """A config written by hand can hold names whose encoding is longer
    than 255 bytes: the directory still lists, the other runners work."""
    m = runnerfs(LONG)
    names = m.listdir("runners")
    assert "ok" in names
    assert m.read("runners/ok/url") == b"https://gitlab.example.com\n"
    os.rename(m.path("runners/ok"), m.path("runners/ok2"))
    rfs.assert_toml_change(LONG, m.read_config(), rfs.setp(["runners", 0, "name"], "ok2"))


def test_every_listed_name_can_be_used(runnerfs):
    m = runnerfs(LONG)
    names = m.listdir("runners")
    bad = [n for n in names if len(os.fsencode(n)) > 255]
    assert not bad, "names longer than 255 bytes listed: %s" % [n[:20] + "..." for n in bad]
    for n in names:
        os.lstat(m.path("runners/" + n))
