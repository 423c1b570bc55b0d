"""Helpers for the outside-writer tests (contract 3.3 compare-and-swap,
3.4 changes from outside): writers that change CONFIG behind runnerfs's
back the way the runner, `gitlab-runner register` and people do, and
observers that look at the mount while they do it. Standard library only.
"""

import errno
import os
import re
import threading
import time

import rfs

# --------------------------------------------------------------------------
# outside writers (on CONFIG itself, never through the mount)


def split_lines(data, n):
    """`data` cut into n chunks at line ends (each prefix is whole lines)."""
    lines = data.splitlines(keepends=True)
    assert len(lines) >= n, "test bug: %d lines for %d chunks" % (len(lines), n)
    per = len(lines) / n
    out, start = [], 0
    for i in range(1, n + 1):
        end = len(lines) if i == n else round(i * per)
        out.append(b"".join(lines[start:end]))
        start = end
    assert b"".join(out) == data
    return out


def write_in_place(path, chunks, pause=0.0, on_open=None):
    """The runner's own save: open(O_WRONLY|O_TRUNC), write the chunks with
    `pause` seconds between them, close. Returns (t_open, t_close), both
    time.monotonic(): t_open just before open(), t_close just after close()
    returned (so anything that starts later comes after the close)."""
    t_open = time.monotonic()
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        if on_open:
            on_open()
        for i, c in enumerate(chunks):
            if i and pause:
                time.sleep(pause)  # pacing the writer, not synchronisation
            n = os.write(fd, c)
            assert n == len(c), "short write"
    finally:
        os.close(fd)
    return t_open, time.monotonic()


def append(path, chunks, pause=0.0):
    """`gitlab-runner register`: open(O_WRONLY|O_APPEND), write, close.
    Returns the monotonic time right after close()."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for i, c in enumerate(chunks):
            if i and pause:
                time.sleep(pause)
            os.write(fd, c)
    finally:
        os.close(fd)
    return time.monotonic()


def replace_in(path, data):
    """Write a temp file next to `path`, fsync, os.replace it over `path`.
    Returns the monotonic time right after the rename."""
    tmp = "%s.outside-%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return time.monotonic()


def set_line(data, key, value):
    """data with the line `key = ...` (at the start of a line) set to
    `key = value`; the rest of the line after the value (a comment) is kept."""
    pat = re.compile(rb"(?m)^(" + re.escape(key) + rb" = )[^ #\r\n]+")
    new, n = pat.subn(lambda mo: mo.group(1) + value, data, count=1)
    assert n == 1, "test bug: no line %r" % (key,)
    return new


class CarefulRewriter:
    """An outside writer that rewrites CONFIG in place (truncate, then the
    new bytes in one write, or in two with a pause between) starting from what is in the file right now,
    so that it never itself loses a change someone else made: it reads
    the content through the same descriptor it then truncates, and if
    that inode was replaced by a rename before its write landed
    (fstat(fd).st_nlink == 0 after the write) the write went nowhere and
    it starts again from the new file. Whatever the file loses is
    therefore lost by the other writer (runnerfs)."""

    def __init__(self, path, key, values, pause=0.01, chunk_pause=0.004):
        self.path = path
        self.key = key
        self.values = list(values)
        self.pause = pause
        self.chunk_pause = chunk_pause
        self.done = []        # values whose write landed in the live file
        self.orphaned = 0     # writes that went to a replaced inode (retried)
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, v):
        fd = os.open(self.path, os.O_RDWR)
        try:
            data = b""
            while True:
                b = os.read(fd, 65536)
                if not b:
                    break
                data += b
            if not re.search(rb"(?m)^" + re.escape(self.key) + rb" = ", data):
                raise AssertionError("writing %s = %d: the live CONFIG has no %s line any more; "
                                     "someone wrote a file without it (%d bytes): %r"
                                     % (self.key.decode(), v, self.key.decode(), len(data), data[:300]))
            new = set_line(data, self.key, b"%d" % v)
            # cut at a line end in the middle: the first half parses on its own
            os.ftruncate(fd, 0)
            if v % 2:
                # odd values: two writes with a pause between them, cut at
                # a line end in the middle, so the first half parses alone
                lines = new.splitlines(keepends=True)
                half = b"".join(lines[:len(lines) // 2])
                os.pwrite(fd, half, 0)
                time.sleep(self.chunk_pause)  # a writer between two writes
                os.pwrite(fd, new[len(half):], len(half))
            else:
                os.pwrite(fd, new, 0)  # even values: one quick write
            landed = os.fstat(fd).st_nlink > 0
        finally:
            os.close(fd)
        return landed

    def _run(self):
        try:
            for v in self.values:
                for _attempt in range(100):
                    if self._one(v):
                        break
                    self.orphaned += 1
                else:
                    raise AssertionError("value %d: 100 writes in a row went to a replaced inode" % v)
                self.done.append(v)
                time.sleep(self.pause)
        except BaseException as e:  # reported by the test
            self.error = e

    def start(self):
        self.thread.start()

    def join(self, timeout):
        """Wait for the writer; returns its error (or None)."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the outside writer did not finish within %.0fs" % timeout
        return self.error


# --------------------------------------------------------------------------
# observers (through the mount)


def read_or_errno(path):
    """The bytes of `path`, or the errno name if reading fails."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def listdir_or_errno(path):
    try:
        return frozenset(os.listdir(path))
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


class Looker:
    """Threads that each call one function over and over until stopped,
    recording (name, t_start, t_end, result) for every call."""

    def __init__(self, probes):
        self.probes = probes  # {name: function}
        self.records = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(n, f), daemon=True)
                        for n, f in probes.items()]

    def _loop(self, name, fn):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                v = fn()
            except Exception as e:  # noqa: BLE001 - recorded, judged by the test
                v = "exception %r" % (e,)
            t1 = time.monotonic()
            with self._lock:
                self.records.append((name, t0, t1, v))
            time.sleep(0.002)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self, timeout=10):
        self._stop.set()
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), \
            "an observer is stuck in a call on the mount for %.0fs" % timeout

    def __exit__(self, *a):
        self.stop()


class FileSampler:
    """Reads CONFIG (on disk) over and over and checks that the given keys
    never go back to a smaller value: every key is only ever set to larger
    values, so a smaller one means a change was lost (someone wrote over it
    from a stale copy). A sample counts only if it is a whole file (it ends
    with `marker`) read from an inode that was still linked afterwards
    (a write to a replaced inode is not in the file)."""

    def __init__(self, path, extract, marker):
        self.path = path
        self.extract = extract    # bytes -> {key: int or None}
        self.marker = marker
        self.max = {}
        self.problems = []
        self.samples = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except OSError:
                continue
            try:
                data = b""
                while True:
                    b = os.read(fd, 65536)
                    if not b:
                        break
                    data += b
                linked = os.fstat(fd).st_nlink > 0
            finally:
                os.close(fd)
            if not linked or not data.endswith(self.marker):
                continue
            try:
                vals = self.extract(data)
            except Exception:  # noqa: BLE001 - a torn read that still ends right
                continue
            self.samples += 1
            for k, v in vals.items():
                if v is None:
                    continue
                if v < self.max.get(k, v) and len(self.problems) < 10 and \
                        not any(p.startswith(k + " ") for p in self.problems):
                    self.problems.append("%s went back from %d to %d (a lost change)"
                                         % (k, self.max[k], v))
                self.max[k] = max(v, self.max.get(k, v))
            time.sleep(0.001)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self._stop.set()
        self.thread.join(10)


def wait_status(m, pattern, timeout, what=None):
    """Poll .runnerfs/status until `pattern` (a regex) matches; return the
    match."""
    rx = re.compile(pattern, re.M)

    def look():
        return rx.search(m.status())
    return rfs.wait_for(look, timeout, interval=0.05,
                        what=what or "status matching %r" % (pattern,))
