"""Contract section 2: the tree, values, names, attributes."""

import os
import stat
import subprocess

import pytest

from rfs import (ENCODING_CONFIG, FIXTURES, OPTIONAL_EXTRAS, ROOT_EXTRAS, assert_bytes,
                 check_tree, expected_tree, fixture, toml_loads, wait_for)

ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.toml"))
F01 = "01-register-docker.toml"


def test_root_is_the_root_table(runnerfs):
    m = runnerfs(fixture(F01))
    got = m.listdir()
    keys = {"concurrent", "check_interval", "connection_max_age", "shutdown_timeout",
            "log_level", "listen_address"}
    tables = {"session_server", "runners"}
    assert keys | tables | ROOT_EXTRAS <= got
    assert got - keys - tables - ROOT_EXTRAS <= OPTIONAL_EXTRAS, got
    for k in keys:
        assert stat.S_ISREG(os.stat(m.path(k)).st_mode), k
    for t in tables:
        assert stat.S_ISDIR(os.stat(m.path(t)).st_mode), t
    assert m.listdir("runners") == {"docker-shared-01", "docker-dind-02", "shell-03"}
    assert m.listdir("session_server") == {"session_timeout", "listen_address", "advertise_address"}
    r1 = m.listdir("runners/docker-shared-01") - OPTIONAL_EXTRAS
    assert r1 == {"name", "url", "id", "token", "token_obtained_at", "token_expires_at", "executor",
                  "limit", "output_limit", "request_concurrency", "environment",
                  "custom_build_dir", "cache", "docker"}
    assert m.listdir("runners/docker-shared-01/cache") == {"MaxUploadedArchiveSize", "s3", "gcs", "azure"}
    assert m.listdir("runners/docker-shared-01/custom_build_dir") == set()


def test_value_renderings(runnerfs):
    """Contract 2.1, exact texts for unambiguous cases."""
    m = runnerfs(fixture(F01))
    r1, r2 = "runners/docker-shared-01/", "runners/docker-dind-02/"
    expect = {
        "concurrent": b"4\n",                           # a comment after the value is not part of it
        "check_interval": b"0\n",
        "log_level": b"info\n",                         # string + "\n"
        "connection_max_age": b"15m0s\n",
        "session_server/session_timeout": b"1800\n",
        "session_server/listen_address": b"[::]:8093\n",
        r1 + "name": b"docker-shared-01\n",
        r1 + "url": b"https://gitlab.example.com\n",
        r1 + "token": b"glrt-t1_AbCdEfGhIjKlMnOpQrSt\n",
        r1 + "token_obtained_at": b"2024-05-01T10:00:00Z\n",
        r1 + "output_limit": b"16384\n",
        r1 + "environment": b"GIT_DEPTH=10\nFF_USE_FASTZIP=true\n",   # one element per line
        r1 + "docker/volumes": b"/cache\n",
        r1 + "docker/privileged": b"false\n",
        r1 + "cache/MaxUploadedArchiveSize": b"0\n",
        r2 + "docker/privileged": b"true\n",
        r2 + "docker/pull_policy": b"if-not-present\nalways\n",
        r2 + "docker/volumes": b"/certs/client\n/cache\n",
        r2 + "feature_flags/FF_NETWORK_PER_BUILD": b"true\n",
        r2 + "cache/s3/SecretKey": b"minio-secret-key\n",
    }
    got = {k: m.read(k) for k in expect}
    assert got == expect
    for k, v in expect.items():
        assert os.stat(m.path(k)).st_size == len(v), k


def test_multiline_strings_and_scripts(runnerfs):
    """Contract 2.1: multi-line strings read as their value plus one newline."""
    data = fixture("06-scripts-quoted-keys.toml")
    m = runnerfs(data)
    doc = toml_loads(data)
    r = doc["runners"][0]
    base = "runners/scripts-01/"
    for key in ("pre_build_script", "post_build_script", "pre_get_sources_script",
                "post_get_sources_script", "tls-ca-file", "tls-key-file"):
        assert m.read(base + key) == (r[key] + "\n").encode(), key
    assert m.read('runners/literal "name" with quotes/executor') == b"custom\n"


def test_crlf_document_values(runnerfs):
    """A CRLF file: values read without CR (TOML reads CRLF as a newline)."""
    data = fixture("02-crlf.toml")
    m = runnerfs(data)
    doc = toml_loads(data)
    r = doc["runners"][0]
    base = "runners/windows-docker-01/"
    assert m.read("concurrent") == b"8\n"
    assert m.read(base + "builds_dir") == b"C:\\GitLab-Runner\\builds\n"
    assert m.read(base + "pre_build_script") == (r["pre_build_script"] + "\n").encode()
    assert m.read(base + "post_build_script") == (r["post_build_script"] + "\n").encode()
    assert m.read(base + "environment") == b"GIT_STRATEGY=fetch\nDOCKER_TLS_CERTDIR=\nEMPTY=\n"
    assert m.read(base + "docker/volumes") == b"c:\\cache\nc:\\certs:c:\\certs:ro\n"
    assert m.read(base + "cache/azure/AccountName") == b"runnercache\n"


def test_inline_dotted_and_entries_are_directories(runnerfs):
    """Contract 2/2.1: dotted keys and inline tables are tables (directories);
    arrays of tables other than runners are named 0, 1, ... (2.2)."""
    m = runnerfs(fixture("07-services-inline-dotted.toml"))
    b = "runners/services-01/"
    assert stat.S_ISDIR(os.stat(m.path(b + "docker")).st_mode)
    assert m.read(b + "docker/image") == b"node:20\n"
    assert stat.S_ISDIR(os.stat(m.path(b + "cache")).st_mode)
    assert m.read(b + "cache/Type") == b"s3\n"
    assert m.read(b + "cache/s3/ServerAddress") == b"s3.amazonaws.com\n"
    assert m.listdir(b + "docker/services") == {"0", "1", "2", "3"}
    assert m.read(b + "docker/services/0/name") == b"postgres:16-alpine\n"
    assert m.read(b + "docker/services/1/command") == b"redis-server\n--save\n\n--appendonly\nno\n"
    assert m.listdir(b + "docker/services/2") == set()
    assert m.read(b + "docker/services/3/alias") == b"selenium\n"
    assert m.listdir(b + "docker/services_tmpfs") == set()
    assert m.read(b + "monitoring/job_queuing_durations/0/timezone") == b"Europe/Berlin\n"
    assert m.read("machine/shutdown_drain/enabled") == b"true\n"
    assert m.read("runners/numbers-02/x_numbers/nested/a/b/c/d") == b"deep\n"
    m8 = runnerfs(fixture("08-autoscaler-machine.toml"))
    assert m8.listdir("runners/autoscaler-aws/autoscaler/policy") == {"0", "1"}
    assert m8.read("runners/autoscaler-aws/autoscaler/policy/1/idle_time") == b"5m\n"
    assert m8.read("runners/docker-machine-legacy/machine/autoscaling/0/IdleScaleFactor") == b"1.5\n"
    assert m8.read("runners/autoscaler-aws/autoscaler/instance_operation_time_buckets") == \
        b"1\n5\n10\n30\n120\n"


def test_mixed_array_is_toml_text(runnerfs):
    """Contract 2.1: an array of arrays / a mixed array is a file holding its
    TOML text (whether the file's own spelling or a re-serialisation is not
    fixed, so this compares what tomllib reads)."""
    data = fixture("07-services-inline-dotted.toml")
    m = runnerfs(data)
    text = m.read("runners/numbers-02/x_numbers/arrays").decode()
    assert text.endswith("\n")
    got = toml_loads("v = " + text)["v"]
    assert got == toml_loads(data)["runners"][1]["x_numbers"]["arrays"]


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_tree(runnerfs, name):
    """Every table, value and entry of each fixture, compared with tomllib:
    listings, types, renderings (2.1), st_size == bytes read, modes (2.3);
    config.toml reads byte-identical to the file on disk (6)."""
    data = fixture(name)
    m = runnerfs(data)
    nodes, root_complete = expected_tree(toml_loads(data))
    problems = check_tree(m.mnt, nodes, root_complete)
    assert not problems, "%d problems:\n%s" % (len(problems), "\n".join(problems[:50]))
    assert_bytes(m.read("config.toml"), data, "MOUNT/config.toml")
    st = os.stat(m.path("config.toml"))
    assert st.st_size == len(data)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert m.read_config() == data, "mounting changed config.toml"


def test_generated_crlf_tree(runnerfs):
    from rfs import gen_runners
    data = gen_runners(12, crlf=True)
    m = runnerfs(data)
    nodes, root_complete = expected_tree(toml_loads(data))
    problems = check_tree(m.mnt, nodes, root_complete)
    assert not problems, "%d problems:\n%s" % (len(problems), "\n".join(problems[:50]))


ENCODED = {"team%2Fa": 1, "100%25": 2, "c%231": 3, "%2E": 4, "%2E%2E": 5, "#6": 6, "dup": 7,
           "dup#8": 8, "x%252Fy": 9, ".hidden": 10, "%232": 11, "dup#12": 12}


def test_runner_name_encoding(runnerfs):
    """Contract 2.2: %2F %25 %23 %2E, `#N` for nameless and duplicate names."""
    m = runnerfs(ENCODING_CONFIG)
    assert m.listdir("runners") == set(ENCODED)
    for d, i in ENCODED.items():
        assert m.read("runners/%s/url" % d) == b"https://gitlab.example.com/r%d\n" % i, d
        assert stat.S_ISDIR(os.stat(m.path("runners/" + d)).st_mode)
    # The names stay stable while the file does not change.
    for _ in range(3):
        assert m.listdir("runners") == set(ENCODED)
    # ... and a change elsewhere does not rename anything.
    m.sh("echo 3 > concurrent")
    assert m.listdir("runners") == set(ENCODED)


def test_modes_and_owner(runnerfs):
    """Contract 2.3: dirs 0755, files 0644, secrets 0600, owner = CONFIG's."""
    data = b'sentry_dsn = "https://key@sentry.example.com/1"\n' + fixture(F01)
    m = runnerfs(data, owner=(1000, 1000))
    r1, r2 = "runners/docker-shared-01/", "runners/docker-dind-02/"
    modes = {
        "": 0o755, "runners": 0o755, r1: 0o755, r1 + "docker": 0o755, r2 + "cache/s3": 0o755,
        "concurrent": 0o644, "log_level": 0o644, r1 + "url": 0o644, r1 + "docker/volumes": 0o644,
        r1 + "docker/image": 0o644, r2 + "cache/s3/BucketName": 0o644,
        "sentry_dsn": 0o600, "config.toml": 0o600, r1 + "token": 0o600, r2 + "token": 0o600,
        r2 + "cache/s3/AccessKey": 0o600, r2 + "cache/s3/SecretKey": 0o600,
        # "environment entries holding credentials" (2.3): the runner's
        # environment is where credentials go (DOCKER_AUTH_CONFIG).
        r1 + "environment": 0o600,
    }
    got = {p: stat.S_IMODE(os.stat(m.path(p)).st_mode) for p in modes}
    assert {p: oct(v) for p, v in got.items()} == {p: oct(v) for p, v in modes.items()}
    nodes, _ = expected_tree(toml_loads(data))
    wrong = []
    for rel in [""] + [n.rel for n in nodes] + ["config.toml"]:
        st = os.stat(m.path(rel))
        if (st.st_uid, st.st_gid) != (1000, 1000):
            wrong.append("%s: %d:%d" % (rel or ".", st.st_uid, st.st_gid))
    assert not wrong, "owner is not CONFIG's (1000:1000): " + ", ".join(wrong[:20])


def test_secret_environment_with_credentials(runnerfs):
    data = fixture("06-scripts-quoted-keys.toml")
    m = runnerfs(data)
    st = os.stat(m.path("runners/scripts-01/environment"))
    assert stat.S_IMODE(st.st_mode) == 0o600


def _all_nodes(m, data):
    nodes, _ = expected_tree(toml_loads(data))
    return [""] + [n.rel for n in nodes] + ["config.toml", ".runnerfs"]


def _inodes(m, rels):
    out = {}
    for rel in rels:
        st = os.lstat(m.path(rel))
        out[rel] = (st.st_dev, st.st_ino)
    return out


def test_inode_numbers_stable(runnerfs):
    """Contract 2.3: inode numbers are stable for a node while it exists,
    through unrelated edits, structural changes and the kernel forgetting
    its inodes; different nodes have different numbers."""
    data = fixture(F01)
    m = runnerfs(data)
    rels = _all_nodes(m, data)
    first = _inodes(m, rels)
    assert len({v for v in first.values()}) == len(first), "two nodes share an inode number"
    assert _inodes(m, rels) == first
    m.sh("echo 7 > concurrent")
    assert _inodes(m, rels) == first, "an edit of concurrent changed inode numbers"
    if os.geteuid() == 0:
        # Make the kernel forget dentries and inodes (FUSE FORGET).
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        assert _inodes(m, rels) == first, "inode numbers changed after the kernel forgot them"
    os.mkdir(m.path("runners/new-runner"))
    assert _inodes(m, rels) == first, "adding a runner changed inode numbers"
    subprocess.run(["rm", "-r", str(m.path("runners/docker-shared-01"))], check=True, timeout=30)
    rest = [r for r in rels if not r.startswith("runners/docker-shared-01")]
    assert _inodes(m, rest) == {r: first[r] for r in rest}, \
        "removing the first runner changed the inode numbers of the others"


def test_per_node_mtimes(runnerfs):
    """Contract 2.3: at mount every node has CONFIG's mtime; changing one key
    changes that node's mtime and no other file's."""
    T = 1_600_000_000 * 10**9
    data = fixture(F01)
    m = runnerfs(data, mtime_ns=T)
    rels = [r for r in _all_nodes(m, data) if r not in (".runnerfs",)]
    wrong = [r for r in rels if os.stat(m.path(r)).st_mtime_ns != T]
    assert not wrong, "mtime is not CONFIG's at mount: %s" % wrong[:20]
    edited = "runners/docker-shared-01/limit"
    m.sh("echo 9 > " + edited)
    import time
    wait_for(lambda: os.stat(m.path(edited)).st_mtime > time.time() - 60,
             what="the edited file's mtime to change")
    ancestors = {"", "runners", "runners/docker-shared-01"}
    changed = [r for r in rels
               if r not in ancestors and r not in (edited, "config.toml")
               and os.stat(m.path(r)).st_mtime_ns != T]
    assert not changed, "editing %s changed the mtime of other files: %s" % (edited, changed[:20])
    wait_for(lambda: os.stat(m.path("config.toml")).st_mtime_ns != T,
             what="config.toml's mtime to change")


def test_config_toml_and_control_dir(runnerfs):
    data = fixture("02-crlf.toml")
    m = runnerfs(data)
    assert m.read("config.toml") == data
    assert stat.S_ISDIR(os.stat(m.path(".runnerfs")).st_mode)
    assert {"status", "errors", "history"} <= m.listdir(".runnerfs")
    assert stat.S_ISDIR(os.stat(m.path(".runnerfs/history")).st_mode)


def test_missing_config_is_an_empty_document(runnerfs):
    """Contract 1: CONFIG may not exist yet; it is an empty document and is
    not created by mounting."""
    m = runnerfs(None)
    # `runners/` may be shown for an empty document (see rfs.check_tree)
    assert m.listdir() - OPTIONAL_EXTRAS - {"runners"} == ROOT_EXTRAS
    if "runners" in m.listdir():
        assert m.listdir("runners") == set()
    assert m.read("config.toml") == b""
    assert not m.config.exists()


def test_xattrs(runnerfs):
    """Contract 4: read-only xattrs user.runnerfs.type/doc/default."""
    m = runnerfs(fixture("07-services-inline-dotted.toml"))
    g = lambda rel, n: os.getxattr(m.path(rel), "user.runnerfs." + n)
    assert b"int" in g("runners/services-01/limit", "type")
    assert b"string" in g("runners/services-01/url", "type")
    assert b"bool" in g("runners/services-01/docker/privileged", "type")
    # an unknown key: the type it has (2.1, 4)
    assert b"int" in g("runners/numbers-02/x_numbers/max", "type")
    assert b"float" in g("runners/numbers-02/x_numbers/pi", "type")
    doc = g("runners/services-01/url", "doc")
    assert doc.strip() and b"\n" not in doc.rstrip(b"\n"), doc
    m1 = runnerfs(fixture(F01))
    assert g1(m1, "concurrent", "default") == b"1"
    assert {"user.runnerfs.type", "user.runnerfs.doc"} <= set(os.listxattr(m1.path("concurrent")))
    with pytest.raises(OSError):
        os.setxattr(m1.path("concurrent"), "user.runnerfs.type", b"string")
    assert b"int" in g1(m1, "concurrent", "type")


def g1(m, rel, n):
    return os.getxattr(m.path(rel), "user.runnerfs." + n)
