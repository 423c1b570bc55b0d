"""contrib/docker/ (issue 7; issue 15, section 1): the Dockerfile is built
and the documented compose sidecar is run for real, beside a stand-in for
the runner's container, in a private Docker engine (dockerd.py).

For real (every run of the normal build; see images.py for when they are
skipped, always with the reason):

- test_image_builds: debian:bookworm is made with debootstrap (nothing can
  be pulled; images.py caches it), and `docker build -f
  contrib/docker/Dockerfile .` (BuildKit, --network host for apt-get) runs
  from the top of the source tree; the image prints the version, has no
  compiler, and has few layers.
- test_compose_sidecar_edits_and_reloads: `docker-compose up` of
  contrib/docker/docker-compose.yml as users run it, with an override file
  for what cannot be as in production (the stand-in's image, no network,
  the private engine's socket); through the host's ./mnt, values change
  and a registry is added; config.toml has exactly those changes, the
  stand-in reads them in its own /etc/gitlab-runner when it gets its
  SIGHUP, and it gets one per burst (counted by the stand-in and as kill
  requests through a recording proxy of the engine).
- test_compose_restart_and_down: `docker-compose restart` of each
  container and `docker-compose down`: config.toml byte for byte intact,
  the mount back on the host after a restart (one mount, working, reloads
  reaching the restarted runner), no mount left after down.

Static, every build: the compose file parses (`docker-compose config`) and
has what a FUSE mount in a container needs; its command line mounts; the
Dockerfile's packages exist in Debian 12 and cover the binary's libraries."""

import base64
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

import dockerd
import images
from dockerd import Counter, docker_engine, docker_proxy  # noqa: F401 (fixtures)
from rfs import REPO, fixture, replace_once, toml_loads, try_write, wait_for

DOCKER = REPO / "contrib" / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
DOCKERFILE = DOCKER / "Dockerfile"
IMAGE_TAG = "runnerfs:latest"   # the compose file's image: for the runnerfs service


@functools.lru_cache(maxsize=None)
def _compose_config_output():
    dc = shutil.which("docker-compose")
    if not dc:
        return None
    r = subprocess.run([dc, "-f", str(COMPOSE), "config"], cwd=DOCKER, capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def compose_config():
    res = _compose_config_output()
    if res is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    rc, out, err = res
    assert rc == 0, "docker-compose config:\n" + (out + err).decode(errors="replace")
    try:
        import yaml
    except ImportError:
        pytest.skip("python3-yaml is missing: docker-compose parsed the file, its content is not checked")
    return yaml.safe_load(out)


def test_compose_file(tmp_path):
    c = compose_config()
    svc = c["services"]
    runner, rfs = svc["gitlab-runner"], svc["runnerfs"]
    assert runner["image"].startswith("gitlab/gitlab-runner")
    assert rfs["image"] == IMAGE_TAG
    config_dir = str(DOCKER / "config")
    assert "%s:/etc/gitlab-runner:rw" % config_dir in runner["volumes"]

    assert rfs["devices"] == ["/dev/fuse"]
    assert rfs["cap_add"] == ["SYS_ADMIN"]
    assert "apparmor=unconfined" in rfs["security_opt"]
    vols = rfs["volumes"]
    assert "%s:/etc/gitlab-runner:rw" % config_dir in vols          # the same directory
    assert "/var/run/docker.sock:/var/run/docker.sock:rw" in vols
    binds = [v for v in vols if isinstance(v, dict)]
    assert len(binds) == 1 and binds[0]["type"] == "bind"
    assert binds[0]["bind"]["propagation"] == "rshared"
    assert binds[0]["source"] == str(DOCKER / "mnt")

    argv = shlex.split(rfs["command"]) if isinstance(rfs["command"], str) else rfs["command"]
    # runnerfs [OPTIONS] CONFIG MOUNTPOINT
    assert argv[-2] == "/etc/gitlab-runner/config.toml" and argv[-1] == binds[0]["target"]
    assert "-f" in argv[:-2]
    opts = ",".join(argv[i + 1] for i, a in enumerate(argv[:-2]) if a == "-o").split(",")
    reload = [o for o in opts if o.startswith("reload=")]
    assert reload == ["reload=docker:%s" % runner["container_name"]], (reload, runner)
    assert "allow_other" in opts


def test_compose_command_runs(runnerfs):
    """The container's command line, as runnerfs parses it: the same
    options (reload=docker: swapped for none: no engine here) mount."""
    c = compose_config()
    argv = shlex.split(c["services"]["runnerfs"]["command"])
    opts = ",".join(argv[i + 1] for i, a in enumerate(argv[:-2]) if a == "-o").split(",")
    opts = ["reload=none" if o.startswith("reload=") else o for o in opts]
    flags = [a for i, a in enumerate(argv[:-2]) if a != "-o" and (i == 0 or argv[i - 1] != "-o")]
    assert flags == ["-f"], flags   # the harness runs with -f too
    m = runnerfs(fixture("01-register-docker.toml"), options=opts)
    assert m.read("concurrent") == b"4\n"
    m.sh("echo 5 > concurrent")
    assert b"concurrent = 5 #" in m.read_config()


def dockerfile_stages():
    stages, cur = [], None
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word = line.split()[0].upper()
        if word == "FROM":
            cur = {"from": line.split()[1], "run": [], "lines": []}
            stages.append(cur)
        if cur is not None:
            cur["lines"].append(line)
            if word == "RUN":
                cur["run"].append(line[3:].strip())
    return stages


def apt_packages(stage):
    pkgs = []
    for cmd in stage["run"]:
        for part in cmd.split("&&"):
            w = part.split()
            if w[:2] == ["apt-get", "install"]:
                pkgs += [x for x in w[2:] if not x.startswith("-")]
    return pkgs


def test_dockerfile_stages():
    st = dockerfile_stages()
    assert [s["from"] for s in st] == ["debian:bookworm", "debian:bookworm-slim"]
    build, final = st
    assert {"meson", "ninja-build", "libfuse3-dev", "libcurl4-openssl-dev", "libcjson-dev"} <= set(apt_packages(build))
    assert set(apt_packages(final)) == {"libfuse3-3", "fuse3", "libcurl4", "libcjson1"}
    assert any(ln.startswith("COPY --from=build ") for ln in final["lines"])
    assert not any(ln.split()[0] == "COPY" and "--from" not in ln for ln in final["lines"]), \
        "the final stage takes only the binary from the build stage"
    assert 'ENTRYPOINT ["/usr/sbin/runnerfs"]' in final["lines"]


def test_dockerfile_packages_exist_and_cover_the_binary():
    """Every package name is one Debian 12 knows (apt-cache, the local
    lists), and each library the binary needs (DT_NEEDED) comes from a
    package the final stage installs, or from libc6, which every image has."""
    if not shutil.which("apt-cache") or not shutil.which("dpkg"):
        pytest.skip("not a Debian system")
    build, final = dockerfile_stages()
    for p in apt_packages(build) + apt_packages(final):
        r = subprocess.run(["apt-cache", "show", "--no-all-versions", p], capture_output=True, timeout=60)
        if r.returncode != 0 and not subprocess.run(["dpkg", "-s", p], capture_output=True).returncode == 0:
            pytest.fail("Dockerfile installs %s, which Debian here does not know" % p)
    from tools import RUNNERFS_BIN
    r = subprocess.run(["readelf", "-d", str(RUNNERFS_BIN)], capture_output=True, timeout=30)
    if r.returncode != 0:
        pytest.skip("readelf failed: %s" % r.stderr.decode(errors="replace"))
    needed = [ln.split("[", 1)[1].rstrip("]") for ln in r.stdout.decode().splitlines() if "(NEEDED)" in ln]
    have = set(apt_packages(final)) | {"libc6"}
    for lib in needed:
        if lib.startswith(("libasan", "libubsan", "liblsan", "libstdc++", "libgcc_s", "libm.so")):
            continue   # a sanitizer build's runtime
        r = subprocess.run(["dpkg", "-S", "*/" + lib], capture_output=True, timeout=30)
        owners = {ln.split(":")[0] for ln in r.stdout.decode().splitlines()}
        assert owners & have, "%s (from %s) is not installed by the final stage %s" % (lib, owners, sorted(have))


def test_dockerignore():
    """The build context is the source tree; the host's build directories
    and .git stay out (BuildKit reads Dockerfile.dockerignore)."""
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    for p in (".git", "build", "build-*"):
        assert p in ignore


# --------------------------------------------------------------------------
# for real: the image, and the compose sidecar beside a stand-in runner

BUILD_DEADLINE = 1200.0
F01 = fixture("01-register-docker.toml")
RUNNER = "docker-shared-01"            # the first runner of F01
DELAY = 0.3                            # runnerfs's default reload_delay (300 ms)
MAX_WAIT = 10 * DELAY                  # its bounded maximum wait after the first change
MARGIN = 1.5                           # scheduling, the engine's own latency
GUARD = 5.0                            # a container younger than this is not signalled
MOUNT_DEADLINE = 20.0
PROJECT = "rfsdeploy"                  # docker-compose -p

# The stand-in for gitlab/gitlab-runner: busybox sh as PID 1. At each
# SIGHUP it does what the runner does, reads /etc/gitlab-runner/config.toml
# (into /out/seen.N), and counts (/out/count, 0 = trap installed); it exits
# on SIGTERM as the runner does, so `restart` and `down` do not wait 10 s.
STANDIN = ("n=0; trap 'exit 0' TERM; "
           "trap 'n=$((n+1)); cat /etc/gitlab-runner/config.toml > /out/seen.tmp; "
           "mv /out/seen.tmp /out/seen.$n; echo $n > /out/count.tmp; mv /out/count.tmp /out/count' HUP; "
           "echo 0 > /out/count.tmp; mv /out/count.tmp /out/count; "
           "while :; do sleep 0.1; done")


@pytest.fixture(scope="session")
def deploy_ok():
    why = images.deploy_skip_reason()
    if why:
        pytest.skip(why)


@pytest.fixture(scope="module")
def runnerfs_image(deploy_ok, docker_engine):  # noqa: F811
    """runnerfs:latest, built from contrib/docker/Dockerfile in the
    private engine, as the guide says (from the top of the tree)."""
    eng = docker_engine
    try:
        images.base_image(eng)
    except images.ImageUnavailable as e:
        pytest.skip("no Debian base image: %s" % e)
    t0 = time.monotonic()
    # BuildKit: it reads contrib/docker/Dockerfile.dockerignore (the host's
    # build directories stay out) and builds the two stages at once; the
    # legacy builder took 2.7 min instead of 1 here (vfs copies every layer)
    r = eng.docker("build", "--network", "host", "--progress", "plain", "-f", DOCKERFILE,
                   "-t", IMAGE_TAG, REPO, env={"DOCKER_BUILDKIT": "1"}, check=False,
                   timeout=BUILD_DEADLINE)
    images.timed("docker build -f contrib/docker/Dockerfile (BuildKit, --network host)", t0)
    images.disk_use(eng, "after the build")
    if r.returncode != 0:
        out = (r.stdout + r.stderr)[-6000:]
        why = images._mirror_unreachable()
        if why:
            pytest.skip("docker build of contrib/docker/Dockerfile: apt-get needs the archive: " + why)
        pytest.fail("docker build -f contrib/docker/Dockerfile failed (exit %d):\n%s"
                    % (r.returncode, out), pytrace=False)
    return IMAGE_TAG


def test_image_builds(runnerfs_image, docker_engine):  # noqa: F811
    eng = docker_engine
    from tools import RUNNERFS_BIN
    cfg = json.loads(eng.docker("image", "inspect", runnerfs_image).stdout)[0]
    assert cfg["Config"]["Entrypoint"] == ["/usr/sbin/runnerfs"], cfg["Config"]
    # one container (each is a full copy with vfs): the version, no tool
    # chain in the final stage, every library the binary needs
    r = eng.docker("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", runnerfs_image, "-c",
                   "/usr/sbin/runnerfs --version; echo ---; "
                   "for t in gcc cc meson ninja fusermount3; do command -v $t; done; "
                   "echo ---; ldd /usr/sbin/runnerfs | grep 'not found'; true")
    version, tools, missing = r.stdout.split("---\n")
    host = subprocess.run([str(RUNNERFS_BIN), "--version"], capture_output=True, text=True, timeout=10)
    assert version.split()[:2] == host.stdout.split()[:2], (version, host.stdout)
    assert tools.split() == ["/usr/bin/fusermount3"], "the image has: %r" % tools
    assert missing.strip() == "", "libraries missing in the image: %s" % missing
    # few layers: the base, the runtime packages, the binary (every layer
    # is a full copy with the vfs storage driver the tests use)
    layers = cfg["RootFS"]["Layers"]
    assert len(layers) == 3, "the final image has %d layers" % len(layers)


def _fuse_mounts(path):
    """The mountinfo entries at `path` (the host's view): (fstype, optional
    fields such as shared:N)."""
    real = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if mp != real:
                continue
            sep = fields.index("-")
            out.append((fields[sep + 1], fields[6:sep]))
    return [m for m in out if m[0].startswith("fuse")]


class Sidecar:
    """The compose project: contrib/docker/docker-compose.yml as users run
    it plus the test's override file, in PROJ (on a shared tmpfs)."""

    def __init__(self, eng, proj, proxy):
        self.eng, self.proj, self.proxy = eng, proj, proxy
        self.config = proj / "config" / "config.toml"
        self.mnt = proj / "mnt"
        self.out = proj / "out"
        self.counter = Counter("gitlab-runner", self.out / "count")
        self.up_done = False

    def compose(self, *args, check=True, timeout=180):
        env = dict(os.environ, DOCKER_HOST=self.eng.host, DOCKER_CONFIG=str(self.eng.dir / "cli"))
        env.pop("DOCKER_CONTEXT", None)
        cmd = ["docker-compose", "-p", PROJECT, "--project-directory", str(self.proj),
               "-f", str(COMPOSE), "-f", str(self.proj / "override.yml")] + list(args)
        r = subprocess.run(cmd, cwd=self.proj, env=env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (exit %d):\n%s" % (" ".join(cmd), r.returncode,
                                                               (r.stdout + r.stderr)[-4000:]))
        return r

    def cid(self, service):
        ids = self.compose("ps", "-q", service).stdout.split()
        assert len(ids) == 1, "compose ps -q %s: %r" % (service, ids)
        return ids[0]

    def mounts(self):
        return _fuse_mounts(self.mnt)

    def wait_mounted(self, what):
        """Exactly one runnerfs mount at ./mnt, working; returns its entry."""
        def one():
            ms = self.mounts()
            if len(ms) == 1 and (self.mnt / "concurrent").read_bytes():
                return ms[0]
            assert len(ms) <= 1, "%d mounts stacked at %s: %r" % (len(ms), self.mnt, ms)
            return None
        return wait_for(one, MOUNT_DEADLINE, interval=0.05,
                        what="the runnerfs mount at %s on the host (%s)" % (self.mnt, what))

    def up(self):
        self.compose("up", "-d", "--no-build")
        self.up_done = True
        self.counter.wait_ready(30)
        return self.wait_mounted("after docker-compose up")

    def write(self, rel, data):
        # as the shell's `>` does
        res = try_write(self.mnt / rel, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        assert res is None, "writing %r to mnt/%s failed: %r" % (data, rel, res)

    def seen(self, n):
        return (self.out / ("seen.%d" % n)).read_bytes()

    def expect_one_sighup(self, before):
        """After a burst: the stand-in counts exactly one more SIGHUP (and
        no second one within the bounded maximum wait); returns the count."""
        c = self.counter.wait_change(before, MAX_WAIT + 2 * MARGIN)
        assert c == before + 1, "after a burst the stand-in's count went from %s to %s" % (before, c)
        time.sleep(MAX_WAIT + MARGIN)   # a second signal would have come by now
        assert self.counter.value() == before + 1, \
            "a second SIGHUP for one burst (count %s)" % self.counter.value()
        return before + 1

    def logs(self, service):
        r = self.eng.docker("logs", self.cid(service), check=False)
        return r.stdout + r.stderr


@pytest.fixture
def sidecar(runnerfs_image, docker_engine, docker_proxy, tmp_path):  # noqa: F811
    """The documented sidecar setup, up: ./config holding F01, ./mnt the
    host's view of the mount. The compose project sits on a tmpfs of its
    own made --make-shared (rshared needs a shared mount as its source; /
    is private here). Teardown, whatever happened: down, remove the
    containers, unmount what is left."""
    eng = docker_engine
    if not shutil.which("docker-compose"):
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    share = tmp_path / "share"
    share.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0755", "tmpfs", str(share)],
                   check=True, capture_output=True, timeout=30)
    sc = None
    try:
        subprocess.run(["mount", "--make-shared", str(share)], check=True, capture_output=True, timeout=30)
        proj = share / "proj"
        for d in ("config", "mnt", "out"):   # the guide: mkdir -p config mnt
            (proj / d).mkdir(parents=True)
        (proj / "config" / "config.toml").write_bytes(F01)
        os.chmod(proj / "config" / "config.toml", 0o600)
        proxy = docker_proxy()
        # What cannot be as in production, and only that: the runner's
        # image (a stand-in; nothing can be pulled), no network (the engine
        # has no bridge), the Docker socket: the private engine's, and for
        # runnerfs a recording proxy of it, bound where the compose file
        # binds /var/run/docker.sock (compose merges volumes by target).
        override = {"services": {
            "gitlab-runner": {
                "image": dockerd.IMAGE,
                "network_mode": "none",
                "command": ["sh", "-c", STANDIN.replace("$", "$$")],
                "volumes": ["%s:/out" % (proj / "out"), "%s:/var/run/docker.sock" % eng.sock],
            },
            "runnerfs": {
                "network_mode": "none",
                "volumes": ["%s:/var/run/docker.sock" % proxy.path],
            },
        }}
        (proj / "override.yml").write_text(json.dumps(override, indent=2) + "\n")  # JSON is YAML
        sc = Sidecar(eng, proj, proxy)
        yield sc
    finally:
        notes = []
        try:
            if sc is not None and sc.up_done:
                r = sc.compose("down", "-t", "5", check=False)
                if r.returncode != 0:
                    notes.append("docker-compose down: " + (r.stdout + r.stderr)[-2000:])
            r = eng.docker("ps", "-aq", "--filter", "label=com.docker.compose.project=%s" % PROJECT,
                           check=False)
            left = r.stdout.split() + (["gitlab-runner"] if eng.inspect("gitlab-runner") else [])
            if left:
                eng.docker("rm", "-f", *left, check=False)
        except Exception as e:  # the engine died: its own teardown kills what is left
            notes.append("removing the containers: %r" % (e,))
        if sc is not None and sc.mounts():
            subprocess.run(["fusermount3", "-uz", str(sc.mnt)], capture_output=True, timeout=30)
        r = subprocess.run(["umount", "-R", str(share)], capture_output=True, timeout=30)
        if r.returncode != 0:
            subprocess.run(["umount", "-R", "-l", str(share)], capture_output=True, timeout=30)
        if notes:
            print("\nsidecar teardown: " + "\n".join(notes), flush=True)


def _auth_config(data, runner=0):
    env = toml_loads(data)["runners"][runner].get("environment", [])
    vals = [e.split("=", 1)[1] for e in env if e.startswith("DOCKER_AUTH_CONFIG=")]
    assert len(vals) == 1, env
    return json.loads(vals[0])


def test_compose_sidecar_edits_and_reloads(sidecar, docker_engine):  # noqa: F811
    sc, eng = sidecar, docker_engine
    entry = sc.up()
    # mount propagation: the FUSE mount made in the runnerfs container is
    # on the host at ./mnt, as a shared mount (rshared)
    assert entry[0] == "fuse.runnerfs", entry
    assert any(o.startswith("shared:") for o in entry[1]), "not a shared mount: %r" % (entry,)
    assert (sc.mnt / "concurrent").read_bytes() == b"4\n"
    assert "config.toml" in os.listdir(sc.mnt)
    # the stand-in and runnerfs share ./config
    r = eng.docker("exec", "gitlab-runner", "cat", "/etc/gitlab-runner/config.toml")
    assert r.stdout.encode() == F01
    eng.wait_age("gitlab-runner", GUARD + 0.5)   # past runnerfs's start-up guard
    assert sc.counter.value() == 0

    # burst 1: two values, as the guide's everyday tasks do
    sc.write("concurrent", b"9\n")
    sc.write("runners/%s/docker/image" % RUNNER, b"alpine:3.20\n")
    want = replace_once(F01, b"concurrent = 4 #", b"concurrent = 9 #")
    want = replace_once(want, b'image = "alpine:3.19"', b'image = "alpine:3.20"')
    assert sc.config.read_bytes() == want
    n = sc.expect_one_sighup(0)
    assert sc.seen(1) == want, "the stand-in read another config.toml at its SIGHUP"
    kills = sc.proxy.kills()
    assert len(kills) == 1 and re.search(r"/containers/gitlab-runner/kill\?signal=SIGHUP", kills[0]), kills

    # burst 2: a registry for the first runner
    reg = "runners/%s/registries/registry.example.com" % RUNNER
    pw = "s3cret-REG-pw-7f3e"
    os.mkdir(sc.mnt / reg)
    sc.write(reg + "/username", b"deploy\n")
    sc.write(reg + "/password", pw.encode() + b"\n")
    data = sc.config.read_bytes()
    auth = base64.b64encode(b"deploy:" + pw.encode()).decode()
    assert _auth_config(data)["auths"]["registry.example.com"]["auth"] == auth, data
    changed = [(a, b) for a, b in zip(want.splitlines(), data.splitlines()) if a != b]
    assert len(want.splitlines()) == len(data.splitlines()) and len(changed) == 1 and \
        changed[0][0] == b'  environment = ["GIT_DEPTH=10", "FF_USE_FASTZIP=true"]', changed
    assert (sc.mnt / reg / "username").read_bytes() == b"deploy\n"
    n = sc.expect_one_sighup(n)
    assert sc.seen(2) == data
    assert len(sc.proxy.kills()) == 2, sc.proxy.kills()
    r = eng.docker("exec", "gitlab-runner", "cat", "/etc/gitlab-runner/config.toml")
    assert r.stdout.encode() == data, "the stand-in's /etc/gitlab-runner/config.toml differs"

    status = (sc.mnt / ".runnerfs" / "status").read_text()
    assert "reload: docker:gitlab-runner" in status and "reloads sent: 2" in status, status
    log = sc.logs("runnerfs")
    assert "SIGHUP sent to container gitlab-runner" in log, log
    for secret in (pw, auth, "glrt-t1_AbCdEfGhIjKlMnOpQrSt"):
        assert secret not in log and secret not in status, "a secret in the runnerfs logs/status"


def test_compose_restart_and_down(sidecar, docker_engine):  # noqa: F811
    sc, eng = sidecar, docker_engine
    sc.up()
    eng.wait_age("gitlab-runner", GUARD + 0.5)
    sc.write("concurrent", b"6\n")
    data = replace_once(F01, b"concurrent = 4 #", b"concurrent = 6 #")
    assert sc.config.read_bytes() == data
    n = sc.expect_one_sighup(0)

    # restart runnerfs: it unmounts on SIGTERM, mounts again at start
    rfs_id = sc.cid("runnerfs")
    t0 = eng.started_at(rfs_id)
    sc.compose("restart", "runnerfs")
    assert eng.started_at(rfs_id) > t0, "docker-compose restart runnerfs did not restart it"
    sc.wait_mounted("after docker-compose restart runnerfs")
    assert sc.config.read_bytes() == data, "config.toml changed across a restart of runnerfs"
    assert (sc.mnt / "concurrent").read_bytes() == b"6\n"
    sc.write("concurrent", b"7\n")    # the new daemon writes and reloads
    data = replace_once(F01, b"concurrent = 4 #", b"concurrent = 7 #")
    assert sc.config.read_bytes() == data
    n = sc.expect_one_sighup(n)

    # restart the runner: the mount stays, reloads reach the new process
    for p in sc.out.iterdir():
        p.unlink()
    gr_t0 = eng.started_at("gitlab-runner")
    sc.compose("restart", "gitlab-runner")
    assert eng.started_at("gitlab-runner") > gr_t0
    sc.counter.wait_ready(30)
    assert sc.counter.value() == 0
    assert len(sc.mounts()) == 1 and (sc.mnt / "concurrent").read_bytes() == b"7\n"
    assert sc.config.read_bytes() == data, "config.toml changed across a restart of the runner"
    eng.wait_age("gitlab-runner", GUARD + 0.5)
    sc.write("runners/%s/docker/image" % RUNNER, b"alpine:3.21\n")
    data = replace_once(data, b'image = "alpine:3.19"', b'image = "alpine:3.21"')
    assert sc.config.read_bytes() == data
    sc.expect_one_sighup(0)
    assert sc.seen(1) == data
    assert len(sc.proxy.kills()) == 3, sc.proxy.kills()

    # down: both containers go, config.toml stays, no mount is left behind
    sc.compose("down", "-t", "10")
    sc.up_done = False
    assert sc.config.read_bytes() == data, "config.toml changed at docker-compose down"
    assert sc.mounts() == [], "a mount is left at %s after down: %r" % (sc.mnt, sc.mounts())
    assert os.listdir(sc.mnt) == []
    left = eng.docker("ps", "-aq", "--filter", "label=com.docker.compose.project=%s" % PROJECT).stdout.split()
    assert left == [] and eng.inspect("gitlab-runner") is None, left
