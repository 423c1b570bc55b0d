"""contrib/systemd/runnerfs@.service (issue 7; issue 15, section 1): the
unit, exactly as `meson install` installs it, run by systemd as PID 1, and
checked statically.

For real (every run of the normal build; skipped, with the reason, in a
sanitizer build, with RUNNERFS_NO_DEPLOY=1, or when no engine, debootstrap
or Debian archive is there: images.py): test_unit_runs_under_systemd boots
a container from a debootstrapped Debian 12 with systemd and fuse3
(images.py) with /sbin/init, copies in what `meson install --destdir` of
the build under test installs (the binary and the unit, ExecStart= naming
the binary) and contrib/systemd/runnerfs.default as /etc/default/runnerfs,
as docs/guide.md's Setup 1 says. Then: `systemctl start
runnerfs@mnt-runner` mounts /mnt/runner; an edit through the mount reaches
config.toml; a daemon killed with SIGKILL is restarted (Restart=on-failure)
and mounts again, with no dead mount left; `systemctl stop` unmounts; the
journal holds the daemon's own log lines and none of the config's secrets.

Static, every build: `systemd-analyze verify` (Debian's systemd package; no
running systemd is needed), with ExecStart= pointing at the built binary and,
when the man page was built, runnerfs(8) on MANPATH for Documentation=; the
unit says what the docs say it does.

A container cannot be --privileged here: the sandbox's capability bounding
set lacks CAP_SYS_RESOURCE, and runc fails to apply the full set; the
container gets every capability the host has (--cap-add ALL --cap-drop the
missing ones), no seccomp or AppArmor profile, /dev/fuse, and the host's
cgroup v1 hierarchy read-write (--cgroupns host), which is what systemd
needs from --privileged."""

import base64
import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import images
from dockerd import docker_engine  # noqa: F401 (fixture)
from rfs import REPO, fixture, replace_once, toml_loads, wait_for
from tools import RUNNERFS_BIN

UNIT = REPO / "contrib" / "systemd" / "runnerfs@.service"
DEFAULTS = REPO / "contrib" / "systemd" / "runnerfs.default"


def unit_sections():
    p = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    p.optionxform = str
    # configparser keeps only the last of repeated keys; fine for what is read here
    p.read_string(UNIT.read_text())
    return p


def built_man_page():
    """runnerfs.8 of the build the tests run (docs/ next to the binary)."""
    m = RUNNERFS_BIN.parent / "docs" / "runnerfs.8"
    return m if m.exists() else None


def test_unit_verifies(tmp_path):
    sa = shutil.which("systemd-analyze")
    if not sa:
        pytest.skip("systemd-analyze is missing (apt-get install systemd)")
    d = tmp_path / "units"
    d.mkdir()
    text = UNIT.read_text()
    assert "ExecStart=/usr/sbin/runnerfs " in text
    (d / UNIT.name).write_text(text.replace("/usr/sbin/runnerfs", str(RUNNERFS_BIN)))
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice", LANG="C.UTF-8")
    args = [sa, "verify"]
    man = built_man_page()
    if man and shutil.which("man"):
        mandir = tmp_path / "man" / "man8"
        mandir.mkdir(parents=True)
        shutil.copy(man, mandir / "runnerfs.8")
        env["MANPATH"] = "%s:" % (tmp_path / "man")
    else:
        args.append("--man=no")   # Documentation=man:runnerfs(8) is not installed here
    r = subprocess.run(args + ["./runnerfs@mnt-runner.service"], cwd=d, env=env,
                       capture_output=True, timeout=60)
    out = (r.stdout + r.stderr).decode(errors="replace")
    if r.returncode != 0 and ("Failed to" in out and "bus" in out.lower()):
        pytest.skip("systemd-analyze cannot run here: " + out.strip())
    assert r.returncode == 0 and not out.strip(), "systemd-analyze verify:\n" + out


def test_unit_content():
    u = unit_sections()
    s = u["Service"]
    assert s["Type"] == "simple"
    assert s["ExecStart"].startswith("/usr/sbin/runnerfs -f -o ")
    assert s["ExecStart"].endswith(" ${CONFIG} %f")       # options before CONFIG MOUNTPOINT
    assert s["ExecStop"].startswith("/bin/fusermount3 -u") and s["ExecStop"].endswith(" %f")
    assert s["Restart"] == "on-failure"
    assert "gitlab-runner.service" in u["Unit"]["Before"].split()
    assert "/dev/fuse rw" in s["DeviceAllow"]
    assert "CAP_SYS_ADMIN" in s["CapabilityBoundingSet"].split()
    # options that give the service a mount namespace of its own would hide
    # the FUSE mount from everyone else
    for opt in ("PrivateTmp", "ProtectSystem", "ProtectHome", "PrivateDevices", "PrivateMounts",
                "ReadOnlyPaths", "ReadWritePaths", "InaccessiblePaths", "TemporaryFileSystem",
                "ProtectKernelModules", "ProtectKernelLogs", "ProtectKernelTunables",
                "ProtectControlGroups", "MountFlags", "RootDirectory"):
        assert opt not in s, opt
    assert "StandardError" not in s or s["StandardError"] == "journal"
    assert u["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_stop_by_signal_is_a_clean_exit(runnerfs, sig):
    """`systemctl stop` sends SIGTERM after ExecStop= when the daemon is
    still winding down, `docker stop` sends it at once: runnerfs unmounts
    and exits 0. (libfuse 3.14's fuse_main says 8 for a stop by signal;
    test_unit_runs_under_systemd saw the unit end `failed` that way.)"""
    m = runnerfs(fixture("01-register-docker.toml"))
    m.proc.send_signal(getattr(signal, sig))
    try:
        rc = m.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("runnerfs did not exit within 10 s of %s" % sig)
    assert rc == 0, "runnerfs exited with status %s after %s; its log:\n%s" % (rc, sig, m.log())
    assert not m.mounted(), "still mounted after %s" % sig


def test_defaults_file_matches_the_unit(runnerfs):
    """contrib/systemd/runnerfs.default sets what ExecStart= uses, and its
    OPTIONS mount."""
    env = {}
    for line in DEFAULTS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v
    assert set(env) == {"CONFIG", "OPTIONS"}
    assert env["CONFIG"] == "/etc/gitlab-runner/config.toml"
    assert " " not in env["OPTIONS"]
    m = runnerfs(fixture("01-register-docker.toml"), options=env["OPTIONS"].split(","))
    status = m.status()
    assert "parses: yes" in status
    for o in env["OPTIONS"].split(","):
        if o.startswith("backups="):
            assert "of %s" % o.split("=")[1] in status, status


# --------------------------------------------------------------------------
# for real: systemd as PID 1 in a container runs the installed unit

NAME = "rfs-systemd"
MOUNTPOINT = "/mnt/runner"              # docs/guide.md, Setup 1
F01 = fixture("01-register-docker.toml")
BOOT_DEADLINE = 90.0
MOUNT_DEADLINE = 20.0
RESTART_DEADLINE = 30.0                 # RestartSec=2, and the mount
# capability numbers (linux/capability.h) -> Docker's names
CAP_NAMES = ("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
             "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
             "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
             "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
             "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
             "CHECKPOINT_RESTORE").split()


@pytest.fixture(scope="session")
def deploy_ok():
    why = images.deploy_skip_reason()
    if why:
        pytest.skip(why)


def pid1_container_args():
    """docker run options for systemd as PID 1 here -> (args, how), or
    pytest.skip with the reason it cannot work."""
    with open("/proc/self/status") as f:
        bnd = int(re.search(r"CapBnd:\s*([0-9a-f]+)", f.read()).group(1), 16)
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    missing = [CAP_NAMES[i] for i in range(min(last + 1, len(CAP_NAMES))) if not bnd >> i & 1]
    v2 = subprocess.run(["stat", "-fc", "%T", "/sys/fs/cgroup"], capture_output=True, text=True,
                        timeout=10).stdout.strip() == "cgroup2fs"
    if not missing:
        args, how = ["--privileged"], "--privileged"
    else:
        # --privileged would ask runc for capabilities this process does
        # not have (runc: "unable to apply caps: operation not permitted")
        args = ["--cap-add", "ALL"]
        for c in missing:
            args += ["--cap-drop", c]
        args += ["--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"]
        how = "every capability but %s (missing from this host's bounding set), unconfined" % \
            ", ".join(missing)
    if v2:
        if missing:
            pytest.skip("systemd as PID 1 needs a writable cgroup2 mount, which Docker gives only a "
                        "--privileged container, and --privileged cannot work here: this process "
                        "lacks %s" % ", ".join("CAP_" + c for c in missing))
        args += ["--cgroupns", "private"]
        how += ", cgroup v2 (private cgroup namespace)"
    else:
        # cgroup v1 (or hybrid): systemd finds its own cgroup, /docker/ID,
        # in the host's hierarchy
        args += ["--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]
        how += ", cgroup v1 hierarchy of the host, read-write"
    return args, how


def meson_install(dest):
    """meson install --destdir of the build under test: {relative path: Path}."""
    build = RUNNERFS_BIN.parent
    m = shutil.which("meson")
    if not m or not (build / "meson-private").is_dir():
        pytest.skip("no meson build directory next to %s to install from" % RUNNERFS_BIN)
    r = subprocess.run([m, "install", "-C", str(build), "--no-rebuild", "--destdir", str(dest),
                        "--tags", "runtime"], capture_output=True, timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
    return {"/" + str(p.relative_to(dest)): p for p in dest.rglob("*") if p.is_file()}


class Pid1:
    def __init__(self, eng, name=NAME):
        self.eng = eng
        self.name = name

    def sh(self, cmd, check=True, timeout=60, args=()):
        r = self.eng.docker("exec", self.name, "sh", "-c", cmd, "sh", *args, check=False, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("in the container: `%s` failed (exit %d): %s%s"
                                 % (cmd, r.returncode, r.stdout, r.stderr))
        return r

    def show(self, unit, *props):
        out = self.sh("systemctl show %s %s" % (" ".join("-p " + p for p in props), unit)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def mounts(self):
        """fuse mounts at MOUNTPOINT in the container's mount namespace
        (the one systemd and the service share)."""
        out = self.sh("cat /proc/1/mountinfo").stdout
        found = []
        for line in out.splitlines():
            f = line.split()
            if f[4] == MOUNTPOINT:
                found.append(f[f.index("-") + 1])
        return [t for t in found if t.startswith("fuse")]

    def journal(self, *args):
        return self.sh("journalctl --no-pager " + " ".join(args)).stdout


def start_pid1(eng, image, name, volumes=()):
    """docker run -d `image` booting /sbin/init (systemd as PID 1, as on a
    host), with /dev/fuse, no network, `volumes` (-v arguments); returns a
    Pid1 once systemd has booted. A container that fails to boot is removed
    here; one that booted is the caller's to remove (docker rm -f)."""
    run_args, how = pid1_container_args()
    eng.docker("rm", "-f", name, check=False)
    t0 = time.monotonic()
    c = Pid1(eng, name)
    try:
        vols = []
        for v in volumes:
            vols += ["-v", v]
        eng.docker("run", "-d", "--name", name, "--network", "none", "--device", "/dev/fuse",
                   "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
                   "-e", "container=docker", "--stop-signal", "SIGRTMIN+3",
                   *vols, *run_args, image, "/sbin/init", timeout=120)

        def booted():
            if not eng.running(name):
                raise AssertionError("the container stopped (%s):\n%s"
                                     % (how, eng.docker("logs", name, check=False).stderr[-3000:]))
            st = c.sh("systemctl is-system-running", check=False).stdout.strip()
            return st if st in ("running", "degraded") else None
        state = wait_for(booted, BOOT_DEADLINE, interval=0.2, what="systemd to boot (%s)" % how)
    except BaseException:
        eng.docker("rm", "-f", name, check=False, timeout=120)
        raise
    images.timed("systemd boot in the container (%s, %s)" % (state, how), t0)
    return c


def test_unit_runs_under_systemd(deploy_ok, docker_engine, tmp_path):  # noqa: F811
    eng = docker_engine
    try:
        image = images.systemd_image(eng)
    except images.ImageUnavailable as e:
        pytest.skip("no Debian image with systemd: %s" % e)
    installed = meson_install(tmp_path / "dest")
    units = [p for p in installed if p.endswith("/systemd/system/runnerfs@.service")]
    assert len(units) == 1, sorted(installed)
    unit_path = units[0]
    exec_start = re.search(r"^ExecStart=(\S+) ", installed[unit_path].read_text(), re.M).group(1)
    assert exec_start in installed, "ExecStart=%s is not what meson installed: %s" % (exec_start, sorted(installed))

    etc = tmp_path / "gitlab-runner"          # the container's /etc/gitlab-runner
    etc.mkdir()
    cfg = etc / "config.toml"
    cfg.write_bytes(F01)
    os.chmod(cfg, 0o600)
    c = start_pid1(eng, image, NAME, ["%s:/etc/gitlab-runner" % etc])
    try:
        # install: what meson installed, where it installed it; the
        # defaults file as docs/guide.md says (cp contrib/systemd/runnerfs.default)
        eng.docker("cp", "%s/." % (tmp_path / "dest"), "%s:/" % NAME)
        eng.docker("cp", DEFAULTS, "%s:/etc/default/runnerfs" % NAME)
        c.sh("systemctl daemon-reload")
        inst = c.sh("systemd-escape --path %s" % MOUNTPOINT).stdout.strip()
        assert inst == "mnt-runner", inst             # the name the guide uses
        unit = "runnerfs@%s.service" % inst
        p = c.show(unit, "FragmentPath", "LoadState")
        assert p == {"FragmentPath": unit_path, "LoadState": "loaded"}, p
        assert c.sh("cat %s" % unit_path).stdout == installed[unit_path].read_text()

        # start: mounted, running what ExecStart= says with /etc/default/runnerfs
        c.sh("systemctl start %s" % unit)
        wait_for(lambda: c.mounts() == ["fuse.runnerfs"] and
                 c.sh("cat %s/concurrent" % MOUNTPOINT).stdout == "4\n",
                 MOUNT_DEADLINE, interval=0.1, what="the mount at %s" % MOUNTPOINT)
        p = c.show(unit, "ActiveState", "SubState", "MainPID")
        assert (p["ActiveState"], p["SubState"]) == ("active", "running"), p
        daemon_pid = int(p["MainPID"])
        argv = c.sh("cat /proc/%d/cmdline" % daemon_pid).stdout.split("\0")[:-1]
        assert argv == [exec_start, "-f", "-o", "reload=none,backups=10",
                        "/etc/gitlab-runner/config.toml", MOUNTPOINT], argv

        # edits through the mount
        c.sh("echo 7 > %s/concurrent" % MOUNTPOINT)
        want = replace_once(F01, b"concurrent = 4 #", b"concurrent = 7 #")
        assert cfg.read_bytes() == want
        r = c.sh("echo abc > %s/concurrent" % MOUNTPOINT, check=False)
        assert r.returncode != 0, "a non-integer concurrent was accepted"
        assert cfg.read_bytes() == want
        reg = "%s/runners/docker-shared-01/registries/registry.example.com" % MOUNTPOINT
        pw = "pw-SYSTEMD-9c1d"
        # the password first: runnerfs keeps it in memory and says so in its log
        c.sh("mkdir %s && echo %s > %s/password && echo deploy > %s/username" % (reg, pw, reg, reg))
        auth = base64.b64encode(("deploy:" + pw).encode()).decode()
        env = toml_loads(cfg.read_bytes())["runners"][0]["environment"]
        dac = [json.loads(e.split("=", 1)[1]) for e in env if e.startswith("DOCKER_AUTH_CONFIG=")]
        assert dac and dac[0]["auths"]["registry.example.com"]["auth"] == auth, env
        assert os.stat(cfg).st_mode & 0o777 == 0o600
        c.sh("echo > %s/.runnerfs/reload" % MOUNTPOINT)
        data = cfg.read_bytes()

        # a killed daemon: Restart=on-failure starts it again, and the dead
        # mount is gone (ExecStopPost=), not stacked under the new one
        c.sh("kill -9 %d" % daemon_pid)

        def restarted():
            q = c.show(unit, "ActiveState", "MainPID", "NRestarts")
            return (q["ActiveState"] == "active" and q["NRestarts"] == "1" and
                    int(q["MainPID"]) not in (0, daemon_pid) and c.mounts() == ["fuse.runnerfs"] and
                    c.sh("cat %s/concurrent" % MOUNTPOINT, check=False).stdout == "7\n")
        wait_for(restarted, RESTART_DEADLINE, interval=0.2,
                 what="systemd to restart runnerfs after SIGKILL (Restart=on-failure)")
        assert cfg.read_bytes() == data
        assert c.sh("cat %s/username" % reg).stdout == "deploy\n"

        # stop: unmounted, the daemon gone, config.toml as it was
        pid2 = int(c.show(unit, "MainPID")["MainPID"])
        c.sh("systemctl stop %s" % unit)
        assert c.mounts() == [], "still mounted after systemctl stop: %r" % c.mounts()
        p = c.show(unit, "ActiveState", "Result", "MainPID")
        assert p == {"ActiveState": "inactive", "Result": "success", "MainPID": "0"}, \
            "%r after systemctl stop; the journal:\n%s" % (p, c.journal("-u", unit, "-o", "short")[-4000:])
        assert c.sh("test -d /proc/%d" % pid2, check=False).returncode != 0, "runnerfs still runs"
        assert cfg.read_bytes() == data

        # the journal: the daemon's own lines (stderr, -f), systemd's about
        # the kill and the restart; no secret anywhere in it
        expect = [r"runnerfs\[%d\]: runnerfs: warning: concurrent: \"abc\" is not an integer" % daemon_pid,
                  r"runnerfs\[%d\]: runnerfs: info: \S*registry\.example\.com\S*: kept until" % daemon_pid,
                  r"runnerfs\[%d\]: runnerfs: info: reload requested through \.runnerfs/reload" % daemon_pid,
                  r"Main process exited, code=killed, status=9/KILL",
                  r"Scheduled restart job, restart counter is at 1"]

        def logged():
            j = c.journal("-u", unit, "-o", "short")
            return j if all(re.search(e, j) for e in expect) else None
        try:
            wait_for(logged, 10, interval=0.2, what="the lines in journalctl -u %s" % unit)
        except AssertionError:
            j = c.journal("-u", unit, "-o", "short")
            raise AssertionError("journalctl -u %s lacks %r:\n%s"
                                 % (unit, [e for e in expect if not re.search(e, j)], j[-4000:]))
        everything = c.journal("-o", "verbose")
        tokens = [t["token"] for t in toml_loads(F01)["runners"]]
        for secret in [pw, auth] + tokens:
            assert secret not in everything, "a secret in the journal: %s..." % secret[:6]
    finally:
        eng.docker("rm", "-f", NAME, check=False, timeout=120)
