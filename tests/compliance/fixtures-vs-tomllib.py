#!/usr/bin/env python3
"""Differential test: our decoder against Python's tomllib on the fixtures.

    fixtures-vs-tomllib.py DECODER FIXTURE_DIR

Every *.toml in FIXTURE_DIR (plus configs made by FIXTURE_DIR/gen_runners.py)
must be valid TOML for tomllib (a leading UTF-8 BOM is stripped first, since
tomllib rejects it) and for DECODER (the toml-test decoder), and both must
read the same document: same tables, keys, array lengths, types and values.
Newlines inside strings are compared after CRLF -> LF, since TOML lets a
parser normalise them. Prints one line per failure and "N passed, N failed".
"""

import datetime
import json
import math
import os
import subprocess
import sys
import tomllib


class Diff(Exception):
    pass


def tag_of(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, datetime.datetime):
        return "datetime" if v.tzinfo is not None else "datetime-local"
    if isinstance(v, datetime.date):
        return "date-local"
    if isinstance(v, datetime.time):
        return "time-local"
    raise TypeError(type(v))


def same(ours, ref, path):
    where = ".".join(path) or "<root>"
    if isinstance(ref, dict):
        if not isinstance(ours, dict) or set(ours) == {"type", "value"} and \
                isinstance(ours.get("type"), str):
            raise Diff("%s: expected a table, got %r" % (where, ours))
        if set(ours) != set(ref):
            raise Diff("%s: keys differ: only ours %s, only tomllib %s" % (
                where, sorted(set(ours) - set(ref)), sorted(set(ref) - set(ours))))
        for k in ref:
            same(ours[k], ref[k], path + [k])
        return
    if isinstance(ref, list):
        if not isinstance(ours, list) or len(ours) != len(ref):
            raise Diff("%s: expected an array of %d, got %r" % (where, len(ref), ours))
        for i, (a, b) in enumerate(zip(ours, ref)):
            same(a, b, path + [str(i)])
        return
    if not isinstance(ours, dict) or set(ours) != {"type", "value"}:
        raise Diff("%s: expected a value, got %r" % (where, ours))
    t, text = ours["type"], ours["value"]
    if t != tag_of(ref):
        raise Diff("%s: type %s, tomllib says %s" % (where, t, tag_of(ref)))
    if t == "string":
        ok = text.replace("\r\n", "\n") == ref.replace("\r\n", "\n")
    elif t == "integer":
        ok = text == str(ref)
    elif t == "bool":
        ok = text == ("true" if ref else "false")
    elif t == "float":
        f = float(text)
        ok = (math.isnan(f) and math.isnan(ref)) or \
            (f == ref and math.copysign(1, f) == math.copysign(1, ref))
    else:  # let tomllib read our date/time text too
        ok = tomllib.loads("x = " + text)["x"] == ref
    if not ok:
        raise Diff("%s: %s %r, tomllib says %r" % (where, t, text, ref))


def check(decoder, name, data):
    text = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        ref = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise Diff("not valid TOML for tomllib: %s" % e)
    p = subprocess.run([decoder], input=data, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise Diff("decoder exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip()))
    if p.stderr:
        raise Diff("decoder wrote to stderr: %r" % p.stderr[:200])
    same(json.loads(p.stdout), ref, [])


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: fixtures-vs-tomllib.py DECODER FIXTURE_DIR\n")
        return 2
    decoder, fixdir = argv[1], argv[2]
    cases = []
    for fn in sorted(os.listdir(fixdir)):
        if fn.endswith(".toml"):
            with open(os.path.join(fixdir, fn), "rb") as f:
                cases.append((fn, f.read()))
    gen = os.path.join(fixdir, "gen_runners.py")
    for args in (["0"], ["1"], ["50"], ["20", "--crlf"]):
        out = subprocess.run([sys.executable, gen] + args, capture_output=True, check=True).stdout
        cases.append(("gen_runners.py " + " ".join(args), out))
    if len(cases) < 9:
        print("FAIL: only %d fixtures in %s" % (len(cases), fixdir))
        return 1
    failed = 0
    for name, data in cases:
        try:
            check(decoder, name, data)
        except Diff as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
