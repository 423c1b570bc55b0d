"""Helpers for the runnerfs integration tests (no pytest fixtures here; see
conftest.py). Standard library only.

The tests are written from the contract, ../shared/design/contract.md; a
section number in a comment ("contract 2.1") points there.
"""

import copy
import ctypes
import ctypes.util
import datetime
import difflib
import errno
import math
import os
import re
import struct
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"

# Names the mount adds next to the keys (contract 2).
ROOT_EXTRAS = {"config.toml", ".runnerfs"}
# Section 5 (registries) is a later issue: a `registries/` directory may or
# may not be there yet, at the root and in each runner. Tolerated, not required.
OPTIONAL_EXTRAS = {"registries"}


# --------------------------------------------------------------------------
# polling

def wait_for(cond, timeout=5.0, interval=0.02, what=None):
    """Poll cond() until it returns something truthy; return that value.
    Fails (AssertionError) after `timeout` seconds, saying `what`."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
            last_exc = None
        except OSError as e:  # a path that is not there yet, a stale handle
            last_exc = e
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (
                timeout, what or getattr(cond, "__name__", "a condition"))
            if last_exc is not None:
                msg += " (last error: %r)" % (last_exc,)
            raise AssertionError(msg)
        time.sleep(interval)


# --------------------------------------------------------------------------
# fixtures and documents

def fixture(name):
    """The bytes of tests/fixtures/NAME."""
    return (FIXTURES / name).read_bytes()


def gen_runners(n, crlf=False):
    """A realistic config with n runners (tests/fixtures/gen_runners.py)."""
    args = [sys.executable, str(FIXTURES / "gen_runners.py"), str(n)]
    if crlf:
        args.append("--crlf")
    return subprocess.run(args, check=True, capture_output=True, timeout=60).stdout


def toml_loads(data):
    """tomllib on config bytes (a leading UTF-8 BOM is not TOML; drop it)."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    if data.startswith("\ufeff"):
        data = data[1:]
    return tomllib.loads(data)


def same(a, b):
    """Deep equality where nan == nan (fixture 07 has nan values)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    return a == b


# --------------------------------------------------------------------------
# byte-exact expectations

def replace_once(data, old, new, after=None):
    """data with the one occurrence of `old` replaced by `new`. With `after`,
    the first occurrence of `old` that follows the (unique) `after` anchor.
    Asserts the expectation itself is well defined."""
    if after is None:
        n = data.count(old)
        assert n == 1, "test bug: %r occurs %d times" % (old, n)
        return data.replace(old, new, 1)
    assert data.count(after) == 1, "test bug: anchor %r is not unique" % (after,)
    start = data.index(after) + len(after)
    i = data.find(old, start)
    assert i >= 0, "test bug: %r not found after %r" % (old, after)
    return data[:i] + new + data[i + len(old):]


def insert_after(data, anchor, new, after=None):
    """data with `new` inserted right after `anchor` (unique, or the first
    one after `after`)."""
    return replace_once(data, anchor, anchor + new, after=after)


def _diff(expected, actual, context=3):
    el = expected.splitlines(keepends=True)
    al = actual.splitlines(keepends=True)
    lines = list(difflib.unified_diff([repr(x) + "\n" for x in el],
                                      [repr(x) + "\n" for x in al],
                                      "expected", "actual", n=context))
    if len(lines) > 80:
        lines = lines[:80] + ["... (%d more diff lines)\n" % (len(lines) - 80)]
    return "".join(lines)


def assert_bytes(actual, expected, what="config.toml"):
    if actual == expected:
        return
    raise AssertionError("%s is not as expected (%d bytes, expected %d):\n%s"
                         % (what, len(actual), len(expected), _diff(expected, actual)))


def assert_only_changed(before, after, expected_after, what="config.toml"):
    """config.toml after the operation is exactly expected_after (which the
    test built from `before` by changing only the edited item's bytes)."""
    assert before != expected_after or after == before
    assert_bytes(after, expected_after, what)


def assert_unchanged(before, after, what="config.toml"):
    assert_bytes(after, before, what + " (must be byte-identical)")


def assert_toml_change(before, after, change):
    """tomllib reads `after` as tomllib's `before` plus exactly `change`
    (a function that edits the parsed dict in place)."""
    want = copy.deepcopy(toml_loads(before))
    change(want)
    got = toml_loads(after)
    if not same(got, want):
        raise AssertionError("tomllib disagrees:\n%s" % _dict_diff(want, got))


def _dict_diff(want, got, path="", out=None, limit=20):
    out = [] if out is None else out
    if len(out) >= limit:
        return "\n".join(out)
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            p = "%s.%s" % (path, k) if path else k
            if k not in got:
                out.append("missing: %s = %r" % (p, want[k]))
            elif k not in want:
                out.append("unexpected: %s = %r" % (p, got[k]))
            else:
                _dict_diff(want[k], got[k], p, out, limit)
    elif isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (a, b) in enumerate(zip(want, got)):
            _dict_diff(a, b, "%s[%d]" % (path, i), out, limit)
    elif not same(want, got):
        out.append("%s: expected %r, got %r" % (path or "<root>", want, got))
    return "\n".join(out)


def single_insertion(before, after):
    """The one contiguous chunk X with after == before[:i] + X + before[i:]
    (fails if after is not that)."""
    assert len(after) > len(before), "nothing was inserted:\n" + _diff(before, after)
    p = 0
    n = min(len(before), len(after))
    while p < n and before[p] == after[p]:
        p += 1
    s = 0
    while s < len(before) - p and before[len(before) - 1 - s] == after[len(after) - 1 - s]:
        s += 1
    chunk = after[p:len(after) - s]
    if before[:p] + chunk + before[len(before) - s:] != after or p + s != len(before):
        raise AssertionError("config.toml changed in more than one place:\n" + _diff(before, after))
    return chunk


def single_deletion(before, after):
    """The one contiguous chunk X with before == after[:i] + X + after[i:]."""
    return single_insertion(after, before)


# --------------------------------------------------------------------------
# doing things through the mount

def try_write(path, data, flags=os.O_WRONLY | os.O_TRUNC, fsync=False, chunks=None):
    """open/write(s)/[fsync]/close like a program would. Returns None on
    success or (step, errno) for the first step that failed. The fd is
    always closed."""
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        return ("open", e.errno)
    err = None
    try:
        for piece in (chunks if chunks is not None else [data]):
            if not piece:
                continue
            try:
                n = os.write(fd, piece)
                assert n == len(piece), "short write %d/%d" % (n, len(piece))
            except OSError as e:
                err = ("write", e.errno)
                break
        if err is None and fsync:
            try:
                os.fsync(fd)
            except OSError as e:
                err = ("fsync", e.errno)
    finally:
        try:
            os.close(fd)
        except OSError as e:
            if err is None:
                err = ("close", e.errno)
    return err


def errname(e):
    return errno.errorcode.get(e, str(e)) if isinstance(e, int) else repr(e)


def describe(res):
    return "success" if res is None else "%s() failed with %s" % (res[0], errname(res[1]))


# --------------------------------------------------------------------------
# inotify (ctypes), to see every rename of config.toml

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC


class DirWatch:
    """inotify on a directory: every create/modify/rename/delete event."""

    def __init__(self, directory):
        lib = _lib()
        self.fd = lib.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
        wd = lib.inotify_add_watch(self.fd, os.fsencode(str(directory)), mask)
        if wd < 0:
            e = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(e, "inotify_add_watch")
        self.events = []

    def poll(self):
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            i = 0
            while i < len(buf):
                _wd, mask, _cookie, ln = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode("utf-8", "replace")
                self.events.append((mask, name))
                i += 16 + ln
        return self.events

    def count(self, mask, name):
        return sum(1 for m, n in self.poll() if m & mask and n == name)

    def close(self):
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# --------------------------------------------------------------------------
# the tree the contract describes (section 2), computed from tomllib

def encode_name(name):
    """Contract 2.2: `/` %2F, `%` %25, `#` %23; whole `.`/`..` %2E/%2E%2E."""
    if name == ".":
        return "%2E"
    if name == "..":
        return "%2E%2E"
    return name.replace("%", "%25").replace("/", "%2F").replace("#", "%23")


def runner_dir_names(runners):
    """Contract 2.2: by name; nameless runners and every later runner with an
    already used name get `#N` (N = 1-based position in the file).
    A runner with `name = ""` is treated as nameless: an empty file name
    cannot exist (the contract does not spell this case out)."""
    seen = set()
    out = []
    for i, r in enumerate(runners, 1):
        n = r.get("name") if isinstance(r, dict) else None
        if not isinstance(n, str) or n == "":
            out.append("#%d" % i)
        elif n in seen:
            out.append("%s#%d" % (encode_name(n), i))
        else:
            seen.add(n)
            out.append(encode_name(n))
    return out


SCALARS = (str, int, float, bool, datetime.datetime, datetime.date, datetime.time)

# Contract 2.3 / reference 1.7: certainly secret (mode 0600).
SECRET_KEYS = {"token", "AccessKey", "SecretKey", "SessionToken", "PrivateKey",
               "AccountKey", "bearer_token", "password"}
# Keys whose secrecy the contract leaves open ("private keys", key *paths*,
# MachineOptions with cloud keys, ...): the walk does not check their mode.
_MAYBE_SECRET = re.compile(r"key|secret|token|pass|cred|auth|dsn|cert|identity|MachineOptions", re.I)


def expected_mode(table_path, key, is_dir):
    """The mode contract 2.3 gives a node, or None where it is unclear."""
    if is_dir:
        return 0o755
    if key in SECRET_KEYS:
        return 0o600
    if table_path == () and key == "sentry_dsn":
        return 0o600
    # `environment` of a runner: credentials go there (DOCKER_AUTH_CONFIG).
    # Contract 2.3 says "environment entries holding credentials"; the
    # schema treats the runner's environment as secret (brief), so 0600.
    # Other `environment` arrays (services) may hold passwords too: unclear.
    if key == "environment":
        return 0o600 if table_path == ("runners",) else None
    if _MAYBE_SECRET.search(key):
        return None
    return 0o644


def key_name_ok(key):
    """Keys the contract gives no file name for (a `/` in a key, the empty
    key, `.`/`..`): the walk skips them (contract 2.2 only specifies the
    encoding for runner and registry names)."""
    return key not in ("", ".", "..") and "/" not in key and "\0" not in key


class Node:
    __slots__ = ("rel", "is_dir", "value", "table_path", "key", "complete")

    def __init__(self, rel, is_dir, value, table_path, key, complete=True):
        self.rel, self.is_dir, self.value = rel, is_dir, value
        self.table_path, self.key, self.complete = table_path, key, complete

    def __repr__(self):
        return "Node(%r)" % self.rel


def _is_table_array(v):
    return isinstance(v, list) and len(v) > 0 and all(isinstance(x, dict) for x in v)


def expected_tree(doc, under=None):
    """Nodes (relative paths) the contract says the mount shows for a parsed
    document. `complete` on a directory is False when it has children the walk
    cannot name (skipped keys), so its listing is only checked as a superset.
    `under` limits the walk to one runner directory name."""
    nodes = []

    def walk(table, rel, table_path):
        complete = True
        for key, val in table.items():
            if not key_name_ok(key):
                complete = False
                continue
            p = rel + "/" + key if rel else key
            if table_path == () and key == "runners" and isinstance(val, list) and \
                    all(isinstance(x, dict) for x in val):
                nodes.append(Node(p, True, None, table_path, key))
                for dname, r in zip(runner_dir_names(val), val):
                    if under is not None and dname != under:
                        continue
                    nodes.append(Node(p + "/" + dname, True, None, ("runners",), dname))
                    walk(r, p + "/" + dname, ("runners",))
            elif isinstance(val, dict):
                n = Node(p, True, None, table_path, key)
                nodes.append(n)
                n.complete = walk(val, p, table_path + (key,))
            elif _is_table_array(val):
                nodes.append(Node(p, True, None, table_path, key))
                for i, entry in enumerate(val):
                    n = Node("%s/%d" % (p, i), True, None, table_path + (key,), str(i))
                    nodes.append(n)
                    n.complete = walk(entry, "%s/%d" % (p, i), table_path + (key,))
            else:
                nodes.append(Node(p, False, val, table_path, key))
        return complete

    root_complete = walk(doc, "", ())
    if under is not None:
        nodes = [n for n in nodes if n.rel.startswith("runners/" + under)]
    return nodes, root_complete


def _parse_scalar_text(text):
    return tomllib.loads("v = " + text)["v"]


def check_rendering(value, data):
    """None if `data` (the bytes read from a value file) is the contract 2.1
    rendering of `value`, else a sentence saying what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8: %r" % (data,)
    if isinstance(value, str):
        want = value + "\n"
        return None if text == want else "string: expected %r, got %r" % (want, text)
    if isinstance(value, bool):
        want = "true\n" if value else "false\n"
        return None if text == want else "bool: expected %r, got %r" % (want, text)
    if isinstance(value, SCALARS):
        # ints, floats, datetimes: "their TOML text plus a newline". Whether
        # the text is the file's spelling (0x1F, 1_000, +4, a space instead
        # of T) or a canonical one is not fixed by the contract: accept any
        # TOML text that reads back as the same value.
        if not text.endswith("\n") or text.endswith("\n\n") or text.strip() != text[:-1]:
            return "scalar: expected TOML text plus one newline, got %r" % (text,)
        try:
            got = _parse_scalar_text(text[:-1])
        except tomllib.TOMLDecodeError as e:
            return "scalar: %r is not TOML text (%s)" % (text, e)
        if not same(got, value) or type(got) is not type(value):
            return "scalar: %r reads as %r, expected %r" % (text, got, value)
        return None
    if isinstance(value, list):
        if len(value) == 0:
            return None if text == "" else "empty array: expected an empty file, got %r" % (text,)
        types = {type(x) for x in value}
        if len(types) == 1 and isinstance(value[0], SCALARS) and not isinstance(value[0], list):
            if not text.endswith("\n"):
                return "array: expected one element per line (ending in a newline), got %r" % (text,)
            lines = text[:-1].split("\n")
            if len(lines) != len(value):
                return "array: expected %d lines, got %r" % (len(value), text)
            for line, v in zip(lines, value):
                if isinstance(v, str):
                    if line != v:
                        return "array: element %r read as %r" % (v, line)
                else:
                    r = check_rendering(v, (line + "\n").encode())
                    if r:
                        return "array element: " + r
            return None
        # An array of arrays or a mixed array: its TOML text (contract 2.1).
        if not text.endswith("\n"):
            return "TOML-text value must end with a newline, got %r" % (text,)
        try:
            got = _parse_scalar_text(text[:-1])
        except tomllib.TOMLDecodeError as e:
            return "TOML-text value %r does not parse (%s)" % (text, e)
        return None if same(got, value) else "TOML-text value %r reads as %r, expected %r" % (text, got, value)
    return "unexpected value type %r" % (type(value),)


def renderable(value):
    """False for values whose rendering the contract leaves open: arrays of
    strings where an element holds a line break (one element per line cannot
    show it)."""
    if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
        return not any("\n" in x or "\r" in x for x in value)
    return True


def check_tree(root, nodes, root_complete, only_under=None):
    """Compare the mounted tree at `root` with expected_tree()'s nodes:
    listings, file types, renderings (contract 2.1), st_size (2.3) and modes
    (2.3). Returns a list of problems (empty when all is well)."""
    import stat as _stat
    root = Path(root)
    problems = []
    children = {"": set()}
    complete = {"": root_complete}
    for n in nodes:
        parent, _, base = n.rel.rpartition("/")
        children.setdefault(parent, set()).add(base)
        if n.is_dir:
            children.setdefault(n.rel, set())
            complete[n.rel] = n.complete
    has_runners = any(n.rel == "runners" for n in nodes)
    # With no [[runners]] in the file a `runners/` directory may still be
    # shown (so that `mkdir runners/NAME` works on an empty config, 3.1);
    # contract 2 does not say either way.
    root_optional = OPTIONAL_EXTRAS | ({"runners"} if not has_runners else set())
    for d, want in sorted(children.items()):
        if only_under is not None and not (d == only_under or d.startswith(only_under + "/")):
            continue
        try:
            got = set(os.listdir(root / d if d else root))
        except OSError as e:
            problems.append("%s/: cannot list: %s" % (d, e))
            continue
        extras = ROOT_EXTRAS if d == "" else set()
        is_runner = d.startswith("runners/") and d.count("/") == 1
        allowed = root_optional if d == "" else OPTIONAL_EXTRAS if is_runner else set()
        missing = (want | extras) - got
        unexpected = got - want - extras - allowed
        if missing:
            problems.append("%s/: missing %s (listing: %s)" % (d, sorted(missing), sorted(got)))
        if unexpected and complete.get(d, True):
            problems.append("%s/: unexpected %s" % (d, sorted(unexpected)))
    for n in nodes:
        if only_under is not None and not n.rel.startswith(only_under):
            continue
        p = root / n.rel
        try:
            st = os.lstat(p)
        except OSError as e:
            problems.append("%s: %s" % (n.rel, e))
            continue
        mode = expected_mode(n.table_path, n.key, n.is_dir)
        if mode is not None and _stat.S_IMODE(st.st_mode) != mode:
            problems.append("%s: mode %04o, expected %04o (contract 2.3)"
                            % (n.rel, _stat.S_IMODE(st.st_mode), mode))
        if n.is_dir:
            if not _stat.S_ISDIR(st.st_mode):
                problems.append("%s: expected a directory, mode %06o" % (n.rel, st.st_mode))
            continue
        if not _stat.S_ISREG(st.st_mode):
            problems.append("%s: expected a regular file, mode %06o" % (n.rel, st.st_mode))
            continue
        try:
            data = p.read_bytes()
        except OSError as e:
            problems.append("%s: read failed: %s" % (n.rel, e))
            continue
        if st.st_size != len(data):
            problems.append("%s: st_size %d but a read returns %d bytes (contract 2.3)"
                            % (n.rel, st.st_size, len(data)))
        if renderable(n.value):
            r = check_rendering(n.value, data)
            if r:
                problems.append("%s: %s (contract 2.1)" % (n.rel, r))
    return problems


# --------------------------------------------------------------------------
# describing a change to a parsed document (for assert_toml_change)

def _walk_to(d, path):
    for p in path[:-1]:
        d = d[p]
    return d, path[-1]


def setp(path, value):
    """change: set d[path...] = value (creates the key if missing)."""
    def change(d):
        parent, last = _walk_to(d, path)
        parent[last] = value
    return change


def delp(path):
    def change(d):
        parent, last = _walk_to(d, path)
        del parent[last]
    return change


def appendp(path, value):
    def change(d):
        parent, last = _walk_to(d, path)
        parent.setdefault(last, []).append(value)
    return change


def renamep(path, new):
    """change: rename key path[-1] to `new` (order does not matter to ==)."""
    def change(d):
        parent, last = _walk_to(d, path)
        parent[new] = parent.pop(last)
    return change


def chain(*changes):
    def change(d):
        for c in changes:
            c(d)
    return change


def remount(path, flags):
    """mount -o remount,FLAGS PATH (root)."""
    subprocess.run(["mount", "-o", "remount,%s" % flags, str(path)], check=True,
                   capture_output=True, timeout=20)


# Runner names that need encoding (contract 2.2); ENCODED in test_tree.py.
ENCODING_CONFIG = b"""\
concurrent = 2
[[runners]]
  name = "team/a"
  url = "https://gitlab.example.com/r1"
[[runners]]
  name = "100%"
  url = "https://gitlab.example.com/r2"
[[runners]]
  name = "c#1"
  url = "https://gitlab.example.com/r3"
[[runners]]
  name = "."
  url = "https://gitlab.example.com/r4"
[[runners]]
  name = ".."
  url = "https://gitlab.example.com/r5"
[[runners]]
  url = "https://gitlab.example.com/r6"
[[runners]]
  name = "dup"
  url = "https://gitlab.example.com/r7"
[[runners]]
  name = "dup"
  url = "https://gitlab.example.com/r8"
[[runners]]
  name = "x%2Fy"
  url = "https://gitlab.example.com/r9"
[[runners]]
  name = ".hidden"
  url = "https://gitlab.example.com/r10"
[[runners]]
  name = "#2"
  url = "https://gitlab.example.com/r11"
[[runners]]
  name = "dup"
  url = "https://gitlab.example.com/r12"
"""
