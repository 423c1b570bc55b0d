#!/usr/bin/env python3
"""Soak: GitLab Runner rotating its token in place while people write
through the mount (issue 13). Nothing may be lost: not one rotation, not
one write that succeeded.

  token-rotation.py [--seconds N] [--writers N] [--runnerfs BIN] [--seed S]

Mounts a config of 8 runners with runnerfs, then for N seconds (default
600; CI runs 60):
  - a runner stand-in rotates runner r0's token the way the runner saves
    its file: open(O_WRONLY|O_TRUNC) of config.toml itself (no rename),
    write, close — at random intervals. Before each rotation it reads the
    file and checks that its last token is there: a mount commit that
    replaced the file with an older version would have lost it.
    It rewrites the file from what it just read, so it loses nothing of
    the mount's writes that had landed before its read.
  - writers change `limit` of runners r1..rN through the mount, each its
    own runner, with values that only grow; each remembers the last value
    whose close() succeeded.
At the end every rotation and the last successful write of every writer
must be in config.toml. Exit 0 when nothing was lost, 1 otherwise.
"""

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time


def config(n):
    out = ["concurrent = %d\n" % n]
    for i in range(n):
        out.append('\n[[runners]]\n  name = "r%d"\n  url = "https://gitlab.example.com"\n'
                   '  token = "glrt-%020d"\n  executor = "shell"\n  limit = 0\n' % (i, 0))
    return "".join(out).encode()


def mounted(mnt):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mnt for line in f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--runnerfs", default=os.environ.get("RUNNERFS", "build/runnerfs"))
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="runnerfs-soak-")
    etc, mnt = os.path.join(work, "etc"), os.path.join(work, "mnt")
    os.mkdir(etc)
    os.mkdir(mnt)
    cfg = os.path.join(etc, "config.toml")
    with open(cfg, "wb") as f:
        f.write(config(a.writers + 1))
    os.chmod(cfg, 0o600)
    log = open(os.path.join(work, "runnerfs.log"), "wb")
    proc = subprocess.Popen([a.runnerfs, "-f", "-o", "reload=none", cfg, mnt], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    problems = []
    rotations = [0]
    transient = [0]  # a save raced a commit and came back a moment later
    token = ["glrt-%020d" % 0]
    last_ok = {}
    refused = {}
    try:
        t0 = time.monotonic()
        while not mounted(mnt):
            if proc.poll() is not None or time.monotonic() - t0 > 10:
                print("runnerfs did not mount", file=sys.stderr)
                return 1
            time.sleep(0.01)
        end = time.monotonic() + a.seconds
        stop = threading.Event()

        def runner():
            r = random.Random(a.seed + 1)
            while time.monotonic() < end and not problems:
                stop.wait(r.uniform(0, 0.15))
                with open(cfg, "rb") as f:
                    data = f.read()
                m = re.search(rb'name = "r0"\n  url = "[^"]*"\n  token = "(glrt-\d{20})"', data)
                if not m:
                    problems.append("rotation %d: runner r0 or its token is not in config.toml:\n%s"
                                    % (rotations[0], data.decode(errors="replace")))
                    return
                if m.group(1).decode() != token[0]:
                    # Its save raced a commit's rename: runnerfs takes it
                    # and writes again a moment later (docs/filesystem.md).
                    # Lost is only what does not come back.
                    back = time.monotonic() + 3
                    while m and m.group(1).decode() != token[0] and time.monotonic() < back:
                        time.sleep(0.01)  # polling for the rewrite, with a deadline
                        with open(cfg, "rb") as f:
                            data = f.read()
                        m = re.search(rb'name = "r0"\n  url = "[^"]*"\n  token = "(glrt-\d{20})"', data)
                    if not m or m.group(1).decode() != token[0]:
                        problems.append("rotation %d lost: config.toml has %s, the runner wrote %s"
                                        % (rotations[0], m.group(1).decode() if m else "nothing", token[0]))
                        return
                    transient[0] += 1
                rotations[0] += 1
                new = "glrt-%020d" % rotations[0]
                data = data[:m.start(1)] + new.encode() + data[m.end(1):]
                fd = os.open(cfg, os.O_WRONLY | os.O_TRUNC)  # the runner's own save
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
                token[0] = new

        def writer(i):
            r = random.Random(a.seed + 10 + i)
            v = 0
            path = os.path.join(mnt, "runners", "r%d" % i, "limit")
            while time.monotonic() < end and not problems:
                v += 1
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
                    try:
                        os.write(fd, b"%d\n" % v)
                    finally:
                        os.close(fd)
                    last_ok[i] = v
                except OSError as e:
                    refused[e.strerror] = refused.get(e.strerror, 0) + 1
                stop.wait(r.uniform(0, 0.05))

        ts = [threading.Thread(target=runner)] + \
             [threading.Thread(target=writer, args=(i,)) for i in range(1, a.writers + 1)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        with open(cfg, "rb") as f:
            final = f.read()
        if ('token = "%s"' % token[0]).encode() not in final:
            problems.append("the last rotation (%s) is not in config.toml" % token[0])
        for i, v in sorted(last_ok.items()):
            m = re.search(rb'name = "r%d"\n(?:  [^\n]*\n)*?  limit = (\d+)' % i, final)
            if not m or int(m.group(1)) < v:
                problems.append("runner r%d: the last successful write was limit = %d, config.toml has %s"
                                % (i, v, m.group(1).decode() if m else "none"))
    finally:
        subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            problems.append("runnerfs did not exit after the unmount")
        log.close()
    with open(os.path.join(work, "runnerfs.log"), errors="replace") as f:
        text = f.read()
    for mark in ("ThreadSanitizer", "AddressSanitizer", "LeakSanitizer", "runtime error:"):
        if mark in text:
            problems.append("the daemon's log has a %s report:\n%s" % (mark, text[-4000:]))
            break
    print("soak: %.0f s, seed %d: %d rotations (%d raced a commit and were taken back), "
          "%d writes that succeeded (last values %s), refused: %s"
          % (a.seconds, a.seed, rotations[0], transient[0], sum(last_ok.values()),
             dict(sorted(last_ok.items())), refused or "none"))
    for p in problems:
        print("LOST: " + p)
    if problems:
        print("daemon log: %s" % os.path.join(work, "runnerfs.log"))
        return 1
    subprocess.run(["rm", "-rf", work])
    return 0


if __name__ == "__main__":
    sys.exit(main())
