"""Contract 3.3: CONFIG as a single-file bind mount (the host's
config.toml bind-mounted into a container). rename() over it fails with
EBUSY, so runnerfs writes in place after a backup and verifies; it warns
once. Tested with a real `mount --bind` of one file. Issue 4."""

import os
import re
import stat
import subprocess
from contextlib import contextmanager

import pytest

from outside import write_in_place
from rfs import assert_bytes, fixture, replace_once, wait_for

F01 = fixture("01-register-docker.toml")
BACKUP = ".config.toml.runnerfs-backup"

pytestmark = pytest.mark.root


def _mounted_at(path):
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == real for line in f)


@contextmanager
def bind_mounted_config(runnerfs, tmp_path):
    """x/real.toml (F01) bind-mounted on an empty x/dir/config.toml, and
    runnerfs on x/dir/config.toml. Yields (mount, real, dir). Whatever
    happens, runnerfs is stopped first, then the bind mount is undone."""
    x = tmp_path / "x"
    d = x / "dir"
    d.mkdir(parents=True)
    real = x / "real.toml"
    real.write_bytes(F01)
    os.chmod(real, 0o600)
    target = d / "config.toml"
    target.write_bytes(b"")
    subprocess.run(["mount", "--bind", str(real), str(target)], check=True, capture_output=True, timeout=20)
    m = None
    problems = []
    try:
        assert _mounted_at(target)
        m = runnerfs(None, config_dir=d)
        yield m, real, d
    finally:
        if m is not None:
            problems = m.stop()
        r = subprocess.run(["umount", str(target)], capture_output=True, timeout=20)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=20)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_write_through_a_single_file_bind_mount(runnerfs, tmp_path):
    with bind_mounted_config(runnerfs, tmp_path) as (m, real, d):
        ino = os.stat(real).st_ino
        assert m.read("concurrent") == b"4\n"
        m.sh("echo 7 > concurrent")
        want = replace_once(F01, b"concurrent = 4 ", b"concurrent = 7 ")
        assert_bytes(real.read_bytes(), want, "real.toml")
        assert_bytes(m.read_config(), want, "config.toml (through the bind mount)")
        assert m.read("concurrent") == b"7\n"
        st = m.status()
        assert re.search(r"(?m)^write mode: in place", st), "status:\n" + st
        # a second write: in place again, on top of the first
        m.sh("echo /srv/b2 > runners/shell-03/builds_dir")
        want = replace_once(want, b'builds_dir = "/srv/builds"', b'builds_dir = "/srv/b2"')
        assert_bytes(real.read_bytes(), want, "real.toml")
        assert os.stat(real).st_ino == ino, "real.toml was replaced, not written in place"
        assert stat.S_IMODE(os.stat(real).st_mode) == 0o600
        assert _mounted_at(d / "config.toml"), "the bind mount is gone"
        warnings = [line for line in m.log().splitlines() if re.search(r"(?i)bind.?mount", line)]
        assert len(warnings) == 1, "expected one warning about the bind mount in the log, got %d:\n%s" % (
            len(warnings), "\n".join(warnings))
        left = set(os.listdir(d)) - {"config.toml", BACKUP}
        assert not left, "files left next to CONFIG: %s" % sorted(left)
        if os.path.exists(d / BACKUP):
            assert stat.S_IMODE(os.stat(d / BACKUP).st_mode) == 0o600, "the backup holds secrets"
        assert sorted(os.listdir(d.parent)) == ["dir", "real.toml"]


def test_outside_change_through_a_single_file_bind_mount(runnerfs, tmp_path):
    """The runner (in its container) rewrites the bind-mounted file in
    place: the mount shows the new version within a second (contract 3.4),
    and a write through the mount afterwards goes on top of it."""
    with bind_mounted_config(runnerfs, tmp_path) as (m, real, d):
        assert m.read("concurrent") == b"4\n"
        new = replace_once(F01, b"concurrent = 4 ", b"concurrent = 6 ")
        write_in_place(d / "config.toml", [new])
        late = None
        try:
            wait_for(lambda: m.read("concurrent") == b"6\n", 1.0,
                     what="the mount to show concurrent = 6 within a second of the outside write")
        except AssertionError as e:
            late = "%s (still shows %r)" % (e, m.read("concurrent"))
        # compare-and-swap must hold even if the change was not noticed
        m.sh("echo /srv/b2 > runners/shell-03/builds_dir")
        assert_bytes(real.read_bytes(), replace_once(new, b'builds_dir = "/srv/builds"',
                                                     b'builds_dir = "/srv/b2"'), "real.toml")
        assert m.read("concurrent") == b"6\n"
        assert late is None, late
