"""Issue 4: puppet's file resource through a real mount. Puppet writes with
Ruby's Tempfile: a lock directory `keyYYYYMMDD-PID-xxx.lock` (mkdir, rmdir)
and a temp file `keyYYYYMMDD-PID-xxx` next to the key (fchown, fsync,
fchmod), renamed onto the key (reference/write-patterns.md section 6).
`puppet apply` exits 0 even when a resource fails: --detailed-exitcodes
(2: changed, 0: nothing to do, 4/6: failures)."""

import shlex

from rfs import fixture, replace_once
from tools import need, tmount  # noqa: F401 (tmount is a fixture)

F01 = fixture("01-register-docker.toml")
IMAGE = "runners/docker-shared-01/docker/image"


def puppet_cmd(t, tmp_path, path, content):
    p = tmp_path / "puppet"
    dirs = " ".join("--%s=%s" % (k, p / k) for k in ("confdir", "vardir", "codedir", "logdir", "rundir"))
    manifest = "file { '%s': content => \"%s\\n\" }" % (path, content)
    return "puppet apply --detailed-exitcodes --color=false %s -e %s" % (dirs, shlex.quote(manifest))


def test_puppet_file_content(tmount, tmp_path):
    need("puppet")
    t = tmount(F01)
    cur, old = F01, "alpine:3.19"
    for n, v in enumerate(["alpine:3.20", "registry.example.com/ci/alpine:3.21"], 1):
        expected = replace_once(cur, b'image = "%s"' % old.encode(), b'image = "%s"' % v.encode())
        cmd = puppet_cmd(t, tmp_path, t.path(IMAGE), v)
        r = t.edit(cmd + "; test $? -eq 2", IMAGE, v.encode() + b"\n", expected)
        out = (r.stdout + r.stderr).decode(errors="replace")
        errors = [ln for ln in out.splitlines() if "Error:" in ln and "Facter:" not in ln]
        assert not errors, "puppet reported errors (edit %d):\n%s" % (n, out)
        assert "content changed" in out, out
        cur, old = expected, v
