# SPDX-License-Identifier: MIT
"""Judging a TOML document three ways: our engine (tests/compliance/
toml-decoder, or toml-edit get), Python's tomllib, and the package GitLab
Runner itself reads config.toml with, github.com/BurntSushi/toml
(tests/tools/burntsushi-decoder). Imported by the tests that use the second
judge (docs/reliability.md, "The runner's own decoder as a judge").

    import tomljudge
    problems, notes = tomljudge.judge(data, burntsushi=EXE, ours=EXE)

`problems` lists disagreements, each naming the first differing key;
`notes` names the known deviations of BurntSushi from TOML 1.0.0 that were
met and allowed (KNOWN_DEVIATIONS). Also: the toml-test case list
(toml_test_cases) and a tagged-JSON comparison for the compliance runner.
"""

import datetime
import json
import math
import os
import re
import subprocess
import tomllib

BOM = b"\xef\xbb\xbf"

# BurntSushi/toml as Debian 12 ships it (1.2.0) departs from TOML 1.0.0
# (found by running it over toml-test and the random edits; docs/
# reliability.md). judge() allows these, and only where they apply,
# and names each one it allowed in its notes; every other difference is a
# problem. The toml-test cases where BurntSushi deviates are listed by name
# in tests/compliance/burntsushi-deviations.txt.
KNOWN_DEVIATIONS = {
    "bom": "refuses a leading UTF-8 byte order mark, which TOML 1.0.0 allows "
           "(the judged document's BOM is stripped before BurntSushi reads it)",
    "line-ending-backslash": "in a multi-line basic string, after a line-ending backslash "
                             "drops every newline that follows, or keeps whitespace it must trim",
    "dotted-key-in-array-table": "in an inline table inside an array, reads a dotted key "
                                 "a.b = 1 as b = 1",
    "backslash-before-close": "reads a multi-line basic string that ends in an escaped "
                              "backslash (\\\\\"\"\") with a newline added after the backslash",
    "empty-key-in-array": "in an array holding an inline table with an empty key (\"\" = 1), "
                          "loses elements or nesting",
}

# a line-ending backslash (TOML 1.0.0: \ then whitespace then a newline)
CONTINUATION = re.compile(rb'\\[ \t]*\r?\n')
# an escaped backslash closing a multi-line basic string
BACKSLASH_CLOSE = re.compile(rb'\\\\"""')
# an inline table with a dotted key: {... a.b = ...}
INLINE_DOTTED = re.compile(rb'\{[^}\n]*?[A-Za-z0-9_"\'-]\s*\.\s*[A-Za-z0-9_"\'-][^}\n]*?=')


class Diff(Exception):
    pass


def strip_bom(b):
    return b[3:] if b.startswith(BOM) else b


# ------------------------------------------------------------ the model
# Values compare by meaning: types tagged (true != 1), floats by their bits
# (-0.0 != 0.0, nan == nan), date-times as tomllib reads their text, strings
# after CRLF -> LF (TOML lets a parser normalise the newlines of a
# multi-line string: tomllib does, BurntSushi does not).

def from_py(v):
    """tomllib value -> model"""
    if isinstance(v, dict):
        return {k: from_py(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_py(x) for x in v]
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("integer", v)
    if isinstance(v, float):
        return ("float", "nan" if math.isnan(v) else v.hex())
    if isinstance(v, str):
        return ("string", v.replace("\r\n", "\n"))
    if isinstance(v, datetime.datetime):
        return ("datetime" if v.tzinfo else "datetime-local", v.isoformat())
    if isinstance(v, datetime.date):
        return ("date-local", v.isoformat())
    if isinstance(v, datetime.time):
        return ("time-local", v.isoformat())
    raise TypeError(type(v))


SCALARS = {"string", "integer", "float", "bool", "datetime", "datetime-local",
           "date-local", "time-local"}


def is_leaf(j):
    return (isinstance(j, dict) and set(j) == {"type", "value"}
            and isinstance(j["type"], str) and isinstance(j["value"], str))


def from_tagged(j):
    """toml-test tagged JSON -> model"""
    if isinstance(j, list):
        return [from_tagged(x) for x in j]
    if is_leaf(j):
        t, v = j["type"], j["value"]
        if t not in SCALARS:
            raise Diff("unknown type tag %r" % t)
        if t == "string":
            return ("string", v.replace("\r\n", "\n"))
        if t == "integer":
            return ("integer", int(v))
        if t == "float":
            f = float(v)
            return ("float", "nan" if math.isnan(f) else f.hex())
        if t == "bool":
            return ("bool", v == "true")
        # date/time text: read by tomllib, so that each decoder's way of
        # writing it (T or space, Z or +00:00, digits) compares by meaning
        text = v.replace(" ", "T", 1) if t in ("datetime", "datetime-local") else v
        try:
            got = from_py(tomllib.loads("x = " + text)["x"])
        except tomllib.TOMLDecodeError:
            return (t, "unreadable text " + v)  # equal only to the same text
        if got[0] != t:
            raise Diff("%s text %r reads as a %s" % (t, v, got[0]))
        return got
    if isinstance(j, dict):
        return {k: from_tagged(x) for k, x in j.items()}
    raise Diff("not tagged JSON: %r" % (j,))


BARE = re.compile(r"[A-Za-z0-9_-]+\Z")


def keypath(path):
    out = ""
    for p in path:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            k = p if BARE.match(p) else json.dumps(p, ensure_ascii=False)
            out += ("." if out else "") + k
    return out or "<root>"


def short(v, n=80):
    r = repr(v)
    return r if len(r) <= n else r[:n - 3] + "..."


def first_diff(a, b, an="a", bn="b", path=()):
    """None when the models are equal, else a sentence naming the first
    differing key (in document order of `a`)."""
    if a == b:
        return None
    where = keypath(path)
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                return "%s: key only in %s (= %s)" % (keypath(path + (k,)), an, short(a[k]))
            d = first_diff(a[k], b[k], an, bn, path + (k,))
            if d:
                return d
        for k in b:
            if k not in a:
                return "%s: key only in %s (= %s)" % (keypath(path + (k,)), bn, short(b[k]))
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "%s: %s has %d elements, %s %d" % (where, an, len(a), bn, len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, an, bn, path + (i,))
            if d:
                return d
    return "%s: %s reads %s, %s reads %s" % (where, an, short(a), bn, short(b))


# ------------------------------------------------------------ decoders

def run_decoder(exe, data, timeout=60):
    """-> (model or None, error text). Exit 1 is "not TOML"; anything else
    but 0 raises."""
    p = subprocess.run([exe], input=data, capture_output=True, timeout=timeout)
    if p.returncode == 1:
        return None, p.stderr.decode("utf-8", "replace").strip() or "exit 1"
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (os.path.basename(exe), p.returncode,
                                                 p.stderr.decode("utf-8", "replace").strip()[-500:]))
    return from_tagged(json.loads(p.stdout)), ""


def read_tomllib(data):
    try:
        return from_py(tomllib.loads(strip_bom(data).decode("utf-8"))), ""
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        return None, str(e)


def _holds_empty_key_table(lst):
    return any((isinstance(x, dict) and "" in x) or
               (isinstance(x, list) and _holds_empty_key_table(x)) for x in lst)


def _no_space(v):
    return re.sub(r"[ \t\r\n]", "", v)


def _holds_nested_table(lst):
    return any((isinstance(x, dict) and any(isinstance(v, dict) for v in x.values())) or
               (isinstance(x, list) and _holds_nested_table(x)) for x in lst)


def bs_diff(ref, bs, data, notes, path=(), arrays=()):
    """first_diff(tomllib, BurntSushi) less the known deviations that
    apply here (each one allowed is added to `notes`). Equal tables and
    arrays are compared member by member; a deviation is allowed only where
    the two first differ in kind, keys or length (an array rule: by the
    arrays enclosing that place) or in a string's text."""
    if ref == bs:
        return None
    if isinstance(ref, dict) and isinstance(bs, dict) and set(ref) == set(bs):
        for k in ref:
            d = bs_diff(ref[k], bs[k], data, notes, path + (k,), arrays)
            if d:
                return d
        return None
    if isinstance(ref, list) and isinstance(bs, list) and len(ref) == len(bs):
        for i, (x, y) in enumerate(zip(ref, bs)):
            d = bs_diff(x, y, data, notes, path + (i,), arrays + (ref,))
            if d:
                return d
        return None
    if isinstance(ref, tuple) and isinstance(bs, tuple):
        # two values: only the string rules can explain them
        if ref[0] == bs[0] == "string" and ref[1].endswith("\\") and \
                bs[1] == ref[1] + "\n" and BACKSLASH_CLOSE.search(data):
            notes.add("backslash-before-close")
            return None
        if ref[0] == bs[0] == "string" and _no_space(ref[1]) == _no_space(bs[1]) and \
                CONTINUATION.search(data):
            notes.add("line-ending-backslash")
            return None
        return first_diff(ref, bs, "tomllib", "BurntSushi", path)
    # they differ in kind, keys or length: the array rules, by the arrays
    # enclosing this place
    around = arrays + ((ref,) if isinstance(ref, list) else ())
    if any(_holds_empty_key_table(a) for a in around):
        notes.add("empty-key-in-array")
        return None
    if any(_holds_nested_table(a) for a in around) and INLINE_DOTTED.search(data):
        notes.add("dotted-key-in-array-table")
        return None
    return first_diff(ref, bs, "tomllib", "BurntSushi", path)


def judge(data, burntsushi, ours=None, ours_model=None):
    """Judge one document. -> (problems, notes). BurntSushi must accept
    exactly what tomllib accepts and read the same values, but for the
    KNOWN_DEVIATIONS (named in notes when allowed); so must our engine
    (toml-decoder `ours`, or a model already read, `ours_model`), without
    exception."""
    problems, notes = [], set()
    ref, ref_err = read_tomllib(data)
    bs_data = data
    if data.startswith(BOM):
        bs_data = strip_bom(data)
        notes.add("bom")
    bs, bs_err = run_decoder(burntsushi, bs_data)
    ours_err = "refused"
    if ours is not None:
        ours_model, ours_err = run_decoder(ours, data)
    judged_ours = ours is not None or ours_model is not None
    if ref is None:
        if bs is not None:
            problems.append("BurntSushi accepts what tomllib refuses (%s)" % ref_err)
        if ours is not None and ours_model is not None:
            problems.append("our engine accepts what tomllib refuses (%s)" % ref_err)
        return problems, notes
    if bs is None:
        problems.append("BurntSushi refuses what tomllib reads: %s" % bs_err.splitlines()[0])
    else:
        d = bs_diff(ref, bs, data, notes)
        if d:
            problems.append(d)
    if judged_ours:
        if ours_model is None:
            problems.append("our engine refuses what tomllib reads: %s" % ours_err)
        else:
            d = first_diff(ref, ours_model, "tomllib", "our engine")
            if d:
                problems.append(d)
    return problems, notes


# ------------------------------------------------------------ toml-test

# TOML 1.1 cases in the toml-test copies that have no files-toml-1.0.0
# list (Debian's golang-github-burntsushi-toml-dev: its version.go leaves
# these out of 1.0.0).
NOT_1_0_0 = {"valid/string/escape-esc"}


def toml_test_cases(listing):
    """Read a case list made by tests/compliance/toml-test-list.py:
    -> (label, tests_dir, [case name without .toml])"""
    label, base, cases = "", None, []
    with open(listing, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# toml-test: "):
                label = line[len("# toml-test: "):]
            elif line.startswith("# dir: "):
                base = line[len("# dir: "):]
            elif line.endswith(".toml") and not line.startswith("#"):
                cases.append(line[:-5])
    return label, base, cases
