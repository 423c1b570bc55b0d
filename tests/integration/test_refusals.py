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
