#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Differential random-edit test of the TOML engine, through toml-edit.

Applies random sequences of edits (random node, random operation, random
values: hostile strings, unicode, big integers, floats, dates, arrays) to
the fixtures and checks after every edit that

  (a) Python's tomllib reads the new document as the old document plus
      exactly that change (the expected document is built here);
  (b) the bytes outside the edit are unchanged: set/set-array/set-raw
      rewrite only the old value's span; insertions are one contiguous
      insertion; removing a value is one contiguous deletion, removing a
      table only deletes whole lines; a rename keeps every line count and
      changes one line for a value;
  (c) the engine reads the new document as tomllib does (toml-edit get []),
      and a CRLF document gets CRLF in new lines;
  (d) with --burntsushi EXE (tests/tools/burntsushi-decoder), GitLab
      Runner's own TOML package reads every fixture and the document after
      every successful edit as tomllib does (the second judge; a leading BOM
      is stripped first, a known deviation of BurntSushi 1.2.0).

A rejected edit (exit 1) must leave the document byte-identical (checked
with toml-edit -k) and must be a legitimate rejection (a key that already
exists, a value out of range, raw text that is not one value, ...).

  test_random_edits.py --tool BUILD/tests/tools/toml-edit \
      [--fixtures DIR]... [--seed N|time] [--iterations N] [--time-budget S]
      [--burntsushi EXE | --no-burntsushi WHY]

The seed is printed; `--seed N` replays a run (with the same --iterations).
RUNNERFS_EDIT_SEED=time (or a number) in the environment overrides --seed,
so `RUNNERFS_EDIT_SEED=time meson test random-edits` explores new seeds.
Each failure is saved with a one-line reproducer under --save-dir.
"""

import argparse
import copy
import datetime
import difflib
import glob
import json
import math
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
import tomllib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import tomljudge  # noqa: E402

BOM = b"\xef\xbb\xbf"

# ---------------------------------------------------------------- model


def strip_bom(b):
    return b[3:] if b.startswith(BOM) else b


def norm(v):
    """A comparable form of a tomllib value: types tagged (True != 1),
    floats by their bits (-0.0 != 0.0, nan == nan), date-times by text."""
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("float", "nan" if math.isnan(v) else v.hex())
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, datetime.datetime):
        return ("datetime" if v.tzinfo else "datetime-local", v.isoformat())
    if isinstance(v, datetime.date):
        return ("date-local", v.isoformat())
    if isinstance(v, datetime.time):
        return ("time-local", v.isoformat())
    raise TypeError(type(v))


def toml_load(b):
    return tomllib.loads(strip_bom(b).decode("utf-8"))


def value_of_text(text):
    """The value of TOML value text, as tomllib reads it."""
    return tomllib.loads("x = " + text + "\n")["x"]


SCALAR_TAGS = {"string", "integer", "float", "bool", "boolean", "datetime",
               "datetime-local", "date-local", "time-local"}


def untag(j):
    """toml-edit get output (toml-test tagged JSON) -> normalized model."""
    if isinstance(j, list):
        return [untag(x) for x in j]
    if (isinstance(j, dict) and set(j) == {"type", "value"}
            and isinstance(j["value"], str) and j["type"] in SCALAR_TAGS):
        t, v = j["type"], j["value"]
        if t == "string":
            return ("str", v)
        if t == "integer":
            return ("int", int(v))
        if t == "float":
            f = float(v)
            return ("float", "nan" if math.isnan(f) else f.hex())
        if t in ("bool", "boolean"):
            return ("bool", v == "true")
        return norm(value_of_text(v))
    if isinstance(j, dict):
        return {k: untag(x) for k, x in j.items()}
    raise ValueError("bad tagged JSON: %r" % (j,))


def get_at(model, path):
    for p in path:
        model = model[p]
    return model


# ---------------------------------------------------------------- values

HOSTILE = [
    "", '"', "'", "\\", '"""', "'''", "''''''", '""""""', '"]\n[[runners]]',
    "'\n[[runners]]\nx = '", '"""\n[x]\n"""', "a\0b", "\x01\x02\x1f\x7f",
    "\r", "\r\n", "\n\n", "\n", "trailing\\", 'end"', "end'", 'end""',
    "\\u0041", "# not a comment", "} , y = {", "\t\ttab", "\u2028\ufeff\U0001f4a9",
    "a\"\"\"b'''c", 'x\r\n"""\r\n[y]', "[[runners]]\nname = \"evil\"",
    "\\\n", "a\\", "\b\f", "\x00", "]", "[", "=", "\u0085", "\x1b[31m",
]
CHARS = (list("abcXYZ019 _-./:=#[]{},") + ['"', "'", "\\", "\t", "\n", "\r"]
         + ["\x00", "\x01", "\x08", "\x0c", "\x1f", "\x7f", "\x80", "\x9f"]
         + ["é", "ß", "中", "\u2028", "\ufeff", "\u0085", "😀", "\U0001f4a9",
            "\U000e0001", "\uffff", "\U0010fffd"])


def gen_string(rng):
    r = rng.random()
    if r < 0.35:
        return rng.choice(HOSTILE)
    if r < 0.55:
        return "".join(rng.choice("abcdefghij-_/:. ") for _ in range(rng.randint(0, 30)))
    n = rng.randint(0, 12)
    out = []
    for _ in range(n):
        if rng.random() < 0.15:
            # any code point but surrogates and U+10FFFF (toml-edit's stand-in for NUL)
            c = rng.randint(0, 0x10FFFE)
            if 0xD800 <= c <= 0xDFFF:
                c = 0x41
            out.append(chr(c))
        else:
            out.append(rng.choice(CHARS))
    return "".join(out)


def underscore(digits, rng):
    if len(digits) < 2 or rng.random() < 0.6:
        return digits
    out = digits[0]
    for d in digits[1:]:
        if rng.random() < 0.3:
            out += "_"
        out += d
    return out


def gen_int(rng):
    """(text, tomllib value or None when it must be rejected)"""
    r = rng.random()
    if r < 0.05:
        return rng.choice(["9223372036854775808", "-9223372036854775809",
                           "0x1_0000_0000_0000_0000", "99999999999999999999999"]), None
    v = rng.choice([0, 1, -1, 2**63 - 1, -2**63, 42, 1000, 4096,
                    rng.randint(-2**63, 2**63 - 1), rng.randint(-1000, 1000)])
    if v >= 0 and rng.random() < 0.3:
        kind = rng.choice(["x", "o", "b"])
        digits = format(v, kind if kind != "x" else rng.choice(["x", "X"]))
        text = "0" + kind + underscore(digits, rng)
    else:
        text = ("+" if v >= 0 and rng.random() < 0.1 else "") + ("-" if v < 0 else "") \
            + underscore(str(abs(v)), rng)
    return text, v


FLOATS = ["2.5", "1e3", "-0.0", "+0.0", "0.0", "inf", "-inf", "+inf", "nan", "-nan",
          "+nan", "5e-324", "1.7976931348623157e308", "1_000.5", "6.626e-34",
          "0.1", "1E+10", "3.141_592", "-1.5e-7", "1e300"]


def gen_float(rng):
    if rng.random() < 0.6:
        text = rng.choice(FLOATS)
    else:
        f = rng.choice([rng.uniform(-1e6, 1e6), rng.random(), rng.uniform(-1, 1) * 10 ** rng.randint(-300, 300)])
        text = repr(f)
        if "e" not in text and "." not in text and "n" not in text:
            text += ".0"
    return text, value_of_text(text)


def gen_date(rng, kind):
    y, mo = rng.randint(1, 9999), rng.randint(1, 12)
    d = rng.randint(1, 28)
    date = "%04d-%02d-%02d" % (y, mo, d)
    tm = "%02d:%02d:%02d" % (rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    if rng.random() < 0.3:
        tm += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
    if kind == "date-local":
        return date
    if kind == "time-local":
        return tm
    dt = date + rng.choice(["T", " "]) + tm
    if kind == "datetime":
        dt += rng.choice(["Z", "+00:00", "-07:00", "+05:30", "-00:00"])
    return dt


def text_of(v):
    """(TYPE, text) that toml-edit reads back as normalized value v."""
    tag, x = v if isinstance(v, tuple) else (None, None)
    if tag == "str":
        return "string", x
    if tag == "int":
        return "integer", str(x)
    if tag == "float":
        if x == "nan":
            return "float", "nan"
        f = float.fromhex(x)
        return "float", ("-" if f < 0 else "") + "inf" if math.isinf(f) else repr(f)
    if tag == "bool":
        return "bool", "true" if x else "false"
    if tag in ("datetime", "datetime-local", "date-local", "time-local"):
        return tag, x
    return None


def gen_scalar(rng, typ=None):
    """(TYPE, text for toml-edit, expected normalized value or None)"""
    typ = typ or rng.choice(["string"] * 4 + ["integer"] * 2 + ["float", "bool", "datetime",
                                                                  "datetime-local", "date-local",
                                                                  "time-local"])
    if typ == "string":
        s = gen_string(rng)
        return typ, s, ("str", s)
    if typ == "integer":
        text, v = gen_int(rng)
        return typ, text, None if v is None else ("int", v)
    if typ == "float":
        text, v = gen_float(rng)
        return typ, text, norm(v)
    if typ == "bool":
        b = rng.random() < 0.5
        return typ, "true" if b else "false", ("bool", b)
    text = gen_date(rng, typ)
    return typ, text, norm(value_of_text(text))


def toml_basic(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif o < 0x20 or o == 0x7F:
            out.append("\\u%04X" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_key(k):
    if k and all(c.isascii() and (c.isalnum() or c in "-_") for c in k):
        return k
    return toml_basic(k)


def gen_raw(rng, depth=0):
    """TOML text of one value (nested arrays, inline tables)."""
    r = rng.random()
    if depth < 3 and r < 0.25:
        n = rng.randint(0, 4)
        items = [gen_raw(rng, depth + 1) for _ in range(n)]
        if rng.random() < 0.3 and items:
            return "[\n" + "".join("  %s, # c%d\n" % (it, i) for i, it in enumerate(items)) + "]"
        return "[" + ", ".join(items) + (", " if items and rng.random() < 0.2 else "") + "]"
    if depth < 3 and r < 0.4:
        keys = []
        for _ in range(rng.randint(0, 3)):
            k = gen_key(rng)
            if k not in keys:
                keys.append(k)
        body = ", ".join("%s = %s" % (toml_key(k), gen_raw(rng, depth + 1)) for k in keys)
        return "{" + (" " + body + " " if body else "") + "}"
    typ, text, exp = gen_scalar(rng)
    if exp is None:
        return "1"
    if typ == "string":
        s = text
        if "'" not in s and "\n" not in s and not any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7F for c in s) \
                and rng.random() < 0.3:
            return "'" + s + "'"
        return toml_basic(s)
    return text.strip()


BAD_RAW = ["1\nb = 2", "[1]\n[x]", "1 2", "", "{a=1", "x", '"""', "'''abc", "1]\n[x",
           "[[runners]]", '"a"\n[[runners]]', "{ a = 1 }\n[t]", "[1,\n2]\nz = 3", "# c",
           "1,", "=1", "{a = 1, a = 2}", "[1, 2", "01", "1__0", "\"\\q\"", "'a\nb'"]

KEYS = ["a", "b", "name", "url", "token", "image", "x1", "my-key", "under_score", "1", "1.5",
        "a.b", "a b", "", '"', "'", "\\", "\n", "\x00", "\t", "é", "😀", "]", "[[runners]]",
        "=", "#", "true", "inf", "-", "_", "a\"b'c", "\u2028", "runners", "docker", "x]\n[y"]


def gen_key(rng):
    if rng.random() < 0.5:
        return rng.choice(KEYS)
    return "k" + str(rng.randint(0, 99))


# ---------------------------------------------------------------- the tool


class Tool:
    def __init__(self, exe, workdir):
        self.exe = exe
        self.workdir = workdir
        self.calls = 0

    def run(self, doc, args, keep_going=False):
        path = os.path.join(self.workdir, "doc.toml")
        with open(path, "wb") as f:
            f.write(doc)
        argv = [self.exe] + (["-k"] if keep_going else []) + [path] + args
        self.calls += 1
        for attempt in range(20):
            try:
                p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                return p.returncode, p.stdout, p.stderr
            except OSError:  # the program is being rebuilt
                if attempt == 19:
                    raise
                time.sleep(0.5)

    def inspect(self, doc):
        rc, out, err = self.run(doc, ["get", "[]", "nodes"])
        if rc != 0:
            raise Failure("engine-cannot-read", "toml-edit get/nodes failed (rc %d): %s"
                          % (rc, err.decode("utf-8", "replace").strip()))
        lines = out.decode("utf-8").split("\n")
        whole = untag(json.loads(lines[0]))
        nodes = [json.loads(l) for l in lines[1:] if l]
        return whole, nodes


class Judge:
    """(d): BurntSushi reads the document as tomllib does (tomljudge)."""

    def __init__(self, exe):
        self.exe = exe
        self.docs = 0
        self.notes = {}

    def check(self, doc):
        if not self.exe:
            return
        self.docs += 1
        problems, notes = tomljudge.judge(doc, self.exe)
        for n in notes:
            self.notes[n] = self.notes.get(n, 0) + 1
        if problems:
            raise Failure("burntsushi-disagrees", "second judge: " + "; ".join(problems))


class Failure(Exception):
    def __init__(self, kind, msg):
        super().__init__(msg)
        self.kind = kind
        self.msg = msg


def jpath(path):
    return json.dumps(path, ensure_ascii=True)


def jstr(s):
    return json.dumps(s, ensure_ascii=True)


# ---------------------------------------------------------------- checks


def common_prefix(a, b):
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def splice(old, new):
    """(p, q): common prefix and suffix, not overlapping in either."""
    p = common_prefix(old, new)
    m = min(len(old), len(new)) - p
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid:] == new[len(new) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return p, lo


def check_span(old, new, span):
    if span is None:
        raise Failure("no-span", "the engine gives no span for a value")
    s, e = span
    tail = len(old) - e
    if not (new[:s] == old[:s] and len(new) >= s + tail and new[len(new) - tail:] == old[e:]):
        raise Failure("bytes-outside-span", "bytes outside the value's span [%d,%d) changed" % (s, e))


def check_span_kept(old, new, span, kept):
    """set-array: only the array's span changes, and the elements kept at
    the front keep their text, in order."""
    check_span(old, new, span)
    s, e = span
    mid = new[s:len(new) - (len(old) - e)]
    pos = 0
    for ks, ke in kept:
        t = old[ks:ke]
        i = mid.find(t, pos)
        if i < 0:
            raise Failure("kept-element-rewritten",
                          "set-array rewrote an element that stayed the same: %r" % t[:80])
        pos = i + len(t)


def check_insertion(old, new):
    p, q = splice(old, new)
    if p + q != len(old) or len(new) <= len(old):
        raise Failure("not-one-insertion", "the change is not one contiguous insertion")
    return new[p:len(new) - q]


def check_deletion(old, new):
    p, q = splice(old, new)
    if p + q != len(new) or len(new) >= len(old):
        raise Failure("not-one-deletion", "the change is not one contiguous deletion")


def lines_of(b):
    b = strip_bom(b)
    if b and not b.endswith(b"\n"):
        b += b"\n"
    return b.splitlines(keepends=True)


def check_line_deletions(old, new):
    """new is old with whole lines deleted."""
    ol, nl = lines_of(old), lines_of(new)
    j = 0
    for line in ol:
        if j < len(nl) and nl[j] == line:
            j += 1
    if j != len(nl):
        raise Failure("not-line-deletions", "removing a table changed lines other than deleting them "
                      "(first unmatched new line: %r)" % nl[j][:80])


def check_rename(old, new, one_line):
    ol, nl = lines_of(old), lines_of(new)
    if len(ol) != len(nl):
        raise Failure("rename-line-count", "rename changed the number of lines")
    changed = [i for i in range(len(ol)) if ol[i] != nl[i]]
    if not changed:
        raise Failure("rename-nothing", "rename changed nothing")
    if one_line and len(changed) != 1:
        raise Failure("rename-lines", "renaming a value changed %d lines" % len(changed))
    for i in changed:
        if ol[i].lstrip().startswith(b"#"):
            raise Failure("rename-comment", "rename changed a comment line: %r" % ol[i][:80])


def bare_lf(b):
    return b.count(b"\n") - b.count(b"\r\n")


def first_eol_crlf(b):
    i = b.find(b"\n")
    return i > 0 and b[i - 1:i] == b"\r"


# ---------------------------------------------------------------- one edit


def pick(rng, seq):
    return seq[rng.randrange(len(seq))] if seq else None


def prune_empty(model, path, forms):
    """Containers left empty by a removal that can vanish from the text:
    dotted and implicit tables and arrays of tables have no text of their
    own. Walk up from the removed node's parent."""
    m = copy.deepcopy(model)
    p = list(path[:-1])
    while p:
        node = get_at(m, p)
        form = forms.get(json.dumps(p))
        if (isinstance(node, (dict, list)) and len(node) == 0
                and form in ("dotted", "implicit", "aot")):
            parent = get_at(m, p[:-1])
            del parent[p[-1]]
            p = p[:-1]
        else:
            break
    return m


class Edit:
    """One random edit: its argv, and what it must do."""

    def __init__(self):
        self.args = []
        self.expect = None        # expected model if it succeeds
        self.alternatives = []    # other acceptable models
        self.may_fail = False     # a rejection is legitimate
        self.must_fail = False    # it has to be rejected
        self.want_err = None      # with this errno name, when it matters
        self.check = None         # byte check: fn(old, new)
        self.structural = False   # new lines must use the document's EOL
        self.raw_lf = 0           # LF line breaks in caller-given raw text
        self.desc = ""


def plan_edit(rng, model, nodes, doc_text):
    forms = {json.dumps(n["path"]): n["form"] for n in nodes}
    tables = [n for n in nodes if n["type"] == "table"]
    scalars = [n for n in nodes if n["type"] not in ("table", "array")]
    arrays = [n for n in nodes if n["type"] == "array" and n["form"] == "array"]
    keyed = [n for n in nodes if n["path"] and isinstance(n["path"][-1], str)]
    nonroot = [n for n in nodes if n["path"]]
    inline_vals = [n for n in nodes if n["form"] in ("inline", "array")]

    def inside_inline(path):
        return any(forms.get(json.dumps(path[:i])) in ("inline", "array")
                   for i in range(1, len(path)))

    ops = (["set"] * 25 + ["insert"] * 14 + ["insert-array"] * 4 + ["insert-raw"] * 4
           + ["set-array"] * 8 + ["set-raw"] * 7 + ["remove"] * 15 + ["rename"] * 8
           + ["add-table"] * 6 + ["append-entry"] * 6)
    for _ in range(20):
        op = rng.choice(ops)
        ed = Edit()
        ed.op = op
        exp = copy.deepcopy(model)
        if op == "set":
            n = pick(rng, scalars)
            if not n:
                continue
            typ, text, val = gen_scalar(rng)
            if typ != "string" and rng.random() < 0.2:
                text = rng.choice([" ", "\t", "\n "]) + text + rng.choice(["", " ", "\n"])
            ed.args = ["set", jpath(n["path"]), typ, jstr(text)]
            if val is None:
                ed.must_fail = True
                ed.want_err = "EINVAL"
            else:
                parent = get_at(exp, n["path"][:-1])
                parent[n["path"][-1]] = val
                ed.expect = exp
            span = n["span"]
            ed.check = lambda o, nw, span=span: check_span(o, nw, span)
            ed.node = n
        elif op in ("set-array", "insert-array"):
            typ = rng.choice(["string", "string", "integer", "float", "bool", "datetime", "date-local"])
            items = [gen_scalar(rng, typ) for _ in range(rng.randint(0, 6))]
            if op == "set-array":
                n = pick(rng, arrays + scalars if rng.random() < 0.5 else arrays)
                if not n:
                    continue
                # Often start from the old elements and change the end, so
                # that "elements that stay the same keep their text" is
                # exercised.
                old = get_at(model, n["path"])
                kept_spans = []
                if isinstance(old, list) and old and rng.random() < 0.6:
                    olds = [text_of(v) for v in old]
                    if all(o is not None and o[0] == olds[0][0] for o in olds):
                        typ = olds[0][0]
                        items = [(typ, t, v) for (typ_, t), v in zip(olds, old)]
                        if typ in ("datetime", "datetime-local", "date-local", "time-local"):
                            # a date-time is the same when its text is:
                            # 07:00Z and 07:00+00:00 are two spellings
                            raws = {e["path"][-1]: doc_text[e["span"][0]:e["span"][1]].decode()
                                    for e in nodes if e["path"][:-1] == n["path"]
                                    and len(e["path"]) == len(n["path"]) + 1 and e["span"]}
                            items = [(typ, raws.get(i, t), v) for i, (_, t, v) in enumerate(items)]
                        k = rng.randint(0, len(items))
                        if rng.random() < 0.5:
                            items = items[:k] + [gen_scalar(rng, typ) for _ in range(rng.randint(1, 3))]
                        else:
                            items = items[:k]
                        kept_spans = [e["span"] for e in nodes
                                      if len(e["path"]) == len(n["path"]) + 1
                                      and e["path"][:-1] == n["path"] and e["path"][-1] < k]
                ed.args = ["set-array", jpath(n["path"]), typ, json.dumps([t for _, t, _ in items])]
                span = n["span"]
                ed.check = lambda o, nw, span=span, ks=kept_spans: check_span_kept(o, nw, span, ks)
                target = get_at(exp, n["path"][:-1])
                key = n["path"][-1]
            else:
                n = pick(rng, tables)
                if not n:
                    continue
                key = gen_key(rng)
                ed.args = ["insert-array", jpath(n["path"]), jstr(key), typ,
                           json.dumps([t for _, t, _ in items])]
                ed.check = check_insertion
                ed.structural = True
                target = get_at(exp, n["path"])
                if key in target:
                    ed.must_fail = True
                    ed.want_err = "EEXIST"
            if any(v is None for _, _, v in items):
                ed.must_fail = True
                ed.want_err = "EINVAL"
            if not ed.must_fail:
                target[key] = [v for _, _, v in items]
                ed.expect = exp
            ed.node = n
        elif op == "set-raw":
            n = pick(rng, scalars + inline_vals)
            if not n:
                continue
            raw = gen_raw(rng) if rng.random() < 0.85 else rng.choice(BAD_RAW)
            ed.args = ["set-raw", jpath(n["path"]), jstr(raw)]
            ed.raw_lf = raw.count("\n") - raw.count("\r\n")
            try:
                d = tomllib.loads("x = " + raw + "\n")
                ok = set(d) == {"x"}
            except tomllib.TOMLDecodeError:
                ok = False
            if ok:
                get_at(exp, n["path"][:-1])[n["path"][-1]] = norm(d["x"])
                ed.expect = exp
            else:
                ed.must_fail = True
                ed.want_err = "EINVAL"
            span = n["span"]
            ed.check = lambda o, nw, span=span: check_span(o, nw, span)
            ed.node = n
        elif op in ("insert", "insert-raw"):
            n = pick(rng, tables)
            if not n:
                continue
            t = get_at(exp, n["path"])
            key = gen_key(rng)
            if t and rng.random() < 0.15:
                key = rng.choice(list(t))
            if op == "insert":
                typ, text, val = gen_scalar(rng)
                ed.args = ["insert", jpath(n["path"]), jstr(key), typ, jstr(text)]
            else:
                text = gen_raw(rng)
                val = norm(value_of_text(text))
                ed.args = ["insert-raw", jpath(n["path"]), jstr(key), jstr(text)]
                ed.raw_lf = text.count("\n") - text.count("\r\n")
            if key in t or val is None:
                ed.must_fail = True
                ed.want_err = "EINVAL" if val is None else "EEXIST"
            else:
                t[key] = val
                ed.expect = exp
            ed.check = check_insertion
            ed.structural = True
            ed.node = n
        elif op == "add-table":
            n = pick(rng, tables)
            if not n:
                continue
            t = get_at(exp, n["path"])
            key = gen_key(rng)
            if t and rng.random() < 0.15:
                key = rng.choice(list(t))
            ed.args = ["add-table", jpath(n["path"]), jstr(key)]
            if key in t:
                ed.must_fail = True
                ed.want_err = "EEXIST"
            else:
                t[key] = {}
                ed.expect = exp
            ed.check = check_insertion
            ed.structural = True
            ed.node = n
        elif op == "append-entry":
            n = pick(rng, tables)
            if not n:
                continue
            t = get_at(exp, n["path"])
            aots = [k for k in t if forms.get(json.dumps(n["path"] + [k])) == "aot"]
            key = rng.choice(aots) if aots and rng.random() < 0.6 else gen_key(rng)
            ed.args = ["append-entry", jpath(n["path"]), jstr(key)]
            form = forms.get(json.dumps(n["path"] + [key]))
            if key not in t:
                t[key] = [{}]
                ed.expect = exp
            elif form == "aot":
                t[key].append({})
                ed.expect = exp
            elif form == "array":
                # `{}` in an inline array: fine, and so is a refusal when it
                # does not hold tables
                t[key].append({})
                ed.expect = exp
                ed.may_fail = not all(isinstance(x, dict) for x in get_at(model, n["path"] + [key]))
            else:
                ed.must_fail = True
            ed.check = check_insertion
            ed.structural = True
            ed.node = n
        elif op == "remove":
            n = pick(rng, nonroot)
            if not n:
                continue
            ed.args = ["remove", jpath(n["path"])]
            parent = get_at(exp, n["path"][:-1])
            del parent[n["path"][-1]]
            ed.expect = exp
            ed.alternatives = [prune_empty(exp, n["path"], forms)]
            if n["form"] in ("header", "entry", "implicit", "dotted", "aot") \
                    and not inside_inline(n["path"]):
                ed.check = check_line_deletions
            else:
                ed.check = check_deletion
            ed.node = n
        elif op == "rename":
            n = pick(rng, keyed)
            if not n:
                continue
            key = gen_key(rng)
            parent = get_at(exp, n["path"][:-1])
            if rng.random() < 0.1:
                key = rng.choice(list(parent))
            ed.args = ["rename", jpath(n["path"]), jstr(key)]
            old = n["path"][-1]
            if key == old:
                ed.may_fail = True
                ed.expect = exp
            elif key in parent:
                ed.must_fail = True
                ed.want_err = "EEXIST"
            else:
                parent[key] = parent.pop(old)
                ed.expect = exp
            one = n["type"] != "table" or n["form"] == "inline" or inside_inline(n["path"])
            if n["form"] == "aot":
                one = False
            ed.check = (lambda o, nw, one=one: check_rename(o, nw, one)) if key != old else None
            ed.node = n
        ed.desc = " ".join(ed.args)
        return ed
    return None


def run_edit(tool, doc, model, ed):
    rc, out, err = tool.run(doc, ed.args, keep_going=True)
    errtext = err.decode("utf-8", "replace").strip()
    if rc not in (0, 1):
        raise Failure("crash", "toml-edit exited %d: %s" % (rc, errtext[-2000:]))
    if rc == 1:
        if not errtext.startswith("error: E"):
            raise Failure("bad-error", "rejection without an `error: E...` line: %r" % errtext)
        if out != doc:
            raise Failure("failed-edit-changed-bytes", "a rejected edit changed the document: " + errtext)
        if not (ed.must_fail or ed.may_fail):
            raise Failure("unexpected-rejection", "rejected: " + errtext)
        if ed.want_err and not errtext.startswith("error: %s:" % ed.want_err):
            raise Failure("wrong-errno", "rejected, but not with %s: %s" % (ed.want_err, errtext))
        return doc, True
    if errtext:
        raise Failure("stderr-on-success", "stderr on success: " + errtext)
    new = out
    try:
        return check_success(doc, new, ed)
    except Failure as f:
        f.new = new
        raise


def check_success(doc, new, ed):
    if ed.must_fail:
        raise Failure("accepted-bad-edit", "an edit that must be rejected succeeded")
    # (a) the change, as tomllib sees it
    try:
        got = norm(toml_load(new))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise Failure("output-invalid", "tomllib rejects the output: %s" % e)
    if got != ed.expect and got not in ed.alternatives:
        raise Failure("wrong-change", "the document changed differently: %s" % model_diff(ed.expect, got))
    # (b) bytes
    if ed.check:
        ed.check(doc, new)
    if first_eol_crlf(doc) and bare_lf(new) > bare_lf(doc):
        extra = bare_lf(new) - bare_lf(doc)
        if ed.structural and extra > ed.raw_lf:
            raise Failure("lf-in-crlf", "a structural edit wrote LF line breaks in a CRLF document")
        what = ("raw-text-lf-kept-in-crlf" if ed.raw_lf else "value-lf-in-crlf") + " (" + ed.op + ")"
        notes[what] = notes.get(what, 0) + 1
    if doc.startswith(BOM) != new.startswith(BOM):
        raise Failure("bom", "the BOM was added or lost")
    return new, False


def model_diff(a, b, path=()):
    if type(a) is not type(b):
        return "at %s: want %r, got %r" % (list(path), short(a), short(b))
    if isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                return "at %s: key %r missing" % (list(path), k)
            if k not in a:
                return "at %s: unexpected key %r = %r" % (list(path), k, short(b[k]))
            if a[k] != b[k]:
                return model_diff(a[k], b[k], path + (k,))
    if isinstance(a, list):
        if len(a) != len(b):
            return "at %s: want %d elements, got %d" % (list(path), len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return model_diff(x, y, path + (i,))
    return "at %s: want %r, got %r" % (list(path), short(a), short(b))


def short(v):
    r = repr(v)
    return r if len(r) < 200 else r[:200] + "..."


notes = {}

# ---------------------------------------------------------------- driver


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--fixtures", action="append", default=[])
    ap.add_argument("--seed", default="time")
    ap.add_argument("--iterations", type=int, default=2000, help="edits in all")
    ap.add_argument("--time-budget", type=float, default=45.0, help="seconds")
    ap.add_argument("--max-steps", type=int, default=25, help="edits in one sequence")
    ap.add_argument("--max-failures", type=int, default=30)
    ap.add_argument("--save-dir", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--burntsushi", metavar="EXE", help="second judge: tests/tools/burntsushi-decoder")
    ap.add_argument("--no-burntsushi", metavar="WHY", help="say why there is no second judge")
    args = ap.parse_args()
    judge = Judge(args.burntsushi and os.path.abspath(args.burntsushi))
    if not args.burntsushi:
        print("random-edits: second judge (BurntSushi) skipped: %s" % (args.no_burntsushi or "no --burntsushi"))

    seed = os.environ.get("RUNNERFS_EDIT_SEED") or args.seed
    seed = int(time.time() * 1000) % 10**9 if seed == "time" else int(seed)
    print("random-edits: seed %d (replay: --seed %d --iterations %d)" % (seed, seed, args.iterations))

    files = []
    for d in args.fixtures:
        files += sorted(glob.glob(os.path.join(d, "*.toml")))
    docs = []
    for f in files:
        with open(f, "rb") as fh:
            b = fh.read()
        try:
            toml_load(b)
        except Exception as e:  # not a valid fixture for this test
            print("skip %s: tomllib: %s" % (f, e))
            continue
        if len(b) > 200_000:
            print("skip %s: too big for per-edit checks" % f)
            continue
        docs.append((f, b))
    if not docs:
        print("no fixtures")
        return 1
    print("fixtures: %d" % len(docs))

    save = args.save_dir or tempfile.mkdtemp(prefix="random-edits-fail-")
    failures = {}
    nfail = 0
    edits = rejected = seqs = 0
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as wd:
        tool = Tool(os.path.abspath(args.tool), wd)
        while edits < args.iterations and time.monotonic() - start < args.time_budget:
            rng = random.Random("%d:%d" % (seed, seqs))
            seqs += 1
            name, doc = docs[rng.randrange(len(docs))]
            steps = rng.randint(1, args.max_steps)
            for step in range(steps):
                if edits >= args.iterations:
                    break
                ed = None
                try:
                    model = norm(toml_load(doc))
                    whole, nodes = tool.inspect(doc)
                    if whole != model:
                        # (c) is reported, but the sequence goes on: the
                        # edits are judged against tomllib's reading.
                        f = Failure("engine-reads-differently",
                                    "engine and tomllib disagree: " + model_diff(model, whole))
                        kind = (f.kind, "read", "")
                        if kind not in failures:
                            nfail += 1
                            failures[kind] = 0
                            report(save, len(failures), name, seqs - 1, step, doc, None, f, tool.exe)
                        failures[kind] += 1
                    if step == 0:
                        judge.check(doc)
                    ed = plan_edit(rng, model, nodes, doc)
                    if ed is None:
                        break
                    edits += 1
                    if args.verbose:
                        print("[%d:%d] %s" % (seqs - 1, step, ed.desc[:200]))
                    doc2, rej = run_edit(tool, doc, model, ed)
                    rejected += rej
                    if not rej:
                        try:
                            judge.check(doc2)
                        except Failure as f:
                            f.new = doc2
                            raise
                    doc = doc2
                except Failure as f:
                    nfail += 1
                    kind = (f.kind, ed.op if ed else "inspect", ed.node["form"] if ed else "")
                    failures.setdefault(kind, 0)
                    failures[kind] += 1
                    if failures[kind] == 1:
                        report(save, len(failures), name, seqs - 1, step, doc, ed, f, tool.exe)
                    break
                if nfail >= args.max_failures:
                    break
            if nfail >= args.max_failures:
                break

    el = time.monotonic() - start
    print("random-edits: seed %d: %d edits (%d rejected as expected) in %d sequences on %d fixtures, "
          "%.1f s, %d toml-edit runs" % (seed, edits, rejected, seqs, len(docs), el, tool.calls))
    if judge.exe:
        print("random-edits: second judge: BurntSushi read %d documents, %d as tomllib does"
              % (judge.docs, judge.docs - sum(v for k, v in failures.items() if k[0].startswith("burntsushi"))))
        for k, v in sorted(judge.notes.items()):
            print("random-edits: allowed known BurntSushi deviation %s in %d documents: %s"
                  % (k, v, tomljudge.KNOWN_DEVIATIONS[k]))
    for k, v in sorted(notes.items()):
        print("note: %s: %d" % (k, v))
    if failures:
        print("FAILURES (kind, op, node form: count):")
        for k, v in sorted(failures.items(), key=lambda kv: -kv[1]):
            print("  %s %s %s: %d" % (k[0], k[1], k[2], v))
        print("reproducers saved in %s" % save)
    print("%d passed, %d failed" % (edits - nfail, nfail))
    return 1 if failures else 0


def report(save, idx, fixture, seq, step, doc, ed, f, exe):
    path = os.path.join(save, "fail-%02d.toml" % idx)
    with open(path, "wb") as fh:
        fh.write(doc)
    print("FAIL [%s] %s seq %d step %d: %s" % (f.kind, os.path.basename(fixture), seq, step, f.msg))
    new = getattr(f, "new", None)
    if new is not None:
        a = [repr(l)[2:-1] + "\n" for l in strip_bom(doc).splitlines(keepends=True)]
        b = [repr(l)[2:-1] + "\n" for l in strip_bom(new).splitlines(keepends=True)]
        d = list(difflib.unified_diff(a, b, "before", "after", n=2))
        for line in d[:40]:
            sys.stdout.write("    " + line)
        if len(d) > 40:
            print("    ...")
    if ed:
        print("  node: %s" % json.dumps(ed.node))
        print("  repro: %s -k %s %s" % (exe, shlex.quote(path), " ".join(shlex.quote(a) for a in ed.args)))
    else:
        print("  repro: %s %s get '[]' nodes" % (exe, shlex.quote(path)))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
