"""Issue 4: the everyday tools on the whole tree of a real mount: mkdir,
rm -r and mv of runner directories, ls -l, stat, find, grep -r, du, df,
tar c of everything, diff -r of two mounts of the same config."""

import os
import stat
import subprocess
import tarfile

from rfs import (OPTIONAL_EXTRAS, assert_bytes, assert_toml_change, appendp, delp, expected_tree,
                 fixture, replace_once, single_deletion, single_insertion, toml_loads, wait_for)
from tools import need, tmount  # noqa: F401 (tmount is a fixture)

F01 = fixture("01-register-docker.toml")
F02 = fixture("02-crlf.toml")
R2 = b'name = "docker-dind-02"'


def files_of(t, top=""):
    """{relative path: bytes} of every regular file, read through the mount
    with Python (the reference the tools are compared with)."""
    out = {}
    base = t.path(top)
    for dirpath, dirnames, filenames in os.walk(base):
        for f in filenames:
            p = os.path.join(dirpath, f)
            if stat.S_ISREG(os.lstat(p).st_mode):
                out[os.path.relpath(p, t.path())] = open(p, "rb").read()
    return out


def test_mkdir_mv_rm_runner_directories(tmount):
    t = tmount(F01)
    t.sh("mkdir runners/ci-new")
    a1 = t.read_config()
    chunk = single_insertion(F01, a1)
    assert b"[[runners]]" in chunk and b'name = "ci-new"' in chunk, chunk
    assert_toml_change(F01, a1, appendp(["runners"], {"name": "ci-new"}))
    t.sh("echo https://gitlab.example.com > runners/ci-new/url && echo shell > runners/ci-new/executor")
    a2 = t.read_config()
    assert_toml_change(a1, a2, lambda d: d["runners"][3].update(url="https://gitlab.example.com",
                                                                 executor="shell"))
    t.sh("mv runners/ci-new runners/ci-renamed")
    a3 = t.read_config()
    assert_bytes(a3, replace_once(a2, b'name = "ci-new"', b'name = "ci-renamed"'))
    assert t.listdir("runners") == {"docker-shared-01", "docker-dind-02", "shell-03", "ci-renamed"}
    assert t.read("runners/ci-renamed/url") == b"https://gitlab.example.com\n"
    t.sh("rm -r runners/docker-dind-02")
    a4 = t.read_config()
    gone = single_deletion(a3, a4)
    assert R2 in gone and b"minio-secret-key" in gone and b'name = "ci-renamed"' not in gone, gone
    assert_toml_change(a3, a4, delp(["runners", 1]))
    t.sh("rm -r runners/ci-renamed")
    a5 = t.read_config()
    assert_toml_change(a4, a5, delp(["runners", 2]))
    assert t.listdir("runners") == {"docker-shared-01", "shell-03"}
    # mkdir then rm -r gives back the bytes there were: the file's trailing
    # comment ("# end of file", after the last runner) stays where it was
    assert_bytes(a5, replace_once(F01, gone, b""))


def test_ls_stat_du(tmount):
    """ls -l, stat and du see the sizes a read returns, the modes of the
    contract (2.3), on every file of the tree."""
    need("ls", "stat", "du")
    t = tmount(F01)
    files = files_of(t)
    # ls -lR: size column == bytes a read returns
    out = t.sh("ls -lAR --time-style=+%s .").stdout.decode()
    seen, cur = 0, None
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(("-", "d", "l")):
            cur = line[:-1]
            continue
        f = line.split()
        if len(f) >= 7 and line.startswith("-"):
            rel = os.path.normpath(os.path.join(cur, f[6]))
            assert int(f[4]) == len(files[rel]), "ls -l: %s size %s, a read gives %d" % (rel, f[4], len(files[rel]))
            seen += 1
    assert seen == len(files), (seen, len(files))
    # stat
    names = sorted(files)
    out = t.sh("stat -c '%s|%a|%F|%i|%n' " + " ".join("'%s'" % n for n in names)).stdout.decode()
    for line in out.splitlines():
        size, mode, kind, ino, name = line.split("|", 4)
        st = os.stat(t.path(name))
        assert kind in ("regular file", "regular empty file") and int(size) == len(files[name]), line
        assert int(mode, 8) == stat.S_IMODE(st.st_mode) and int(ino) == st.st_ino, line
    assert out.count("\n") == len(names)
    assert "600" in [ln.split("|")[1] for ln in out.splitlines() if ln.endswith("/token")]
    # du -ab: apparent sizes
    out = t.sh("du -ab .").stdout.decode()
    du = {os.path.normpath(p): int(s) for s, p in (ln.split("\t", 1) for ln in out.splitlines())}
    for rel, data in files.items():
        assert du[rel] == len(data), "du: %s %d, a read gives %d" % (rel, du[rel], len(data))


def test_find_grep(tmount):
    need("find", "grep")
    t = tmount(F01)
    nodes, _ = expected_tree(toml_loads(F01))
    want = {n.rel for n in nodes if not n.is_dir} | {"config.toml"}
    out = t.sh("find . -type f").stdout.decode()
    got = {p[2:] for p in out.splitlines()}
    got = {p for p in got if not p.startswith(".runnerfs/") and p.split("/")[0] not in OPTIONAL_EXTRAS
           and not any(part in OPTIONAL_EXTRAS for part in p.split("/")[2:3])}
    assert got == want, "find: missing %s, unexpected %s" % (sorted(want - got), sorted(got - want))
    out = t.sh("find . -name token -perm 0600 | sort").stdout.decode().split()
    assert out == ["./runners/docker-dind-02/token", "./runners/docker-shared-01/token",
                   "./runners/shell-03/token"], out
    out = t.sh("grep -rl 'alpine:3.19' . | sort", timeout=30).stdout.decode().split()
    assert out == ["./config.toml", "./runners/docker-shared-01/docker/image"], out
    out = t.sh("grep -r 'minio' runners").stdout.decode().splitlines()
    assert sorted(out) == ["runners/docker-dind-02/cache/s3/AccessKey:minioadmin",
                           "runners/docker-dind-02/cache/s3/SecretKey:minio-secret-key",
                           "runners/docker-dind-02/cache/s3/ServerAddress:minio.internal:9000"], out


def test_df(tmount):
    need("df")
    t = tmount(F01)
    for opt in ("-P", "-i", "-h"):
        r = t.sh("df %s %s" % (opt, t.q()))
        lines = r.stdout.decode().splitlines()
        assert len(lines) == 2 and lines[1].split()[-1] == str(t.path()), lines
    assert os.statvfs(t.path()).f_bsize > 0


def test_tar_whole_tree(tmount, tmp_path):
    """tar c of everything: no warning ("file changed as we read it",
    "File shrank"), and the archive holds exactly what reads return."""
    need("tar")
    t = tmount(F02)
    tarball = tmp_path / "tree.tar"
    r = t.sh("tar -cf %s -C %s ." % (tarball, t.q()))
    assert r.stderr == b"", r.stderr.decode(errors="replace")
    files = files_of(t)
    with tarfile.open(tarball) as tf:
        got = {}
        for m in tf.getmembers():
            if m.isfile():
                got[os.path.normpath(m.name)] = (tf.extractfile(m).read(), stat.S_IMODE(m.mode))
    assert set(got) == set(files), (sorted(set(files) - set(got)), sorted(set(got) - set(files)))
    for rel, data in files.items():
        if rel.startswith(".runnerfs/"):
            continue  # status changes with time
        assert got[rel][0] == data, rel
        assert got[rel][1] == stat.S_IMODE(os.stat(t.path(rel)).st_mode), rel
    assert got["config.toml"][0] == F02
    # and it extracts to a tree a diff -r finds identical to the mount
    out = tmp_path / "x"
    out.mkdir()
    t.sh("tar -xf %s -C %s" % (tarball, out))
    r = subprocess.run(["diff", "-r", "-x", ".runnerfs", str(out), str(t.path())], capture_output=True)
    assert r.returncode == 0, r.stdout.decode(errors="replace")


def test_diff_two_mounts(tmount):
    """Two daemons on the same CONFIG: diff -r finds no difference; a change
    through one shows in the other (contract 3.4: within a second)."""
    need("diff")
    t1 = tmount(F01)
    t2 = tmount(None, config_dir=t1.m.config_dir)
    cmd = "diff -r -x .runnerfs %s %s" % (t1.q(), t2.q())
    r = t1.sh(cmd, check=False)
    assert r.returncode == 0, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    t1.sh("echo alpine:3.20 > runners/docker-shared-01/docker/image")
    expected = replace_once(F01, b'image = "alpine:3.19"', b'image = "alpine:3.20"')
    assert_bytes(t1.read_config(), expected)
    wait_for(lambda: t2.read("runners/docker-shared-01/docker/image") == b"alpine:3.20\n", 2.0,
             what="the second mount to show the change made through the first")
    r = t1.sh(cmd, check=False)
    assert r.returncode == 0, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
