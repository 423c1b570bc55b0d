"""A private Docker engine for the reload tests (contract 8), and fake
engines. Standard library only; imported by tests/integration/test_reload*.py
and test_deploy_*.py (with images.py: Debian images made with debootstrap).

    from dockerd import docker_engine, docker_proxy, fake_engine  # fixtures

docker_engine (session)
    Starts Debian's dockerd (docker.io) on a private socket in a fresh
    /run/rfs-dockerd-XXXX (unix socket paths must stay < 108 bytes) with its
    own --exec-root, --pidfile and containerd namespace, its --data-root in
    a fresh /var/tmp/rfs-dockerd-data-XXXX (images take gigabytes with vfs;
    /run is often a small tmpfs), no
    network (--bridge=none, no iptables), storage-driver vfs. Imports a tiny
    image, rfs-busybox:test, from a rootfs holding busybox-static (nothing can
    be pulled). When the engine cannot start (not root, docker.io or
    busybox-static missing, dockerd dies or never answers) every test that
    uses it is SKIPPED with the reason, never passed.
    Teardown, whatever happened: remove every container, stop dockerd
    (SIGTERM, wait, SIGKILL; then its containerd and shims), unmount whatever
    is left under the directory, remove it.

Engine.run_counter(name)
    A container whose shell (PID 1, busybox sh) counts SIGHUPs into a
    bind-mounted host file: counter.value() reads it without `docker exec`.

docker_proxy (function)
    Factory: a unix socket that forwards to the engine and records the
    request lines it sees (`POST /v1.41/containers/x/kill?signal=SIGHUP`),
    so a test counts the kill requests exactly; the container's count alone
    can undercount (a standard signal sent while one is pending merges).

fake_engine (function)
    Factory: fake_engine("hang") is a unix socket that accepts and reads
    requests and never answers; no dockerd needed.
"""

import atexit
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import pytest

IMAGE = "rfs-busybox:test"
START_DEADLINE = 40.0       # dockerd answering `docker info`
STOP_DEADLINE = 20.0        # dockerd exiting after SIGTERM
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
# The busybox applets the image links (busybox-static is one binary).
APPLETS = ("sh", "sleep", "cat", "echo", "mv", "true", "false", "ls", "kill", "ps")


def _docker_cli():
    """Debian's docker client first: another `docker` may come first on PATH."""
    for p in ("/usr/bin/docker",):
        if os.access(p, os.X_OK):
            return p
    return shutil.which("docker")


# --------------------------------------------------------------------------
# talking to a unix-socket HTTP server (the engine, or a proxy of it)

class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def unix_http(sock_path, method, url, timeout=10.0):
    """One HTTP request over a unix socket: (status, body bytes)."""
    c = _UnixHTTPConnection(str(sock_path), timeout)
    try:
        c.request(method, url)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def _parse_docker_time(s):
    """RFC 3339 with nanoseconds ('2026-11-25T14:39:23.291675881Z') -> epoch,
    or None for docker's zero time (never started)."""
    if not s or s.startswith("0001-"):
        return None
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", s)
    if not m:
        raise ValueError("unexpected docker time %r" % s)
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.datetime.fromisoformat("%s.%s%s" % (m.group(1), frac, tz)).timestamp()


# --------------------------------------------------------------------------
# the engine

class EngineUnavailable(Exception):
    pass


class Counter:
    """The SIGHUP count a container (or process) writes to a host file."""

    def __init__(self, name, path):
        self.name = name
        self.path = Path(path)

    def value(self):
        """The count, or None before the shell has installed its trap."""
        try:
            t = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(t) if t else None

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while self.value() is None:
            if time.monotonic() > deadline:
                raise AssertionError("%s never wrote its count file %s" % (self.name, self.path))
            time.sleep(0.02)

    def wait_change(self, old, timeout):
        """Poll until the count differs from `old`; return it (or `old` on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.value()
            if v is not None and v != old:
                return v
            if time.monotonic() > deadline:
                return v
            time.sleep(0.02)


# busybox sh as PID 1: the kernel delivers to a namespace's init only the
# signals it has a handler for, so the trap is installed before the count
# file says 0 (= ready). The trap runs between two `sleep 0.1`s. The count
# is replaced with mv so a reader never sees a half-written file.
COUNTER_SCRIPT = ('n=0; trap \'n=$((n+1)); echo $n > /out/count.tmp; mv /out/count.tmp /out/count\' HUP; '
                  'echo 0 > /out/count.tmp; mv /out/count.tmp /out/count; '
                  'while :; do sleep 0.1; done')


class Engine:
    def __init__(self, root, data_root=None):
        self.dir = Path(root)
        self.data = Path(data_root) if data_root else self.dir / "data"
        self.sock = self.dir / "docker.sock"
        self.host = "unix://%s" % self.sock
        self.pidfile = self.dir / "docker.pid"
        self.logpath = self.dir / "dockerd.log"
        self.cli = _docker_cli()
        self.proc = None
        self.containers = []
        self._closed = False
        self._log = None

    # -- life cycle -------------------------------------------------------
    def start(self):
        for d in ("exec", "cli"):
            (self.dir / d).mkdir()
        self.data.mkdir(exist_ok=True)
        # containerd namespaces: [A-Za-z0-9] words joined by . _ -
        ns = re.sub(r"[^A-Za-z0-9]", "x", self.dir.name[-8:])
        args = ["dockerd",
                "--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-forward=false",
                "--ip-masq=false", "--userland-proxy=false", "--storage-driver=vfs",
                "--host", self.host,
                "--data-root", str(self.data),
                "--exec-root", str(self.dir / "exec"),
                "--pidfile", str(self.pidfile),
                # a containerd of the machine (if any), or another test
                # run's, must not mix our containers with its own
                "--containerd-namespace", "rfs-test-" + ns,
                "--containerd-plugins-namespace", "rfs-test-plugins-" + ns,
                "--log-level", "warn"]
        self._log = open(self.logpath, "wb")
        env = dict(os.environ)
        env.pop("DOCKER_HOST", None)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.monotonic() + START_DEADLINE
        last = ""
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise EngineUnavailable("dockerd exited with status %s at start-up; its log:\n%s"
                                        % (rc, self.log_tail()))
            if self.sock.exists():
                r = self.docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=10)
                if r.returncode == 0:
                    self.version = r.stdout.strip()
                    break
                last = (r.stderr or r.stdout).strip()
            if time.monotonic() > deadline:
                raise EngineUnavailable("dockerd did not answer `docker info` within %.0fs (%s); "
                                        "its log:\n%s" % (START_DEADLINE, last, self.log_tail()))
            time.sleep(0.1)
        self._import_image()

    def _import_image(self):
        busybox = next((p for p in BUSYBOX_CANDIDATES if os.path.isfile(p)), None)
        if busybox is None:
            raise EngineUnavailable("no busybox binary (apt-get install busybox-static)")
        r = subprocess.run(["file", "-L", busybox], capture_output=True, text=True) \
            if shutil.which("file") else None
        if r is not None and "dynamically linked" in r.stdout:
            raise EngineUnavailable("%s is dynamically linked; the image needs busybox-static" % busybox)
        tar = self.dir / "rootfs.tar"

        def entry(name, kind, mode=0o755, link=None):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime = kind, mode, int(time.time())
            if link:
                ti.linkname = link
            return ti

        with tarfile.open(tar, "w") as t:
            for d in ("bin", "tmp", "out", "proc", "sys", "dev", "etc"):
                t.addfile(entry(d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755))
            with open(busybox, "rb") as f:
                ti = entry("bin/busybox", tarfile.REGTYPE)
                ti.size = os.fstat(f.fileno()).st_size
                t.addfile(ti, f)
            for a in APPLETS:
                t.addfile(entry("bin/" + a, tarfile.SYMTYPE, 0o777, link="busybox"))
        r = self.docker("import", "--change", 'ENV PATH=/bin', str(tar), IMAGE, check=False, timeout=120)
        if r.returncode != 0:
            raise EngineUnavailable("docker import failed: %s" % (r.stderr.strip() or r.stdout.strip()))

    def close(self):
        """Remove the containers, stop dockerd, unmount and remove the
        directory. Idempotent; never raises; returns a list of notes."""
        if self._closed:
            return []
        self._closed = True
        notes = []
        if self.proc is not None and self.proc.poll() is None:
            ids = []
            r = self.docker("ps", "-aq", "--no-trunc", check=False, timeout=30)
            if r.returncode == 0:
                ids = r.stdout.split()
            if ids:
                r = self.docker("rm", "-f", *ids, check=False, timeout=60)
                if r.returncode != 0:
                    notes.append("docker rm -f failed: %s" % r.stderr.strip())
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                notes.append("dockerd ignored SIGTERM for %.0fs; sent SIGKILL" % STOP_DEADLINE)
                self.proc.kill()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    notes.append("dockerd survived SIGKILL")
        if self._log:
            self._log.close()
        # Left behind only if dockerd died hard: its containerd and shims
        # (their command lines name our directory) and the container processes.
        self._kill_leftovers(notes)
        self._unmount_all(notes)
        if any(self._mounts_under()):
            notes.append("mounts remain under %s or %s; not removing them" % (self.dir, self.data))
        else:
            shutil.rmtree(self.data, ignore_errors=True)
            shutil.rmtree(self.dir, ignore_errors=True)
        return notes

    def _kill_leftovers(self, notes):
        mark = str(self.dir).encode()
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    if mark in f.read():
                        pids.append(int(p))
            except OSError:
                pass
        # container processes: the cgroups the engine made for our containers
        for cid in self.containers_ids_seen():
            for ctl in ("pids", "memory", "cpu", "unified", "systemd"):
                procs = Path("/sys/fs/cgroup") / ctl / "docker" / cid / "cgroup.procs"
                try:
                    pids += [int(x) for x in procs.read_text().split()]
                except (OSError, ValueError):
                    pass
        for pid in sorted(set(pids)):
            try:
                os.kill(pid, signal.SIGKILL)
                notes.append("killed leftover pid %d" % pid)
            except OSError:
                pass

    def containers_ids_seen(self):
        d = self.data / "containers"
        try:
            return [c for c in os.listdir(d) if re.fullmatch(r"[0-9a-f]{64}", c)]
        except OSError:
            return []

    def _mounts_under(self):
        roots = (str(self.dir), str(self.data))
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if any(mp == r or mp.startswith(r + "/") for r in roots):
                    yield mp

    def _unmount_all(self, notes):
        for _ in range(3):
            mps = sorted(set(self._mounts_under()), key=len, reverse=True)
            if not mps:
                return
            for mp in mps:
                r = subprocess.run(["umount", mp], capture_output=True, timeout=20)
                if r.returncode != 0:
                    subprocess.run(["umount", "-l", mp], capture_output=True, timeout=20)
        left = list(self._mounts_under())
        if left:
            notes.append("could not unmount: %s" % ", ".join(left))

    # -- using it ---------------------------------------------------------
    def docker(self, *args, check=True, timeout=60, env=None):
        env = dict(os.environ, **(env or {}))
        env.pop("DOCKER_HOST", None)
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_CONFIG"] = str(self.dir / "cli")
        r = subprocess.run([self.cli, "-H", self.host] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError("docker %s failed (exit %d): %s"
                                 % (" ".join(map(str, args)), r.returncode, r.stderr.strip()))
        return r

    def api(self, method, url, timeout=10.0):
        """(status, parsed JSON or raw bytes) from the engine itself."""
        st, body = unix_http(self.sock, method, url, timeout)
        try:
            return st, json.loads(body) if body else None
        except ValueError:
            return st, body

    def inspect(self, name):
        st, j = self.api("GET", "/containers/%s/json" % name)
        return j if st == 200 else None

    def started_at(self, name):
        j = self.inspect(name)
        assert j is not None, "no container %s" % name
        return _parse_docker_time(j["State"]["StartedAt"])

    def running(self, name):
        j = self.inspect(name)
        return bool(j and j["State"]["Running"])

    def age(self, name):
        t = self.started_at(name)
        return None if t is None else time.time() - t

    def wait_age(self, name, secs, timeout=30.0):
        """Sleep until the container started more than `secs` ago."""
        t = self.started_at(name)
        assert t is not None, "%s never started" % name
        left = t + secs - time.time()
        assert left < timeout, "%s started in the future? (%.1fs)" % (name, left)
        if left > 0:
            time.sleep(left)

    def run_counter(self, name):
        """docker run -d a container counting SIGHUPs; returns its Counter
        once the trap is installed."""
        out = self.dir / "out" / name
        out.mkdir(parents=True)
        self.docker("run", "-d", "--name", name, "--network", "none", "-v", "%s:/out" % out,
                    IMAGE, "sh", "-c", COUNTER_SCRIPT, timeout=60)
        self.containers.append(name)
        c = Counter(name, out / "count")
        c.wait_ready()
        return c

    def run_stopped(self, name):
        """A container that ran and exited (docker run `true`)."""
        self.docker("run", "--name", name, "--network", "none", IMAGE, "true", timeout=60)
        self.containers.append(name)
        assert not self.running(name)

    def log_tail(self, n=40):
        try:
            lines = self.logpath.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])


def _short_dir():
    base = "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()
    return tempfile.mkdtemp(prefix="rfs-dockerd-", dir=base)


def _sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise KeyboardInterrupt("SIGTERM")


def start_engine():
    """(Engine, None) or (None, why it cannot start here)."""
    if os.geteuid() != 0:
        return None, "dockerd needs root"
    if not shutil.which("dockerd"):
        return None, "dockerd is not installed (apt-get install docker.io; contrib/install-deps.sh)"
    if not _docker_cli():
        return None, "the docker client is not installed (apt-get install docker.io)"
    if not any(os.path.isfile(p) for p in BUSYBOX_CANDIDATES):
        return None, "busybox is not installed (apt-get install busybox-static)"
    data = "/var/tmp" if os.access("/var/tmp", os.W_OK) else tempfile.gettempdir()
    eng = Engine(_short_dir(), tempfile.mkdtemp(prefix="rfs-dockerd-data-", dir=data))
    atexit.register(eng.close)  # a session interrupted halfway still cleans up
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # `timeout`, meson's test timeout: SIGTERM would end python without
        # atexit; as KeyboardInterrupt, pytest stops and the engine goes
        signal.signal(signal.SIGTERM, _sigterm)
    try:
        eng.start()
    except (EngineUnavailable, OSError, subprocess.SubprocessError) as e:
        notes = eng.close()
        return None, "%s%s" % (e, "".join("\n" + n for n in notes))
    return eng, None


@pytest.fixture(scope="session")
def docker_engine():
    eng, why = start_engine()
    if eng is None:
        print("\nreload tests against Docker SKIPPED: " + why, flush=True)
        pytest.skip("Docker engine unavailable: " + why)
    try:
        yield eng
    finally:
        notes = eng.close()
        if notes:
            print("\ndocker engine teardown: " + "; ".join(notes), flush=True)


# --------------------------------------------------------------------------
# unix-socket servers: a recording proxy of the engine, a hung engine

class UnixServer:
    """Accepts on a unix socket in a thread; handle(conn) per connection
    (each in its own thread). Records the HTTP request lines it sees."""

    REQ = re.compile(rb"(?:^|\r?\n)(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]\r?\n")

    def __init__(self, path):
        self.path = str(path)
        self.requests = []          # (monotonic time, "METHOD URL")
        self.connections = 0
        self._lock = threading.Lock()
        self._socks = []
        self._stop = False
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(64)
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handle(conn)
        except OSError:
            pass

    def _sniff(self, buf):
        """Record complete request lines in buf; return the unparsed rest."""
        while True:
            m = self.REQ.search(buf)
            if not m:
                return buf[-4096:]
            with self._lock:
                self.requests.append((time.monotonic(), "%s %s" % (m.group(1).decode(),
                                                                   m.group(2).decode(errors="replace"))))
            buf = buf[m.end() - 1:]

    def handle(self, conn):
        raise NotImplementedError

    def seen(self, pattern=""):
        """Request lines containing `pattern` (a regex)."""
        with self._lock:
            return [r for _, r in self.requests if re.search(pattern, r)]

    def kills(self):
        return self.seen(r"^POST \S*/containers/[^/]+/kill")

    def close(self):
        self._stop = True
        try:
            self.srv.close()
        except OSError:
            pass
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class HungEngine(UnixServer):
    """Reads requests and never answers."""

    def handle(self, conn):
        buf = b""
        while not self._stop:
            d = conn.recv(65536)
            if not d:
                return
            buf = self._sniff(buf + d)


class Proxy(UnixServer):
    """Forwards bytes both ways to the real engine socket, recording the
    request lines."""

    def __init__(self, path, upstream):
        self.upstream = str(upstream)
        super().__init__(path)

    def handle(self, conn):
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(self.upstream)
        with self._lock:
            self._socks.append(up)

        def back():
            try:
                while True:
                    d = up.recv(65536)
                    if not d:
                        break
                    conn.sendall(d)
            except OSError:
                pass
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        threading.Thread(target=back, daemon=True).start()
        buf = b""
        while True:
            d = conn.recv(65536)
            if not d:
                break
            buf = self._sniff(buf + d)
            up.sendall(d)
        try:
            up.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture
def docker_proxy(docker_engine):
    """Factory: docker_proxy() -> Proxy to the engine (its .path, .kills())."""
    made = []

    def make():
        p = Proxy(docker_engine.dir / ("proxy%d.sock" % len(made)), docker_engine.sock)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def fake_engine():
    """Factory: fake_engine("hang") -> HungEngine on a short socket path."""
    made = []
    d = tempfile.mkdtemp(prefix="rfs-fake-", dir="/tmp")

    def make(kind="hang"):
        assert kind == "hang", kind
        s = HungEngine(os.path.join(d, "e%d.sock" % len(made)))
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    shutil.rmtree(d, ignore_errors=True)
