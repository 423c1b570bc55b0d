#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Read latency through the mount, at rest and under load (issue 13).
A benchmark, not a test: every load is measured side by side with the
mount at rest in the same run, and reported as p50, p99 and max of one
`stat` + `open`/`read`/`close` of a key, and as the ratio of p99 under
load to p99 at rest (goal: at most 3x).

  tests/bench/fs-read-latency.py [BUILD_DIR] [--seconds S] [--runners N]

Loads (each for S seconds, default 5):
  appender     an outside process holds config.toml open and appends a
               line every 300 ms
  open-writer  an outside process holds config.toml open for writing
  slow-fsync   edits through the mount while every fsync of a commit
               takes 200 ms (RUNNERFS_TEST_FSYNC_DELAY_MS, a testing hook)
  16-writers   16 processes edit 16 runners through the mount
Appends its summary lines to $FS_BENCH_SUMMARY when set (fs-all.sh).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time


def config(n):
    out = ["concurrent = %d\n" % n]
    for i in range(n):
        out.append('\n[[runners]]\n  name = "r%d"\n  url = "https://gitlab.example.com"\n'
                   '  token = "glrt-%04d"\n  executor = "shell"\n  limit = 1\n' % (i, i))
    return "".join(out).encode()


def mounted(mnt):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mnt for line in f)


class Mount:
    def __init__(self, binary, work, name, runners, env=None):
        self.etc = os.path.join(work, name + "-etc")
        self.mnt = os.path.join(work, name + "-mnt")
        os.mkdir(self.etc)
        os.mkdir(self.mnt)
        self.cfg = os.path.join(self.etc, "config.toml")
        with open(self.cfg, "wb") as f:
            f.write(config(runners))
        self.proc = subprocess.Popen([binary, "-f", "-o", "reload=none" + os.environ.get("BENCH_MOUNT_OPTS", ""), self.cfg, self.mnt],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=dict(os.environ, **(env or {})))
        t0 = time.monotonic()
        while not mounted(self.mnt):
            if self.proc.poll() is not None or time.monotonic() - t0 > 10:
                raise SystemExit("runnerfs did not mount " + self.mnt)
            time.sleep(0.01)

    def path(self, rel):
        return os.path.join(self.mnt, rel)

    def stop(self):
        subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def sample(m, seconds):
    """Latencies (s) of stat + open/read/close of a key, for `seconds`."""
    path = m.path("runners/r0/token")
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        os.stat(path)
        with open(path, "rb") as f:
            f.read()
        out.append(time.perf_counter() - t0)
        time.sleep(0.002)  # pacing the reader: about 400 reads a second
    return out


def stats(xs):
    xs = sorted(xs)
    pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]  # noqa: E731
    return pick(0.5), pick(0.99), xs[-1], len(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build-bench")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--runners", type=int, default=100)
    a = ap.parse_args()
    binary = os.path.join(a.build, "runnerfs")
    work = tempfile.mkdtemp(prefix="runnerfs-read-latency-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    rows = []
    mounts = []
    try:
        m = Mount(binary, work, "plain", a.runners)
        mounts.append(m)
        slow = Mount(binary, work, "slow", a.runners, {"RUNNERFS_TEST_FSYNC_DELAY_MS": "200"})
        mounts.append(slow)

        def under(name, target, start, stop):
            rest = stats(sample(target, a.seconds / 2))
            st = start()
            try:
                loaded = stats(sample(target, a.seconds))
            finally:
                stop(st)
            rows.append((name, rest, loaded))

        def appender_start():
            ev = threading.Event()

            def run():
                fd = os.open(m.cfg, os.O_WRONLY | os.O_APPEND)
                try:
                    while not ev.is_set():
                        os.write(fd, b"# appended\n")
                        ev.wait(0.3)
                finally:
                    os.close(fd)
            t = threading.Thread(target=run)
            t.start()
            return ev, t

        def writer_start():
            return os.open(m.cfg, os.O_WRONLY)

        def editors_start(target, n):
            # processes of their own, as real writers are (threads here
            # would measure the interpreter's lock, not the mount)
            return [subprocess.Popen(["bash", "-c", 'k=0; while :; do echo $k > "$1" 2>/dev/null; k=$((k+1)); done',
                                      "editor", target.path("runners/r%d/limit" % (i % a.runners))])
                    for i in range(n)]

        def stop_editors(ps):
            for p in ps:
                p.kill()
            for p in ps:
                p.wait()

        def stop_threads(st):
            ev, ts = st
            ev.set()
            for t in (ts if isinstance(ts, list) else [ts]):
                t.join()

        under("appender", m, appender_start, stop_threads)
        under("open-writer", m, writer_start, os.close)
        under("slow-fsync", slow, lambda: editors_start(slow, 1), stop_editors)
        under("16-writers", m, lambda: editors_start(m, 16), stop_editors)
    finally:
        for x in mounts:
            x.stop()
        subprocess.run(["rm", "-rf", work])

    print("== read latency: stat + open/read/close of a key, %d runners, %.0f s per load" % (a.runners, a.seconds))
    print("  %-12s %-36s %-36s %s" % ("load", "at rest p50 / p99 / max (ms)", "under load p50 / p99 / max (ms)",
                                      "p99 ratio"))
    summary = os.environ.get("FS_BENCH_SUMMARY")
    for name, rest, loaded in rows:
        ratio = loaded[1] / rest[1] if rest[1] else float("inf")
        print("  %-12s %6.3f / %6.3f / %7.3f  (%5d)    %6.3f / %6.3f / %7.3f  (%5d)    %.2fx"
              % (name, rest[0] * 1e3, rest[1] * 1e3, rest[2] * 1e3, rest[3],
                 loaded[0] * 1e3, loaded[1] * 1e3, loaded[2] * 1e3, loaded[3], ratio))
        if summary:
            with open(summary, "a") as f:
                f.write("read p99 under %s|%.2fx p99 at rest (max %.0f ms)|<= 3x|%s\n"
                        % (name, ratio, loaded[2] * 1e3, "ok" if ratio <= 3 else "missed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
