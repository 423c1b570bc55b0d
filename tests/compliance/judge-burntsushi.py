#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The second judge over files: GitLab Runner's own TOML package
(github.com/BurntSushi/toml, tests/tools/burntsushi-decoder) against
`runnerfs --check` and our engine.

    judge-burntsushi.py --burntsushi EXE --decoder TOML-DECODER --runnerfs RUNNERFS \\
        --cases LIST --deviations FILE
    judge-burntsushi.py --burntsushi EXE --decoder TOML-DECODER --runnerfs RUNNERFS \\
        --files PATH...
    judge-burntsushi.py --burntsushi EXE --decoder TOML-DECODER --runnerfs RUNNERFS \\
        --replay FUZZ-EDIT-REPLAY --replay-corpus DIR...
    ... --no-burntsushi WHY      (no judge here: exit 77, skipped)

Every file `runnerfs --check` accepts (exit 0, or exit 1 for schema errors
only: the file is TOML), BurntSushi accepts; every file it refuses as
invalid TOML (FILE:LINE:COL: message), BurntSushi refuses. Where both read
it, both read the same values.

--cases: the toml-test cases of LIST (tests/compliance/toml-test-list.py);
BurntSushi's value is compared with our decoder's. A case where BurntSushi
1.2.0 departs from TOML 1.0.0 is allowed only when --deviations names it
(then it is reported as an expected deviation); a named case that no longer
deviates fails too, so that the list stays true. No cases: exit 77.

--files: each file (a directory: its *.toml; gen_runners.py in it: the
configs it writes) is judged three ways by tomljudge.judge (tomllib,
BurntSushi, our decoder), with the known deviations it allows by name.

--replay EXE --replay-corpus DIR...: fuzz-edit's corpus is replayed by
tests/fuzz/replay.c (fuzz-edit's checks, FUZZ_DUMP_DIR) and every text an
edit made is judged as --files judges a file.

Each failure is one line `FAIL FILE: first differing key or the
disagreement`; the last line is `N passed, N failed`.
"""
import argparse
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import tomljudge  # noqa: E402


def check_class(runnerfs, path):
    """-> 'toml' (runnerfs --check reads it as TOML), 'not-toml', or raises"""
    p = subprocess.run([runnerfs, "--check", path], capture_output=True, timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode == 0:
        return "toml", ""
    if p.returncode == 1:
        syntax = re.compile(r"^%s:\d+:\d+: " % re.escape(path), re.M)
        m = syntax.search(err)
        if m:
            return "not-toml", err[m.start():].splitlines()[0]
        return "toml", ""  # schema errors only
    raise RuntimeError("runnerfs --check %s exited %d: %s" % (path, p.returncode, err.strip()[-300:]))


def read_deviations(path):
    dev = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                case, _, why = line.partition(" ")
                dev[case] = why.strip()
    return dev


def judge_case(args, base, case):
    """-> (case, problem or None)"""
    path = os.path.join(base, case + ".toml")
    with open(path, "rb") as f:
        data = f.read()
    cls, cerr = check_class(args.runnerfs, path)
    bs, bs_err = tomljudge.run_decoder(args.burntsushi, data)
    if cls == "toml" and bs is None:
        return case, "runnerfs --check reads it, BurntSushi refuses it: %s" % bs_err.splitlines()[0]
    if cls == "not-toml" and bs is not None:
        return case, "runnerfs --check refuses it (%s), BurntSushi reads it" % cerr
    if bs is None:
        return case, None
    ours, ours_err = tomljudge.run_decoder(args.decoder, data)
    if ours is None:
        return case, "runnerfs --check reads it, our decoder refuses it: %s" % ours_err
    d = tomljudge.first_diff(ours, bs, "our engine", "BurntSushi")
    return case, d


def run_cases(args):
    label, base, cases = tomljudge.toml_test_cases(args.cases)
    print("toml-test: %s" % label)
    if not cases:
        print("no toml-test cases: skipped")
        return 77
    dev = read_deviations(args.deviations)
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        results = list(ex.map(lambda c: judge_case(args, base, c), cases))
    passed = failed = expected = 0
    for case, problem in results:
        if problem and case in dev:
            expected += 1
            passed += 1
            print("expected deviation %s: %s [%s]" % (case, problem, dev[case]))
        elif problem:
            failed += 1
            print("FAIL %s: %s" % (case, problem))
        elif case in dev:
            failed += 1
            print("FAIL %s: listed in %s as a BurntSushi deviation, but BurntSushi agrees now: "
                  "take it off the list" % (case, os.path.basename(args.deviations)))
        else:
            passed += 1
    print("BurntSushi agrees with runnerfs --check and our decoder on %d of %d toml-test cases; "
          "%d expected deviations (%s)" % (passed - expected, len(cases), expected,
                                           os.path.basename(args.deviations)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def file_inputs(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for fn in sorted(os.listdir(p)):
                if fn.endswith(".toml"):
                    with open(os.path.join(p, fn), "rb") as f:
                        out.append((os.path.join(p, fn), f.read()))
            gen = os.path.join(p, "gen_runners.py")
            if os.path.exists(gen):
                for a in (["0"], ["1"], ["50"], ["20", "--crlf"]):
                    data = subprocess.run([sys.executable, gen] + a, capture_output=True,
                                          check=True).stdout
                    out.append(("gen_runners.py " + " ".join(a), data))
        else:
            with open(p, "rb") as f:
                out.append((p, f.read()))
    return out


def replay_inputs(args, wd):
    """fuzz-edit's corpus replayed (FUZZ_DUMP_DIR): every text an edit made"""
    out = []
    files = []
    for d in args.replay_corpus:
        files += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    for i, f in enumerate(files):
        dump = os.path.join(wd, "replay-%04d" % i)
        os.mkdir(dump)
        p = subprocess.run([args.replay, f], env=dict(os.environ, FUZZ_DUMP_DIR=dump),
                           capture_output=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("%s %s exited %d: %s" % (args.replay, f, p.returncode,
                                                        p.stderr.decode(errors="replace")[-500:]))
        for fn in sorted(os.listdir(dump)):
            with open(os.path.join(dump, fn), "rb") as fh:
                out.append(("%s, %s" % (os.path.relpath(f), fn), fh.read()))
    print("fuzz-edit corpus: %d inputs replayed, %d edited texts to judge" % (len(files), len(out)))
    return out


def run_files(args):
    import tempfile
    passed = failed = 0
    notes = {}
    with tempfile.TemporaryDirectory() as wd:
        inputs = replay_inputs(args, wd) if args.replay else file_inputs(args.files)
        for name, data in inputs:
            path = name
            if not os.path.exists(name):
                path = os.path.join(wd, "generated.toml")
                with open(path, "wb") as f:
                    f.write(data)
            cls, cerr = check_class(args.runnerfs, path)
            problems, n = tomljudge.judge(data, args.burntsushi, ours=args.decoder)
            bs_reads = tomljudge.run_decoder(args.burntsushi, tomljudge.strip_bom(data))[0] is not None
            if cls == "toml" and not bs_reads:
                problems.insert(0, "runnerfs --check reads it, BurntSushi refuses it")
            if cls == "not-toml" and bs_reads:
                problems.insert(0, "runnerfs --check refuses it (%s), BurntSushi reads it" % cerr)
            for k in n:
                notes.setdefault(k, []).append(name if args.replay else os.path.basename(name))
            if problems:
                failed += 1
                print("FAIL %s: %s" % (name, "; ".join(problems)))
            else:
                passed += 1
                if args.verbose or not args.replay:
                    print("ok %s (%s)" % (name, "TOML" if cls == "toml" else "not TOML, for all three"))
    for k, names in sorted(notes.items()):
        shown = names if len(names) <= 12 else names[:12] + ["... %d in all" % len(names)]
        print("allowed known BurntSushi deviation %s (%s) in: %s"
              % (k, tomljudge.KNOWN_DEVIATIONS[k], "; ".join(shown)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--burntsushi")
    ap.add_argument("--no-burntsushi", metavar="WHY")
    ap.add_argument("--decoder", required=True)
    ap.add_argument("--runnerfs", required=True)
    ap.add_argument("--cases")
    ap.add_argument("--deviations")
    ap.add_argument("--files", nargs="+")
    ap.add_argument("--replay", metavar="FUZZ-EDIT-REPLAY")
    ap.add_argument("--replay-corpus", nargs="+", metavar="DIR")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not args.burntsushi:
        print("second judge skipped: %s" % (args.no_burntsushi or "no --burntsushi"))
        return 77
    if args.cases:
        return run_cases(args)
    return run_files(args)


if __name__ == "__main__":
    sys.exit(main())
