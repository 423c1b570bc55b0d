"""Issue 7: contrib/docker/. What can be checked without pulling an image:

- docker-compose.yml parses with Debian's docker-compose (`config`), and the
  runnerfs service has what a FUSE mount in a container needs, signals the
  runner's container by the name it really has, and hands its mount to the
  host with rshared propagation;
- its command is a command line runnerfs accepts: it is run (with a real
  mount, reload=none instead of docker:) as the container would run it;
- the Dockerfile's packages exist in Debian 12, and its final stage has a
  package for every library the binary links against.

No base image (debian:bookworm) can be pulled here, so by default the image
is not built. RUNNERFS_TEST_IMAGE_BUILD=1 builds it for real on a base made
with debootstrap (test_image_builds_and_mounts; needs Debian's mirror and a
few minutes)."""

import functools
import os
import shlex
import shutil
import subprocess

import pytest

from dockerd import docker_engine  # noqa: F401 (fixture)
from rfs import REPO, fixture

DOCKER = REPO / "contrib" / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
DOCKERFILE = DOCKER / "Dockerfile"


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
# opt-in: build the image for real and run the sidecar

IMAGE_BUILD = os.environ.get("RUNNERFS_TEST_IMAGE_BUILD") == "1"


@pytest.mark.skipif(not IMAGE_BUILD, reason="set RUNNERFS_TEST_IMAGE_BUILD=1 to build the image: it "
                    "downloads Debian packages (debootstrap, apt-get in the build) and takes minutes")
def test_image_builds_and_mounts(docker_engine, tmp_path):
    """No base image can be pulled here, so debian:bookworm (and -slim) is
    made with debootstrap from Debian's mirror and imported into the test's
    private engine; then contrib/docker/Dockerfile is built from a clean
    copy of the source tree, and the image mounts a config with rshared
    propagation the way docker-compose.yml runs it."""
    for p in ("debootstrap", "git"):
        if not shutil.which(p):
            pytest.skip("not installed: " + p)
    eng = docker_engine
    rootfs = tmp_path / "rootfs"
    r = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs),
                        "http://deb.debian.org/debian"], capture_output=True, timeout=900)
    assert r.returncode == 0, r.stdout.decode(errors="replace")[-3000:]
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True, timeout=300)
    eng.docker("import", tar, "debian:bookworm", timeout=300)
    eng.docker("tag", "debian:bookworm", "debian:bookworm-slim")

    # the context: what git would commit (tracked and new files), no build dirs
    ctx = tmp_path / "ctx"
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "-co", "--exclude-standard"],
                           check=True, capture_output=True, timeout=60).stdout.split(b"\0")
    for f in filter(None, files):
        src = REPO / f.decode()
        if src.is_file():
            (ctx / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ctx / f.decode())
    r = eng.docker("build", "--network", "host", "-f", ctx / "contrib/docker/Dockerfile",
                   "-t", "runnerfs:test", ctx, check=False, timeout=1800)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    v = eng.docker("run", "--rm", "--network", "none", "runnerfs:test", "--version")
    assert v.stdout.startswith("runnerfs ")

    # the sidecar: ./config shared, ./mnt handed to the host (rshared needs
    # a shared mount as its source: a tmpfs of our own)
    share = tmp_path / "share"
    share.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(share)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(share)], check=True)
        (share / "config").mkdir()
        (share / "mnt").mkdir()
        cfg = share / "config" / "config.toml"
        cfg.write_bytes(fixture("01-register-docker.toml"))
        eng.docker("run", "-d", "--name", "rfs-sidecar", "--network", "none", "--device", "/dev/fuse",
                   "--cap-add", "SYS_ADMIN", "--security-opt", "apparmor=unconfined",
                   "-v", "%s:/etc/gitlab-runner" % (share / "config"),
                   "--mount", "type=bind,source=%s,target=/mnt/runner,bind-propagation=rshared"
                   % (share / "mnt"),
                   "runnerfs:test", "-f", "-o", "reload=none,allow_other",
                   "/etc/gitlab-runner/config.toml", "/mnt/runner")
        from rfs import wait_for
        wait_for(lambda: (share / "mnt" / "concurrent").exists(), 15, what="the mount on the host")
        (share / "mnt" / "concurrent").write_text("9\n")
        assert b"concurrent = 9 #" in cfg.read_bytes()
        eng.docker("stop", "rfs-sidecar", timeout=60)
        assert not (share / "mnt" / "concurrent").exists(), "the mount outlived the container"
    finally:
        eng.docker("rm", "-f", "rfs-sidecar", check=False)
        subprocess.run(["umount", "-R", "-l", str(share)], capture_output=True)
