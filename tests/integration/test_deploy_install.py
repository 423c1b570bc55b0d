"""Issue 7: `meson install` of the build the tests run puts the binary, the
man page and the systemd unit where systemd, man and mount.fuse3 look for
them, and no mount helper link (none is needed: see meson.build)."""

import json
import os
import shutil
import subprocess

import pytest

from tools import RUNNERFS_BIN

BUILD = RUNNERFS_BIN.parent


def meson():
    m = shutil.which("meson")
    if not m or not (BUILD / "meson-private").is_dir():
        pytest.skip("no meson build directory next to %s" % RUNNERFS_BIN)
    return m


def test_meson_install(tmp_path):
    m = meson()
    opts = json.loads(subprocess.run([m, "introspect", str(BUILD), "--buildoptions"], check=True,
                                     capture_output=True, timeout=60).stdout)
    opt = {o["name"]: o["value"] for o in opts}
    prefix = opt["prefix"]
    dest = tmp_path / "dest"
    r = subprocess.run([m, "install", "-C", str(BUILD), "--no-rebuild", "--destdir", str(dest),
                        "--tags", "runtime,man"], capture_output=True, timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
    root = dest / prefix.lstrip("/")

    sbin = root / opt["sbindir"] / "runnerfs"
    assert os.access(sbin, os.X_OK)
    v = subprocess.run([str(sbin), "--version"], capture_output=True, timeout=10)
    assert v.returncode == 0 and v.stdout.startswith(b"runnerfs ")

    unit = root / "lib" / "systemd" / "system" / "runnerfs@.service"
    assert unit.exists(), sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    assert "ExecStart=%s/%s/runnerfs -f " % (prefix, opt["sbindir"]) in unit.read_text()

    man = root / opt["mandir"] / "man8" / "runnerfs.8"
    if shutil.which("scdoc"):
        assert man.exists()
        if shutil.which("man"):
            r = subprocess.run(["man", "-l", "-P", "cat", str(man)], capture_output=True, timeout=30,
                               env=dict(os.environ, MANWIDTH="80", LANG="C.UTF-8"))
            text = r.stdout.decode(errors="replace")
            for section in ("SYNOPSIS", "OPTIONS", "THE TREE", "VALUES", "ERRORS", "FILES",
                            "EXAMPLES", "SECURITY", "SEE ALSO"):
                assert "\n" + section in text, section
    else:
        assert not man.exists()

    # nothing else, and no mount.* helper
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
    assert not [f for f in files if os.path.basename(f).startswith("mount.")], files
    assert len(files) == 3 if shutil.which("scdoc") else 2, files


def test_help_names_every_option():
    """--help, the man page source and the options runnerfs parses agree."""
    from rfs import REPO
    h = subprocess.run([str(RUNNERFS_BIN), "--help"], capture_output=True, timeout=10).stdout.decode()
    scd = (REPO / "docs" / "runnerfs.8.scd").read_text()
    for o in ("reload=", "docker_host=", "reload_delay=", "backups=", "ro", "allow_other",
              "-f", "-d", "-s", "--help", "--version", "--check", "--schema"):
        assert o in h, o
        assert o in scd.replace("\\_", "_"), o
