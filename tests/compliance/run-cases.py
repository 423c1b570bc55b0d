#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a toml-test decoder over the cases of a list made by
toml-test-list.py, for a suite without its own runner (Debian's copy in
golang-github-burntsushi-toml-dev has no run.py).

    run-cases.py LIST DECODER

valid/*: exit 0 and tagged JSON that reads as the case's .json (values by
meaning, tomljudge); invalid/*: exit 1 exactly. Prints which set ran, one
line per failure, and `N passed, N failed`; exit 77 when the list has no
cases.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import tomljudge  # noqa: E402


def ieee(m):
    """toml-test compares floats by IEEE equality: -0.0 == 0.0"""
    if isinstance(m, dict):
        return {k: ieee(v) for k, v in m.items()}
    if isinstance(m, list):
        return [ieee(v) for v in m]
    return ("float", "0x0.0p+0") if m == ("float", "-0x0.0p+0") else m


def run(base, decoder, case):
    with open(os.path.join(base, case + ".toml"), "rb") as f:
        data = f.read()
    p = subprocess.run([decoder], input=data, capture_output=True, timeout=60)
    if case.startswith("invalid/"):
        if p.returncode == 0:
            return "accepted invalid TOML"
        if p.returncode != 1:
            return "refused with exit %d (not 1)" % p.returncode
        return None
    if p.returncode != 0:
        return "refused valid TOML (exit %d): %s" % (p.returncode, p.stderr.decode(errors="replace").strip())
    with open(os.path.join(base, case + ".json"), "rb") as f:
        want = tomljudge.from_tagged(json.loads(f.read()))
    try:
        have = tomljudge.from_tagged(json.loads(p.stdout))
    except (ValueError, tomljudge.Diff) as e:
        return "bad output: %s" % e
    return tomljudge.first_diff(ieee(want), ieee(have), "the case", "the decoder")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: run-cases.py LIST DECODER\n")
        return 2
    label, base, cases = tomljudge.toml_test_cases(argv[1])
    print("toml-test: %s" % label)
    if not cases:
        return 77
    failed = 0
    for c in cases:
        why = run(base, argv[2], c)
        if why:
            failed += 1
            print("FAIL %s: %s" % (c, why))
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
