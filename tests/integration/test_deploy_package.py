"""Issue 16: runnerfs as a Debian package, for real. contrib/build-deb.sh
builds runnerfs_VERSION_ARCH.deb from the tree (dpkg-buildpackage -us -uc -b
with debian/), lintian finds nothing to say, `apt-get install ./...deb`
installs it on this machine, `mount -t fuse.runnerfs` runs the installed
/usr/sbin/runnerfs through mount.fuse3 and an edit reaches config.toml,
systemctl starts runnerfs@.service where systemd runs, and `apt-get purge`
leaves nothing of the package behind, the user's config.toml untouched.

The tests marked `package` build and install the package: meson runs them
as their own test, integration-package (tests/integration/meson.build), the
package is built once per tree (debpkg.py) and not at all in a sanitizer
build. Installing is skipped, never forced, where it would clobber
something (debpkg.Host.check_clean)."""

import os
import re
import shlex
import shutil
import subprocess

import pytest

import debpkg
from debpkg import changelog_version, host, meson_version, package, upstream_version  # noqa: F401
from rfs import REPO, fixture, toml_loads, wait_for
from test_deploy_mount import daemons_on
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
                    "needs a running systemd. test_install_mount_edit_purge installs the same unit, "
                    "test_deploy_systemd.py verifies it with systemd-analyze"
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
