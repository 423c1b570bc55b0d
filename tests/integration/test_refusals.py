"""Refusals a shell sees (issue 14, first part): a change that cannot be
made fails at the call the tool checks — write() for a whole value,
ftruncate() for an empty number — with a sentence in .runnerfs/errors;
refusals of removals and of read-only files are in .runnerfs/errors too."""

from rfs import fixture, toml_loads


def test_a_value_that_is_not_allowed_fails_at_write(runnerfs):
    m = runnerfs(fixture("01-register-docker.toml"))
    r = m.listdir("runners")
    name = sorted(r)[0]
    before = m.read_config()
    for rel, bad in (("executor", "bogus"), ("docker/pull_policy", "sometimes")):
        res = m.sh("echo %s > runners/%s/%s" % (bad, name, rel), check=False)
        assert res.returncode == 1 and b"Invalid argument" in res.stderr, (rel, res.stderr)
        assert ('"%s" is not one of' % bad) in m.read(".runnerfs/errors").decode()
    assert m.read_config() == before
    # every line of an array of allowed values is judged; good ones pass
    res = m.sh("printf 'always\\nbogus\\n' > runners/%s/docker/pull_policy" % name, check=False)
    assert res.returncode == 1
    m.sh("printf 'always\\nnever\\n' > runners/%s/docker/pull_policy" % name)
    m.sh("echo shell > runners/%s/executor" % name)
    doc = [x for x in toml_loads(m.read_config())["runners"] if x["name"] == name][0]
    assert doc["executor"] == "shell" and doc["docker"]["pull_policy"] == ["always", "never"]


def test_truncate_to_nothing_of_a_number_fails_at_truncate(runnerfs):
    m = runnerfs(fixture("01-register-docker.toml"))
    before = m.read_config()
    res = m.sh("truncate -s 0 concurrent", check=False)
    assert res.returncode != 0 and b"Invalid argument" in res.stderr, res.stderr
    assert "an empty value is not an integer" in m.read(".runnerfs/errors").decode()
    assert m.read_config() == before
    # a string can be emptied
    name = sorted(m.listdir("runners"))[0]
    m.sh("truncate -s 0 runners/%s/docker/image" % name)


def test_refused_removals_and_read_only_files_are_in_errors(runnerfs):
    m = runnerfs(fixture("01-register-docker.toml"))
    assert m.sh("rm config.toml", check=False).returncode != 0
    assert m.sh("echo x > .runnerfs/status", check=False).returncode != 0
    assert m.sh("rm .runnerfs/status", check=False).returncode != 0
    errors = m.read(".runnerfs/errors").decode()
    assert "config.toml cannot be removed" in errors
    assert ".runnerfs/status: this file of .runnerfs/ is read-only" in errors
    assert "the files of .runnerfs/ cannot be removed" in errors


# ---- issue 14, second part ----

REG = b'''concurrent = 4

[[runners]]
  name = "a"
  url = "https://gitlab.example.com"
  token = "glrt-a"
  executor = "docker"
  environment = ["DOCKER_AUTH_CONFIG={\\"auths\\":{\\"common.io\\":{\\"auth\\":\\"dTpw\\"}}}"]
  [runners.docker]
    image = "ruby:3"

[[runners]]
  name = "b"
  url = "https://gitlab.example.com"
  token = "glrt-b"
  executor = "docker"
'''


def fails(m, cmd, errno_text):
    res = m.sh(cmd, check=False)
    assert res.returncode != 0, (cmd, res.stdout, res.stderr)
    assert errno_text.encode() in res.stderr, (cmd, res.stderr)
    return res


def test_a_typo_is_refused_with_did_you_mean(runnerfs):
    m = runnerfs(REG)
    fails(m, "echo 10 > runners/a/limt", "Invalid argument")
    assert "limt" not in m.listdir("runners/a")
    m.wait_error([], "runners/a/limt", "limt is not a key of [[runners]]; did you mean limit?")
    fails(m, "echo x > runners/a/docker/imag", "Invalid argument")
    m.wait_error([], "imag is not a key of [runners.docker]; did you mean image?")
    fails(m, "echo 3 > concurent", "Invalid argument")
    m.wait_error([], "concurent is not a key of the top level; did you mean concurrent?")
    fails(m, "touch runners/a/notes", "Invalid argument")
    m.wait_error([], "notes is not a key of [[runners]]")
    # Python and Ansible-style creates see it too
    res = m.sh("python3 -c \"open('runners/a/limt', 'w')\"", check=False)
    assert res.returncode == 1 and b"Invalid argument" in res.stderr
    # a table's typo at mkdir
    fails(m, "mkdir runners/a/dockr", "Invalid argument")
    m.wait_error([], "dockr is not a key of [[runners]]; did you mean docker?")
    # a key renamed to a name that is not a key is refused; mv says so
    fails(m, "mv runners/a/executor runners/a/exec", "Operation not permitted")
    assert m.read_config() == REG


def test_tool_scratch_names_are_still_files(runnerfs):
    """The names of ../shared/reference/write-patterns.md work as before."""
    m = runnerfs(REG)
    names = [".limit.swp", ".limit.swpx", "4913", "5036", "limit~", "#limit#", ".#limit", "sedAb12Cd",
             "XXab12cd", "tmpk3j4h5", ".ansible_tmpab12cd34limit", ".limit.Ab12Cd", "url.bak",
             "url20261204-1234-1abcd", ".fuse_hidden0000000200000001"]
    for n in names:
        m.sh("echo x > 'runners/a/%s' && cat 'runners/a/%s' >/dev/null && rm 'runners/a/%s'" % (n, n, n))
    m.sh("mkdir runners/a/url20261204-1234-1abcd.lock && rmdir runners/a/url20261204-1234-1abcd.lock")
    m.sh("mkdir runners/a/typo-dir && touch runners/a/typo-dir/anything && rm -r runners/a/typo-dir")
    m.sh("cp config.toml config.toml.bak && rm config.toml.bak")
    m.sh("sed -i.bak s/ruby:3/ruby:4/ runners/a/docker/image && rm runners/a/docker/image.bak")
    assert m.read("runners/a/docker/image") == b"ruby:4\n"
    assert "not a key" not in m.read(".runnerfs/errors").decode()


def test_a_temp_file_never_renamed_is_reported(runnerfs):
    m = runnerfs(REG)
    m.sh("echo 5 > runners/a/sedAb12Cd && echo 5 > runners/a/.limit.swp")
    import time
    deadline = time.monotonic() + 45
    while "sedAb12Cd" not in m.read(".runnerfs/errors").decode():
        assert time.monotonic() < deadline, m.read(".runnerfs/errors")
        time.sleep(0.5)
    errors = m.read(".runnerfs/errors").decode()
    assert "never renamed onto a key" in errors
    assert ".limit.swp" not in errors  # a swap file stays on purpose
    assert errors.count("sedAb12Cd") == 1


def test_a_bare_number_in_a_duration_is_refused(runnerfs):
    m = runnerfs(REG)
    fails(m, "echo 900 > connection_max_age", "Invalid argument")
    m.wait_error([], "connection_max_age", "nanoseconds: write 900s or 15m")
    fails(m, "echo 1x > connection_max_age", "Invalid argument")
    assert m.read_config() == REG
    m.sh("echo 15m > connection_max_age")
    assert toml_loads(m.read_config())["connection_max_age"] == "15m"
    m.sh("echo 0 > connection_max_age")
    assert toml_loads(m.read_config())["connection_max_age"] == 0


def test_check_warns_about_a_bare_integer_duration(tmp_path):
    import os
    import subprocess
    f = tmp_path / "c.toml"
    f.write_bytes(b"connection_max_age = 900000000000\n")
    res = subprocess.run([os.environ["RUNNERFS"], "--check", str(f)], capture_output=True, text=True)
    assert "read as nanoseconds" in res.stdout + res.stderr


def test_password_before_username_waits_for_the_user(runnerfs):
    m = runnerfs(REG)
    d = "runners/b/registries/reg.io"
    m.sh("mkdir %s && echo pw > %s/password" % (d, d))
    assert m.read(d + "/password") == b"pw\n"
    assert "password" in m.listdir(d)
    cfg = m.read_config().decode()
    assert "OnB3" not in cfg  # base64(":pw") never reaches config.toml
    assert "incomplete registry: " + d in m.status()
    m.sh("echo u > %s/username" % d)
    assert "incomplete registry" not in m.status()
    env = [x for x in toml_loads(m.read_config())["runners"] if x["name"] == "b"][0]["environment"]
    assert env == ['DOCKER_AUTH_CONFIG={"auths":{"reg.io":{"auth":"dTpwdw=="}}}'], env
    # a waiting password can be removed and goes with its registry
    m.sh("mkdir runners/b/registries/r2 && echo pw > runners/b/registries/r2/password")
    m.sh("rm runners/b/registries/r2/password")
    assert m.listdir("runners/b/registries/r2") == set()
    m.sh("echo pw > runners/b/registries/r2/password && rm -r runners/b/registries/r2")
    assert "incomplete registry" not in m.status()


def test_removing_the_last_registry_leaves_no_empty_environment(runnerfs):
    m = runnerfs(REG)
    m.sh("mkdir runners/b/registries/reg.io && echo u > runners/b/registries/reg.io/username")
    m.sh("rm -r runners/b/registries/reg.io")
    assert m.read_config() == REG


def test_root_registry_mkdir_names_the_runners_that_have_it(runnerfs):
    m = runnerfs(REG)
    fails(m, "mkdir registries/common.io", "File exists")
    m.wait_error([], "registries/common.io", "a already has it with its own credentials")
    assert m.read_config() == REG


def test_a_registry_moves_between_runners(runnerfs):
    m = runnerfs(REG)
    m.sh("mv runners/a/registries/common.io runners/b/registries/")
    assert m.listdir("runners/a/registries") == set()
    assert m.read("runners/b/registries/common.io/username") == b"u\n"
    doc = toml_loads(m.read_config())
    assert "environment" not in doc["runners"][0]
    assert doc["runners"][1]["environment"] == ['DOCKER_AUTH_CONFIG={"auths":{"common.io":{"auth":"dTpw"}}}']
    # onto one the other runner has: refused, nothing lost
    m.sh("mkdir runners/a/registries/common.io && echo z > runners/a/registries/common.io/username")
    before = m.read_config()
    fails(m, "mv runners/a/registries/common.io runners/b/registries/", "")
    assert m.read_config() == before
    # a root registry stays where it is
    m.sh("rm -r runners/a/registries/common.io && mv runners/b/registries/common.io runners/a/registries/")
    m.sh("mkdir registries/all.io")
    res = m.sh("mv registries/all.io runners/a/registries/", check=False)
    assert res.returncode != 0 and b"subdirectory" not in res.stderr, res.stderr


def test_every_refusal_has_its_sentence(runnerfs):
    m = runnerfs(REG)
    before = m.read_config()
    for cmd, errno_text, needle in (
            ("rmdir runners/a", "Directory not empty", "runners/a: rmdir: the directory is not empty"),
    ):
        n = len(m.errors())
        fails(m, cmd, errno_text)
        new = m.errors()[n:]
        assert new and any(needle in line for line in new), (cmd, new)
    assert m.read_config() == before
    # a key's file takes no hard link under a key's name (perl -pi.bak's
    # value.bak is fine)
    n = len(m.errors())
    m.sh("ln runners/a/url runners/a/url.bak && rm runners/a/url.bak")
    res = m.sh("ln runners/a/url runners/a/limit", check=False)
    assert res.returncode != 0
    assert len(m.errors()) > n, m.errors()


# ---- found by a new user trying to break the above ----

def test_a_refused_install_loses_nothing(runnerfs):
    """install unlinks the key, then creates it: a value refused at write()
    brings the old line back (Revival)."""
    m = runnerfs(REG)
    res = m.sh("echo abc > /tmp/rfs-bad-$$ && install -m 644 /tmp/rfs-bad-$$ runners/a/executor; "
               "rc=$?; rm -f /tmp/rfs-bad-$$; exit $rc", check=False)
    assert res.returncode != 0
    res = m.sh("printf '1\\n' > /tmp/rfs-bad-$$ && cp --remove-destination /tmp/rfs-bad-$$ concurrent && "
               "echo x > /tmp/rfs-bad-$$ && cp --remove-destination /tmp/rfs-bad-$$ concurrent; "
               "rc=$?; rm -f /tmp/rfs-bad-$$; exit $rc", check=False)
    assert res.returncode != 0
    assert toml_loads(m.read_config())["concurrent"] == 1
    assert toml_loads(m.read_config())["runners"][0]["executor"] == "docker"


def test_vim_saves_a_shorter_number(runnerfs):
    """vim truncates, then writes: the truncate alone is no refusal."""
    import shutil
    if not shutil.which("vim"):
        import pytest
        pytest.skip("vim is not installed")
    m = runnerfs(REG)
    m.sh("echo 1000 > runners/a/limit")
    n = len(m.errors())
    m.sh("vim -u NONE -N -es -c 's/.*/5/' -c wq runners/a/limit")
    assert m.read("runners/a/limit") == b"5\n"
    assert m.errors()[n:] == [], m.errors()[n:]


def test_more_refusals_at_write(runnerfs):
    m = runnerfs(REG)
    for cmd in ("printf %s bogus > runners/a/executor",       # no allowed value starts so
                "printf '4\\n5\\n' > concurrent",              # two lines for one number
                "echo 5 >> concurrent",                         # the same, appended
                "printf 'always\\n' > runners/a/docker/pull_policy && echo bogus >> runners/a/docker/pull_policy"):
        res = m.sh(cmd, check=False)
        assert res.returncode != 0 and b"Invalid argument" in res.stderr, (cmd, res.stderr)
    # an empty enum, duration or new number key: at close, where Python and touch look
    for cmd in ("python3 -c \"open('runners/a/executor', 'w').close()\"",
                "python3 -c \"open('connection_max_age', 'w').close()\"",
                "touch runners/a/debug_trace_disabled"):
        res = m.sh(cmd, check=False)
        assert res.returncode != 0 and b"Invalid argument" in res.stderr, (cmd, res.stderr)
    doc = toml_loads(m.read_config())
    assert doc["concurrent"] == 4 and doc["runners"][0]["executor"] == "docker"
    assert "debug_trace_disabled" not in doc["runners"][0]


def test_a_rename_cannot_make_a_typo_or_a_phantom_table(runnerfs):
    m = runnerfs(REG)
    before = m.read_config()
    # what rsync, Ansible and Python's tempfile + os.replace do
    res = m.sh("python3 -c \"import tempfile, os\n"
               "fd, p = tempfile.mkstemp(dir='runners/a'); os.write(fd, b'5\\\\n'); os.close(fd)\n"
               "os.replace(p, 'runners/a/limt')\"", check=False)
    assert res.returncode != 0 and b"Operation not permitted" in res.stderr, res.stderr
    assert "limt" not in m.listdir("runners/a")
    m.sh("rm -f runners/a/tmp*")  # the script left its temp file; it never was a key
    # a scratch directory does not become a table
    m.sh("mkdir runners/a/custom.new && echo /bin/run > runners/a/custom.new/run_exec")
    res = m.sh("mv runners/a/custom.new runners/a/custom", check=False)
    assert res.returncode != 0 and b"Operation not permitted" in res.stderr
    m.sh("rm -r runners/a/custom.new")
    assert m.read_config() == before


def test_git_init_in_runners_makes_no_runner(runnerfs):
    import shutil
    if not shutil.which("git"):
        import pytest
        pytest.skip("git is not installed")
    m = runnerfs(REG)
    m.sh("cd runners && git init -q . && ls .git/HEAD && rm -rf .git")
    assert m.read_config() == REG


def test_a_waiting_password_follows_its_registry(runnerfs):
    m = runnerfs(REG)
    m.sh("mkdir runners/a/registries/inc.io && echo pw1 > runners/a/registries/inc.io/password")
    m.sh("mv runners/a/registries/inc.io runners/b/registries/")
    assert m.read("runners/b/registries/inc.io/password") == b"pw1\n"
    m.sh("mv runners/b runners/bb")
    assert m.read("runners/bb/registries/inc.io/password") == b"pw1\n"
    assert "incomplete registry: runners/bb/registries/inc.io" in m.status()
    m.sh("echo u1 > runners/bb/registries/inc.io/username")
    assert m.read("runners/bb/registries/inc.io/auth") == b"dTE6cHcx\n"  # u1:pw1
    assert "incomplete registry" not in m.status()


def test_rm_username_never_writes_an_empty_user(runnerfs):
    m = runnerfs(REG)
    g = "runners/b/registries/g.io"
    m.sh("mkdir %s && echo u > %s/username && echo p > %s/password" % (g, g, g))
    m.sh("rm %s/username" % g)
    assert "OnA=" not in m.read_config().decode()  # base64(":p")
    assert m.read(g + "/password") == b"p\n"
    assert "incomplete registry: " + g in m.status()
    m.sh("echo u2 > %s/username" % g)
    assert m.read(g + "/auth") == b"dTI6cA==\n"  # u2:p
    # rm -r removes username first: it still exits 0 and leaves nothing
    m.sh("rm -r " + g)
    assert m.read_config() == REG


def test_rm_r_of_a_runner_whose_environment_only_held_registries(runnerfs):
    m = runnerfs(REG)
    m.sh("mkdir runners/b/registries/t.io && echo tu > runners/b/registries/t.io/username")
    m.sh("rm -r runners/b")
    doc = toml_loads(m.read_config())
    assert [r["name"] for r in doc["runners"]] == ["a"]
    assert m.read_config().count(b"[[runners]]") == 1
