"""Issue 7: the Ansible example in contrib/ansible/ (site.yml, the role
runnerfs_runner, group_vars/runner_hosts.yml as shipped) run for real,
connection: local, against a real mount. The first run changes things, the
second changes nothing, and config.toml holds what the variables say while
everything the role does not manage stays byte for byte. With
runnerfs_install: package the role also installs the Debian package
(marked `package`: meson runs it as integration-package; see debpkg.py)."""

import base64
import json
import os
import re
import shlex
import subprocess

import pytest

from debpkg import host, meson_version, package  # noqa: F401
from rfs import REPO, fixture, toml_loads
from tools import RUNNERFS_BIN, ansible_env, need, recap, tmount  # noqa: F401

ANSIBLE = REPO / "contrib" / "ansible"
F01 = fixture("01-register-docker.toml")
TOKEN = "glrt-test_0123456789abcdefghij"
PASSWORD = "s3cret-registry-password"


@pytest.fixture
def site(tmount, tmp_path):
    """A mount of fixture 01 and a function that runs contrib/ansible/site.yml
    on localhost (in the group runner_hosts) with the shipped group_vars,
    pointed at the mount: returns (recap, output)."""
    need("ansible-playbook")
    t = tmount(F01)
    t.env = ansible_env(t)
    (t.home / "ansible.cfg").write_text("[defaults]\nnocows = 1\n")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[runner_hosts]\nlocalhost ansible_connection=local "
                         "ansible_python_interpreter=/usr/bin/python3\n")

    def run(extra=None, expect_failed=0):
        v = {"runnerfs_mount": str(t.root), "runnerfs_bin": str(RUNNERFS_BIN),
             "vault_runner_token": TOKEN, "vault_registry_password": PASSWORD,
             # root already; the example's `become: true` would need sudo
             "ansible_become": False}
        v.update(extra or {})
        vf = tmp_path / "vars.json"
        vf.write_text(json.dumps(v))
        cmd = "ansible-playbook -i %s %s -e @%s" % (shlex.quote(str(inventory)),
                                                   shlex.quote(str(ANSIBLE / "site.yml")),
                                                   shlex.quote(str(vf)))
        r = t.sh(cmd, check=False, cwd=ANSIBLE)
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        rc = recap(out)
        assert rc.get("failed") == expect_failed, "ansible-playbook: %s\n%s" % (rc, out)
        return rc, out

    run.t = t
    return run


def test_site_yml_twice(site):
    t = site.t
    rc1, out1 = site()
    assert rc1["changed"] > 0, out1
    after1 = t.read_config()
    mtime1 = os.stat(t.m.config).st_mtime_ns

    rc2, out2 = site()
    assert rc2["changed"] == 0, "the second run changed something:\n" + out2
    assert t.read_config() == after1
    assert os.stat(t.m.config).st_mtime_ns == mtime1

    doc = toml_loads(after1)
    # global keys (group_vars/runner_hosts.yml), comments kept
    assert doc["concurrent"] == 8 and doc["check_interval"] == 3 and doc["log_level"] == "info"
    assert b"concurrent = 8 # jobs across all runners\n" in after1
    assert b'log_level = "info"   # panic, fatal, error, warn, info, debug\n' in after1
    # the new runner
    runners = {r["name"]: r for r in doc["runners"]}
    assert list(runners) == ["docker-shared-01", "docker-dind-02", "shell-03", "docker-01"]
    new = runners["docker-01"]
    assert new["url"] == "https://gitlab.example.com" and new["token"] == TOKEN
    assert new["executor"] == "docker" and new["limit"] == 4
    assert new["docker"]["image"] == "alpine:3.20"
    assert new["docker"]["volumes"] == ["/cache", "/var/run/docker.sock:/var/run/docker.sock"]
    assert new["docker"]["pull_policy"] in ("if-not-present", ["if-not-present"])
    assert new["feature_flags"] == {"FF_USE_FASTZIP": True}
    # the registry, in every runner's DOCKER_AUTH_CONFIG
    auth = base64.b64encode(("deploy:" + PASSWORD).encode()).decode()
    for name, r in runners.items():
        env = [e for e in r.get("environment", []) if e.startswith("DOCKER_AUTH_CONFIG=")]
        assert len(env) == 1, "%s: %r" % (name, r.get("environment"))
        js = json.loads(env[0].split("=", 1)[1])
        assert js["auths"]["registry.example.com:5000"]["auth"] == auth, name
    # the rest of the old runners is as it was
    old = {r["name"]: r for r in toml_loads(F01)["runners"]}
    for name, r in old.items():
        got = dict(runners[name])
        got["environment"] = [e for e in got["environment"] if not e.startswith("DOCKER_AUTH_CONFIG=")]
        if not got["environment"] and "environment" not in r:
            del got["environment"]
        assert got == r, name
    # no secret in the output of either run (no_log)
    assert TOKEN not in out1 + out2 and PASSWORD not in out1 + out2
    assert not [n for n in os.listdir(t.m.config_dir) if n != "config.toml"]


def test_site_yml_whole_file(site):
    """runnerfs_config_toml: the whole-file variant, with validate: runnerfs --check."""
    t = site.t
    text = F01.decode().replace("concurrent = 4 #", "concurrent = 6 #")
    rc1, out1 = site({"runnerfs_config_toml": text})
    assert rc1["changed"] == 1, out1
    assert t.read_config() == text.encode()
    rc2, out2 = site({"runnerfs_config_toml": text})
    assert rc2["changed"] == 0, out2
    assert t.read_config() == text.encode()

    # a config the runner would die on: validate refuses it, nothing changes
    bad = text.replace("concurrent = 6 #", "concurrent = 0 #")
    rc3, out3 = site({"runnerfs_config_toml": bad, "runnerfs_no_log": False}, expect_failed=1)
    assert "failed to validate" in out3 and "concurrent must be at least 1" in out3, out3
    assert t.read_config() == text.encode()


@pytest.mark.package
def test_site_yml_installs_the_package(package, site, host, tmp_path):
    """runnerfs_install: package, twice: the first run copies the .deb to
    the host and installs it with apt (and writes the keys), the second
    changes nothing; the teardown purges the package and checks that
    nothing of it is left."""
    pkg = package                     # built before site mounts (the watchdog)
    debs = tmp_path / "debs"          # runnerfs_deb_dir: gone with tmp_path
    extra = {"runnerfs_install": "package", "runnerfs_deb": str(pkg.deb),
             "runnerfs_deb_dir": str(debs)}
    runs = []
    host.install(pkg, by=lambda: runs.append(site(extra)))
    rc1, out1 = runs[0]
    for task in ("The package, copied to the host", "runnerfs installed from the package"):
        m = re.search(r"TASK \[runnerfs_runner : %s\] \*+\n(\w+):" % re.escape(task), out1)
        assert m and m.group(1) == "changed", "%s: %s\n%s" % (task, m and m.group(1), out1)
    assert (debs / pkg.deb.name).read_bytes() == pkg.deb.read_bytes()
    v = subprocess.run(["/usr/sbin/runnerfs", "--version"], capture_output=True, timeout=10)
    assert v.stdout.decode().startswith("runnerfs %s " % meson_version()), v

    after1 = site.t.read_config()
    rc2, out2 = site(extra)
    assert rc2["changed"] == 0, "the second run changed something:\n" + out2
    assert site.t.read_config() == after1
    assert toml_loads(after1)["concurrent"] == 8


def task_status(out, task):
    """The status (ok, changed, skipping, fatal) the role's task `task` had in
    ansible-playbook's output, or None when it did not run."""
    m = re.search(r"TASK \[runnerfs_runner : %s\] \*+\n(\w+):" % re.escape(task), out)
    return m and m.group(1)


def rebuilt(deb, tmp_path):
    """The .deb as a rebuild of the same version with other files would be
    (contrib/build-deb.sh of a changed tree without a changelog entry): one
    file more in README.Debian, same name, same version."""
    root = tmp_path / "rebuilt-root"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(root)], check=True, timeout=60)
    readme = root / "usr/share/doc/runnerfs/README.Debian"
    readme.write_text(readme.read_text() + "\nRebuilt.\n")
    files = sorted(p.relative_to(root) for p in root.rglob("*")
                   if p.is_file() and not p.is_symlink() and p.parts[len(root.parts)] != "DEBIAN"
                   and not str(p.relative_to(root)).startswith("etc/"))
    sums = subprocess.run(["md5sum"] + [str(f) for f in files], cwd=root, capture_output=True, check=True,
                          timeout=60).stdout
    (root / "DEBIAN" / "md5sums").write_bytes(sums)
    out = tmp_path / "rebuilt" / deb.name
    out.parent.mkdir()
    subprocess.run(["dpkg-deb", "-b", str(root), str(out)], check=True, capture_output=True, timeout=60)
    return out, readme.read_bytes()


@pytest.mark.package
def test_site_yml_installs_from_a_url_and_a_rebuilt_package(package, site, host, tmp_path):
    """runnerfs_deb as a file:// URL: apt fetches it (before, only http(s)
    and ftp counted as URLs, and file:// was looked for on the controller
    as a path). Then a rebuilt .deb of the installed version, as every
    build of a changed tree is until debian/changelog gets an entry: the
    role installs it (before: copied, then `apt` saw the version installed
    and the host kept the old build, changed=1 and nothing said), and a
    run with it again changes nothing."""
    pkg = package
    debs = tmp_path / "debs"
    url = {"runnerfs_install": "package", "runnerfs_deb": "file://" + str(pkg.deb),
           "runnerfs_deb_dir": str(debs)}
    runs = []
    host.install(pkg, by=lambda: runs.append(site(url)))
    rc1, out1 = runs[0]
    assert task_status(out1, "The package, copied to the host") == "skipping", out1
    assert task_status(out1, "runnerfs installed from the package") == "changed", out1
    assert not debs.exists()

    deb2, readme2 = rebuilt(pkg.deb, tmp_path)
    path = dict(url, runnerfs_deb=str(deb2))
    rc2, out2 = site(path)
    assert task_status(out2, "The package, copied to the host") == "changed", out2
    assert task_status(out2, "runnerfs installed again from a rebuilt package of the same version") \
        == "changed", out2
    assert open("/usr/share/doc/runnerfs/README.Debian", "rb").read() == readme2, \
        "the role copied the rebuilt .deb but did not install it"
    rc3, out3 = site(path)
    assert rc3["changed"] == 0, "the third run changed something:\n" + out3


def test_no_runnerfs_mount_no_writes(site, tmp_path):
    """runnerfs_mount where nothing is mounted (the role installs the
    package, not the mount: the first run on a new host): the play fails
    and says so, and writes nothing. Before, the role made the directory,
    wrote every key into it as plain files (the token and the registry
    password included), reported success, and config.toml never changed.
    With nothing to write, the check is not made (a play that only
    installs the package)."""
    before = site.t.read_config()
    for plain in (tmp_path / "absent", tmp_path / "plain"):
        if plain.name == "plain":
            plain.mkdir()
        rc, out = site({"runnerfs_mount": str(plain)}, expect_failed=1)
        assert "%s is not a runnerfs mount (nothing is mounted there)" % plain in out, out
        assert "systemctl enable --now runnerfs@" in out, out
        assert not plain.exists() or not os.listdir(plain), \
            "the role wrote into a plain directory: %s" % sorted(os.listdir(plain))
        assert TOKEN not in out and PASSWORD not in out
    assert site.t.read_config() == before
    rc, out = site({"runnerfs_mount": str(tmp_path / "absent"), "runnerfs_global": {},
                    "runnerfs_runners": [], "runnerfs_registries": []})
    assert rc["changed"] == 0 and not (tmp_path / "absent").exists(), out


def test_install_option_is_checked(site):
    """A runnerfs_install the role does not know, or package without a
    .deb: the play fails before it touches anything."""
    before = site.t.read_config()
    rc, out = site({"runnerfs_install": "source"}, expect_failed=1)
    assert "runnerfs_install is source: none (runnerfs is there already) or package" in out, out
    rc, out = site({"runnerfs_install": "package"}, expect_failed=1)
    assert "runnerfs_install: package needs runnerfs_deb" in out, out
    assert site.t.read_config() == before
