"""Issue 16: runnerfs as a Debian package, for real. contrib/build-deb.sh
builds runnerfs_VERSION_ARCH.deb from the tree (dpkg-buildpackage -us -uc -b
with debian/), lintian finds nothing to say, `apt-get install ./...deb`
installs it on this machine, `mount -t fuse.runnerfs` runs the installed
/usr/sbin/runnerfs through mount.fuse3 and an edit reaches config.toml,
and `apt-get purge` leaves nothing of the package behind, the user's
config.toml untouched. Where systemd runs: the same package installed in a
container booted with systemd as PID 1 (test_deploy_systemd.py's), `systemctl
enable --now runnerfs@...`, stop, purge; and on this machine too when its
PID 1 is systemd.

The tests marked `package` build and install the package: meson runs them
as their own test, integration-package (tests/integration/meson.build), the
package is built once per tree (debpkg.py) and not at all in a sanitizer
build. Installing is skipped, never forced, where it would clobber
something (debpkg.Host.check_clean). The container test also needs what
the deployment tests need (images.py: root, Docker, debootstrap; not with
RUNNERFS_NO_DEPLOY=1)."""

import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

import debpkg
import images
from debpkg import changelog_version, host, meson_version, package, upstream_version  # noqa: F401
from dockerd import docker_engine  # noqa: F401 (fixture)
from rfs import REPO, fixture, toml_loads, wait_for
from test_deploy_mount import daemons_on
from test_deploy_systemd import MOUNTPOINT, deploy_ok, start_pid1  # noqa: F401 (deploy_ok: fixture)
from tools import RUNNERFS_BIN

F01 = fixture("01-register-docker.toml")
DEBIAN = REPO / "debian"
EDITED = F01.replace(b"concurrent = 4 #", b"concurrent = 7 #")


def test_version_comes_from_meson_build():
    """meson.build's project() version is the version: debian/changelog's
    upstream version and the built binary's --version agree with it."""
    v = meson_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+(~[\w.]+)?", v), v
    if not shutil.which("dpkg-parsechangelog"):
        pytest.skip("dpkg-parsechangelog is missing (apt-get install dpkg-dev)")
    cl = changelog_version()
    assert upstream_version(cl) == v, (
        "debian/changelog's version %s does not match meson.build's %s: add a changelog entry "
        "(dch -v %s) when the version changes" % (cl, v, v))
    out = subprocess.run([str(RUNNERFS_BIN), "--version"], capture_output=True, timeout=10).stdout.decode()
    assert out.startswith("runnerfs %s " % v), out


def test_lintian_overrides_say_why():
    """Every lintian override in debian/ has a comment above it (the reason)."""
    for f in sorted(DEBIAN.glob("*lintian-overrides")) + sorted(DEBIAN.glob("source/lintian-overrides")):
        prev = ""
        for line in f.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                assert prev.startswith("#") and len(prev.strip("# ")) > 10, \
                    "%s: override %r has no reason (a comment line above it)" % (f.name, line)
            prev = line if line.strip() else prev


def is_mounted(mnt):
    return subprocess.run(["findmnt", "-rn", "--mountpoint", str(mnt)], capture_output=True,
                          timeout=20).returncode == 0


def test_unit_stop_post_is_quiet_and_detaches_a_dead_mount(tmp_path):
    """The unit's ExecStopPost= (run after every stop, after ExecStop= has
    unmounted) says nothing when nothing is mounted: before, it was a bare
    `fusermount3 -uz %f`, and every `systemctl stop` and `apt remove` put
    "fusermount3: failed to unmount ...: Invalid argument" into the
    journal. After a crash it still detaches the dead mount, so that the
    restart can mount again."""
    for p in ("findmnt", "fusermount3"):
        if not shutil.which(p, path=debpkg.SH_DEFAULT_PATH):
            pytest.skip("%s is missing" % p)
    unit = (REPO / "contrib" / "systemd" / "runnerfs@.service").read_text()
    post = [ln.split("=", 1)[1] for ln in unit.splitlines() if ln.startswith("ExecStopPost=")]
    assert len(post) == 1, post
    assert post[0].startswith("-"), "a failed ExecStopPost= must not fail the stop: %s" % post[0]
    mnt = tmp_path / "mnt"
    mnt.mkdir()

    def stop_post():
        # what systemd runs: $$ is $, %f the mount point (one argument)
        argv = [a.replace("%f", str(mnt)) for a in shlex.split(post[0][1:].replace("$$", "$"))]
        return subprocess.run(argv, capture_output=True, timeout=30, env=debpkg.clean_env())

    r = stop_post()
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
        "ExecStopPost= with nothing mounted: exit %d: %s" % (r.returncode, (r.stdout + r.stderr).decode())

    cfg = tmp_path / "etc" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_bytes(F01)
    d = subprocess.Popen([str(RUNNERFS_BIN), "-f", str(cfg), str(mnt)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (mnt / "concurrent").exists(), 10, what="the mount")
        d.kill()                                    # a crash: the mount is dead
        d.wait(timeout=10)
        with pytest.raises(OSError):
            os.listdir(mnt)
        r = stop_post()
        assert r.returncode == 0, (r.stdout + r.stderr).decode()
        assert not is_mounted(mnt), "ExecStopPost= left the dead mount"
    finally:
        if d.poll() is None:
            d.kill()
        subprocess.run(["fusermount3", "-uz", str(mnt)], capture_output=True, timeout=20)


# --------------------------------------------------------------------------
# the package as built

EXPECTED_FILES = {
    "/usr/sbin/runnerfs",
    "/usr/share/man/man8/runnerfs.8.gz",
    "/lib/systemd/system/runnerfs@.service",
    "/etc/default/runnerfs",
    "/usr/share/doc/runnerfs/copyright",
    "/usr/share/doc/runnerfs/changelog.gz",
    "/usr/share/doc/runnerfs/examples/fstab.example",
}


@pytest.mark.package
def test_package_builds_and_lintian_is_clean(package, tmp_path):
    pkg = package
    name, version, arch = pkg.name_version_arch
    assert version == meson_version() == pkg.field("Version")
    assert arch == subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                                  timeout=30).stdout.decode().strip()
    assert pkg.field("Package") == "runnerfs"

    # Depends: computed (shlibs) plus fuse3; libcurl only recommended
    deps = [d.strip().split()[0] for d in pkg.field("Depends").split(",")]
    for d in ("fuse3", "libfuse3-3", "libcjson1", "libc6"):
        assert d in deps, (d, deps)
    assert not [d for d in deps if "curl" in d], deps
    assert pkg.field("Recommends") == "libcurl4"
    desc = pkg.field("Description")
    assert "dlopen" in desc and "reload=docker" in desc and "libcurl4" in desc, desc
    x = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(pkg.deb), str(x)], check=True, timeout=60)
    if not shutil.which("readelf"):
        pytest.fail("readelf is missing (binutils; contrib/install-deps.sh installs it with build-essential)")
    readelf = subprocess.run(["readelf", "-d", str(x / "usr/sbin/runnerfs")], capture_output=True,
                             timeout=30).stdout
    assert b"(NEEDED)" in readelf and b"libfuse3" in readelf, readelf
    assert b"libcurl" not in readelf, "the packaged binary links libcurl; it must only dlopen it"

    files = set(pkg.files())
    missing = EXPECTED_FILES - files
    assert not missing, "not in the package: %s\n%s" % (sorted(missing), sorted(files))
    docs = {f for f in files if f.startswith("/usr/share/doc/runnerfs/")}
    for d in ("README.md", "guide.md", "filesystem.md"):
        assert any(re.search(r"/%s(\.gz)?$" % re.escape(d), f) for f in docs), (d, docs)
    assert any(f.startswith("/usr/share/doc/runnerfs/examples/ansible/roles/") for f in files)
    others = files - EXPECTED_FILES - docs
    assert not others, "unexpected files in the package: %s" % sorted(others)
    assert not [f for f in files if os.path.basename(f).startswith("mount.")], files

    # the unit and /etc/default/runnerfs, as shipped
    unit = (x / "lib/systemd/system/runnerfs@.service").read_text()
    assert "ExecStart=/usr/sbin/runnerfs -f -o ${OPTIONS} ${CONFIG} %f" in unit
    assert "EnvironmentFile=-/etc/default/runnerfs" in unit
    assert (x / "etc/default/runnerfs").read_bytes() == (REPO / "contrib/systemd/runnerfs.default").read_bytes()
    assert (x / "usr/share/doc/runnerfs/examples/fstab.example").read_bytes() == \
        (REPO / "contrib/fstab.example").read_bytes()
    r = subprocess.run(["dpkg-deb", "-I", str(pkg.deb), "conffiles"], capture_output=True, timeout=30)
    assert r.stdout.decode().split() == ["/etc/default/runnerfs"], r

    # what dpkg-buildpackage wrote into the copy of the tree is ignored by
    # .gitignore (an in-tree build leaves nothing git would show)
    left = pkg.info["leftovers"]
    assert any(p.startswith("debian/") for p in left), left
    if left:
        r = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
                           input="\n".join(left).encode(), capture_output=True, timeout=60)
        ignored = set(r.stdout.decode().splitlines())
        assert not set(left) - ignored, "build leftovers .gitignore does not cover: %s" % sorted(set(left) - ignored)
    # ../ of the source: the .deb and its .buildinfo, .changes, dbgsym
    assert pkg.deb.name in pkg.info["beside"]
    r = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", pkg.deb.name],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, "a .deb that build-deb.sh copies into the tree is not ignored"

    # lintian: no error, no warning (fixed, or overridden with a reason)
    if not shutil.which("lintian"):
        pytest.fail("lintian is not installed (contrib/install-deps.sh --deb installs it)")
    r = subprocess.run(["lintian", "--fail-on", "error,warning", "--no-tag-display-limit", str(pkg.deb)],
                       capture_output=True, timeout=300, env=debpkg.clean_env())
    out = (r.stdout + r.stderr).decode(errors="replace")
    tags = [ln for ln in out.splitlines() if re.match(r"[EW]: ", ln)]
    assert r.returncode == 0 and not tags, "lintian:\n" + out


# --------------------------------------------------------------------------
# installed on this machine

def mount_t(cfg, mnt, opts):
    return subprocess.run(["mount", "-t", "fuse.runnerfs", str(cfg), str(mnt), "-o", opts],
                          capture_output=True, timeout=60, env=debpkg.clean_env())


def unmount(mnt):
    """umount (lazily if busy); wait for the daemon to exit, kill it if not."""
    problems = []
    if subprocess.run(["mountpoint", "-q", str(mnt)], timeout=20).returncode == 0:
        r = subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30)
        if r.returncode != 0:
            problems.append("umount %s failed: %s" % (mnt, r.stderr.decode(errors="replace")))
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)
    try:
        wait_for(lambda: not daemons_on(mnt), 10, what="runnerfs on %s to exit after the umount" % mnt)
    except AssertionError as e:
        problems.append(str(e))
        for pid in daemons_on(mnt):
            os.kill(pid, 9)
    return problems


def need_mount():
    for p in ("mount", "umount", "mountpoint", "findmnt"):
        if not shutil.which(p):
            pytest.skip("not installed: %s (util-linux)" % p)
    if not (os.path.exists("/sbin/mount.fuse3") or os.path.exists("/sbin/mount.fuse")):
        pytest.skip("mount.fuse3 is missing (apt-get install fuse3)")


@pytest.mark.package
def test_install_mount_edit_purge(package, host, tmp_path):
    """apt-get install ./runnerfs_*.deb; mount -t fuse.runnerfs with the
    installed binary; an edit; an instance enabled; apt-get purge: nothing
    of the package is left, config.toml is as the edit left it."""
    need_mount()
    pkg = package
    host.install(pkg)

    # what the package put where
    v = subprocess.run(["/usr/sbin/runnerfs", "--version"], capture_output=True, timeout=10)
    assert v.returncode == 0 and v.stdout.decode().startswith("runnerfs %s " % meson_version()), v
    assert set(pkg.files()) <= set(host.listed)
    assert host.conffiles == ["/etc/default/runnerfs"]
    if shutil.which("man"):
        r = subprocess.run(["man", "-w", "8", "runnerfs"], capture_output=True, timeout=30)
        assert r.stdout.decode().strip() == "/usr/share/man/man8/runnerfs.8.gz", r
    demo = REPO / "contrib" / "demo" / "config.toml"
    r = subprocess.run(["runnerfs", "--check", str(demo)], capture_output=True, timeout=30,
                       env=debpkg.clean_env())
    assert r.returncode == 0, r

    # mount -t fuse.runnerfs: mount(8) -> mount.fuse3 -> sh -> /usr/sbin/runnerfs
    cfg = tmp_path / "gitlab-runner" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_bytes(F01)
    os.chmod(cfg, 0o600)
    mnt = tmp_path / "runner"
    mnt.mkdir()
    try:
        r = mount_t(cfg, mnt, "backups=3")
        assert r.returncode == 0, "mount -t fuse.runnerfs failed: %s" % (r.stdout + r.stderr).decode()
        fm = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", str(mnt)], capture_output=True,
                            timeout=20).stdout.decode().split()
        assert fm == ["fuse.runnerfs", str(cfg)], fm
        pids = daemons_on(mnt)
        assert len(pids) == 1, pids
        assert os.readlink("/proc/%d/exe" % pids[0]) == "/usr/sbin/runnerfs"
        assert (mnt / "concurrent").read_bytes() == b"4\n"
        subprocess.run(["sh", "-c", "echo 7 > %s" % shlex.quote(str(mnt / "concurrent"))], check=True,
                       timeout=30)
        assert cfg.read_bytes() == EDITED
        assert toml_loads(cfg.read_bytes())["concurrent"] == 7
        assert "parses: yes" in (mnt / ".runnerfs" / "status").read_text()
    finally:
        problems = unmount(mnt)
    assert not problems, problems

    # an instance enabled the way an administrator does (systemctl enable
    # works without a running systemd: it makes the .wants link)
    inst = "runnerfs@%s.service" % subprocess.run(
        ["systemd-escape", "--path", str(mnt)], capture_output=True, timeout=20,
        check=True).stdout.decode().strip() if shutil.which("systemd-escape") else None
    link = None
    if inst and shutil.which("systemctl"):
        r = subprocess.run(["systemctl", "enable", inst], capture_output=True, timeout=60)
        link = "/etc/systemd/system/multi-user.target.wants/" + inst
        assert r.returncode == 0 and os.path.islink(link), r
    # the administrator's settings (a changed conffile goes at purge too)
    with open("/etc/default/runnerfs", "a") as f:
        f.write("CONFIG=%s\n" % cfg)

    before = cfg.read_bytes()
    st = os.stat(cfg)
    problems = host.purge()
    assert not problems, "\n".join(problems)
    if link:
        assert not os.path.lexists(link), "the purge left %s" % link
    assert not os.path.exists("/usr/sbin/runnerfs") and not os.path.exists("/etc/default/runnerfs")
    # the user's config: untouched, byte for byte
    assert cfg.read_bytes() == before == EDITED
    st2 = os.stat(cfg)
    assert (st2.st_ino, st2.st_mtime_ns, st2.st_mode) == (st.st_ino, st.st_mtime_ns, st.st_mode)


@pytest.mark.package
def test_upgrade_keeps_and_remove_stops_the_packages_mounts(package, host, tmp_path):
    """Mounts the package's binary serves, while the package is upgraded
    (dpkg -i of the same .deb, apt-get install --reinstall) and removed:
    an upgrade leaves them mounted and working; `apt-get remove` stops them
    all, not only runnerfs@ instances: a mount -t fuse.runnerfs (fstab)
    mount and a runnerfs -f run as the unit's ExecStart= runs it unmount and
    their daemons exit (before, they kept running from the deleted binary,
    mounted, after the purge). A runnerfs that is not the package's (the
    build's) is left alone. config.toml holds every edit. The daemon run as
    the unit runs it says nothing on stderr (libfuse 3.14.0 logged "Ignoring
    invalid max threads value 4294967295" into the unit's journal)."""
    need_mount()
    pkg = package
    host.install(pkg)

    def cfg_at(name):
        c = tmp_path / name / "config.toml"
        c.parent.mkdir()
        c.write_bytes(F01)
        os.chmod(c, 0o600)
        m = tmp_path / (name + "-mnt")
        m.mkdir()
        return c, m

    fst_cfg, fst = cfg_at("fstab")         # mount -t fuse.runnerfs: the fstab way
    unit_cfg, unit = cfg_at("unit")        # /usr/sbin/runnerfs -f ...: ExecStart= of the unit
    own_cfg, own = cfg_at("own")           # the build's runnerfs: not the package's
    unit_err = tmp_path / "unit.stderr"
    procs = []
    try:
        r = mount_t(fst_cfg, fst, "backups=3")
        assert r.returncode == 0, (r.stdout + r.stderr).decode()
        with open(unit_err, "wb") as err:
            procs.append(subprocess.Popen(["/usr/sbin/runnerfs", "-f", "-o", "reload=none,backups=10",
                                           str(unit_cfg), str(unit)], stdin=subprocess.DEVNULL,
                                          stdout=err, stderr=err, env=debpkg.clean_env()))
        procs.append(subprocess.Popen([str(RUNNERFS_BIN), "-f", str(own_cfg), str(own)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        for m in (fst, unit, own):
            wait_for(lambda: is_mounted(m) and (m / "concurrent").exists(), 10, what="%s mounted" % m)

        def edit(m, cfg, n):
            subprocess.run(["sh", "-c", "echo %d > %s" % (n, shlex.quote(str(m / "concurrent")))],
                           check=True, timeout=30)
            assert toml_loads(cfg.read_bytes())["concurrent"] == n

        # upgrades over itself: everything stays mounted and works
        for args in (["dpkg", "-i", str(pkg.deb)],
                     ["apt-get", "install", "-y", "--reinstall", str(pkg.deb)]):
            debpkg.run(args, timeout=debpkg.APT_TIMEOUT)
            for i, (m, cfg) in enumerate(((fst, fst_cfg), (unit, unit_cfg), (own, own_cfg))):
                assert is_mounted(m), "%s: %s is not mounted any more" % (" ".join(args), m)
                edit(m, cfg, 5 + i)
        assert procs[0].poll() is None

        # remove (not purge): the package's daemons unmount and exit
        r = debpkg.run(["apt-get", "remove", "-y", "runnerfs"], timeout=debpkg.APT_TIMEOUT)
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert debpkg.dpkg_status() == "rc", debpkg.dpkg_status()
        for m in (fst, unit):
            assert not is_mounted(m), "apt-get remove left %s mounted by the removed runnerfs:\n%s" % (m, out)
            assert not daemons_on(m), "a runnerfs on %s still runs from the deleted binary" % m
            assert "runnerfs: stopping " in out and str(m) in out, out
        # it exited (SIGTERM: libfuse 3.14 ends the loop with the signal as
        # its result, which runnerfs reports as 8, "the FUSE loop failed")
        assert procs[0].wait(timeout=10) in (0, 8)
        # the build's runnerfs is not the package's: still there, still working
        assert is_mounted(own) and procs[1].poll() is None, "apt-get remove stopped a runnerfs not of the package"
        edit(own, own_cfg, 9)
        # config.toml: the last edit, whole
        assert fst_cfg.read_bytes() == F01.replace(b"concurrent = 4 #", b"concurrent = 5 #")
        assert unit_cfg.read_bytes() == F01.replace(b"concurrent = 4 #", b"concurrent = 6 #")
        err = unit_err.read_text(errors="replace")
        assert not err.strip(), "runnerfs -f said on stderr (the unit's journal):\n" + err
    finally:
        for m in (fst, unit, own):
            unmount(m)
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)


def maintscript(pkg, tmp_path, script, *args, links=None, setup=(), stderr=None):
    """Run the package's maintainer script `script` as dpkg would, in a
    private mount namespace where /run/systemd/system exists (as on a host
    that runs systemd), systemctl and deb-systemd-invoke are stubs that only
    record their arguments, and /etc/systemd/system is an empty tmpfs with
    `links` ({path under it: target}) in it. Returns what it asked of
    systemd and the links left afterwards ({path: target}), or None when
    the package has no such script. `setup`: more shell commands to run in
    the namespace first; `stderr`: a list that gets the script's stderr."""
    if not shutil.which("unshare"):
        pytest.skip("unshare is missing (util-linux)")
    if not os.path.isdir("/etc/systemd/system"):
        pytest.skip("no /etc/systemd/system to put a tmpfs on")
    ctl = tmp_path / "control"
    if not ctl.exists():
        subprocess.run(["dpkg-deb", "-e", str(pkg.deb), str(ctl)], check=True, timeout=60)
    if not (ctl / script).exists():
        return None, None
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    calls.write_text("")
    for name in ("systemctl", "deb-systemd-invoke"):
        (stubs / name).write_text('#!/bin/sh\necho "%s $*" >> %s\n' % (name, shlex.quote(str(calls))))
        os.chmod(stubs / name, 0o755)
    setup = ["mount -t tmpfs tmpfs /run", "mkdir -p /run/systemd/system",
             "mount -t tmpfs tmpfs /etc/systemd/system"] + list(setup)
    for path, target in (links or {}).items():
        d = os.path.dirname(path)
        setup.append("mkdir -p /etc/systemd/system/%s" % shlex.quote(d) if d else "true")
        setup.append("ln -s %s /etc/systemd/system/%s" % (shlex.quote(target), shlex.quote(path)))
    inner = " && ".join(setup) + (
        ' && (PATH=%s:$PATH sh -e "$@") && cd /etc/systemd/system && '
        'find . -type l -printf "%%P %%l\\n"' % shlex.quote(str(stubs)))
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", inner, "sh",
                        str(ctl / script)] + list(args), capture_output=True, timeout=60,
                       env=debpkg.clean_env())
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, "%s %s: %s" % (script, " ".join(args), out + r.stderr.decode(errors="replace"))
    left = dict(ln.split(" ", 1) for ln in out.splitlines() if " " in ln)
    if stderr is not None:
        stderr.append(r.stderr.decode(errors="replace"))
    return calls.read_text().splitlines(), left


@pytest.mark.package
def test_maintainer_scripts_and_systemd(package, tmp_path):
    """Where systemd runs, configuring the package (install, upgrade) makes
    systemd read runnerfs@.service again: debhelper adds nothing for a
    template unit, so without a postinst of its own an upgraded unit stayed
    as systemd had loaded it before ("changed on disk. Run 'systemctl
    daemon-reload'"). No instance is started or restarted by it. A runnerfs
    from source in /usr/local, which mount(8) and systemd would run instead
    of the package's, is named at the install. The postrm
    reloads on remove and purge, and the purge removes the links `systemctl
    enable runnerfs@...` made to the package's unit, and no other link (one
    to a runnerfs@.service installed from source in /usr/local stays)."""
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace needs root")
    for args in (("configure", ""), ("configure", "0.0.1")):
        calls, _ = maintscript(package, tmp_path, "postinst", *args)
        assert calls is not None, "the package has no postinst: nothing runs systemctl daemon-reload"
        assert calls == ["systemctl --system daemon-reload"], (args, calls)
    # nothing to say on a clean host
    err = []
    maintscript(package, tmp_path, "postinst", "configure", "", stderr=err,
                setup=["mount -t tmpfs tmpfs /usr/local"])
    assert not err[0].strip(), err[0]
    # a runnerfs installed from source with meson's default prefix is run
    # instead of the package's: the install says so (it said nothing)
    err = []
    maintscript(package, tmp_path, "postinst", "configure", "", stderr=err, setup=[
        "mount -t tmpfs tmpfs /usr/local", "mkdir -p /usr/local/sbin /usr/local/lib/systemd/system",
        "touch /usr/local/sbin/runnerfs /usr/local/lib/systemd/system/runnerfs@.service"])
    assert "/usr/local/sbin/runnerfs (installed from source?) comes before /usr/sbin/runnerfs" in err[0], err[0]
    assert "/usr/local/lib/systemd/system/runnerfs@.service (installed from source?) overrides" in err[0], err[0]
    links = {
        "multi-user.target.wants/runnerfs@mnt-runner.service": "/lib/systemd/system/runnerfs@.service",
        "multi-user.target.wants/runnerfs@srv-b.service": "/usr/lib/systemd/system/runnerfs@.service",
        "multi-user.target.wants/runnerfs@srv-local.service": "/usr/local/lib/systemd/system/runnerfs@.service",
        "multi-user.target.wants/other.service": "/lib/systemd/system/other.service",
    }
    calls, left = maintscript(package, tmp_path, "postrm", "remove", links=links)
    assert calls == ["systemctl daemon-reload"] and left == links, (calls, left)
    calls, left = maintscript(package, tmp_path, "postrm", "purge", links=links)
    assert calls == ["systemctl daemon-reload"], calls
    assert left == {k: v for k, v in links.items() if "srv-local" in k or "other" in k}, left


@pytest.mark.package
def test_systemctl_start_instance(host, tmp_path):
    """Where systemd is PID 1: /etc/default/runnerfs points at a config,
    systemctl start runnerfs@MOUNT.service mounts it with the installed
    binary, an edit reaches config.toml, and apt-get purge (the prerm stops
    the running instance, which unmounts) leaves nothing behind."""
    ok, comm = debpkg.is_systemd_pid1()
    if not ok:
        pytest.skip("systemd is not PID 1 here (PID 1 is %r%s): systemctl start runnerfs@... "
                    "needs a running systemd. test_package_under_systemd_pid1 runs the package's "
                    "unit in a container booted with systemd"
                    % (comm, "" if os.path.isdir("/run/systemd/system") else ", no /run/systemd/system"))
    pkg = debpkg.built_package()
    host.install(pkg)

    cfg = tmp_path / "gitlab-runner" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_bytes(F01)
    os.chmod(cfg, 0o600)
    mnt = tmp_path / "runner"       # the unit makes it (ExecStartPre=mkdir -p)
    inst = "runnerfs@%s.service" % subprocess.run(["systemd-escape", "--path", str(mnt)], check=True,
                                                   capture_output=True, timeout=20).stdout.decode().strip()
    with open("/etc/default/runnerfs", "w") as f:
        f.write("CONFIG=%s\nOPTIONS=reload=none,backups=3\n" % cfg)

    def systemctl(*args, check=True):
        r = subprocess.run(["systemctl"] + list(args), capture_output=True, timeout=60)
        assert not check or r.returncode == 0, "systemctl %s: %s" % (" ".join(args), r.stderr.decode())
        return r

    try:
        systemctl("daemon-reload")
        systemctl("start", inst)
        wait_for(lambda: subprocess.run(["mountpoint", "-q", str(mnt)]).returncode == 0, 10,
                 what="%s to mount %s" % (inst, mnt))
        pid = int(systemctl("show", "-p", "MainPID", "--value", inst).stdout.decode().strip())
        assert os.readlink("/proc/%d/exe" % pid) == "/usr/sbin/runnerfs"
        subprocess.run(["sh", "-c", "echo 7 > %s" % shlex.quote(str(mnt / "concurrent"))], check=True,
                       timeout=30)
        assert cfg.read_bytes() == EDITED
        before = cfg.read_bytes()
        # purge with the instance running: the prerm stops it
        problems = host.purge()
        assert not problems, "\n".join(problems)
        assert subprocess.run(["mountpoint", "-q", str(mnt)]).returncode != 0, "still mounted after the purge"
        r = systemctl("is-active", inst, check=False)
        assert r.stdout.decode().strip() in ("inactive", "failed"), r.stdout
        assert cfg.read_bytes() == before
    finally:
        systemctl("stop", inst, check=False)
        subprocess.run(["fusermount3", "-uz", str(mnt)], capture_output=True, timeout=20)
        systemctl("reset-failed", inst, check=False)


# --------------------------------------------------------------------------
# installed where systemd is PID 1: a container booted with /sbin/init

PID1_NAME = "rfs-systemd-deb"
PID1_MNT = MOUNTPOINT                  # /mnt/runner, docs/guide.md's Setup 1
SYSTEMCTL_TIMEOUT = 60
# what an install and purge may leave changed in the container, and why:
# dpkg's and apt's own records and logs, and the mount point, which the
# unit makes (ExecStartPre=mkdir -p) and which is the administrator's
PURGE_MAY_LEAVE = ("/var/lib/dpkg/", "/var/lib/apt/", "/var/cache/apt/", "/var/log/")


def root_files(c):
    """Every path on the container's root filesystem (not /proc, /sys, /dev,
    the tmpfs /run and /tmp, the bind-mounted /etc/gitlab-runner)."""
    out = c.sh("find / -xdev -print", timeout=120).stdout
    return set(out.splitlines())


def new_of(c, paths, before):
    """Those of `paths` that exist in the container and did not before
    (root_files()): dpkg -L names /lib/..., reached through merged /usr's
    symlink, which find -xdev does not follow."""
    there = c.sh('for f in "$@"; do if [ -e "$f" ] || [ -L "$f" ]; then readlink -f "$f"; fi; done',
                 args=paths).stdout.splitlines()
    return sorted(f for f in there if f not in before)


def runnerfs_daemons(c):
    """`pid exe` of every process in the container that runs a runnerfs
    binary (also a deleted one)."""
    return c.sh('for d in /proc/[0-9]*; do e=$(readlink "$d/exe" 2>/dev/null) || continue; '
                'case "$e" in */runnerfs|*"/runnerfs (deleted)") echo "${d#/proc/} $e";; esac; done'
                ).stdout.splitlines()


@pytest.mark.package
def test_package_under_systemd_pid1(deploy_ok, package, docker_engine, tmp_path):  # noqa: F811
    """The package on a host where systemd runs (test_systemctl_start_instance
    needs systemd as PID 1 on the test machine, which CI does not have): a
    container booted from images.py's systemd image (/sbin/init), no network.
    `apt-get install ./runnerfs_*.deb` installs it with the dependencies the
    image has (fuse3, libfuse3-3, libcjson1; libcurl4, only recommended, is
    not there and cannot be fetched); `systemctl enable --now
    runnerfs@$(systemd-escape --path /mnt/runner)` mounts, with CONFIG and
    OPTIONS from the package's /etc/default/runnerfs; an edit reaches
    config.toml; `systemctl stop` unmounts and the daemon exits; started
    again, `apt-get purge` stops it (prerm), and leaves no file, unit,
    enable link or process of the package, and config.toml as the edit
    left it."""
    eng = docker_engine
    pkg = package
    try:
        image = images.systemd_image(eng)
    except images.ImageUnavailable as e:
        pytest.skip("no Debian image with systemd: %s" % e)
    etc = tmp_path / "gitlab-runner"          # the container's /etc/gitlab-runner
    etc.mkdir()
    cfg = etc / "config.toml"
    cfg.write_bytes(F01)
    os.chmod(cfg, 0o600)
    deb = "/root/" + pkg.deb.name
    t0 = time.monotonic()
    c = start_pid1(eng, image, PID1_NAME, ["%s:/etc/gitlab-runner" % etc])
    try:
        eng.docker("cp", pkg.deb, "%s:%s" % (PID1_NAME, deb))
        before = root_files(c)

        # install: nothing but runnerfs, so every dependency came from the image
        r = c.sh("cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y ./%s" % pkg.deb.name,
                 timeout=debpkg.APT_TIMEOUT)
        new = debpkg.apt_lines(r.stdout, "The following NEW packages will be installed:")
        assert new == ["runnerfs"], "apt-get installed %s:\n%s" % (new, r.stdout)
        assert "Need to get 0 B/" in r.stdout, r.stdout
        listed = [p for p in c.sh("dpkg -L runnerfs").stdout.splitlines() if p and p != "/."]
        assert set(pkg.files()) <= set(listed)
        # what the check after the purge looks for is there now
        assert len(new_of(c, listed, before)) >= len(pkg.files())
        assert c.sh("cat /var/lib/dpkg/info/runnerfs.conffiles").stdout.split() == ["/etc/default/runnerfs"]

        # enable --now, as docs/guide.md says
        unit = "runnerfs@%s.service" % c.sh("systemd-escape --path %s" % PID1_MNT).stdout.strip()
        assert unit == "runnerfs@mnt-runner.service", unit
        c.sh("systemctl enable --now runnerfs@$(systemd-escape --path %s)" % PID1_MNT, timeout=SYSTEMCTL_TIMEOUT)
        link = "/etc/systemd/system/multi-user.target.wants/" + unit
        assert c.sh("readlink %s" % link).stdout.strip() == "/lib/systemd/system/runnerfs@.service"
        assert c.sh("systemctl is-active %s" % unit, check=False).stdout.strip() == "active"
        wait_for(lambda: c.mounts() == ["fuse.runnerfs"] and
                 c.sh("cat %s/concurrent" % PID1_MNT, check=False).stdout == "4\n",
                 20, interval=0.1, what="%s to mount %s" % (unit, PID1_MNT))
        p = c.show(unit, "FragmentPath", "MainPID")
        assert p["FragmentPath"] == "/lib/systemd/system/runnerfs@.service", p
        pid = int(p["MainPID"])
        assert c.sh("readlink /proc/%d/exe" % pid).stdout.strip() == "/usr/sbin/runnerfs"
        # the package's /etc/default/runnerfs chose the config and the options
        argv = c.sh("cat /proc/%d/cmdline" % pid).stdout.split("\0")[:-1]
        assert argv == ["/usr/sbin/runnerfs", "-f", "-o", "reload=none,backups=10",
                        "/etc/gitlab-runner/config.toml", PID1_MNT], argv

        # an edit through the mount, in config.toml
        c.sh("echo 7 > %s/concurrent" % PID1_MNT)
        assert cfg.read_bytes() == EDITED
        assert c.sh("cat /etc/gitlab-runner/config.toml").stdout.encode() == EDITED
        assert c.sh("cat %s/concurrent" % PID1_MNT).stdout == "7\n"
        st = os.stat(cfg)
        assert st.st_mode & 0o777 == 0o600

        # stop: unmounted, the daemon gone
        c.sh("systemctl stop %s" % unit, timeout=SYSTEMCTL_TIMEOUT)
        assert c.mounts() == [], "still mounted after systemctl stop: %r" % c.mounts()
        r = c.sh("systemctl is-active %s" % unit, check=False)
        assert r.stdout.strip() == "inactive", (r.stdout, c.journal("-u", unit)[-3000:])
        assert c.show(unit, "Result")["Result"] == "success"
        assert not runnerfs_daemons(c), runnerfs_daemons(c)
        # a start, an edit and a stop are nothing to log: only systemd's own
        # lines (ExecStopPost='s fusermount3 and libfuse 3.14's thread
        # warning each put one there at every stop or start before)
        c.sh("journalctl --sync", timeout=30)
        j = c.journal("-u", unit, "-o", "short").splitlines()
        assert j, "nothing in journalctl -u %s" % unit
        assert not [ln for ln in j if " systemd[1]: " not in ln], \
            "not systemd's own lines in journalctl -u %s:\n%s" % (unit, "\n".join(j))

        # purge while an instance runs: the prerm stops it
        c.sh("systemctl start %s" % unit, timeout=SYSTEMCTL_TIMEOUT)
        wait_for(lambda: c.mounts() == ["fuse.runnerfs"], 20, interval=0.1, what="the mount again")
        pid = int(c.show(unit, "MainPID")["MainPID"])
        assert pid and runnerfs_daemons(c) == ["%d /usr/sbin/runnerfs" % pid]
        r = c.sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y runnerfs", timeout=debpkg.APT_TIMEOUT)
        gone = debpkg.apt_lines(r.stdout, "The following packages will be REMOVED:")
        assert gone == ["runnerfs"], "apt-get purge removed %s:\n%s" % (gone, r.stdout)
        assert not runnerfs_daemons(c), "runnerfs runs after the purge: %s" % runnerfs_daemons(c)
        assert c.mounts() == [], "still mounted after the purge: %r" % c.mounts()
        assert c.sh("dpkg-query -W -f '${db:Status-Abbrev}' runnerfs", check=False).stdout.strip() in ("", "un")
        p = c.show(unit, "LoadState", "ActiveState")
        assert p == {"LoadState": "not-found", "ActiveState": "inactive"}, p
        links = c.sh("find /etc/systemd /lib/systemd /usr/lib/systemd -name '*runnerfs*'").stdout.split()
        assert not links, "units or enable links left after the purge: %s" % links
        left = new_of(c, listed, before)
        assert not left, "files of the package left after the purge: %s" % left
        after = root_files(c)
        new = sorted(f for f in after - before
                     if "runnerfs" in f or (f != PID1_MNT and not f.startswith(PURGE_MAY_LEAVE)))
        assert not new, "new after the install and purge: %s" % new
        assert c.sh("ls -A %s" % PID1_MNT).stdout == ""

        # the user's config: the edit, nothing else, not rewritten since
        assert cfg.read_bytes() == EDITED
        st2 = os.stat(cfg)
        assert (st2.st_ino, st2.st_mtime_ns, st2.st_mode) == (st.st_ino, st.st_mtime_ns, st.st_mode)
        images.timed("the package under systemd (boot, install, enable --now, stop, purge)", t0)
    finally:
        eng.docker("rm", "-f", PID1_NAME, check=False, timeout=120)
