"""Issue 7: `mount -t fuse.runnerfs` and the /etc/fstab line of
contrib/fstab.example, through the real mount(8) and mount.fuse3.

mount(8) drops $PATH before it runs /sbin/mount.fuse, which runs
`runnerfs CONFIG MOUNTPOINT -o OPTIONS` with /bin/sh, so the helper is looked
up on the shell's default PATH (/usr/local/sbin first). Without installing
anything, each test runs in a mount namespace of its own (unshare -m) where
a directory holding `runnerfs` (a link to the built binary) is bind-mounted
over /usr/local/sbin, and, for the fstab test, a copy of the example line
over /etc/fstab. The daemon runs in that namespace; the test checks the
mount from inside and config.toml from outside."""

import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

from rfs import REPO, fixture, toml_loads, wait_for
from tools import RUNNERFS_BIN

F01 = fixture("01-register-docker.toml")
FSTAB_EXAMPLE = REPO / "contrib" / "fstab.example"
HELPER_DIR = "/usr/local/sbin"   # first on dash's default PATH


def need_mount_helpers():
    if os.geteuid() != 0:
        pytest.skip("mount(8) of a FUSE file system and unshare -m need root")
    for p in ("mount", "umount", "unshare", "findmnt"):
        if not shutil.which(p):
            pytest.skip("not installed: %s (util-linux)" % p)
    if not (os.path.exists("/sbin/mount.fuse3") or os.path.exists("/sbin/mount.fuse")):
        pytest.skip("mount.fuse3 is missing (apt-get install fuse3)")
    if not os.path.isdir(HELPER_DIR):
        pytest.skip("%s does not exist: nothing to bind the helper over" % HELPER_DIR)


def daemons_on(mnt):
    """pids of runnerfs processes whose command line names mnt."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"runnerfs" and str(mnt).encode() in argv:
            pids.append(int(d))
    return pids


@pytest.fixture
def ns(tmp_path):
    """Factory: ns(script) runs `script` with sh -e in a private mount
    namespace where `runnerfs` is the built binary on /bin/sh's default PATH.
    Whatever happens, every mount made in there is undone."""
    need_mount_helpers()
    bindir = tmp_path / "helper-bin"
    bindir.mkdir()
    (bindir / "runnerfs").symlink_to(RUNNERFS_BIN)
    mnts = []

    def run(script, mnt, extra_binds=()):
        mnts.append(mnt)
        binds = "".join("mount --bind %s %s\n" % (shlex.quote(str(a)), shlex.quote(str(b)))
                        for a, b in extra_binds)
        full = ("set -e\n"
                "trap 'umount -l %(m)s 2>/dev/null || true' EXIT\n"
                "mount --bind %(bin)s %(helper)s\n"
                "%(binds)s%(script)s\n"
                % {"m": shlex.quote(str(mnt)), "bin": shlex.quote(str(bindir)),
                   "helper": HELPER_DIR, "binds": binds, "script": script})
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", full],
                           capture_output=True, timeout=60)
        return r

    yield run
    # the daemons lived in the namespace: they exit when their mount goes
    # (the trap above); make sure none is left
    for mnt in mnts:
        try:
            wait_for(lambda: not daemons_on(mnt), 10, what="runnerfs on %s to exit" % mnt)
        except AssertionError:
            for pid in daemons_on(mnt):
                os.kill(pid, 9)
            raise


def inside_script(mnt, mount_cmd):
    m = shlex.quote(str(mnt))
    return ("%(mount)s\n"
            "findmnt -n -o FSTYPE,SOURCE,OPTIONS %(m)s\n"
            "echo ---\n"
            "cat %(m)s/concurrent\n"
            "echo 7 > %(m)s/concurrent\n"
            "echo alpine:3.20 > %(m)s/runners/docker-shared-01/docker/image\n"
            "echo ---\n"
            "cat %(m)s/.runnerfs/status\n"
            "umount %(m)s\n"
            "echo unmounted\n" % {"mount": mount_cmd, "m": m})


def check(r, cfg, mnt, want_opts=()):
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (r.returncode, out, err)
    parts = out.split("---\n")
    fstype, source, opts = parts[0].split()
    assert fstype == "fuse.runnerfs" and source == str(cfg), parts[0]
    for o in want_opts:
        assert o in opts.split(","), (o, opts)
    assert parts[1] == "4\n"
    status = parts[2]
    # two writes a moment apart are one burst: one version (burst=)
    assert "parses: yes" in status and re.search(r"backups: 1 kept of 3\b", status), status
    assert out.endswith("unmounted\n")
    # the daemon went away with its mount
    wait_for(lambda: not daemons_on(mnt), 10, what="runnerfs on %s to exit after umount" % mnt)
    after = cfg.read_bytes()
    assert after == F01.replace(b"concurrent = 4 #", b"concurrent = 7 #").replace(
        b'image = "alpine:3.19"', b'image = "alpine:3.20"')
    assert toml_loads(after)["concurrent"] == 7


def test_mount_t_fuse_runnerfs(ns, tmp_path):
    cfg = tmp_path / "etc" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_bytes(F01)
    os.chmod(cfg, 0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cmd = "mount -t fuse.runnerfs %s %s -o backups=3" % (shlex.quote(str(cfg)), shlex.quote(str(mnt)))
    r = ns(inside_script(mnt, cmd), mnt)
    check(r, cfg, mnt)


def fstab_line():
    lines = [ln for ln in FSTAB_EXAMPLE.read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(lines) == 1, lines
    return lines[0]


def test_fstab_example(ns, tmp_path):
    """The example's line as it is, with its CONFIG and MOUNTPOINT replaced
    and backups=3: `mount MOUNTPOINT` finds it in /etc/fstab."""
    line = fstab_line()
    fields = line.split()
    assert len(fields) == 6 and fields[2] == "fuse.runnerfs", line
    assert fields[0] == "/etc/gitlab-runner/config.toml" and fields[1] == "/mnt/runner"
    opts = [o for o in fields[3].split(",") if not o.startswith("backups=")] + ["backups=3"]

    cfg = tmp_path / "gitlab-runner" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_bytes(F01)
    os.chmod(cfg, 0o600)
    mnt = tmp_path / "runner"
    mnt.mkdir()
    fstab = tmp_path / "fstab"
    fstab.write_text("%s %s %s %s %s %s\n" % (cfg, mnt, fields[2], ",".join(opts), fields[4], fields[5]))
    r = ns(inside_script(mnt, "mount %s" % shlex.quote(str(mnt))), mnt,
           extra_binds=[(fstab, "/etc/fstab")])
    # allow_other of the example line reaches the kernel, and with it
    # default_permissions (runnerfs turns it on)
    want = [o for o in ("allow_other",) if o in opts]
    if want:
        want.append("default_permissions")
    check(r, cfg, mnt, want_opts=want)


def test_mount_helper_needs_no_path(ns, tmp_path):
    """What the docs say: mount(8) does not pass $PATH on, so a runnerfs
    that is only on the caller's PATH is not found."""
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(F01)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "runnerfs").symlink_to(RUNNERFS_BIN)
    # /usr/local/sbin is bound to an empty directory this time
    empty = tmp_path / "empty"
    empty.mkdir()
    script = ("PATH=%s:$PATH mount -t fuse.runnerfs %s %s 2>&1 && echo MOUNTED || echo FAILED"
              % (shlex.quote(str(elsewhere)), shlex.quote(str(cfg)), shlex.quote(str(mnt))))
    if shutil.which("runnerfs", path="/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"):
        pytest.skip("a runnerfs is installed on the default PATH; it would be found")
    r = ns(script, mnt, extra_binds=[(empty, HELPER_DIR)])
    out = r.stdout.decode(errors="replace")
    assert "FAILED" in out and "runnerfs: not found" in out, out
    time.sleep(0.1)
    assert not daemons_on(mnt)
