#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""List the TOML 1.0.0 cases of a toml-test suite, for the tests that read
them (unit tests roundtrip and inplace, the compliance runner, the
BurntSushi judge).

    toml-test-list.py SUITE [FALLBACK]   > LIST

SUITE is a toml-test checkout (holding tests/) or its tests/ folder. When it
is missing, FALLBACK is used (the older, smaller copy that Debian's
golang-github-burntsushi-toml-dev ships). The list is

    # toml-test: WHICH SET, HOW MANY CASES
    # dir: ABSOLUTE TESTS FOLDER
    valid/....toml
    invalid/....toml

Cases come from tests/files-toml-1.0.0 when the suite has it; otherwise every
valid/ and invalid/ case that has a .toml file, less the TOML 1.1 ones
(tomljudge.NOT_1_0_0). With neither folder the list has no cases and its
first line says so; the tests then count the suite as skipped.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import tomljudge  # noqa: E402

DEBIAN_PKG = "golang-github-burntsushi-toml-dev"


def tests_dir(d):
    if not d:
        return None
    for t in (os.path.join(d, "tests"), d):
        if os.path.isdir(os.path.join(t, "valid")) and os.path.isdir(os.path.join(t, "invalid")):
            return os.path.abspath(t)
    return None


def debian_version(path):
    if not path.startswith("/usr/share/gocode/"):
        return ""
    try:
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", DEBIAN_PKG],
                           capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        v = ""
    return " %s" % v if v else ""


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: toml-test-list.py SUITE [FALLBACK]\n")
        return 2
    suite = argv[1]
    fallback = argv[2] if len(argv) == 3 else ""
    t = tests_dir(suite)
    which = "toml-test at %s" % suite
    if not t and fallback:
        t = tests_dir(fallback)
        which = ("the older, smaller toml-test copy in Debian's %s%s (%s; %s not found)"
                 % (DEBIAN_PKG, debian_version(os.path.abspath(fallback)), fallback, suite or "no suite set"))
    if not t:
        print("# toml-test: none (no toml-test suite at %s%s): the toml-test cases are skipped"
              % (suite or "(not set)", " nor at " + fallback if fallback else ""))
        return 0
    listing = os.path.join(t, "files-toml-1.0.0")
    cases = []
    if os.path.isfile(listing):
        with open(listing, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.endswith(".toml") and line.split("/")[0] in ("valid", "invalid"):
                    cases.append(line)
        how = "files-toml-1.0.0"
    else:
        for kind in ("valid", "invalid"):
            for root, dirs, files in os.walk(os.path.join(t, kind)):
                dirs.sort()
                for fn in sorted(files):
                    if fn.endswith(".toml"):
                        rel = os.path.relpath(os.path.join(root, fn), t)
                        if rel[:-5] not in tomljudge.NOT_1_0_0:
                            cases.append(rel)
        how = "every case but %s (TOML 1.1)" % ", ".join(sorted(tomljudge.NOT_1_0_0))
    nv = sum(c.startswith("valid/") for c in cases)
    print("# toml-test: %s: %d valid, %d invalid cases (%s)" % (which, nv, len(cases) - nv, how))
    print("# dir: %s" % t)
    for c in cases:
        print(c)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
