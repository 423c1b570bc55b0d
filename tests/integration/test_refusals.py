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
