"""Reliability: SIGKILL storm (issue 8, "Crash safety").

Four writer processes write through the mount without pause while the
test SIGKILLs the daemon at random moments, detaches the dead mount
(`fusermount3 -uz`), checks CONFIG and mounts again, a few hundred times.

After every kill:
  - config.toml parses (tomllib);
  - every watched key holds the original value or one a writer wrote
    (values carry their writer and a sequence number), never an older
    value than the writer's last write that returned success (an
    acknowledged write is on disk), and every other line is byte-identical;
  - leftover temp files (`.config.toml.runnerfs-XXXXXX`) are counted, and
    each is gone once the next mount is up (commit_cleanup_stale at start).
At the end the dead mounts are gone, the directory holds config.toml only
and a clean mount shows what the disk holds.

The fault injection and crash simulation at each step of the commit, the
real full tmpfs and the read-only remount are tests/unit/test_commit.c;
this is the whole daemon, killed for real.

Environment: RUNNERFS_CRASH_KILLS (default 250 kills), RUNNERFS_CRASH_SECONDS
(default 60 s, the time budget; the test needs at least
min(200, RUNNERFS_CRASH_KILLS) kills within it).
"""

import multiprocessing
import os
import random
import re
import signal
import subprocess
import time
import tomllib

import conftest
import rfs

KILLS = int(os.environ.get("RUNNERFS_CRASH_KILLS") or 250)
SECONDS = float(os.environ.get("RUNNERFS_CRASH_SECONDS") or 60)
MIN_KILLS = min(200, KILLS)

F01 = rfs.fixture("01-register-docker.toml")
TEMP_RE = re.compile(r"^\.config\.toml\.runnerfs-[A-Za-z0-9]{6}$")

# writer: (file in the mount, path in the parsed document, value of seq)
WRITERS = [
    ("runners/docker-shared-01/docker/image", ("runners", 0, "docker", "image"),
     lambda s: "img-w0-%06d" % s),
    ("runners/shell-03/builds_dir", ("runners", 2, "builds_dir"),
     lambda s: "/srv/w1-%06d" % s),
    ("concurrent", ("concurrent",), lambda s: 1000000 + s),
    ("runners/docker-dind-02/cache/s3/SecretKey", ("runners", 1, "cache", "s3", "SecretKey"),
     lambda s: "sk-w3-%06d" % s),
]
VALUE_RE = [re.compile(r"^img-w0-(\d{6})$"), re.compile(r"^/srv/w1-(\d{6})$"), None,
            re.compile(r"^sk-w3-(\d{6})$")]


def seq_of(k, v):
    """The writer's sequence number of value v, -1 for the original, None
    for a value nobody wrote."""
    orig = get(rfs.toml_loads(F01), WRITERS[k][1])
    if v == orig:
        return -1
    if VALUE_RE[k] is None:
        return v - 1000000 if isinstance(v, int) and 1000000 <= v < 2000000 else None
    mt = VALUE_RE[k].match(v) if isinstance(v, str) else None
    return int(mt.group(1)) if mt else None


def get(d, path):
    for p in path:
        d = d[p]
    return d


def writer(k, mnt, attempted, acked, stop):
    """Write seq 0, 1, 2, ... to one key until stop. attempted[k] is set
    before the open, acked[k] after close() returned success."""
    rel, _, val = WRITERS[k]
    path = os.path.join(mnt, rel)
    seq = 0
    while not stop.value:
        attempted[k] = seq
        data = ("%s\n" % val(seq)).encode()
        ok = False
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            ok = True
        except OSError:
            pass
        if ok:
            acked[k] = seq
            seq += 1
        else:
            seq += 1  # a failed write may still have been committed: never reuse its value
            time.sleep(0.002)


class Daemon:
    def __init__(self, config, mnt, log):
        self.config, self.mnt, self.log = config, mnt, log
        self.proc = None

    def start(self):
        opts = list(conftest.DEFAULT_OPTIONS)
        extra = os.environ.get("RUNNERFS_TEST_OPTIONS")
        if extra:
            opts += [o for o in extra.split(",") if o]
        with open(self.log, "ab") as lf:
            self.proc = subprocess.Popen([str(conftest.RUNNERFS), "-f", "-o", ",".join(opts),
                                          str(self.config), str(self.mnt)],
                                         stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                         start_new_session=True)
        deadline = time.monotonic() + conftest.MOUNT_DEADLINE
        while not conftest.is_mounted(os.path.realpath(self.mnt)):
            if self.proc.poll() is not None:
                raise AssertionError("runnerfs exited with %s before mounting; log:\n%s"
                                     % (self.proc.returncode, tail(self.log)))
            if time.monotonic() > deadline:
                raise AssertionError("runnerfs did not mount within %ss" % conftest.MOUNT_DEADLINE)
            time.sleep(0.001)

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        subprocess.run(["fusermount3", "-uz", str(self.mnt)], capture_output=True, timeout=20)

    def stop(self):
        """A clean unmount; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        r = subprocess.run(["fusermount3", "-u", str(self.mnt)], capture_output=True, timeout=20)
        if r.returncode != 0:
            subprocess.run(["fusermount3", "-uz", str(self.mnt)], capture_output=True, timeout=20)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            return "hung after unmount"


def tail(path, n=40):
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def temps(d):
    return {n for n in os.listdir(d) if TEMP_RE.match(n)}


def test_sigkill_storm(tmp_path):
    cdir = tmp_path / "etc"
    cdir.mkdir()
    cfg = cdir / "config.toml"
    cfg.write_bytes(F01)
    os.chmod(cfg, 0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "runnerfs.log"
    orig_lines = F01.split(b"\n")
    orig_doc = rfs.toml_loads(F01)
    # the line of each watched key (values stay on one line)
    key_lines = set()
    for _, path, _ in WRITERS:
        leaf = path[-1].encode()
        v = get(orig_doc, path)
        needle = leaf + b" = " + (b'"%s"' % v.encode() if isinstance(v, str) else b"%d" % v)
        idx = [i for i, l in enumerate(orig_lines) if needle in l]
        assert len(idx) == 1, "test bug: %r" % needle
        key_lines.add(idx[0])

    ctx = multiprocessing.get_context("fork")
    attempted = ctx.Array("q", [-1] * len(WRITERS), lock=False)
    acked = ctx.Array("q", [-1] * len(WRITERS), lock=False)
    stop = ctx.Value("b", 0, lock=False)
    rng = random.Random(int(os.environ.get("RUNNERFS_CRASH_SEED") or time.time_ns()))
    d = Daemon(cfg, mnt, log)
    d.start()
    procs = [ctx.Process(target=writer, args=(k, str(mnt), attempted, acked, stop), daemon=True)
             for k in range(len(WRITERS))]
    for p in procs:
        p.start()

    kills = 0
    left_behind = 0           # kills after which a temp file was next to CONFIG
    acked_after = [0] * len(WRITERS)    # disk newer than the last acked write
    ahead_kills = 0
    changed_kills = 0         # kills after which CONFIG differed from the last look
    problems = []
    last_bytes = F01
    t0 = time.monotonic()
    uptimes = []
    try:
        while kills < KILLS and time.monotonic() - t0 < SECONDS and len(problems) < 10:
            up = rng.uniform(0.005, 0.120)
            uptimes.append(up)
            time.sleep(up)
            d.kill()
            kills += 1
            # the daemon is dead and detached: nothing can commit now
            ack = list(acked)
            att = list(attempted)
            data = cfg.read_bytes()
            if data != last_bytes:
                changed_kills += 1
            last_bytes = data
            try:
                doc = tomllib.loads(data.decode("utf-8"))
            except Exception as e:
                problems.append("kill %d: config.toml does not parse: %s" % (kills, e))
                continue
            ahead = False
            for k, (_, path, _) in enumerate(WRITERS):
                v = get(doc, path)
                s = seq_of(k, v)
                if s is None:
                    problems.append("kill %d: %s = %r was written by nobody" % (kills, path, v))
                elif s > att[k]:
                    problems.append("kill %d: %s = %r is newer than any write (attempted %d)"
                                    % (kills, path, v, att[k]))
                elif s < ack[k]:
                    problems.append("kill %d: %s = %r but write #%d had returned success (lost)"
                                    % (kills, path, v, ack[k]))
                elif s > ack[k]:
                    acked_after[k] += 1
                    ahead = True
            ahead_kills += ahead
            lines = data.split(b"\n")
            if len(lines) != len(orig_lines) or any(
                    a != b for i, (a, b) in enumerate(zip(lines, orig_lines)) if i not in key_lines):
                problems.append("kill %d: lines other than the written keys changed" % kills)
            stale = temps(cdir)
            if stale:
                left_behind += 1
            others = set(os.listdir(cdir)) - stale - {"config.toml"}
            if others:
                problems.append("kill %d: unexpected files next to CONFIG: %s" % (kills, sorted(others)))
            d.start()
            still = stale & set(os.listdir(cdir))
            if still:
                problems.append("kill %d: temp files %s still there after the next mount started"
                                % (kills, sorted(still)))
        elapsed = time.monotonic() - t0
    finally:
        stop.value = 1
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    # the last mount: quiet now; the tree shows the disk
    doc = rfs.toml_loads(cfg.read_bytes())
    for rel, path, _ in WRITERS:
        want = get(doc, path)
        got = (mnt / rel).read_bytes()
        assert got == ("%s\n" % want).encode(), "%s: mount shows %r, disk holds %r" % (rel, got, want)
    rc = d.stop()
    assert rc == 0, "the last daemon exited with %r" % (rc,)
    assert sorted(os.listdir(cdir)) == ["config.toml"], sorted(os.listdir(cdir))
    assert not conftest.is_mounted(os.path.realpath(mnt))
    logtext = tail(log, 100000)
    for mark in conftest.SANITIZER_MARKS:
        assert mark not in logtext, "sanitizer report in the runnerfs log:\n" + tail(log)

    writes = [a + 1 for a in attempted]
    print("\ncrash storm: %d SIGKILLs in %.1fs (daemon up %.0f-%.0f ms, mean %.0f ms before each kill); "
          "writes attempted per writer %s (%d in all); CONFIG changed between kills %d times; "
          "temp file left behind by %d kills, all removed at the next start; "
          "CONFIG newer than the last acknowledged write after %d kills (per writer %s); "
          "problems %d" % (kills, elapsed, min(uptimes) * 1000, max(uptimes) * 1000,
                           1000 * sum(uptimes) / len(uptimes), writes, sum(writes), changed_kills,
                           left_behind, ahead_kills, acked_after, len(problems)))
    assert not problems, "\n".join(problems)
    assert kills >= MIN_KILLS, "only %d kills in %.0fs (want %d)" % (kills, SECONDS, MIN_KILLS)
    assert changed_kills > kills // 4, "test too weak: CONFIG rarely changed between kills"
